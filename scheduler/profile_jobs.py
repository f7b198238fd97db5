"""The profiles' nightly job: rebuild every member's RFM and B scores, lifecycle stage and attributes, cluster
them, and drop behaviour events older than the kept period. Re-running it the same night gives the same profiles
and the same clusters."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from arq.cron import CronJob, cron

from store.profiles.campaigns import start_due_campaigns
from store.profiles.clusters import recompute_clusters
from store.profiles.compute import rebuild_profiles
from store.profiles.events import purge_events
from store.profiles.rules import ProfileRules

log = logging.getLogger("wxshop.profiles")


@dataclass(frozen=True)
class ProfileJobDeps:
    rules: ProfileRules = field(default_factory=ProfileRules)
    events_keep_days: int = 90
    clusters: int = 6
    cluster_seed: int = 7


async def rebuild_member_profiles(ctx: dict[str, Any]) -> dict[str, int]:
    deps = ctx["deps"]
    profiles: ProfileJobDeps = getattr(deps, "profiles", None) or ProfileJobDeps()

    def run() -> dict[str, int]:
        now = deps.clock.now()
        written = rebuild_profiles(profiles.rules, now)
        clusters = recompute_clusters(profiles.clusters, profiles.cluster_seed, now)
        purged = purge_events(now - timedelta(days=profiles.events_keep_days))
        return {"profiles": written, "clusters": len(clusters), "events_purged": purged}

    result = await asyncio.to_thread(run)
    log.info("profiles rebuilt: %s", result)
    return result


async def start_scheduled_campaigns(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: start the campaigns whose scheduled time has come (each queues its notices once)."""
    deps = ctx["deps"]
    started, failed = await asyncio.to_thread(start_due_campaigns, deps.clock.now())
    for name, why in failed.items():
        log.error("scheduled campaign could not start (back to draft): %s: %s", name, why)
    if started:
        log.info("scheduled campaigns started: %s", started)
    return started


PROFILE_FUNCTIONS = [rebuild_member_profiles, start_scheduled_campaigns]


def profile_cron(hour: int, minute: int) -> list[CronJob]:
    """The profiles nightly at `hour:minute` (Asia/Shanghai), after the tier sweep so the tiers are tonight's;
    scheduled campaigns every minute."""
    return [
        cron(rebuild_member_profiles, name="member-profiles", hour=hour, minute=minute, second=0, unique=True,
             keep_result=3600),
        cron(start_scheduled_campaigns, name="scheduled-campaigns", second=5, unique=True, keep_result=60),
    ]  # fmt: skip
