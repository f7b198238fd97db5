"""Inbound handlers, one module per kind of message or event; `register_all` wires them onto a WeRoBot."""

from __future__ import annotations

from werobot.robot import BaseRoBot

from handlers import events, follow, media, menu, text
from handlers.context import HandlerContext

MODULES = (text, media, follow, menu, events)


def register_all(robot: BaseRoBot, ctx: HandlerContext) -> None:
    for module in MODULES:
        module.register(robot, ctx)
