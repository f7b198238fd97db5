"""The coupons, segments and campaigns pages in Chromium: a coupon template made in the form and given to a follower,
counted and switched off; a segment built from conditions with its size previewed and saved; a campaign to it
created, dry-run and started, its results in the table and the chart."""

from __future__ import annotations

from bot.process.config import Config
from store.core.clock import ManualClock
from store.core.db import close_database, open_database
from store.profiles.compute import rebuild_profiles
from store.profiles.rules import ProfileRules
from tests.console_browser_support import expect, signed_in
from tests.console_support import console_running, create_user, with_token
from tests.test_profiles import NOW, population

SERIES = """id => window.echarts.getInstanceByDom(document.getElementById(id)).getOption().series.map(s => s.data)"""


async def test_an_operator_creates_a_coupon_gives_it_and_switches_it_off(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    async with console_running(with_token(migrated)) as console, signed_in(console.url("").rstrip("/")) as ui:
        page = ui.page
        await console.shop.follower().follow("o_fan")
        await ui.open("coupons")
        form = page.locator("#coupon-form")
        await form.locator("input[name=code]").fill("NEW30")
        await form.locator("select[name=kind]").select_option("threshold")
        await form.locator("input[name=value]").fill("30")
        await form.locator("input[name=threshold]").fill("300")
        await form.locator("input[name=valid_days]").fill("7")
        await form.locator("button").click()
        await ui.flash("优惠券「满300减30」已创建")
        await ui.ready("coupons")
        row = page.locator("#coupon-templates tr[data-key='NEW30']")
        await expect(row).to_contain_text("满减券")
        await expect(row).to_contain_text("¥300.00")
        await expect(row.locator(".n-issued")).to_have_text("0")
        await expect(row.locator(".n-use_rate")).to_have_text("—")

        await form.locator("input[name=code]").fill("NEW30")
        await form.locator("input[name=value]").fill("30")
        await form.locator("button").click()
        await ui.flash("操作未完成")

        await row.locator("form.issue input[name=openid]").fill("o_fan")
        await row.locator("form.issue button").click()
        await ui.flash("已发给粉丝 o_fan")
        await ui.ready("coupons")
        await expect(row.locator(".n-issued")).to_have_text("1")
        await expect(row.locator(".n-available")).to_have_text("1")
        await expect(row.locator(".n-use_rate")).to_have_text("0.0%")

        await row.locator("input.toggle").uncheck()
        await ui.flash("「满300减30」已停用")
        await ui.ready("coupons")
        await expect(page.locator("#coupon-templates tr.off[data-key='NEW30']")).to_contain_text("已停用")
        await ui.assert_readable("o_fan")


async def test_an_operator_builds_a_segment_and_runs_a_campaign_to_it(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    open_database(migrated.database.url, migrated.var_dir)
    try:
        population()
        rebuild_profiles(ProfileRules(), NOW)
    finally:
        close_database()
    async with console_running(with_token(migrated), ManualClock(NOW)) as console, \
            signed_in(console.url("").rstrip("/")) as ui:  # fmt: skip
        page = ui.page
        await ui.open("segments")
        await expect(page.locator("main .empty")).to_contain_text("还没有保存的人群")
        form = page.locator("#segment-form")
        await form.locator("input[name=lifecycle][value=衰退]").check()
        await form.locator("select[name=tier_at_least]").select_option("vip")
        await form.locator("input[name=bought_category]").fill("服饰")
        await page.click("#segment-preview")
        await expect(page.locator("#segment-size")).to_have_text("符合条件的会员：1 人")
        await form.locator("input[name=name]").fill("回流")
        await page.click("#segment-save")
        await ui.flash("人群「回流」已保存：1 人")
        await ui.ready("segments")
        await expect(page.locator("#segments tr[data-key='回流']")).to_contain_text(
            "生命周期：衰退；VIP 会员及以上；近 180 天买过“服饰”"
        )
        await form.locator("select[name=m_min]").select_option("4")
        await form.locator("input[name=name]").fill("高价值")
        await page.click("#segment-save")
        await ui.flash("人群「高价值」已保存：5 人")
        await ui.ready("segments")
        await ui.assert_readable()

        await page.locator("#segments tr[data-key='高价值'] a").click()
        await ui.ready("campaigns")
        form = page.locator("#campaign-form")
        await expect(form.locator("select[name=segment]")).to_have_value("高价值")
        await form.locator("input[name=name]").fill("权益")
        await form.locator("input[name=subject]").fill("会员权益更新")
        await form.locator("input[name=detail]").fill("详情请进入公众号查看")
        await form.locator("button").click()
        await ui.flash("活动「权益」已创建（草稿）")
        await ui.ready("campaigns")
        row = page.locator("#campaigns tr[data-key='权益']")
        await expect(row).to_contain_text("草稿")
        await row.locator("button:has-text('试算')").click()
        await ui.flash("试算：人群中关注着的会员 5 人，已排队 0 人，开始后将新发 5 人")
        await row.locator("button:has-text('开始发送')").click()
        await ui.flash("活动「权益」：本次排队 5 条")
        await ui.ready("campaigns")
        await expect(row).to_contain_text("已开始")
        await expect(row.locator(".n-pending")).to_have_text("5")
        assert await page.evaluate(SERIES, "chart-campaigns") == [[5], [0], [0], [0]]
        assert ui.dialogs == ["向人群「高价值」发送活动「权益」？每位会员只会收到一次。"]
        await ui.assert_readable()
