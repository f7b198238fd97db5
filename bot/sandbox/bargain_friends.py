"""Simulated friends for the 砍价 demo: each follows the account through the bargain's share code (scene
`kj_{bargain_no}`), which cuts once, the same step a real friend takes, over real HTTP, so the preview shows the
price going down and the starter's notices."""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.follower import FollowerSimulator


@dataclass(frozen=True)
class FriendCut:
    openid: str
    welcomed: str  # the passive reply to the follow; the cut's sentence follows as a customer-service message


async def friends_cut(simulator: FollowerSimulator, bargain_no: str, openids: list[str]) -> list[FriendCut]:
    results = []
    for openid in openids:
        followed = await simulator.follow(openid, f"kj_{bargain_no}")
        results.append(FriendCut(openid, followed.shown))
    return results
