"""查快递 in chat, and the worker's parcel subscriptions, polling and exception alerts."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.flows import tracking
from scheduler.logistics_jobs import LOGISTICS_FUNCTIONS, logistics_cron


def chat(ctx: ChatContext) -> Chat:
    return Chat(flows={"tracking": tracking.build()})


FEATURE = Feature(
    "tracking",
    help="查物流：回复“查快递”",
    chat=chat,
    jobs=tuple(LOGISTICS_FUNCTIONS),
    cron=lambda config: logistics_cron(),
)
