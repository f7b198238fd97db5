"""到货提醒 / 降价提醒: "到货通知我", "降价提醒", "我的提醒", "取消提醒" in chat, and the worker's minute sweep that
tells each watcher once."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.watch_answers import INTENTS, answers
from scheduler.watch_jobs import WATCH_FUNCTIONS, watch_cron


def chat(ctx: ChatContext) -> Chat:
    return Chat(answers=answers(), intents=INTENTS)


FEATURE = Feature(
    "watches", help="到货/降价提醒：看商品时回复“到货通知我”或“降价提醒”，“我的提醒”查看", chat=chat,
    jobs=tuple(WATCH_FUNCTIONS), cron=lambda config: watch_cron(),
)  # fmt: skip
