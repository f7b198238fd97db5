"""收藏 in chat over signed HTTP: the second of a list, the card in view, twice is once, 我的收藏 lists them; the
search and the card shown are noted as behaviour events and stored off the reply path (at the latest when the
server stops)."""

from __future__ import annotations

from bot.process.config import Config
from store.core.db import close_database, open_database
from store.profiles.models import BehaviourEvent, Favourite
from tests.gateway_support import running
from tests.test_browse_chat import shop_config  # noqa: F401 - the fixture with the test catalog imported


async def test_favourite_from_a_list_and_a_card_then_list_them(shop_config: Config) -> None:  # noqa: F811
    async with running(shop_config) as shop:
        follower = shop.follower()
        empty = await follower.send_text("o_f", "我的收藏")
        assert empty.shown.startswith("收藏夹还是空的")
        assert "先找到想收藏的商品" in (await follower.send_text("o_f", "收藏")).shown
        listed = await follower.send_text("o_f", "看看连衣裙")
        second = listed.shown.splitlines()[2].split(". ", 1)[1].rsplit(" ¥", 1)[0]  # "2. 标题 ¥…" → 标题
        saved = await follower.send_text("o_f", "收藏2")
        assert saved.shown.startswith(f"已收藏“{second}”。回复“我的收藏”查看。")
        assert "继续“逛商城”" in saved.shown  # the list stays in use
        again = await follower.send_text("o_f", "收藏 2")
        assert again.shown.startswith(f"“{second}”已经在收藏里了")
        card = await follower.send_text("o_f", "1")
        assert card.reply["MsgType"] == "news"
        first = listed.shown.splitlines()[1].split(". ", 1)[1].rsplit(" ¥", 1)[0]
        assert card.reply["Articles"]["item"]["Title"].startswith(first)
        assert (await follower.send_text("o_f", "收藏")).shown.startswith(f"已收藏“{first}")
        mine = await follower.send_text("o_f", "我的收藏")
        assert mine.shown.splitlines()[0] == "您收藏的商品："
        assert mine.shown.splitlines()[1:3] == [f"1. {first}", f"2. {second}"]  # the latest first
    open_database(shop_config.database.url, shop_config.var_dir)
    try:
        assert Favourite.select().where(Favourite.openid == "o_f").count() == 2
        events = [(e.kind, e.ref) for e in BehaviourEvent.select().where(BehaviourEvent.openid == "o_f")]
        assert ("search", "连衣裙") in events and sum(kind == "card" for kind, _ in events) == 1
    finally:
        close_database()
