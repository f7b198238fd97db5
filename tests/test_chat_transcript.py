"""A whole purchase as a terminal follower: `wxshop chat` against the demo assembly, paid through the pay
emulator, shipped with `wxshop orders ship`, the notices sent by `wxshop worker --burst`. The transcript shows
every message the chat preview shows for that follower, in the preview's order."""

from __future__ import annotations

import asyncio
import html
import json
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import yarl

from bot.cli.chat import PROMPT
from bot.process.config import Config
from bot.sandbox.demo_seed import seed_demo_shop
from bot.sandbox.mp_oauth import OPENID_PARAM
from store.core.clock import CLOCK_ENV, ManualClock, clock_spec
from store.core.db import close_database, open_database
from tests.preview_support import Demo, assert_shows_in_order, demo_running, with_default_menu
from tests.support import ROOT, child_env, wxshop

OPENID = "o_cli_buyer"
WAIT_S = 30.0


class ChatProcess:
    """`wxshop chat` with its standard input held open: lines are written one at a time, its output is read as it
    comes (the notices arrive while it waits for input)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.grew = asyncio.Condition()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            async with self.grew:
                self.lines.append(raw.decode().rstrip("\n"))
                self.grew.notify_all()

    async def until(self, wanted: str | re.Pattern[str], after: int) -> tuple[int, str]:
        """(index, line) of the first line after `after` that says `wanted`, waiting for the process to print it."""

        def found() -> tuple[int, str] | None:
            for i in range(after, len(self.lines)):
                line = self.lines[i]
                if wanted.search(line) if isinstance(wanted, re.Pattern) else wanted in line:
                    return i, line
            return None

        async def wait() -> tuple[int, str]:
            async with self.grew:
                while (hit := found()) is None:
                    if self.reader.done():
                        raise AssertionError("wxshop chat exited")
                    await self.grew.wait()
                return hit

        try:
            return await asyncio.wait_for(wait(), WAIT_S)
        except TimeoutError:
            raise AssertionError(f"no line saying {wanted!r}; the chat:\n" + "\n".join(self.lines)) from None

    async def say(self, text: str, wanted: str | re.Pattern[str]) -> tuple[int, str]:
        assert self.proc.stdin is not None
        start = len(self.lines)
        self.proc.stdin.write(f"{text}\n".encode())
        await self.proc.stdin.drain()
        await self.until(PROMPT + text, start)
        return await self.until(wanted, start)

    async def finish(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = await asyncio.wait_for(self.proc.wait(), WAIT_S)
        await self.reader
        return code


@asynccontextmanager
async def chatting(env: dict[str, str]) -> AsyncIterator[ChatProcess]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", "--openid", OPENID,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=child_env(env), cwd=ROOT,
    )  # fmt: skip
    chat = ChatProcess(proc)
    try:
        yield chat
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        chat.reader.cancel()


def demo_env(env: dict[str, str], demo: Demo, clock: ManualClock) -> dict[str, str]:
    """What a child process needs to join the demo assembly: its URLs, and this test's "now"."""
    sandbox = demo.config.wechat.api_base_url
    return {
        **env,
        "WXSHOP_SERVER__PUBLIC_URL": demo.base,
        "WXSHOP_WECHAT__API_BASE_URL": sandbox,
        "WXSHOP_PAY__API_BASE_URL": sandbox,
        "WXSHOP_LOGISTICS__API_BASE_URL": sandbox,
        CLOCK_ENV: clock_spec(clock),
    }


async def pay_in_the_preview(demo: Demo, pay_link: str) -> dict[str, Any]:
    """What the preview's in-page browser does with the pay link: OAuth as the follower, then the pay page's
    getBrandWCPayRequest through the preview's WeixinJSBridge (the pay emulator)."""
    url = pay_link
    for _ in range(4):  # the pay page → the OAuth emulator → the pay page with a code
        async with demo.session.get(url, allow_redirects=False) as response:
            if response.status != 302:
                assert response.status == 200, await response.text()
                page = await response.text()
                break
            url = str(yarl.URL(response.headers["Location"]).update_query({OPENID_PARAM: OPENID}))
    else:
        raise AssertionError("the pay page kept redirecting")
    params = re.search(r'data-params="([^"]*)"', page)
    assert params, page
    status, answer = await demo.call("POST", "pay/confirm", json.loads(html.unescape(params[1])))
    assert status == 200 and answer["err_msg"] == "get_brand_wcpay_request:ok", answer
    await demo.sandbox.pay.deliver_due()  # WeChat Pay's notice to the shop
    return answer


async def test_a_scripted_purchase_shows_what_the_preview_shows(migrated: Config, env: dict[str, str]) -> None:
    clock = ManualClock()
    open_database(migrated.database.url, migrated.var_dir)
    try:
        seed_demo_shop(clock.now())
    finally:
        close_database()
    async with (
        demo_running(with_default_menu(migrated), clock) as demo,
        chatting(children := demo_env(env, demo, clock)) as chat,
    ):
        await chat.until("命令：", 0)
        gift_at, _ = await chat.say("/follow", "新人礼包")
        found, _ = await chat.say("连衣裙", "法式碎花雪纺连衣裙")
        choice = chat.lines[found].split(">", 1)[-1].strip().split(".")[0]
        specs_at, _ = await chat.say(choice, "可选规格")
        await chat.say("红色 M", "数量")
        await chat.say("1", "结算")
        await chat.say("结算", "收货")
        coupon_at, _ = await chat.say("张三 13812345678 上海市黄浦区人民大道100号", "优惠券")
        await chat.say("1", "应付")
        card_at, _ = await chat.say("确认", "待支付")
        order_no = re.search(r"订单号\s*(\d+)", "\n".join(chat.lines[card_at:]))
        assert order_no, chat.lines[card_at:]
        link_at, link = await chat.until(f"链接：{demo.base}/pay/{order_no[1]}", card_at)

        answer = await pay_in_the_preview(demo, link.split("链接：", 1)[1])
        assert answer["openid"] == OPENID
        worker = await asyncio.to_thread(wxshop, "worker", "--burst", env=children, timeout=120)
        assert worker.returncode == 0, worker.stdout + worker.stderr
        paid_at, _ = await chat.until("支付成功", link_at)

        ship = ("orders", "ship", order_no[1], "yuantong", "YT1234567890")
        shipped = await asyncio.to_thread(wxshop, *ship, env=children)
        assert shipped.returncode == 0, shipped.stderr
        worker = await asyncio.to_thread(wxshop, "worker", "--burst", env=children, timeout=120)
        assert worker.returncode == 0, worker.stdout + worker.stderr
        shipped_at, _ = await chat.until(f"您的订单{order_no[1]}已发货", paid_at + 1)

        assert await chat.finish() == 0
        _, state = await demo.call("GET", f"state?openid={OPENID}")

    out = chat.lines
    assert gift_at < specs_at < coupon_at < card_at < link_at < paid_at < shipped_at, "\n".join(out)
    assert_shows_in_order(out, state["history"], demo.config.shop.name)
