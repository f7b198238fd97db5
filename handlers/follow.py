"""Follow, unfollow and QR scans: the start (and end) of a relationship with the shop."""

from __future__ import annotations

import dataclasses

from werobot.messages.events import ScanEvent, SubscribeEvent, UnSubscribeEvent
from werobot.robot import BaseRoBot

from dialogs.bargain_answers import bargain_visit
from dialogs.group_buy_answers import group_invite
from dialogs.replies import Text
from handlers.context import HandlerContext, HandlerResult, add
from store.members.followers import record_follow
from store.members.privacy import forget_follower


def on_subscribe(message: SubscribeEvent, ctx: HandlerContext) -> HandlerResult:
    key = message.key or ""
    scene = key[len("qrscene_") :] if key.startswith("qrscene_") else None
    now = ctx.clock.now()
    _, first_time = record_follow(message.source, now, scene or None)
    answer = ctx.engine.on_follow(message.source, first_time, now)
    invite = group_invite(scene)  # a friend who followed through a 拼团 code: how to join, after the welcome
    invite = invite or bargain_visit(scene, message.source, now)  # through a 砍价 code: their cut
    return dataclasses.replace(answer, followups=(*answer.followups, Text(invite))) if invite else answer


def on_scan(message: ScanEvent, ctx: HandlerContext) -> HandlerResult:
    now = ctx.clock.now()
    record_follow(message.source, now, message.key or None)
    scene = message.key or None
    return group_invite(scene) or bargain_visit(scene, message.source, now) or f"欢迎回到{ctx.shop_name}！"


def on_unsubscribe(message: UnSubscribeEvent, ctx: HandlerContext) -> HandlerResult:
    """WeChat's rule: the follower's personal data goes (see store.members.privacy); no reply can reach them now."""
    forget_follower(message.source, ctx.clock.now())
    ctx.state.forget(message.source)
    return None


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    add(robot, ctx, on_subscribe, ["subscribe_event"])
    add(robot, ctx, on_scan, ["scan_event"])
    add(robot, ctx, on_unsubscribe, ["unsubscribe_event"])
