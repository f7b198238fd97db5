"""The dialog engine: decides what to say to each text, menu tap and follow.

Order of consideration for a text (DESIGN §1, issue 5):
  human agent holds the conversation → silence;
  global intents (取消, 返回, 帮助, 人工) → always, even mid-flow (帮助 answers and the flow resumes);
  the active flow's current state;
  a follow-up to the product list in view ("便宜一点的", "第二个"), for the flow that showed it;
  operator keyword rules → mid-flow, answered and the flow re-prompts where it was;
  a follow-up with no list in view (and no flow asking) → "what are you looking for?";
  built-in intents (我的订单, 快递…) → start a flow or answer (idle intents, a rating's bare "3", only when no flow
    is asking);
  clarify once → the default reply (at most once per interval) → offer a human.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from dialogs.flows import END, Flow, Step, Turn
from dialogs.intents import GLOBAL, MENU_KEYS, OWN_DATA, Intent, IntentDetector
from dialogs.keyword_coupon_answers import Recipient
from dialogs.normalize import normalize
from dialogs.recent import after_turn, live
from dialogs.replies import Answer, ReplyRenderer, Text
from dialogs.rules_cache import RulesCache
from dialogs.state import DialogState, Snapshot, TurnResult
from dialogs.understanding.understand import Understander, Understanding

HUMAN_SESSION = timedelta(minutes=30)
HUMAN_HELP = "人工客服：回复“人工”"


def help_text(lines: tuple[str, ...]) -> str:
    """帮助: one line per thing the shop's features do (each feature declares its own), a human last."""
    return "我可以帮您：\n" + "\n".join(f"· {line}" for line in (*lines, HUMAN_HELP))


HELP = help_text(())
"""帮助 of an engine with no features (each feature adds its line: `EngineSettings.help_lines`)."""
CLARIFY = "没太明白您的意思～您可以说“逛商城”“我的订单”“查快递”“退货”，或回复“帮助”看看我能做什么。"
DEFAULT_REPLY = "抱歉，我还在学习中。回复“帮助”看看我能做什么。"
OFFER_HUMAN = "需要人工客服帮忙吗？回复“人工”即可转接。"

IntentAnswer = Callable[[Turn, Intent], Any]
UnansweredHook = Callable[[str, str, str, str, datetime], None]  # (openid, text, norm, outcome, now)
LIST_INTENTS = frozenset({"search"})  # start their own list even mid-flow, instead of answering and resuming
SEARCHES = frozenset({"search", "search_need", "refine"})  # understood as "find products": the browse flow
FINDING = SEARCHES | {"browse"}
ROUTES = {"after_sales_fact": "after_sales"}  # predicted intents another built-in handles
MID_FLOW_MIN_CHARS = 4  # "很多", "随便" answer the flow's question badly; they do not change the subject
MID_FLOW_CONFIDENCE = 0.8
CLARIFY_FLOOR = 0.3  # below it the text is unfamiliar (量子纠缠): asking "did you mean A or B" would be a guess
CHATTER = frozenset({"greet", "smalltalk_thanks", "smalltalk_ok", "smalltalk_laugh", "smalltalk_bye"})
"""Never offered in a clarifying question: "您是想打个招呼吗" helps nobody."""


@dataclass(frozen=True)
class Said:
    """A text message."""

    text: str


@dataclass(frozen=True)
class Tapped:
    """A CLICK custom-menu key."""

    key: str


@dataclass(frozen=True)
class Photo:
    """An image message."""

    media_id: str
    pic_url: str = ""


Inbound = Said | Tapped | Photo


class MemberHooks(Protocol):
    """What the members side adds to the conversation (dialogs.member_answers.MemberChat implements it)."""

    def on_follow(self, openid: str, first_time: bool, now: datetime) -> str | None:
        """A follow: make the follower a member, issue the new-follower gift; the text announcing it, or None."""
        ...

    def pending_greeting(self, openid: str, now: datetime) -> str | None:
        """A greeting waiting for this follower (the birthday gift), taken once; called only when flagged."""
        ...

    def agent_for(self, openid: str, now: datetime) -> str:
        """The customer-service account this follower's transfer goes to ("" for any agent): 专属客服 by tier."""
        ...


