"""Every command the bot suggests in its own replies (“逛商城”, “查快递”…) is understood when a follower with nothing
open sends it: none ends in the generic fallback. Context-bound suggestions (“是”, “下一页”, “删掉第1个”, a spec)
are answered inside their flows and tested there."""

from __future__ import annotations

import re
from pathlib import Path

from bot.process.config import Config
from dialogs.engine import CLARIFY, DEFAULT_REPLY
from tests.gateway_support import running
from tests.test_browse_chat import shop_config  # noqa: F401 - the fixture with the catalog imported

DIALOGS = Path(__file__).resolve().parent.parent / "dialogs"
CONTEXT_BOUND = {"是", "否", "要", "完成", "确认", "不用", "跳过", "下一页", "删掉第1个", "5月20日", "取消"}


def suggestions() -> set[str]:
    found: set[str] = set()
    for path in DIALOGS.rglob("*.py"):
        for text in re.findall(r"“([^”{}]{1,8})”", path.read_text()):
            if text not in CONTEXT_BOUND and not re.search(r"\s", text):
                found.add(text)
    return found


async def test_the_bots_own_suggestions_are_understood(shop_config: Config) -> None:  # noqa: F811
    said = suggestions()
    assert {"逛商城", "我的订单", "查快递", "退货", "继续逛", "人工"} <= said, said
    async with running(shop_config) as shop:
        follower = shop.follower()
        fallen = []
        for i, text in enumerate(sorted(said)):
            answer = await follower.send_text(f"o_s{i}", text)
            if answer.shown.startswith(("没太明白", DEFAULT_REPLY[:8], CLARIFY[:8])):
                fallen.append((text, answer.shown))
        assert not fallen, fallen
