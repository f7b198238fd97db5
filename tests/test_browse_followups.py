"""Follow-ups to the product list just shown, over signed HTTP: cheaper, a price cap, a colour, a size on the Nth
product (and buying it), picking the Nth or "this" one; the list lapses after RECENT_S or RECENT_TURNS; with no
list the shopper is asked what they are looking for."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from bot.process.config import Config
from dialogs.flows.browse_followups import ASK_WHAT
from dialogs.recent import RECENT_S, RECENT_TURNS
from store.catalog.csv_import import import_file
from store.core.clock import SHANGHAI, ManualClock
from store.core.db import close_database, open_database
from tests.gateway_support import running

CATALOG = Path(__file__).parent / "data" / "catalog.csv"
_LINE = re.compile(r"^(\d+)\. (.+) ¥([\d.]+)(（已售罄）)?$")


@pytest.fixture
def shop_config(migrated: Config) -> Config:
    open_database(migrated.database.url, migrated.var_dir)
    import_file(CATALOG)
    close_database()
    return migrated


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 5, 10, 0, tzinfo=SHANGHAI))


def listed(reply: str) -> list[tuple[str, float]]:
    """(title, price) of each numbered line of a product list."""
    return [(hit[2], float(hit[3])) for line in reply.splitlines() if (hit := _LINE.match(line))]


def position(items: list[tuple[str, float]], title_part: str) -> int:
    return next(i for i, (title, _) in enumerate(items, start=1) if title_part in title)


async def test_cheaper_lists_the_same_query_below_the_middle_price_cheapest_first(
    shop_config: Config, clock: ManualClock
) -> None:
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        first = listed((await follower.send_text("o_c", "连衣裙")).shown)
        assert len(first) == 5
        cheaper_reply = (await follower.send_text("o_c", "便宜一点的")).shown
        cheaper = listed(cheaper_reply)
        middle = sorted(price for _, price in first)[2]
        assert cheaper and all(price < middle for _, price in cheaper), cheaper_reply
        assert [price for _, price in cheaper] == sorted(price for _, price in cheaper)
        assert all("连衣裙" in title or "衬衫裙" in title for title, _ in cheaper)
        assert "更便宜的“连衣裙”" in cheaper_reply
        again = (await follower.send_text("o_c", "有没有更便宜的")).shown
        assert again.startswith("没有比刚才更便宜的“连衣裙”了"), again
        opened = await follower.send_text("o_c", "1")  # the cheaper list is still the one numbers pick from
        assert opened.reply["MsgType"] == "news" and cheaper[0][0] in opened.shown


async def test_a_price_cap_and_a_colour_narrow_the_last_query(shop_config: Config, clock: ManualClock) -> None:
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        first = listed((await follower.send_text("o_p", "连衣裙")).shown)
        assert any(price > 300 for _, price in first)
        capped_reply = (await follower.send_text("o_p", "三百以内的")).shown
        capped = listed(capped_reply)
        assert "¥300以内" in capped_reply and len(capped) == len(first) - 1
        assert all(price <= 300 for _, price in capped)
        red_reply = (await follower.send_text("o_p", "有红色的吗")).shown  # both: under 300 and red
        red = {title.split()[0] for title, _ in listed(red_reply)}
        assert "¥300以内、红色" in red_reply
        assert red == {"法式碎花雪纺连衣裙", "针织修身连衣裙", "波点复古连衣裙"}, red_reply  # 酒红 is red; 真丝 is ¥599
        assert "波点复古连衣裙 收腰显瘦 ¥189（已售罄）" in red_reply  # its red is sold out, its black is not
        colours = (await follower.send_text("o_p", "别的颜色")).shown
        assert colours.startswith("刚才的商品有这些颜色：") and "黑色" in colours and "白色" in colours


async def test_colour_outside_the_list_of_a_new_search(shop_config: Config, clock: ManualClock) -> None:
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        await follower.send_text("o_k", "连衣裙")
        black = (await follower.send_text("o_k", "有没有黑的")).shown
        titles = {title.split()[0] for title, _ in listed(black)}
        assert titles == {"纯棉条纹衬衫裙", "针织修身连衣裙", "波点复古连衣裙"}, black


async def test_a_size_on_the_nth_product_is_answered_with_stock_and_offered(
    shop_config: Config, clock: ManualClock
) -> None:
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        first = listed((await follower.send_text("o_s", "连衣裙")).shown)
        floral = position(first, "法式碎花")
        ordinal = "一二三四五"[floral - 1]
        yes = (await follower.send_text("o_s", f"第{ordinal}个有L码吗")).shown
        assert yes.startswith("有的！「法式碎花雪纺连衣裙 夏季新款」L码") and "红色 L ¥159（库存18件）" in yes, yes
        assert "回复“要”直接购买" in yes
        bought = (await follower.send_text("o_s", "要")).shown
        assert bought == "已选：红色 L，¥159，库存18件。请回复购买数量。"

        silk = position(first, "真丝")
        no = (await follower.send_text("o_s", f"第{silk}个有S码吗")).shown
        assert no.startswith("「真丝长款连衣裙 宴会礼服」没有S码") and "红色 M" in no, no
        this = (await follower.send_text("o_s", "这个有L码吗")).shown  # the product in view
        assert this.startswith("有的！「真丝长款连衣裙 宴会礼服」L码") and "库存4件" in this, this


async def test_picking_the_nth_or_this_one_opens_its_card_even_after_another_question(
    shop_config: Config, clock: ManualClock
) -> None:
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        first = listed((await follower.send_text("o_n", "连衣裙")).shown)
        second = await follower.send_text("o_n", "第二个")
        assert second.reply["MsgType"] == "news" and first[1][0] in second.shown
        last = await follower.send_text("o_n", "最后一个")  # from the card's question, back to the list
        assert last.reply["MsgType"] == "news" and first[-1][0] in last.shown
        parcels = (await follower.send_text("o_n", "查快递")).shown
        assert "包裹" in parcels
        wanted = await follower.send_text("o_n", "要第一个")
        assert wanted.reply["MsgType"] == "news" and first[0][0] in wanted.shown
        await follower.send_text("o_n", "查快递")
        this = await follower.send_text("o_n", "就这个")  # the card last shown
        assert this.reply["MsgType"] == "news" and first[0][0] in this.shown
        out = (await follower.send_text("o_n", "第九个")).shown
        assert out == "刚才的列表只有5件商品，回复1-5查看。"


async def test_the_list_lapses_after_its_time_and_after_turns_about_other_things(
    shop_config: Config, clock: ManualClock
) -> None:
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        await follower.send_text("o_t", "连衣裙")
        clock.advance(seconds=RECENT_S - 60)
        assert listed((await follower.send_text("o_t", "便宜一点的")).shown), "used in time: still in view"
        clock.advance(seconds=RECENT_S + 1)
        assert (await follower.send_text("o_t", "便宜一点的")).shown == ASK_WHAT

        for openid, others in (("o_u", RECENT_TURNS - 1), ("o_v", RECENT_TURNS)):
            first = listed((await follower.send_text(openid, "连衣裙")).shown)
            for _ in range(others):
                assert "包裹" in (await follower.send_text(openid, "查快递")).shown
            second = await follower.send_text(openid, "第二个")
            if others < RECENT_TURNS:
                assert second.reply["MsgType"] == "news" and first[1][0] in second.shown
            else:
                assert second.shown == ASK_WHAT


@pytest.mark.parametrize("text", ["便宜一点的", "有没有更便宜的", "第二个有L码吗", "就这个", "第二个", "别的颜色"])
async def test_with_no_list_in_view_the_shopper_is_asked_what_they_want(
    shop_config: Config, clock: ManualClock, text: str
) -> None:
    async with running(shop_config, clock) as shop:
        assert (await shop.follower().send_text("o_none", text)).shown == ASK_WHAT


async def test_with_no_list_in_view_a_price_alone_searches_the_catalog(shop_config: Config, clock: ManualClock) -> None:
    async with running(shop_config, clock) as shop:
        found = (await shop.follower().send_text("o_cap", "三百以内的")).shown
    assert listed(found) and all(price <= 300 for _, price in listed(found)), found


async def test_a_refined_list_pages_with_its_refinement(shop_config: Config, clock: ManualClock) -> None:
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        await follower.send_text("o_pg", "看看女装")
        first = (await follower.send_text("o_pg", "三百以内的")).shown
        assert "“下一页”看更多" in first and len(listed(first)) == 8, first
        second = (await follower.send_text("o_pg", "下一页")).shown
        assert second.startswith("为您找到¥300以内的“女装”") and listed(second), second
        assert all(price <= 300 for _, price in listed(second))
        assert {t for t, _ in listed(first)}.isdisjoint(t for t, _ in listed(second))
        white = (await follower.send_text("o_pg", "有白色的吗")).shown  # the whole query, not the page's one product
        assert white.startswith("为您找到¥300以内、白色的“女装”") and len(listed(white)) > 1, white
