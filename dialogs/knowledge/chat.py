"""The knowledge and small-talk answers as the engine takes them: intent name → (turn, intent) → text.

Intent names are the ones the understanding layer produces (`ask_*`, `smalltalk_*`, `greet`); the keyword
table in dialogs.intents reaches the same names for the commonest phrasings.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.knowledge import smalltalk, topics
from dialogs.knowledge.settings import KnowledgeSettings
from dialogs.knowledge.topics import FollowerFacts

Answer = Callable[[Turn, Intent], str]


class KnowledgeChat:
    def __init__(self, settings: KnowledgeSettings, facts: FollowerFacts, rng: random.Random) -> None:
        self.settings = settings
        self.facts = facts
        self.rng = rng  # the engine's, so a seeded engine answers small talk reproducibly

    def answers(self) -> dict[str, Answer]:
        talk = {f"smalltalk_{kind}": self._smalltalk(kind) for kind in smalltalk.KINDS}
        return {
            "ask_promotions": self.promotions,
            "ask_coupon_rules": self.coupon_rules,
            "ask_gift": self.gift,
            "ask_tiers": self.tiers,
            "ask_birthday_benefit": self.birthday,
            "ask_points_rules": self.points,
            "ask_return_policy": lambda turn, intent: topics.return_policy(self.settings),
            "ask_shipping_time": lambda turn, intent: topics.shipping(self.settings),
            "greet": lambda turn, intent: smalltalk.greet(self.settings.shop_name, turn.now, self.rng),
            **talk,
        }

    def _smalltalk(self, kind: str) -> Answer:
        return lambda turn, intent: smalltalk.reply(kind, self.settings.shop_name, turn.now, self.rng)

    def _gift_titles(self) -> tuple[str, ...]:
        return tuple(info.title for info in self.facts.coupon_infos(self.settings.gift_coupons))

    def promotions(self, turn: Turn, intent: Intent) -> str:
        mine = self.facts.gift_status(turn.openid, turn.now)
        coupons = self.facts.available_coupons(turn.openid, turn.now)
        titles = self._gift_titles() if mine.usable_until is not None else ()
        return topics.promotions(self.settings, titles, mine, coupons)

    def coupon_rules(self, turn: Turn, intent: Intent) -> str:
        return topics.coupon_rules(self.settings, self.facts.available_coupons(turn.openid, turn.now))

    def gift(self, turn: Turn, intent: Intent) -> str:
        return topics.gift(self.settings, self._gift_titles(), self.facts.gift_status(turn.openid, turn.now))

    def tiers(self, turn: Turn, intent: Intent) -> str:
        return topics.tiers(self.settings, self.facts.standing(turn.openid, turn.now))

    def birthday(self, turn: Turn, intent: Intent) -> str:
        code = self.settings.birthday_coupon
        found = self.facts.coupon_infos((code,)) if code else ()
        return topics.birthday(self.settings, found[0] if found else None, self.facts.birthday(turn.openid))

    def points(self, turn: Turn, intent: Intent) -> str:
        return topics.points(self.settings, self.facts.points_balance(turn.openid))