@dataclass(frozen=True)
class EngineSettings:
    default_reply_interval_s: int = 3600
    shop_name: str = "小店"
    help_lines: tuple[str, ...] = ()  # what each feature does, in words (`help_text`)


class Engine:
    def __init__(
        self,
        *,
        rules: RulesCache,
        renderer: ReplyRenderer,
        flows: Mapping[str, Flow],
        answers: Mapping[str, IntentAnswer],
        settings: EngineSettings,
        rng: random.Random | None = None,
        names_products: Callable[[str], bool] | None = None,
        members: MemberHooks | None = None,
        understander: Understander | None = None,
        unanswered: UnansweredHook | None = None,
        intents: IntentDetector | None = None,
        menu_keys: Mapping[str, str] | None = None,
        idle_intents: frozenset[str] = frozenset(),
    ) -> None:
        """`intents`: the built-in words plus those the features add; `menu_keys`: CLICK keys → intents, the
        built-in ones plus the features'; `idle_intents`: intents heard only when no flow is asking (a rating's
        bare "3" mid-flow answers the flow's own question), whose answer may be None: nothing awaits it, and the
        message goes on down the ladder (clarify, default reply) as if no word had matched."""
        self.rules = rules
        self.renderer = renderer
        self.flows = dict(flows)
        self.following = [flow for flow in self.flows.values() if flow.follow_up is not None]
        self.answers = dict(answers)
        self.settings = settings
        self.rng = rng or random.Random()
        self.names_products = names_products  # "连衣裙" or "200以内的耳机" with no intent words is a search
        self.intents = intents or IntentDetector()
        self.menu_keys = {**MENU_KEYS, **(menu_keys or {})}
        self.idle_intents = idle_intents
        self.help = help_text(settings.help_lines)
        self.members = members
        self.understander = understander  # intents from examples, for what no rule or keyword placed
        self.unanswered = unanswered  # told of every clarifying question and fallback, for the operators' inbox

    # -- entry points ---------------------------------------------------------------------------------------
    def turn(self, snap: Snapshot, inbound: Inbound, now: datetime) -> TurnResult | None:
        """One turn, pure of Redis: what to say to `inbound` given the follower's `snap`, and what changes. None
        only for a photo no flow takes (the media handler acknowledges it instead)."""
        if isinstance(inbound, Tapped):
            return self._tapped(snap, inbound.key, now)
        if isinstance(inbound, Photo):
            return self._photo(snap, inbound, now)
        return self._said(snap, inbound.text, now)

    def _said(self, snap: Snapshot, text: str, now: datetime) -> TurnResult:
        if snap.human_until:  # the agent has the conversation: the bot stays silent, and the session goes on
            return TurnResult(Answer(), None, human_until=(now + HUMAN_SESSION).timestamp())
        turn = Turn(snap.openid, text, normalize(text), now, recent=live(snap.dialog.recent, now))
        notice = ""
        if snap.expired_flow in self.flows:
            notice = f"刚才的“{self.flows[snap.expired_flow].title}”已超时结束。"
        if snap.greeting:  # a flag read with the state, so a follower with nothing waiting costs nothing more
            greeting = self.members.pending_greeting(snap.openid, now) if self.members else None
            notice = "\n".join(part for part in (greeting, notice) if part)
        recent = turn.recent
        answer, dialog = self._decide(turn, snap.dialog, snap)
        dialog.recent = after_turn(recent, turn.recent)
        return TurnResult(
            _prefixed(notice, answer),
            dialog,
            human_until=(now + HUMAN_SESSION).timestamp() if answer.transfer else 0.0,
            default_reply_for_s=self.settings.default_reply_interval_s if turn.said_default else 0,
            greeting_taken=snap.greeting,
        )

    def _tapped(self, snap: Snapshot, key: str, now: datetime) -> TurnResult:
        """A CLICK menu key routes to the same intents as words do."""
        intent = self.menu_keys.get(key)
        if intent is None:
            return TurnResult(Answer("这个菜单暂时没有内容，回复“帮助”看看我能做什么。"), None)
        if intent == "human":  # a menu tap is an event: WeChat only transfers in reply to a message
            return TurnResult(Answer("请直接发送您的问题并回复“人工”，客服会尽快接入。"), None)
        turn = Turn(snap.openid, "", "", now, recent=live(snap.dialog.recent, now))
        recent = turn.recent
        answer, dialog = self._intent(turn, Intent(intent), replace(snap.dialog))
        dialog.recent = after_turn(recent, turn.recent)
        return TurnResult(answer, dialog)

    def _photo(self, snap: Snapshot, photo: Photo, now: datetime) -> TurnResult | None:
        """An image for the active flow, if that flow takes images (`Flow.on_image`, e.g. after-sales photos)."""
        flow = self.flows.get(snap.dialog.flow) if snap.dialog.active else None
        if snap.human_until or flow is None or flow.on_image is None:
            return None
        turn = Turn(snap.openid, "", "", now, slots=dict(snap.dialog.slots), recent=live(snap.dialog.recent, now))
        step = flow.on_image(snap.dialog.state, turn, photo.media_id, photo.pic_url)
        if not step.understood:
            return None
        answer, dialog = self._advance(flow, step, turn, snap.dialog)
        dialog.recent = after_turn(snap.dialog.recent, turn.recent)
        return TurnResult(answer, dialog)

    def on_follow(self, openid: str, first_time: bool, now: datetime) -> Answer:
        """The operator's standing follow reply (or a greeting), with the new-follower gift announced after it."""
        gift = self.members.on_follow(openid, first_time, now) if self.members else None
        standing = self.rules.current.standing.get("follow")
        if standing:
            return _appended(self.renderer.answer(standing, "all", self.rng), gift)
        greeting = "欢迎关注" if first_time else "欢迎回来"
        text = f"{greeting}{self.settings.shop_name}！回复“逛商城”看看商品，点击菜单查看订单和会员权益。"
        return _appended(Answer(text), gift)

    # -- the ladder -----------------------------------------------------------------------------------------
    def _decide(self, turn: Turn, dialog: DialogState, snap: Snapshot) -> tuple[Answer, DialogState]:
        intent = self.intents.detect(turn.text, turn.norm, turn.now)
        if intent is not None and intent.name in GLOBAL:
            return self._global(turn, intent, dialog)
        seen = None
        if intent is not None and intent.how != "exact" and self.understander is not None:
            # A keyword inside a longer message ("快递盒压坏了", "新人礼包是啥") may not mean its intent: the
            # classifier, reading the whole message, decides when it is sure of something else.
            seen = self.understander.understand(turn.text)
            other = seen.prediction.intent
            same_kind = intent.name in FINDING and other in FINDING  # 看看女装: search or browse, the words decide
            if seen.sure and other != intent.name and other not in CHATTER and not same_kind:
                names = intent.name == "search" and self.names_products is not None
                if not (names and self.names_products(intent.argument)):  # 看看视频会员 stays a search
                    intent = None
        flow = self.flows.get(dialog.flow) if dialog.active else None
        if flow is not None:
            turn.slots = dict(dialog.slots)
            step = flow.states[dialog.state](turn)
            if step.understood:
                return self._advance(flow, step, turn, dialog)
            if intent is not None and intent.name in self.idle_intents:
                intent = None
        if turn.recent and (flow is None or flow.follow_up is None):  # a flow that follows up does so in its states
            followed = self._follow_up(turn)
            if followed is not None:
                return followed
        rule = self.rules.current.match(turn.text, turn.now)
        if rule is not None and not (self._means_own_data(intent, seen) and not rule[1].overrides):
            _, record = rule
            to = Recipient(turn.openid, record.name, turn.now)
            answer = self.renderer.answer(record.replies, record.reply_mode, self.rng, to)
            return (self._resume(answer, flow, dialog) if flow else answer), replace(dialog, misses=0)
        if flow is None and not turn.recent:  # "便宜一点的" with no list: ask what they are looking for
            followed = self._follow_up(turn)
            if followed is not None:
                return followed
        clarify = None
        if intent is not None and intent.name in self.idle_intents:  # no flow is asking (dropped above if one is)
            reply = self.answers[intent.name](turn, intent)
            if reply is not None:
                return (reply if isinstance(reply, Answer) else Answer(reply)), replace(dialog, misses=0)
            intent = None  # nothing awaits it (no rating asked): on down the ladder as if no word matched
        if intent is None:
            intent, clarify = self._understood(turn, flow, dialog, seen)
        if intent is not None:
            if flow is not None and intent.name not in self.flows and intent.name not in LIST_INTENTS:
                answer, _ = self._intent(turn, intent, DialogState())
                return self._resume(answer, flow, dialog), dialog
            return self._intent(turn, intent, DialogState())
        if flow is not None:
            return self._retry(flow, dialog)
        if self.names_products is not None and self.names_products(turn.text):
            return self._intent(turn, Intent("search", turn.text), DialogState())
        if clarify is not None:
            self._note_unanswered(turn, "clarify")
            return Answer(f"{clarify}回复“帮助”看看我能做什么。"), replace(dialog, misses=1)
        return self._fallback(turn, dialog, snap)

    def _follow_up(self, turn: Turn) -> tuple[Answer, DialogState] | None:
        for flow in self.following:
            turn.slots = {}
            step = flow.follow_up(turn)  # type: ignore[misc]
            if step.understood:
                return self._advance(flow, step, turn, DialogState(flow=flow.name))
        return None

    def _understood(
        self, turn: Turn, flow: Flow | None, dialog: DialogState, seen: Understanding | None
    ) -> tuple[Intent | None, str | None]:
        """What the understanding layer makes of a text no rule or keyword placed: an intent to act on, or a
        clarifying question offering the two likeliest intents (asked if the text names no products), or neither."""
        if self.understander is None:
            return None, None
        seen = seen or self.understander.understand(turn.text)
        intent = seen.prediction.intent
        if flow is not None:  # the flow asked a question: only a clear change of subject leaves it
            if len(seen.norm) < MID_FLOW_MIN_CHARS or seen.prediction.confidence < MID_FLOW_CONFIDENCE:
                return None, None
            if intent in SEARCHES or intent in CHATTER or intent == flow.name:
                return None, None
        if seen.sure:
            if intent in SEARCHES:
                return Intent("search", turn.text), None
            return Intent(ROUTES.get(intent, intent), turn.text), None
        pair = {intent, seen.prediction.runner_up}
        if flow is None and dialog.misses == 0 and seen.prediction.confidence >= CLARIFY_FLOOR and not pair & CHATTER:
            return None, seen.question
        return None, None

    @staticmethod
    def _means_own_data(intent: Intent | None, seen: Understanding | None) -> bool:
        """A built-in reading the follower's own data is what the message asks for: its exact words, or a
        keyword inside a message the classifier reads the same way ("查快递", not "你们用什么快递公司")."""
        if intent is None or intent.name not in OWN_DATA:
            return False
        return intent.how == "exact" or (seen is not None and seen.prediction.intent == intent.name)

    def _note_unanswered(self, turn: Turn, outcome: str) -> None:
        if self.unanswered is not None:
            self.unanswered(turn.openid, turn.text, turn.norm, outcome, turn.now)

    def _global(self, turn: Turn, intent: Intent, dialog: DialogState) -> tuple[Answer, DialogState]:
        flow = self.flows.get(dialog.flow) if dialog.active else None
        if intent.name == "human":  # the turn's result holds the conversation for the agent
            agent = self.members.agent_for(turn.openid, turn.now) if self.members is not None else ""
            return Answer(transfer=True, agent=agent), DialogState()
        if intent.name == "cancel":
            if flow is None:
                return Answer("好的。有需要随时叫我～"), DialogState()
            return Answer(f"已取消“{flow.title}”。"), DialogState()
        if intent.name == "back" and flow is not None:
            history = list(dialog.slots.get("_history", []))
            if not history:
                return Answer(f"已经是第一步了。{flow.prompt(dialog.state, dialog.slots)}"), dialog
            state = history.pop()
            slots = dict(dialog.slots, _history=history)
            return Answer(flow.prompt(state, slots)), replace(dialog, state=state, slots=slots, retries=0)
        if intent.name == "back":
            return Answer("没有可以返回的步骤。回复“帮助”看看我能做什么。"), dialog
        return self._resume(Answer(self.help), flow, dialog), replace(dialog, misses=0)

    def _intent(self, turn: Turn, intent: Intent, dialog: DialogState) -> tuple[Answer, DialogState]:
        if intent.name in GLOBAL:
            return self._global(turn, intent, dialog)
        flow = self.flows.get("browse" if intent.name == "search" else intent.name)
        if flow is not None:
            turn.slots = {"_query": intent.argument} if intent.name == "search" else {}
            step = flow.entry(turn)
            return self._advance(flow, step, turn, DialogState(flow=flow.name))
        if intent.name == "greet" and "greet" not in self.answers:  # the standard greeting, unless one is given
            greeting = f"您好，欢迎来到{self.settings.shop_name}！回复“逛商城”看看商品，或回复“帮助”看看我能做什么。"
            return Answer(greeting), replace(dialog, misses=0)
        answer_for = self.answers.get(intent.name)
        reply = answer_for(turn, intent) if answer_for else self.help
        return (reply if isinstance(reply, Answer) else Answer(reply)), replace(dialog, misses=0)

    def _advance(self, flow: Flow, step: Step, turn: Turn, dialog: DialogState) -> tuple[Answer, DialogState]:
        answer = step.reply if isinstance(step.reply, Answer) else Answer(step.reply)
        if step.next == END:
            return answer, DialogState()
        slots = dict(turn.slots)
        if step.flow and step.flow != flow.name:  # a hand-over starts the other flow's history afresh
            return answer, DialogState(flow=step.flow, state=step.next or "", slots={"_from": flow.name, **slots})
        if dialog.state and step.next != dialog.state:
            slots["_history"] = [*slots.get("_history", []), dialog.state]
        return answer, DialogState(flow=flow.name, state=step.next or "", slots=slots)

    def _retry(self, flow: Flow, dialog: DialogState) -> tuple[Answer, DialogState]:
        retries = dialog.retries + 1
        if retries >= flow.max_retries:
            return Answer(f"多次没能听懂，已退出“{flow.title}”。回复“帮助”看看我能做什么。"), DialogState()
        prompt = flow.prompt(dialog.state, dialog.slots)
        return Answer(f"抱歉，没听懂。{prompt}"), replace(dialog, retries=retries)

    def _resume(self, answer: Answer, flow: Flow | None, dialog: DialogState) -> Answer:
        """Answer an interruption, then ask the flow's current question again."""
        if flow is None:
            return answer
        prompt = f"继续“{flow.title}”：{flow.prompt(dialog.state, dialog.slots)}"
        return _appended(answer, prompt)

    def _fallback(self, turn: Turn, dialog: DialogState, snap: Snapshot) -> tuple[Answer, DialogState]:
        """Clarify once, then the default reply (at most once per interval), then offer a human. The default
        reply's time is kept with the turn's result (`Turn.said_default`)."""
        self._note_unanswered(turn, "fallback")
        if dialog.misses == 0:
            return Answer(CLARIFY), replace(dialog, misses=1)
        interval = self.settings.default_reply_interval_s
        if turn.now.timestamp() - snap.last_default_reply >= interval:
            turn.said_default = True
            standing = self.rules.current.standing.get("default")
            answer = self.renderer.answer(standing, "all", self.rng) if standing else Answer(DEFAULT_REPLY)
            return answer, replace(dialog, misses=dialog.misses + 1)
        return Answer(OFFER_HUMAN), replace(dialog, misses=dialog.misses + 1)


def _appended(answer: Answer, text: str | None) -> Answer:
    """`text` after the answer: in the same text reply, else as a follow-up message."""
    if not text:
        return answer
    if isinstance(answer.reply, Text) and not answer.followups:
        return replace(answer, reply=Text(f"{answer.reply.content}\n\n{text}"))
    return replace(answer, followups=(*answer.followups, Text(text)))


def _prefixed(notice: str, answer: Answer) -> Answer:
    if not notice:
        return answer
    if isinstance(answer.reply, Text):
        return replace(answer, reply=Text(f"{notice}\n{answer.reply.content}"))
    if answer.reply is None and not answer.transfer:
        return replace(answer, reply=Text(notice))
    first = () if answer.reply is None else (answer.reply,)
    return Answer(Text(notice), (*first, *answer.followups), answer.transfer, answer.agent)
