"""Roles on the admin API over real HTTP: one table gives every route its least role, a viewer (只读) is refused
every change, an operator runs the shop but not the accounts, the bearer token has its configured role; accounts
made, disabled, enabled, reset (the password must then be changed) and each user's own password change."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.admin.permissions import ROUTE_ROLES
from bot.process.config import Config
from bot.web.app import create_app
from store.operators.roles import VIEWER
from tests.console_support import BEARER, PASSWORD, USER, Console, console_running, create_user, with_token
from tests.support import wxshop

VIEWER_USER, OPERATOR_USER = "vera", "otto"


def add_operator(env: dict[str, str], username: str, role: str, password: str = PASSWORD) -> None:
    made = wxshop("operators", "add", username, "--role", role, "--password-stdin", env=env, input=f"{password}\n")
    assert made.returncode == 0, made.stderr
    assert f"{role} {username!r} created" in made.stdout


def api_routes(config: Config) -> set[tuple[str, str]]:
    """(method, pattern) of every registered admin API route, HEAD left out (it goes with GET)."""
    app = create_app(config)
    found = set()
    for sub in app._subapps:
        for route in sub.router.routes():
            pattern = route.resource.canonical if route.resource is not None else ""
            if pattern.startswith("/admin/api/") and route.method != "HEAD":
                found.add((route.method, pattern))
    return found


def filled(pattern: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", pattern)


async def signed_in_as(console: Console, username: str, password: str = PASSWORD) -> str:
    """Sign the console's browser in as `username`; the session's CSRF token."""
    console.browser.cookie_jar.clear()
    assert (await console.login(username, password)).status == 303
    return await console.csrf()


def test_every_admin_route_has_a_role_in_the_table(migrated: Config) -> None:
    registered = api_routes(migrated)
    missing = sorted(registered - ROUTE_ROLES.keys())
    stale = sorted(ROUTE_ROLES.keys() - registered)
    assert not missing, f"routes without a role in bot/admin/permissions.py: {missing}"
    assert not stale, f"roles for routes that do not exist: {stale}"


async def test_a_viewer_reads_but_every_change_is_refused(migrated: Config, env: dict[str, str]) -> None:
    add_operator(env, VIEWER_USER, "viewer")
    changes = sorted(r for r in api_routes(migrated) if r[0] != "GET")
    self_service = [r for r in changes if ROUTE_ROLES[r] == VIEWER]
    assert self_service == [("POST", "/admin/api/password")]
    async with console_running(with_token(migrated)) as console:
        csrf = await signed_in_as(console, VIEWER_USER)
        session = await (await console.browser.get(console.url("/admin/api/session"))).json()
        assert (session["role"], session["role_label"]) == ("viewer", "只读")
        assert (await console.browser.get(console.url("/admin/api/orders"))).status == 200
        assert (await console.browser.get(console.url("/admin/api/operators"))).status == 403
        for method, pattern in changes:
            if (method, pattern) in self_service:
                continue
            async with console.browser.request(method, console.url(filled(pattern)), json={"name": "x"},
                                               headers={"X-CSRF-Token": csrf}) as answer:  # fmt: skip
                body = await answer.json()
                assert answer.status == 403, (method, pattern, answer.status, body)
                assert body["message"] == "当前角色无权执行这个操作" and body["needed"] in ("operator", "admin")


async def test_an_operator_runs_the_shop_but_not_the_accounts(migrated: Config, env: dict[str, str]) -> None:
    add_operator(env, OPERATOR_USER, "operator")
    async with console_running(with_token(migrated)) as console:
        csrf = await signed_in_as(console, OPERATOR_USER)
        rule = {"name": "营业时间", "keywords": ["营业时间"], "reply": "每天 9:00-21:00"}
        made = await console.browser.post(console.url("/admin/api/keywords/rules"), json=rule,
                                          headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert made.status == 201, await made.text()
        account = {"username": "eve", "password": "a long password 1", "role": "admin"}
        refused = await console.browser.post(console.url("/admin/api/operators"), json=account,
                                             headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert refused.status == 403 and (await refused.json())["needed"] == "admin"
        assert (await console.browser.get(console.url("/admin/api/audit"))).status == 403


async def test_the_bearer_token_has_its_configured_role(migrated: Config) -> None:
    token = with_token(migrated)
    viewer_token = dataclasses.replace(token, admin=dataclasses.replace(token.admin, api_token_role="viewer"))
    async with console_running(viewer_token) as console:
        client = console.shop.session
        assert (await client.get(console.url("/admin/api/orders"), headers=BEARER)).status == 200
        refused = await client.post(console.url("/admin/api/keywords/rules"), json={}, headers=BEARER)
        assert refused.status == 403 and (await refused.json())["role"] == "viewer"
    async with console_running(with_token(migrated)) as console:  # the default: admin, as before roles
        listed = await console.shop.session.get(console.url("/admin/api/operators"), headers=BEARER)
        assert listed.status == 200 and (await listed.json())["operators"] == []


async def test_an_admin_manages_accounts_and_users_change_their_password(
    migrated: Config, env: dict[str, str]
) -> None:
    create_user(env)  # made before roles: an admin
    async with console_running(with_token(migrated)) as console:
        csrf = await signed_in_as(console, USER)
        headers = {"X-CSRF-Token": csrf}
        operators = console.url("/admin/api/operators")
        weak = await console.browser.post(operators, json={"username": "bob", "password": "short", "role": "operator"},
                                          headers=headers)  # fmt: skip
        assert weak.status == 422 and (await weak.json())["message"] == "密码太短：至少 10 个字符"
        bad_role = await console.browser.post(operators, json={"username": "bob", "password": "first pass 123",
                                                               "role": "boss"}, headers=headers)  # fmt: skip
        assert bad_role.status == 422 and "角色" in (await bad_role.json())["message"]
        made = await console.browser.post(operators, json={"username": "bob", "password": "first pass 123",
                                                           "role": "operator"}, headers=headers)  # fmt: skip
        assert made.status == 201 and (await made.json())["must_change_password"] is True
        taken = await console.browser.post(operators, json={"username": "bob", "password": "first pass 123",
                                                            "role": "viewer"}, headers=headers)  # fmt: skip
        assert taken.status == 409 and (await taken.json())["message"] == "账号 bob 已存在"
        me = await console.browser.patch(console.url(f"/admin/api/operators/{USER}"), json={"role": "viewer"},
                                         headers=headers)  # fmt: skip
        assert me.status == 409, "an admin cannot demote themself"
        listed = await (await console.browser.get(operators)).json()
        assert [(u["username"], u["role"]) for u in listed["operators"]] == [(USER, "admin"), ("bob", "operator")]

        # bob signs in: nothing but the password change until he has changed it
        bob = await signed_in_as(console, "bob", "first pass 123")
        held = await console.browser.get(console.url("/admin/api/orders"))
        assert held.status == 403 and (await held.json())["message"] == "请先修改密码"
        session = await (await console.browser.get(console.url("/admin/api/session"))).json()
        assert session["must_change_password"] is True
        password = console.url("/admin/api/password")
        wrong = await console.browser.post(password, json={"old_password": "guess guess 1", "new_password": "x" * 12},
                                           headers={"X-CSRF-Token": bob})  # fmt: skip
        assert wrong.status == 403 and (await wrong.json())["message"] == "当前密码不正确"
        simple = await console.browser.post(password, json={"old_password": "first pass 123",
                                                            "new_password": "aaaaaaaaaaaa"},
                                            headers={"X-CSRF-Token": bob})  # fmt: skip
        assert simple.status == 422 and "太简单" in (await simple.json())["message"]
        changed = await console.browser.post(password, json={"old_password": "first pass 123",
                                                             "new_password": "my own secret 7"},
                                             headers={"X-CSRF-Token": bob})  # fmt: skip
        assert changed.status == 200
        assert (await console.browser.get(console.url("/admin/api/orders"))).status == 200

        # the admin disables bob: his session ends at once; enabled, he signs in with his own password
        csrf = await signed_in_as(console, USER)
        headers = {"X-CSRF-Token": csrf}
        disabled = await console.browser.patch(console.url("/admin/api/operators/bob"), json={"disabled": True},
                                               headers=headers)  # fmt: skip
        assert disabled.status == 200 and (await disabled.json())["disabled"] is True
        assert (await console.login("bob", "my own secret 7")).status == 401
        enabled = await console.browser.patch(console.url("/admin/api/operators/bob"), json={"disabled": False},
                                              headers=headers)  # fmt: skip
        assert enabled.status == 200 and (await enabled.json())["disabled"] is False
        reset = await console.browser.post(console.url("/admin/api/operators/bob/reset-password"),
                                           json={"password": "temporary pass 9"}, headers=headers)  # fmt: skip
        assert reset.status == 200 and (await reset.json())["must_change_password"] is True
        missing = await console.browser.post(console.url("/admin/api/operators/nobody/reset-password"),
                                             json={"password": "temporary pass 9"}, headers=headers)  # fmt: skip
        assert missing.status == 404 and (await missing.json())["message"] == "找不到账号 nobody"
        await signed_in_as(console, "bob", "temporary pass 9")
        assert (await console.browser.get(console.url("/admin/api/orders"))).status == 403


async def test_the_cli_manages_accounts(migrated: Config, env: dict[str, str]) -> None:
    add_operator(env, "carol", "viewer")
    assert wxshop("operators", "set-role", "carol", "operator", env=env).stdout.strip() == "'carol' is now operator"
    assert "was already operator" in wxshop("operators", "set-role", "carol", "operator", env=env).stdout
    assert "'carol' disabled; 0 session(s) ended" in wxshop("operators", "disable", "carol", env=env).stdout
    listed = wxshop("operators", "list", env=env).stdout
    assert re.search(r"^carol\s+operator\s+disabled$", listed, re.M), listed
    assert "'carol' enabled" in wxshop("operators", "enable", "carol", env=env).stdout
    reset = wxshop("operators", "reset-password", "carol", "--password-stdin", env=env, input="brand new pass 5\n")
    assert reset.returncode == 0 and "change at the next sign-in" in reset.stdout
    assert re.search(r"^carol\s+operator\s+enabled\s+must change password$",
                     wxshop("operators", "list", env=env).stdout, re.M)  # fmt: skip
    unknown = wxshop("operators", "enable", "nobody", env=env)
    assert unknown.returncode == 1 and "no admin user 'nobody'" in unknown.stderr
    weak = wxshop("operators", "add", "dave", "--role", "admin", "--password-stdin", env=env, input="dave12345678\n")
    assert weak.returncode == 2 and "must not contain the username" in weak.stderr


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_roles_are_ordered(role: str) -> None:
    from store.operators.roles import allows

    assert allows(role, "viewer") and allows("admin", role)
    assert not allows("nobody", "viewer")


def test_every_change_has_a_chinese_name_for_the_audit_page() -> None:
    import json
    from pathlib import Path

    import bot.admin

    labels = json.loads((Path(bot.admin.__file__).parent / "static" / "labels.json").read_text(encoding="utf-8"))
    changes = {f"{method} {route}" for method, route in ROUTE_ROLES if method != "GET"}
    assert not sorted(changes - labels["actions"].keys()), "name these changes in labels.json's actions"


async def test_disabling_or_demoting_takes_effect_on_open_sessions(migrated: Config, env: dict[str, str]) -> None:
    add_operator(env, OPERATOR_USER, "operator")
    async with console_running(with_token(migrated)) as console:
        csrf = await signed_in_as(console, OPERATOR_USER)
        account = console.url(f"/admin/api/operators/{OPERATOR_USER}")
        rule = {"name": "营业时间", "keywords": ["营业时间"], "reply": "每天 9:00-21:00"}
        demoted = await console.shop.session.patch(account, json={"role": "viewer"}, headers=BEARER)
        assert demoted.status == 200 and (await demoted.json())["role"] == "viewer"
        refused = await console.browser.post(console.url("/admin/api/keywords/rules"), json=rule,
                                             headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert refused.status == 403, "the new role applies to the open session at once"
        disabled = await console.shop.session.patch(account, json={"disabled": True}, headers=BEARER)
        assert disabled.status == 200
        ended = await console.browser.get(console.url("/admin/api/orders"))
        assert ended.status == 401 and (await ended.json())["message"] == "登录已过期，请重新登录"
