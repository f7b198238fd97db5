"""WeChat user tags: segments and tiers synced to tags (nightly after the profiles, and on demand), and the 黑金专享
button of the 黑金会员 personalised menu answered in chat. Publishing the menus per tag is `bot/wechat/tag_menus.py`;
the admin API `bot/admin/tags.py`."""

from __future__ import annotations

from arq.cron import CronJob

from bot.features.base import Chat, ChatContext, Feature
from bot.process.config import Config
from bot.process.resources import Resources
from dialogs import black_gold_answers
from scheduler.tag_jobs import TAG_FUNCTIONS, TagJobDeps, TagSyncSettings, tag_cron
from store.members.settings import MemberSettings


def sync_settings(config: Config) -> TagSyncSettings:
    section = config.tags
    return TagSyncSettings(section.batch_size, section.batches_per_run, section.tier_tags, section.segments)


def job_deps(config: Config, resources: Resources) -> TagJobDeps:
    from bot.wechat.api import WeChatGateway

    return TagJobDeps(WeChatGateway(config, resources.redis), sync_settings(config))


def _cron(config: Config) -> list[CronJob]:
    hour, minute = (int(part) for part in config.tags.sync_at.split(":"))
    return tag_cron(hour, minute)


def chat(ctx: ChatContext) -> Chat:
    settings = MemberSettings.from_settings(ctx.config.shop, ctx.config.wechat.app_id)
    return Chat(
        answers=black_gold_answers.make_answers(settings),
        intents=black_gold_answers.INTENTS,
        menu_keys={black_gold_answers.MENU_KEY: black_gold_answers.INTENT},
    )


FEATURE = Feature("tags", chat=chat, jobs=tuple(TAG_FUNCTIONS), cron=_cron)
