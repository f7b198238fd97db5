"""Operators' side of keyword rules: the CLI, the admin API, validation, and hot reload across processes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest

from bot.process.config import Config
from bot.sandbox.follower import Account, FollowerSimulator
from bot.sandbox.ports import free_port
from store.chat.keywords import KeywordRule
from store.core.clock import SystemClock
from store.core.db import open_database
from tests.gateway_support import running
from tests.support import spawn, wait_healthy, wxshop
from tests.test_engine import TOKEN, with_admin

DATA = Path(__file__).parent / "data"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_list_and_test(env: dict[str, str]) -> None:
    imported = wxshop("keywords", "import", str(DATA / "rules.toml"), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 6 rule(s): 6 new, 0 updated, 0 deleted" in imported.stdout
    again = wxshop("keywords", "import", str(DATA / "rules.toml"), env=env)
    assert "0 new, 6 updated" in again.stdout

    listed = wxshop("keywords", "list", env=env)
    assert listed.returncode == 0 and "营业时间" in listed.stdout and "6 rule(s)" in listed.stdout

    tested = wxshop("keywords", "test", "请问营业时间", env=env)
    assert "rule: 营业时间 (contains on '营业时间'" in tested.stdout
    assert "客服在线时间" in tested.stdout


def test_conflicts_are_reported(env: dict[str, str], tmp_path: Path) -> None:
    rules = write(
        tmp_path,
        """
