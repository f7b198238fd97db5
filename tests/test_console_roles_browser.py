"""Roles in the console, in Chromium: a viewer (只读) sees no button that changes something and is refused when
trying anyway; an admin creates an operator on 账号管理 (a weak password refused in a Chinese banner); the operator
must first change the password; 操作记录 lists those actions, the refusal included."""

from __future__ import annotations

from datetime import timedelta

from bot.process.config import Config
from store.core.db import close_database, open_database
from tests.console_browser_support import async_api, expect, signed_in
from tests.console_support import PASSWORD, USER, console_running, create_user, with_token
from tests.logistics_support import START, paid_order
from tests.order_support import BUYER, make_shop
from tests.support import wxshop
from tests.test_preview_browser import CHROMIUM, CHROMIUM_ARGS

REFUSE = """async ([path, body]) => {
  const session = await (await fetch("/admin/api/session")).json();
  const answer = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json",
    "X-CSRF-Token": session.csrf_token }, body: JSON.stringify(body) });
  return [answer.status, (await answer.json()).message];
}"""


def seed_order(config: Config) -> str:
    open_database(config.database.url, config.var_dir)
    try:
        return paid_order(make_shop(), BUYER, now=START - timedelta(hours=1)).order_no
    finally:
        close_database()


async def test_viewer_is_read_only_admin_makes_an_operator_who_changes_password_and_the_log_shows_it(
    migrated: Config, env: dict[str, str]
) -> None:
    create_user(env)
    made = wxshop("operators", "add", "vera", "--role", "viewer", "--password-stdin", env=env, input=f"{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    order_no = seed_order(migrated)
    async with console_running(with_token(migrated)) as console:
        base = console.url("").rstrip("/")
        async with signed_in(base, "vera") as ui:
            page = ui.page
            await expect(page.locator("#user")).to_have_text("vera")
            await expect(page.locator("#role")).to_have_text("（只读）")
            await expect(page.locator("#nav a[data-view=accounts]")).to_be_hidden()
            await expect(page.locator("#nav a[data-view=audit]")).to_be_hidden()
            await page.goto(f"{base}/admin/#order/{order_no}")
            await ui.ready("order")
            await expect(page.locator("main")).to_contain_text(order_no)
            await expect(page.locator("#ship-form")).to_be_hidden()
            await expect(page.locator("#refund-form")).to_be_hidden()
            await ui.open("keywords")
            await expect(page.locator("#rule-new")).to_be_hidden()
            await expect(page.locator("main button:visible")).to_have_count(1)  # 测试: asking what the bot says
            status, message = await page.evaluate(REFUSE, [f"/admin/api/orders/{order_no}/ship",
                                                            {"carrier": "yuantong", "tracking_no": "YT1"}])  # fmt: skip
            assert (status, message) == (403, "当前角色无权执行这个操作")

        async with signed_in(base) as ui:
            page = ui.page
            await ui.open("accounts")
            form = page.locator("#account-form")
            await form.locator("input[name=username]").fill("otto")
            await form.locator("input[name=password]").fill("short")
            await form.locator("select[name=role]").select_option("operator")
            await form.locator("button").click()
            await ui.flash("操作未完成")
            await expect(page.locator("#account-form .problems")).to_contain_text("密码太短：至少 10 个字符")
            await expect(page.locator("main")).to_be_visible()  # the banner does not cover the page
            await form.locator("input[name=password]").fill("first pass 123")
            await form.locator("button").click()
            await ui.flash("账号 otto 已创建，首次登录需修改密码")
            await ui.ready("accounts")
            row = page.locator("tr[data-key=otto]")
            await expect(row).to_contain_text("运营")
            await expect(row.locator("td").nth(3)).to_have_text("是")  # must change the password

        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                page.set_default_timeout(15000)
                await page.goto(f"{base}/admin/login")
                await page.fill("input[name=username]", "otto")
                await page.fill("input[name=password]", "first pass 123")
                await page.click("#login")
                await page.wait_for_selector("body[data-view=password][data-ready=true]")
                await expect(page.locator("#must-change")).to_be_visible()
                await page.fill("#password-form input[name=old_password]", "first pass 123")
                await page.fill("#password-form input[name=new_password]", "my own secret 7")
                await page.fill("#password-form input[name=repeat]", "my own secret 7")
                await page.click("#password-form button")
                await expect(page.locator("#flash")).to_contain_text("密码已修改")
                await page.wait_for_selector("body[data-view=dashboard][data-ready=true]")
                await page.click("#nav a[data-view=orders]")
                await page.wait_for_selector("body[data-view=orders][data-ready=true]")
                await expect(page.locator("main")).to_contain_text(order_no)
            finally:
                await browser.close()

        async with signed_in(base) as ui:
            page = ui.page
            await ui.open("audit")
            rows = page.locator("#audit-list tbody tr")
            await expect(rows).to_have_count(4)
            await expect(rows.nth(0)).to_contain_text("修改自己的密码")
            await expect(rows.nth(0)).to_contain_text("otto")
            await expect(rows.nth(1)).to_contain_text("新建账号")
            await expect(rows.nth(1)).to_contain_text(USER)
            await expect(rows.nth(1)).to_contain_text("管理员")
            await expect(rows.nth(1)).to_contain_text("成功")
            await expect(rows.nth(2)).to_contain_text("失败（422）")  # the weak password
            await expect(rows.nth(3)).to_contain_text("订单发货")
            await expect(rows.nth(3)).to_contain_text("失败（403）")
            await expect(rows.nth(3)).to_contain_text("只读")
            text = await ui.assert_readable("otto", "vera", USER, "operator", "yuantong")
            assert "first pass" not in text and "my own secret" not in text
