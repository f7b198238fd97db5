"""WeChat user tags kept in step with the segments and tiers: nightly after the profiles' rebuild, and on demand
(`wxshop segments sync-tags`, the admin API).

One run, per tag: find or create the tag on WeChat (by name first, so a tag created by a run that stopped before
recording its id is found, not made twice), then untag those who left and tag those who joined, at most
`batch_size` (≤ 50) openids a call and `batches_per_run` calls a run. Progress is written after each accepted call
(`store.tags.progress`), so a stopped run resumes with what is left; WeChat's quota (45009) ends the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from arq.cron import CronJob, cron

from store.core.wechat_errors import InvalidOpenid, QuotaExceeded, WeChatError
from store.tags.links import ensure_tier_tags, mark_segment, syncing_tags, tag_named, tag_of_segment
from store.tags.models import WeChatTag
from store.tags.progress import (
    finish_run,
    pending,
    record_tagged,
    record_untagged,
    set_tag_id,
    still_following,
)

log = logging.getLogger("wxshop.tags")

UNKNOWN_TAG = 45159  # the tag is gone from WeChat (deleted in its console)


class TagGateway(Protocol):
    """What a sync needs from WeChat (bot/wechat/api.py's WeChatGateway); calls block."""

    def list_tags(self) -> list[dict]: ...

    def create_tag(self, name: str) -> int: ...

    def tag_users(self, tag_id: int, openids: list[str]) -> None: ...

    def untag_users(self, tag_id: int, openids: list[str]) -> None: ...


@dataclass(frozen=True)
class TagSyncSettings:
    batch_size: int = 50
    batches_per_run: int = 400
    tier_tags: bool = True
    segments: tuple[str, ...] = ()  # segments synced because config.toml says so


@dataclass
class TagSync:
    """One tag's run: what was done and what is left."""

    tag: str
    tag_id: int | None = None
    tagged: int = 0
    untagged: int = 0
    left: int = 0
    error: str | None = None

    def line(self) -> str:
        state = f"error: {self.error}" if self.error else ("done" if not self.left else f"{self.left} left")
        return f"tag {self.tag} (id {self.tag_id}): +{self.tagged} -{self.untagged}, {state}"


@dataclass
class _Budget:
    calls: int
    stopped: str | None = field(default=None)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _wechat_id(gateway: TagGateway, tag: WeChatTag, existing: dict[str, int]) -> int:
    """The tag's WeChat id: the recorded one while WeChat still has it, else found by name, else created."""
    if tag.tag_id is not None and tag.tag_id in existing.values():
        return tag.tag_id
    tag_id = existing.get(tag.name)
    if tag_id is None:
        tag_id = gateway.create_tag(tag.name)
        existing[tag.name] = tag_id
    set_tag_id(tag, None)  # whoever we recorded as carrying an id WeChat no longer has carries nothing
    set_tag_id(tag, tag_id)
    return tag_id


def wechat_tag_id(gateway: TagGateway, tag: WeChatTag) -> int:
    """The tag's id on WeChat, creating the tag there if WeChat has none of that name (a personalised menu needs
    it before anyone is tagged)."""
    return _wechat_id(gateway, tag, _existing(gateway))


def _existing(gateway: TagGateway) -> dict[str, int]:
    return {str(t["name"]): int(t["id"]) for t in gateway.list_tags()}


def _untag(gateway: TagGateway, tag: WeChatTag, tag_id: int, batch: list[str], budget: _Budget) -> list[str]:
    """Untag `batch`. WeChat may refuse a whole batch (40003) for openids that unfollowed since they were tagged:
    those are forgotten here (the shop keeps nothing on them), and the followers among them untagged on their own."""
    try:
        gateway.untag_users(tag_id, batch)
        return batch
    except InvalidOpenid:
        following = still_following(batch)
        gone = [openid for openid in batch if openid not in following]
        if not gone:
            raise
    record_untagged(tag, gone)
    rest = [openid for openid in batch if openid not in gone]
    if rest:
        budget.calls -= 1
        gateway.untag_users(tag_id, rest)
    return rest


def _sync_one(gateway: TagGateway, tag: WeChatTag, existing: dict[str, int], budget: _Budget, size: int,
              now: datetime) -> TagSync:  # fmt: skip
    result = TagSync(tag.name, tag.tag_id)
    try:
        tag_id = result.tag_id = _wechat_id(gateway, tag, existing)
        todo = pending(tag, now)  # after the id: a new id means everyone is to be tagged again
        result.left = len(todo.add) + len(todo.remove)
        for verb, openids in (("untag", todo.remove), ("tag", todo.add)):
            for batch in _chunks(openids, size):
                if budget.calls <= 0:
                    budget.stopped = "batches_per_run reached"
                    return result
                budget.calls -= 1
                if verb == "tag":
                    gateway.tag_users(tag_id, batch)
                    record_tagged(tag, batch, now)
                    result.tagged += len(batch)
                else:
                    untagged = _untag(gateway, tag, tag_id, batch, budget)
                    record_untagged(tag, untagged)
                    result.untagged += len(untagged)
                result.left -= len(batch)
    except QuotaExceeded as exc:
        budget.calls, budget.stopped = 0, f"WeChat's daily quota: {exc}"
        result.error = budget.stopped
    except WeChatError as exc:
        if exc.errcode == UNKNOWN_TAG:
            set_tag_id(tag, None)  # deleted on WeChat: the next run makes it again and tags everyone
        result.error = str(exc)
    finally:
        finish_run(tag, done=result.left == 0 and result.error is None, error=result.error, now=now)
    return result


def sync_tags(gateway: TagGateway, settings: TagSyncSettings, now: datetime, only: str | None = None) -> list[TagSync]:
    """Run the sync for every syncing tag (or only the tag, or segment, named `only`); blocking."""
    if settings.tier_tags:
        ensure_tier_tags(now)
    for segment in settings.segments:
        if tag_of_segment(segment) is None:
            mark_segment(segment, True, segment, now)
    tags = syncing_tags()
    if only is not None:
        tags = [t for t in tags if only in (t.name, t.source_name)]
        if not tags:  # a tag that does not sync nightly still syncs when asked by name
            named = tag_named(only) or tag_of_segment(only)
            tags = [named] if named is not None else []
    if not tags:
        return []
    existing = _existing(gateway)
    budget = _Budget(settings.batches_per_run)
    results = []
    for tag in tags:
        results.append(_sync_one(gateway, tag, existing, budget, settings.batch_size, now))
        if budget.stopped:
            break
    if budget.stopped:
        log.warning("tag sync stopped early: %s", budget.stopped)
    return results


@dataclass(frozen=True)
class TagJobDeps:
    gateway: TagGateway
    settings: TagSyncSettings = TagSyncSettings()


async def sync_wechat_tags(ctx: dict[str, Any]) -> list[str]:
    """Nightly (and queued on demand): every syncing tag in step with its segment or tier."""
    deps = ctx["deps"]
    tags: TagJobDeps | None = getattr(deps, "tags", None)
    if tags is None:
        log.warning("tag sync skipped: the worker has no WeChat gateway for tags")
        return []
    results = await asyncio.to_thread(sync_tags, tags.gateway, tags.settings, deps.clock.now())
    for result in results:
        log.info(result.line())
    return [result.line() for result in results]


TAG_FUNCTIONS = [sync_wechat_tags]


def tag_cron(hour: int, minute: int) -> list[CronJob]:
    """Nightly at `hour:minute` (Asia/Shanghai): set it after the profiles' rebuild, whose tiers and segments it
    copies."""
    return [cron(sync_wechat_tags, name="wechat-tags", hour=hour, minute=minute, second=0, unique=True,
                 keep_result=3600)]  # fmt: skip
