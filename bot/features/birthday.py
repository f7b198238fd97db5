"""设置生日: the slot-filling flow that stores the follower's birthday (the gift is the members' sweep)."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.flows import birthday
from store.members.followers import set_birthday


def chat(ctx: ChatContext) -> Chat:
    now = ctx.now

    def save(openid: str, month: int, day: int) -> str:
        return set_birthday(openid, month, day, now())[1]

    return Chat(flows={"birthday": birthday.build(save)})


FEATURE = Feature("birthday", help="设置生日：回复“设置生日”", chat=chat)
