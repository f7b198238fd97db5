"""满意度评价 in chat: a whole message "1"…"5" (or "5分", "五星", "不评价") answers the rating request a closed
after-sales ticket sent (store.after_sales.ratings). The intent only stands when no flow is asking (a bare number
mid-flow answers the flow's own question); with no rating awaited the answer is None and the engine treats the
message as it would have without this intent."""

from __future__ import annotations

from collections.abc import Callable

from dialogs.flows import Turn
from dialogs.intents import Intent, IntentWords
from store.after_sales.ratings import rate
from store.after_sales.tickets import DECLINED

INTENT = "rate_service"
_DIGITS = "一二三四五"
SCORE_WORDS: dict[str, int] = {"不评价": DECLINED, "不想评价": DECLINED, "不评了": DECLINED}
for _n in range(1, 6):
    for _form in (str(_n), _DIGITS[_n - 1]):
        SCORE_WORDS.update({f"{_form}分": _n, f"{_form}星": _n, f"打{_form}分": _n, f"评{_form}分": _n})
    SCORE_WORDS[str(_n)] = _n
WORDS: IntentWords = (INTENT, "exact", 45, tuple(SCORE_WORDS))


def make_rating_answer(days: int) -> Callable[[Turn, Intent], str | None]:
    """`days`: how long after the ask a rating is taken."""

    def answer(turn: Turn, intent: Intent) -> str | None:
        score = SCORE_WORDS.get(turn.norm)
        ticket = rate(turn.openid, score, turn.now, days) if score is not None else None
        if ticket is None:
            return None
        if score == DECLINED:
            return f"好的，售后单{ticket.case_no}不评价了。有需要随时找我～"
        if score <= 2:
            return (f"收到您的{score}分评价，很抱歉这次没让您满意，我们会认真改进。"
                    "如还有问题，回复“人工”联系客服。")  # fmt: skip
        return f"收到您的{score}分评价，感谢您的反馈！我们会继续努力。"

    return answer
