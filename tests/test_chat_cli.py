"""`wxshop chat` as a subprocess with piped input, against a running demo assembly and against a bare shop."""

from __future__ import annotations

import asyncio
import subprocess

from aiohttp.test_utils import TestServer

from bot.cli.chat import menu_lines, render
from bot.process.config import Config
from bot.sandbox.ports import free_port
from bot.web.app import create_app
from store.core.clock import CLOCK_ENV, ManualClock, clock_spec
from tests.gateway_support import AES_KEY, with_mode
from tests.preview_support import assert_shows_in_order, demo_running, with_default_menu
from tests.support import start_app_server, wxshop


async def chat(env: dict[str, str], public_url: str, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `wxshop chat` in a thread, so this loop keeps serving the in-process server it talks to."""
    env = {**env, "WXSHOP_SERVER__PUBLIC_URL": public_url}
    return await asyncio.to_thread(wxshop, "chat", *args, env=env, input=stdin, timeout=60)


async def test_chat_with_a_running_demo_goes_through_the_preview(migrated: Config, env: dict[str, str]) -> None:
    async with demo_running(with_default_menu(migrated)) as demo:
        too_long = "长" * 2049
        script = f"/menu\n你好\n/follow\n你好\n{too_long}\n\n/click BROWSE\n/click\n/bogus\n/quit\n这一行不会发出\n"
        done = await chat(env, demo.base, script, "--openid", "o_cli_fan")
        world = demo.sandbox.world
        assert world.is_following("o_cli_fan"), "the sandbox World saw the follow"
        kinds = [kind for kind, _ in world.interactions("o_cli_fan")]
        _, state = await demo.call("GET", "state?openid=o_cli_fan")
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0].startswith(f"wxshop chat：{migrated.shop.name}（沙箱预览 {demo.base}/sandbox/")
    assert out[1] == "粉丝 o_cli_fan（未关注：输入 /follow 关注公众号）"
    assert "逛商城 → click BROWSE" in out and "  我的订单 → click MY_ORDERS" in out and "我的" in out
    assert "（o_cli_fan does not follow the account: follow it first）" in out, "texting before following"
    shop = f"{migrated.shop.name}> "
    replies = [line for line in out if line.startswith(shop)]
    assert len(replies) >= 3 and "欢迎" in replies[0], out
    assert "用法：/click KEY（/menu 列出菜单的 KEY）" in out and any(line.startswith("未知命令 /bogus") for line in out)
    assert "这一行不会发出" not in done.stdout
    assert [line for line in out if line.startswith("你> ")] == [
        "你> /menu", "你> 你好", "你> /follow", "你> 你好", f"你> {too_long}", "你> /click BROWSE", "你> /click",
        "你> /bogus", "你> /quit"], "piped input is echoed, so the transcript reads as a conversation"
    assert "（没有发出：一条文字消息最多 2048 个字，这条有 2049 个字）" in out
    assert_shows_in_order(out, state["history"], migrated.shop.name)
    assert kinds.count("message") == 1 and "click" in kinds
    texts = [e.get("text") for e in state["history"] if e["from"] == "follower"]
    assert texts == ["关注了公众号", "你好", "点击菜单 逛商城"], "the browser preview shows the same chat"


async def test_chat_in_safe_mode_against_a_bare_shop(migrated: Config, env: dict[str, str]) -> None:
    clock = ManualClock()
    server = TestServer(create_app(with_mode(migrated, "safe"), clock=clock), host="127.0.0.1")
    await start_app_server(server)
    try:
        base = str(server.make_url("")).rstrip("/")
        # The chat signs with its process clock: the shop's, or its timestamps would be stale
        safe_env = {**env, "WXSHOP_WECHAT__ENCODING_AES_KEY": AES_KEY, CLOCK_ENV: clock_spec(clock)}
        done = await chat(safe_env, base, "/follow\n你好\n/click MY_ORDERS\n/unfollow\n", "--mode", "safe")
    finally:
        await server.close()
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == f"wxshop chat：{migrated.shop.name}（{base}/wechat，安全模式）"
    assert out[1].startswith("粉丝 o_chat_")
    replies = [line for line in out if line.startswith(f"{migrated.shop.name}> ")]
    assert len(replies) == 3 and "欢迎关注" in replies[0], out
    assert out[-1] == "（已取消关注）"
    assert "暂时无法提供服务" not in done.stdout, "every encrypted reply was accepted"


async def test_an_unreachable_server_is_one_line_and_a_failure(env: dict[str, str]) -> None:
    done = await chat(env, f"http://127.0.0.1:{free_port()}", "你好\n")
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("wxshop: cannot reach the server at http://127.0.0.1:")


async def test_an_encrypted_mode_needs_a_key(env: dict[str, str]) -> None:
    done = await chat(env, "http://127.0.0.1:9", "", "--mode", "compatible")
    assert done.returncode == 2
    assert done.stderr.strip() == "wxshop: --mode compatible needs [wechat] encoding_aes_key"


def test_rendering_of_what_the_follower_sees() -> None:
    assert render({"from": "follower", "kind": "text", "text": "你好"}, "店") == []
    assert render({"from": "account", "channel": "reply", "kind": "text", "text": "第一行\n第二行"}, "店") == [
        "店> 第一行", "    第二行"]
    assert render({"from": "account", "channel": "custom", "kind": "news", "articles": [
        {"title": "连衣裙", "description": "¥199", "picurl": "", "url": "http://x/p/1"}]}, "店") == [
        "店> [客服消息] [图文] 连衣裙", "    ¥199", "    链接：http://x/p/1"]
    assert render({"from": "account", "channel": "template", "kind": "template", "title": "服务通知",
                   "fields": [{"key": "订单号", "value": "W1"}], "url": ""}, "店") == [
        "店> [模板消息] 服务通知", "    订单号：W1"]
    assert render({"from": "system", "kind": "notice", "text": "该公众号暂时无法提供服务，请稍后再试",
                   "error": "HTTP 500"}, "店") == ["（该公众号暂时无法提供服务，请稍后再试（HTTP 500））"]
    assert menu_lines([]) == ["（公众号没有自定义菜单）"]
    assert menu_lines([{"name": "官网", "type": "view", "url": "http://x/"}]) == ["官网 → view http://x/"]
