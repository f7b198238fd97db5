"""Answers from the shop's own config (满减, coupons, the gift, tiers, points, returns, shipping) and small talk."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.knowledge.chat import KnowledgeChat
from dialogs.knowledge.settings import KnowledgeSettings
from dialogs.knowledge.store_facts import StoreFacts


def chat(ctx: ChatContext) -> Chat:
    settings = KnowledgeSettings.from_settings(ctx.config.shop, ctx.config.after_sales)
    return Chat(answers=KnowledgeChat(settings, StoreFacts(ctx.shop_rules.members), ctx.rng).answers())


FEATURE = Feature("knowledge", chat=chat)
