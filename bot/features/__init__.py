"""The shop's features, in the order 帮助 lists them; the engine, the worker and 帮助 are assembled from this list.

Add a feature: write its module here with one `FEATURE` (see `base.Feature`) and add it to `FEATURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arq.cron import CronJob

from bot.features import (
    after_sales,
    bargain,
    birthday,
    browse,
    checkout,
    commission,
    group_buy,
    knowledge,
    members,
    operations,
    orders,
    poster,
    profiles,
    tags,
    tracking,
    watches,
)
from bot.features.base import Chat, ChatContext, Feature
from bot.process.config import Config

FEATURES: tuple[Feature, ...] = tuple(
    module.FEATURE
    for module in (
        browse, checkout, orders, tracking, after_sales, members, birthday, group_buy, knowledge, operations, profiles,
        commission, bargain, poster, tags, watches,
    )
)


def chats(ctx: ChatContext, features: tuple[Feature, ...] = FEATURES) -> list[Chat]:
    return [feature.chat(ctx) for feature in features if feature.chat is not None]


def help_lines(features: tuple[Feature, ...] = FEATURES) -> tuple[str, ...]:
    return tuple(feature.help for feature in features if feature.help)


def job_functions(features: tuple[Feature, ...] = FEATURES) -> list[Callable[..., Any]]:
    return [job for feature in features for job in feature.jobs]


def cron_entries(config: Config, features: tuple[Feature, ...] = FEATURES) -> list[CronJob]:
    """Every feature's cron entries (hours are Asia/Shanghai: the worker runs cron in that zone)."""
    return [entry for feature in features if feature.cron is not None for entry in feature.cron(config)]
