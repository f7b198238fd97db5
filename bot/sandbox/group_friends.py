"""Simulated friends for the 拼团 demo: each follows the account through the group's share code (scene
`grp_{group_no}`), replies “参团 团号” with an address, opens the pay link (the sandbox's silent OAuth as that
friend) and pays in the pay emulator — the same steps a real friend takes, over real HTTP, so the preview shows a
group filling up and every member's notice."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

import aiohttp
import yarl

from bot.sandbox.follower import FollowerSimulator
from bot.sandbox.mp_oauth import OPENID_PARAM
from bot.sandbox.server import Sandbox

FRIEND_ADDRESSES = (
    "李四 13912345678 浙江省杭州市西湖区文三路100号",
    "王五 13712345678 上海市上海市黄浦区南京东路200号",
    "赵六 13612345678 北京市北京市朝阳区建国路300号",
)
_PAY_LINK = re.compile(r"/pay/(\w+)")
_PARAMS = re.compile(r'data-params="([^"]*)"')


@dataclass(frozen=True)
class FriendResult:
    openid: str
    joined: str  # what the shop answered to 参团
    paid: bool


async def friends_join(
    simulator: FollowerSimulator, session: aiohttp.ClientSession, sandbox: Sandbox, shop_url: str, group_no: str,
    openids: list[str],
) -> list[FriendResult]:  # fmt: skip
    results = []
    for i, openid in enumerate(openids):
        await simulator.follow(openid, f"grp_{group_no}")
        address = FRIEND_ADDRESSES[i % len(FRIEND_ADDRESSES)]
        joined = await simulator.send_text(openid, f"参团 {group_no} {address}")
        found = _PAY_LINK.search(joined.shown)
        paid = found is not None and await pay_as(session, sandbox, shop_url, found[1], openid)
        results.append(FriendResult(openid, joined.shown, paid))
    return results


async def pay_as(session: aiohttp.ClientSession, sandbox: Sandbox, shop_url: str, order_no: str, openid: str) -> bool:
    """Open the pay link as `openid` (through the sandbox's OAuth) and confirm in the pay emulator."""
    async with session.get(f"{shop_url.rstrip('/')}/pay/{order_no}", allow_redirects=False) as first:
        location = first.headers.get("Location", "")
    if not location:
        return False
    authorize = yarl.URL(location.removesuffix("#wechat_redirect")).update_query({OPENID_PARAM: openid})
    async with session.get(authorize, allow_redirects=False) as back:
        page_url = back.headers.get("Location", "")
    async with session.get(page_url, allow_redirects=False) as page:
        found = _PARAMS.search(await page.text())
    if found is None:
        return False
    params = json.loads(html.unescape(found[1]))
    sandbox.pay.pay(params["package"].removeprefix("prepay_id="), openid=openid)
    await sandbox.pay.deliver_due()
    return True