[[rules]]
name = "A"
keywords = ["发货"]
match = "exact"
reply = "a"
priority = 5
[[rules]]
name = "B"
keywords = ["发货"]
match = "exact"
reply = "b"
""",
    )
    assert wxshop("keywords", "import", str(rules), env=env).returncode == 0
    tested = wxshop("keywords", "test", "发货", env=env)
    assert "rule: A" in tested.stdout
    assert "conflict:" in tested.stdout and "B" in tested.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rules]]\nname = "x"\nkeywords = ["a"]\nmatch = "fuzzy"\nreply = "r"\n', 'rules[1] "x": match: expected'),
        ('[[rules]]\nname = "x"\nkeywords = "a"\nreply = "r"\n', 'rules[1] "x": keywords: expected a non-empty list'),
        ('[[rules]]\nname = "x"\nkeywords = ["a"]\n', 'rules[1] "x": reply: missing'),
        ('[[rules]]\nname = "x"\nkeywords = ["a"]\nreply = {type = "video"}\n', 'rules[1] "x": reply.type: expected'),
        ('[[rules]]\nname = "x"\nkeywords = ["a"]\nreply = {type = "news", title = "t", url = "ftp://x"}\n', ".url"),
        ('[[rules]]\nname = "x"\nkeywords = ["(a+)+$"]\nmatch = "regex"\nreply = "r"\n', 'rules[1] "x": keywords:'),
        ('[[rules]]\nname = "x"\nkeywords = ["[unclosed"]\nmatch = "regex"\nreply = "r"\n', 'rules[1] "x": keywords:'),
        ('[[rules]]\nname = "x"\nkeywords = ["！！"]\nreply = "r"\n', 'rules[1] "x": keywords:'),
        ('[[rules]]\nname = "x"\nkeywords = ["a"]\nreply = "r"\nstarts = 2026-12-01\nends = 2026-11-01\n', "ends:"),
        ('[[rules]]\nname = "x"\nkeywords = ["a"]\nreply = "r"\n[[rules]]\nname = "x"\nkeywords = ["b"]\nreply = "s"\n',
         'rules[2] "x": name: already used by rules[1]'),
        ("[[rules]\n", "not valid TOML"),
    ],
)
def test_invalid_files_are_rejected_whole(env: dict[str, str], tmp_path: Path, text: str, message: str) -> None:
    good = '\n[[rules]]\nname = "good"\nkeywords = ["ok"]\nreply = "fine"\n'
    result = wxshop("keywords", "import", str(write(tmp_path, text + good)), env=env)
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "nothing was imported" in result.stderr
    listed = wxshop("keywords", "list", env=env)
    assert "0 rule(s)" in listed.stdout, "the good rule in the same file was not applied either"


async def test_admin_api_auth_and_validation(migrated: Config) -> None:
    async with running(migrated) as shop:
        url = shop.server.make_url("/admin/api/keywords")
        disabled = await shop.session.get(url)
        assert disabled.status == 403 and "disabled" in (await disabled.json())["error"]
    async with running(with_admin(migrated)) as shop:
        url = shop.server.make_url("/admin/api/keywords")
        assert (await shop.session.get(url)).status == 401
        assert (await shop.session.get(url, headers={"Authorization": "Bearer wrong"})).status == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        bad = await shop.session.post(url, json={"rules": [{"name": "x", "keywords": ["(a*)*b"], "match": "regex",
                                                           "reply": "r"}]}, headers=auth)  # fmt: skip
        assert bad.status == 422 and 'rules[1] "x": keywords:' in (await bad.json())["problems"][0]
        assert (await shop.session.post(url, data="not json", headers=auth)).status == 400

        body = {"rules": [{"name": "售后电话", "keywords": ["电话"], "reply": "400-000-0000"}]}
        created = await shop.session.post(url, json=body, headers=auth)
        assert created.status == 200 and (await created.json())["created"] == 1
        assert (await shop.follower().send_text("o_a", "客服电话多少")).shown == "400-000-0000", "effective at once"
        listed = await (await shop.session.get(url, headers=auth)).json()
        assert [r["name"] for r in listed["rules"]] == ["售后电话"]
        probe = await (await shop.session.get(shop.server.make_url("/admin/api/keywords/test?text=电话"),
                                              headers=auth)).json()  # fmt: skip
        assert probe["rule"]["name"] == "售后电话"
        gone = await shop.session.delete(shop.server.make_url("/admin/api/keywords/售后电话"), headers=auth)
        assert gone.status == 200
        again = await shop.session.delete(shop.server.make_url("/admin/api/keywords/售后电话"), headers=auth)
        assert again.status == 404
        open_database(migrated.database.url, migrated.var_dir)
        assert KeywordRule.select().count() == 0


@pytest.mark.slow
async def test_a_change_reaches_every_serve_process_without_restart(
    migrated: Config, env: dict[str, str], tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    procs = [spawn("serve", env={**env, "WXSHOP_SERVER__PORT": str(p)}) for p in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            await asyncio.to_thread(wait_healthy, port, proc)
        account = Account(migrated.wechat.token, migrated.wechat.app_id, migrated.wechat.original_id)
        async with aiohttp.ClientSession() as session:
            followers = [
                FollowerSimulator(f"http://127.0.0.1:{p}/wechat", account, session, SystemClock()) for p in ports
            ]
            for follower in followers:
                assert "营业时间" not in (await follower.send_text("o_r", "营业时间")).shown
            rules = write(tmp_path, '[[rules]]\nname = "营业"\nkeywords = ["营业时间"]\nreply = "9点到21点"\n')
            imported = await asyncio.to_thread(wxshop, "keywords", "import", str(rules), env=env)
            assert imported.returncode == 0, imported.stderr
            for follower in followers:
                for _ in range(100):  # the announcement arrives within milliseconds; allow a loaded machine
                    if (await follower.send_text("o_r", "营业时间")).shown == "9点到21点":
                        break
                    await asyncio.sleep(0.02)
                else:
                    pytest.fail("a serve process did not pick up the new rule")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stdout:
                proc.stdout.close()


def test_menu_push_validates_before_calling_wechat(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "menu.toml"
    config.write_text(
        '[[menu.button]]\nname = "这是一个非常非常长的菜单名字"\ntype = "click"\nkey = "K"\n'
        '[[menu.button]]\nname = "看看"\ntype = "view"\nurl = "not-a-url"\n',
        encoding="utf-8",
    )
    result = wxshop("--config", str(config), "menu", "push", env=env)
    assert result.returncode == 2
    assert "button 1 (这是一个非常非常长的菜单名字): name is 42 bytes, WeChat allows 16" in result.stderr
    assert "button 2 (看看): type view needs an http(s) url" in result.stderr


async def test_menu_push_publishes_the_configured_menu(migrated: Config, env: dict[str, str]) -> None:
    from aiohttp.test_utils import TestServer

    from bot.sandbox import World
    from bot.sandbox.mp_api import create_mp_app
    from store.core.clock import ManualClock
    from tests.support import ROOT

    world = World(migrated.wechat.app_id, migrated.wechat.app_secret, ManualClock())
    mp = TestServer(create_mp_app(world), host="127.0.0.1")
    await mp.start_server()
    try:
        base = str(mp.make_url("")).rstrip("/")
        result = await asyncio.to_thread(
            wxshop, "--config", str(ROOT / "config.toml"), "menu", "push",
            env={**env, "WXSHOP_WECHAT__API_BASE_URL": base},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "menu pushed: 3 button(s)" in result.stdout
        menu = world.menu()
        assert [b["name"] for b in menu["button"]] == ["逛商城", "我的", "服务"]
        first = menu["button"][1]["sub_button"][0]
        assert (first["name"], first["type"], first["key"]) == ("我的订单", "click", "MY_ORDERS")
    finally:
        await mp.close()


def test_when_no_rule_answers_the_engine_says_which_step_does_and_its_reply(env: dict[str, str]) -> None:
    from dialogs.engine import CLARIFY

    assert wxshop("keywords", "import", str(DATA / "rules.toml"), env=env).returncode == 0
    orders = wxshop("keywords", "test", "我的订单", env=env)
    assert orders.returncode == 0, orders.stderr
    assert orders.stdout.splitlines()[:2] == [
        "no rule answers; the dialog engine does, with built-in intent “orders”",
        "reply: 您最近还没有订单。回复“逛商城”挑选商品吧～",
    ]
    unclear = wxshop("keywords", "test", "量子纠缠", env=env)
    assert unclear.stdout.splitlines()[:2] == [
        "no rule answers; the dialog engine does, with the fallback's clarifying question"
        " (a second unclear message gets the default reply)",
        f"reply: {CLARIFY}",
    ], "a probe leaves no state behind: the same text asked again is still the first unclear message"
    assert wxshop("keywords", "test", "量子纠缠", env=env).stdout == unclear.stdout
    human = wxshop("keywords", "test", "转人工", env=env)
    assert "with global word “human”" in human.stdout and "transfer_customer_service" in human.stdout
    colloquial = wxshop("keywords", "test", "啥时候能发出来啊", env=env)
    assert "the understanding layer: intent “ask_shipping_time”" in colloquial.stdout, colloquial.stdout


def test_search_probe_writes_nothing(migrated: Config, env: dict[str, str]) -> None:
    from store.monitoring.funnel import FunnelEvent

    assert wxshop("catalog", "import", str(DATA / "catalog.csv"), env=env).returncode == 0
    result = wxshop("keywords", "test", "看看连衣裙", env=env)
    assert "with built-in intent “search” (search for “连衣裙”)" in result.stdout, result.stdout
    assert "reply: 为您找到“连衣裙”相关商品" in result.stdout
    open_database(migrated.database.url, migrated.var_dir)
    assert FunnelEvent.select().count() == 0, "the exposures of the probe's search were rolled back"


def test_export_edit_import_round_trips(env: dict[str, str], tmp_path: Path) -> None:
    assert wxshop("keywords", "import", str(DATA / "rules.toml"), env=env).returncode == 0
    tricky = write(
        tmp_path,
        '[[rules]]\nname = "引号 \\"和\\" 反斜杠"\nkeywords = ["a\\\\b", "x y"]\nmatch = "exact"\n'
        'reply = ["第一行\\n第二行\\t制表", { type = "coupon", code = "NEW20" }]\npriority = -3\nenabled = false\n',
    )
    assert wxshop("keywords", "import", str(tricky), env=env).returncode == 0
    out = tmp_path / "exported.toml"
    exported = wxshop("keywords", "export", str(out), env=env)
    assert exported.returncode == 0 and "exported 7 rule(s)" in exported.stderr
    text = out.read_text(encoding="utf-8")
    assert 'default_reply = "这个问题我还不会回答，已记录下来。回复“人工”可联系客服。"' in text
    assert 'starts = 2026-11-01T00:00:00' in text

    again = wxshop("keywords", "import", str(out), "--replace", env=env)
    assert again.returncode == 0 and "7 rule(s): 0 new, 7 updated, 0 deleted" in again.stdout
    assert wxshop("keywords", "export", "-", env=env).stdout == text, "nothing changed on the way round"

    edited = out.read_text(encoding="utf-8").replace("全场满99元包邮", "全场满88元包邮")
    out.write_text(edited, encoding="utf-8")
    assert wxshop("keywords", "import", str(out), env=env).returncode == 0
    assert "全场满88元包邮" in wxshop("keywords", "test", "包邮吗", env=env).stdout


def test_delete_a_rule_by_name(env: dict[str, str]) -> None:
    assert wxshop("keywords", "import", str(DATA / "rules.toml"), env=env).returncode == 0
    deleted = wxshop("keywords", "delete", "营业时间", env=env)
    assert deleted.returncode == 0 and deleted.stdout.strip() == "deleted rule '营业时间'"
    assert "5 rule(s)" in wxshop("keywords", "list", env=env).stdout
    assert "rule: 营业时间" not in wxshop("keywords", "test", "营业时间", env=env).stdout
    missing = wxshop("keywords", "delete", "营业时间", env=env)
    assert missing.returncode == 1 and missing.stderr == "wxshop: no rule named '营业时间'\n"


def test_import_problems_number_rules_as_the_file_does(env: dict[str, str], tmp_path: Path) -> None:
    rules = write(
        tmp_path,
        '[[rules]]\nname = "ok"\nkeywords = ["a"]\nreply = "r"\n'
        '[[rules]]\nname = "x"\nkeywords = ["[unclosed"]\nmatch = "regex"\nreply = "r"\n'
        '[[rules]]\nname = "y"\nkeywords = ["！！"]\nreply = "r"\n',
    )
    result = wxshop("keywords", "import", str(rules), env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[:2] == [
        f"{rules}: rules[2] \"x\": keywords: '[unclosed': invalid regular expression: unterminated character set"
        " at position 0",
        f"{rules}: rules[3] \"y\": keywords: '！！': is empty once spaces and punctuation are removed",
    ]


def test_import_and_test_warn_when_a_rule_takes_a_builtins_words(env: dict[str, str], tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\nname = "快递合作"\nkeywords = ["快递"]\nmatch = "contains"\nreply = "我们与顺丰合作。"\n\n'
        '[[rules]]\nname = "问好"\nkeywords = ["你好"]\nmatch = "exact"\nreply = "嗨～"\n',
        encoding="utf-8",
    )
    imported = wxshop("keywords", "import", str(rules), env=env)
    assert imported.returncode == 0, imported.stderr
    warnings = [line for line in imported.stdout.splitlines() if line.startswith("warning:")]
    assert any("'快递合作'" in w and "tracking" in w and "overrides = true" in w for w in warnings), warnings
    assert any("'问好'" in w and "takes over" in w and "greet" in w for w in warnings), warnings
    tested = wxshop("keywords", "test", "查快递", env=env)
    assert "rule 快递合作 matches, but the built-in tracking answers" in tested.stdout, tested.stdout
