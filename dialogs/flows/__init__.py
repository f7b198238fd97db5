"""Flows: conversations with states, each a table of state → handler (PTB ConversationHandler's shape).

A handler gets the `Turn` and returns a `Step`: what to say and the next state (`END` to finish), or
`Step.not_understood()` so the engine can try its fallback ladder and re-prompt with `Flow.prompt`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

END = "END"


@dataclass
class Turn:
    openid: str
    text: str
    norm: str
    now: datetime
    slots: dict[str, Any] = field(default_factory=dict)
    recent: dict[str, Any] = field(default_factory=dict)  # the last list shown, while it holds (dialogs.recent)
    said_default: bool = False  # the engine gave its default reply this turn (kept, to say it once per interval)


@dataclass(frozen=True)
class Step:
    reply: Any = None
    next: str | None = None
    flow: str | None = None  # hand over to another flow's state (browse → checkout)

    @classmethod
    def not_understood(cls) -> Step:
        return cls(None, None)

    @property
    def understood(self) -> bool:
        return self.next is not None


@dataclass(frozen=True)
class Flow:
    """A named conversation: `entry` starts it, `states` continue it, `prompt` re-asks the current question."""

    name: str
    title: str  # how the bot names it to the follower ("设置生日")
    entry: Callable[[Turn], Step]
    states: Mapping[str, Callable[[Turn], Step]]
    prompts: Mapping[str, Callable[[dict[str, Any]], str]]
    max_retries: int = 3
    # An image message while the flow is active: (state, turn, media_id, pic_url) → Step, or None when the
    # flow takes no images (the media handler acknowledges them). After-sales collects photos this way.
    on_image: Callable[[str, Turn, str, str], Step] | None = None
    # A message about what the flow showed last (`Turn.recent`: "便宜一点的", "第二个"), tried whichever flow is
    # active when that flow's state did not understand it; also asked when nothing was shown, to say so.
    follow_up: Callable[[Turn], Step] | None = None

    def prompt(self, state: str, slots: dict[str, Any]) -> str:
        ask = self.prompts.get(state)
        return ask(slots) if ask else ""
