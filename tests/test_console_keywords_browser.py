"""The keyword rule editor in Chromium: a rule written in the form (a text and a news card, previewed as the
follower sees them) answers the next message; the "who answers" box names the rule, then the built-in, then the
switched-off rule's absence; an edit, a rule taking built-in words with its warning in place, a delete."""

from __future__ import annotations

from bot.process.config import Config
from tests.console_browser_support import expect, signed_in
from tests.console_support import console_running, create_user, with_token


async def test_an_operator_writes_tests_edits_switches_off_and_deletes_a_rule(
    migrated: Config, env: dict[str, str]
) -> None:
    create_user(env)
    async with console_running(with_token(migrated)) as console, signed_in(console.url("").rstrip("/")) as ui:
        page = ui.page
        follower = console.shop.follower()
        await ui.open("keywords")
        await expect(page.locator("main .empty")).to_contain_text("还没有关键词规则：点“新建规则”")

        await page.click("#rule-new")
        form = page.locator("#rule-form")
        await form.locator("input[name=name]").fill("营业时间")
        await form.locator("textarea[name=keywords]").fill("营业时间\n几点下班")
        await form.locator("fieldset[data-index='0'] textarea[name=content]").fill("每天 9:00-21:00")
        await expect(page.locator("#rule-preview .reply.text")).to_have_text("每天 9:00-21:00")
        await page.click("#reply-add")
        card = form.locator("fieldset[data-index='1']")
        await card.locator("select[name=type]").select_option("news")
        await card.locator("input[name=title]").fill("门店地址")
        await card.locator("input[name=description]").fill("地铁站出口右转")
        await card.locator("input[name=url]").fill("https://shop.example/map")
        await expect(page.locator("#rule-preview .reply.news")).to_contain_text("门店地址")
        await form.locator("button[type=submit]").click()
        await ui.flash("规则「营业时间」已保存，立即生效")
        await ui.ready("keywords")
        row = page.locator("#rules tr[data-key='营业时间']")
        await expect(row.locator(".reply.text")).to_have_text("每天 9:00-21:00")
        await expect(row.locator(".reply.news")).to_contain_text("地铁站出口右转")
        await expect(row).to_contain_text("包含")
        assert (await follower.send_text("o_a", "请问几点下班")).shown.startswith("每天 9:00-21:00")

        async def ask(text: str) -> str:
            await page.fill("#probe input[name=text]", text)
            await page.click("#probe button")
            await expect(page.locator("#probe-result .verdict")).to_have_count(1)
            return await page.locator("#probe-result").inner_text()

        assert "由规则「营业时间」回答：包含“几点下班”" in await ask("几点下班呀")
        mine = await ask("我的订单")
        assert "没有规则回答，由内置功能“查订单”回答" in mine and "您最近还没有订单" in mine

        await row.locator("button:has-text('编辑')").click()
        await expect(form.locator("input[name=name]")).to_have_value("营业时间")
        await expect(form.locator("textarea[name=keywords]")).to_have_value("营业时间\n几点下班")
        await form.locator("fieldset[data-index='0'] textarea[name=content]").fill("全天营业")
        await form.locator("select[name=match]").select_option("exact")
        await form.locator("button[type=submit]").click()
        await ui.flash("已保存")
        await ui.ready("keywords")
        await expect(row).to_contain_text("完全匹配")
        assert (await follower.send_text("o_b", "营业时间")).shown.startswith("全天营业")

        await row.locator("input.toggle").uncheck()
        await ui.flash("规则「营业时间」已停用")
        await ui.ready("keywords")
        await expect(page.locator("#rules tr.off[data-key='营业时间']")).to_have_count(1)
        await expect(page.locator("#conflicts")).to_contain_text("规则「营业时间」永远不会触发：已停用")
        assert "没有规则回答" in await ask("营业时间")
        assert not (await follower.send_text("o_c", "营业时间")).shown.startswith("全天营业")

        await page.click("#rule-new")
        await form.locator("input[name=name]").fill("订单说明")
        await form.locator("textarea[name=keywords]").fill("订单")
        await form.locator("fieldset[data-index='0'] textarea[name=content]").fill("订单问题请找客服")
        await form.locator("button[type=submit]").click()
        await ui.ready("keywords")
        notes = page.locator("#rules tr[data-key='订单说明'] .note")
        await expect(notes).to_contain_text("内置功能“查订单”")
        await expect(notes).to_contain_text("勾选“优先于内置功能”可改由规则回答")
        hijacked = await ask("我的订单")
        assert "规则「订单说明」也匹配这句话，但“查订单”优先回答" in hijacked
        await ui.assert_readable("https://shop.example/map")

        await page.locator("#rules tr[data-key='订单说明'] button:has-text('删除')").click()
        await ui.flash("规则「订单说明」已删除")
        await ui.ready("keywords")
        await expect(page.locator("#rules tr[data-key='订单说明']")).to_have_count(0)
        assert ui.dialogs == ["删除规则「订单说明」？"]
