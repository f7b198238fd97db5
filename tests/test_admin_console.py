"""The web console's sign-in over real HTTP: users made with the CLI, sessions in Redis behind a cookie, CSRF on
changes, the failed-login limit, idle expiry by the injected clock, disabled users; the bearer token unchanged."""

from __future__ import annotations

import pytest

from bot.process.config import Config
from tests.console_support import BEARER, PASSWORD, USER, console_running, create_user, seed_paid_order, with_token
from tests.support import wxshop


async def test_a_user_made_with_the_cli_signs_in_and_uses_the_api(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    order_no = seed_paid_order(migrated)
    async with console_running(with_token(migrated)) as console:
        first = await console.browser.get(console.url("/admin/"), allow_redirects=False)
        assert first.status == 303 and first.headers["Location"] == "/admin/login"
        form = await console.browser.get(console.url("/admin/login"))
        assert form.status == 200 and 'name="password"' in await form.text()
        assert "script-src 'self'" in form.headers["Content-Security-Policy"]
        # news cards show the merchant's pictures, hosted anywhere over https; scripts stay our own
        assert "img-src 'self' https: data:;" in form.headers["Content-Security-Policy"]

        signed_in = await console.login()
        assert signed_in.status == 303 and signed_in.headers["Location"] == "/admin/"
        cookie = signed_in.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
        assert "Secure" not in cookie, "public_url is http here"
        page = await console.browser.get(console.url("/admin/"))
        assert page.status == 200 and "/admin/static/console.js" in await page.text()
        script = await console.browser.get(console.url("/admin/static/console.js"))
        assert script.status == 200 and script.content_type == "text/javascript"

        listed = await console.browser.get(console.url("/admin/api/orders"))
        assert listed.status == 200 and [o["order_no"] for o in (await listed.json())["orders"]] == [order_no]
        session = await (await console.browser.get(console.url("/admin/api/session"))).json()
        assert session["username"] == USER and session["csrf_token"]

        ship = console.url(f"/admin/api/orders/{order_no}/ship")
        parcel = {"carrier": "yuantong", "tracking_no": "YT1234567890"}
        refused = await console.browser.post(ship, json=parcel)
        assert refused.status == 403 and "X-CSRF-Token" in (await refused.json())["error"]
        forged = await console.browser.post(ship, json=parcel, headers={"X-CSRF-Token": "guess"})
        assert forged.status == 403
        shipped = await console.browser.post(ship, json=parcel, headers={"X-CSRF-Token": session["csrf_token"]})
        assert shipped.status == 201, await shipped.text()

        bearer = console.shop.session  # no cookies: a script with the API token, as before
        again = await bearer.post(ship, json=parcel, headers=BEARER)
        assert again.status == 200, "bearer clients need no CSRF token"
        assert (await bearer.get(console.url("/admin/api/orders"))).status == 401
        assert (await bearer.get(console.url("/admin/api/session"), headers=BEARER)).status == 200

        ended = await console.browser.post(console.url("/admin/logout"), allow_redirects=False,
                                           headers={"X-CSRF-Token": session["csrf_token"]})  # fmt: skip
        assert ended.status == 303 and ended.headers["Location"] == "/admin/login"
        assert (await console.browser.get(console.url("/admin/api/orders"))).status == 401
        back = await console.browser.get(console.url("/admin/"), allow_redirects=False)
        assert back.status == 303 and back.headers["Location"] == "/admin/login"


async def test_a_stolen_cookie_is_dead_after_logout(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    async with console_running(with_token(migrated)) as console:
        signed_in = await console.login()
        token = signed_in.cookies["wxshop_admin"].value
        csrf = await console.csrf()
        await console.browser.post(console.url("/admin/logout"), headers={"X-CSRF-Token": csrf})
        replayed = await console.shop.session.get(console.url("/admin/api/orders"),
                                                  headers={"Cookie": f"wxshop_admin={token}"})  # fmt: skip
        assert replayed.status == 401


async def test_failed_logins_look_alike_and_are_limited(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    async with console_running(with_token(migrated)) as console:
        unknown = await console.login("mallory", PASSWORD)
        wrong = await console.login(USER, "not the password")
        assert unknown.status == wrong.status == 401
        login = console.url("/admin/login")
        unknown_page = await (await console.browser.post(login, data={"username": "mallory", "password": "x"})).text()
        wrong_page = await (await console.browser.post(login, data={"username": USER, "password": "x"})).text()
        assert unknown_page == wrong_page and "用户名或密码错误" in wrong_page
        assert "set-cookie" not in {k.lower() for k in wrong.headers}

        for _ in range(3):  # five failures for alice from this address in all
            assert (await console.login(USER, "still wrong")).status == 401
        locked = await console.login()
        assert locked.status == 429, "the right password does not help once the limit is reached"
        assert "set-cookie" not in {k.lower() for k in locked.headers}
        other = await console.login("bob", "whatever else")
        assert other.status == 401, "the limit is per username and address"


async def test_an_idle_session_ends_by_the_clock(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    async with console_running(with_token(migrated)) as console:
        assert (await console.login()).status == 303
        clock = console.shop.clock
        for _ in range(2):  # each request starts the idle time again: 16 hours of use in all
            clock.advance(hours=7, minutes=59)
            assert (await console.browser.get(console.url("/admin/api/orders"))).status == 200
        clock.advance(hours=8, minutes=1)
        expired = await console.browser.get(console.url("/admin/"), allow_redirects=False)
        assert expired.status == 303 and expired.headers["Location"] == "/admin/login"
        api = await console.browser.get(console.url("/admin/api/orders"))
        assert api.status == 401 and "sign in again" in (await api.json())["error"]


async def test_a_disabled_user_is_signed_out_and_cannot_sign_in(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    async with console_running(with_token(migrated)) as console:
        assert (await console.login()).status == 303
        disabled = wxshop("admin", "disable-user", USER, env=env)
        assert disabled.returncode == 0 and "1 session(s) ended" in disabled.stdout, disabled.stderr
        assert (await console.browser.get(console.url("/admin/api/orders"))).status == 401
        refused = await console.login()
        assert refused.status == 401, "answered as a wrong password would be"
    again = wxshop("admin", "disable-user", USER, env=env)
    assert again.returncode == 0 and "was disabled already" in again.stdout


async def test_sessions_work_without_an_api_token_and_cookies_are_secure_over_https(
    migrated: Config, env: dict[str, str]
) -> None:
    create_user(env)
    async with console_running(with_token(migrated, "", public_url="https://shop.example.com")) as console:
        assert (await console.shop.session.get(console.url("/admin/api/orders"))).status == 403
        signed_in = await console.login()
        assert "Secure" in signed_in.headers["Set-Cookie"]
        token = signed_in.cookies["wxshop_admin"].value
        cookie = {"Cookie": f"wxshop_admin={token}"}  # the jar withholds a Secure cookie over plain http
        assert (await console.shop.session.get(console.url("/admin/api/orders"), headers=cookie)).status == 200


async def test_keywords_toml_upload_reports_every_problem(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    async with console_running(with_token(migrated)) as console:
        await console.login()
        headers = {"X-CSRF-Token": await console.csrf(), "Content-Type": "application/toml"}
        url = console.url("/admin/api/keywords")
        bad = await console.browser.post(url, data='[[rules]]\nname = "x"\nkeywords = []\nmatch = "nope"\n',
                                         headers=headers)  # fmt: skip
        body = await bad.json()
        assert bad.status == 422 and len(body["problems"]) >= 2, body
        good = '[[rules]]\nname = "营业时间"\nkeywords = ["营业时间"]\nmatch = "contains"\nreply = "每天 9-21 点"\n'
        saved = await console.browser.post(url, data=good.encode(), headers=headers)
        assert saved.status == 200 and (await saved.json())["created"] == 1
        tested = await console.browser.get(console.url("/admin/api/keywords/test?text=请问营业时间"))
        assert (await tested.json())["rule"]["name"] == "营业时间"


def test_create_user_refuses_weak_passwords_duplicates_and_bad_names(env: dict[str, str]) -> None:
    weak = wxshop("admin", "create-user", "bob", "--password-stdin", env=env, input="short\n")
    assert weak.returncode == 2 and weak.stderr.strip().splitlines() == [
        "wxshop: the password is too short: at least 10 characters; no user was created"
    ]
    create_user(env, "bob")
    twice = wxshop("admin", "create-user", "bob", "--password-stdin", env=env, input=f"{PASSWORD}\n")
    assert twice.returncode == 1 and twice.stderr.strip() == "wxshop: admin user 'bob' exists already"
    named = wxshop("admin", "create-user", "bob smith", "--password-stdin", env=env, input=f"{PASSWORD}\n")
    assert named.returncode == 2 and "invalid username" in named.stderr
    no_tty = wxshop("admin", "create-user", "carol", env=env, input="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    unknown = wxshop("admin", "disable-user", "nobody", env=env)
    assert unknown.returncode == 1 and unknown.stderr.strip() == "wxshop: no admin user 'nobody'"
    for result in (weak, twice, named, no_tty, unknown):
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("password", ["", "123456789"])
def test_store_refuses_short_passwords(password: str) -> None:
    from store.operators.users import WeakPassword, check_password

    with pytest.raises(WeakPassword):
        check_password(password)
