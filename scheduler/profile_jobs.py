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


PROFILE_FUNCTIONS = [rebuild_member_profiles]


def profile_cron(hour: int, minute: int) -> list[CronJob]:
    """Nightly at `hour:minute` (Asia/Shanghai), after the tier sweep so the tiers are tonight's."""
    return [
        cron(rebuild_member_profiles, name="member-profiles", hour=hour, minute=minute, second=0, unique=True,
             keep_result=3600),
    ]  # fmt: skip
