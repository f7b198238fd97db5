"""Member profiles: 收藏 / 我的收藏 and 退订 / 恢复订阅 in chat, the nightly RFM / lifecycle / attributes run with
its clusters, the behaviour events' retention and the minute job that starts scheduled campaigns (segments and
campaigns over them are `bot/admin/segments.py`, `wxshop members` and `wxshop campaigns`)."""

from __future__ import annotations

from arq.cron import CronJob

from bot.features.base import Chat, ChatContext, Feature
from bot.process.config import Config, ProfilesConfig
from dialogs import favourite_answers, marketing_answers
from scheduler.profile_jobs import PROFILE_FUNCTIONS, ProfileJobDeps, profile_cron
from store.profiles.rules import ProfileRules, parse_edges


def profile_rules(section: ProfilesConfig) -> ProfileRules:
    return ProfileRules(
        recency_days_edges=parse_edges(section.recency_days_edges),
        frequency_edges=parse_edges(section.frequency_edges),
        monetary_fen_edges=parse_edges(section.monetary_fen_edges),
        mature_orders=section.mature_orders,
        lapse_days=section.lapse_days,
        churn_days=section.churn_days,
        events_days=section.events_keep_days,
    )


def job_deps(config: Config) -> ProfileJobDeps:
    section = config.profiles
    return ProfileJobDeps(profile_rules(section), section.events_keep_days, section.clusters, section.cluster_seed)


def _cron(config: Config) -> list[CronJob]:
    hour, minute = (int(part) for part in config.profiles.nightly_at.split(":"))
    return profile_cron(hour, minute)


def chat(ctx: ChatContext) -> Chat:
    return Chat(
        answers={**favourite_answers.answers(), **marketing_answers.answers()},
        intents=favourite_answers.INTENTS + marketing_answers.INTENTS,
    )


FEATURE = Feature(
    "profiles",
    help="收藏：看商品时回复“收藏”，回复“我的收藏”查看；回复“退订”不再接收活动消息",
    chat=chat,
    jobs=tuple(PROFILE_FUNCTIONS),
    cron=_cron,
)
