"""The unanswered-questions inbox in Chromium: empty, it says what to do; filled by followers' texts, it groups
similar wordings; one group taught to an intent and one answered with a keyword rule are answered at the next
message, and a dismissed group leaves the page."""

from __future__ import annotations

from bot.process.config import Config
from tests.console_browser_support import expect, keep_screenshot, signed_in
from tests.console_support import console_running, create_user, with_token

FALLBACK = "没太明白"
PUZZLE = "量子纠缠怎么理解"


async def test_an_operator_teaches_answers_and_dismisses_groups_of_unanswered_questions(
    migrated: Config, env: dict[str, str]
) -> None:
    create_user(env)
    async with console_running(with_token(migrated)) as console, signed_in(console.url("").rstrip("/")) as ui:
        page, clock = ui.page, console.shop.clock
        follower = console.shop.follower()
        await ui.open("inbox")
        await expect(page.locator("main .empty")).to_contain_text("没有待处理的问题")

        for openid, text in [("o_a", "发票怎么开"), ("o_b", "怎么开发票"), ("o_c", PUZZLE), ("o_d", "怎么理解量子纠缠"),
                             ("o_e", PUZZLE), ("o_f", "黑洞是什么")]:  # fmt: skip
            clock.advance(minutes=1)
            assert FALLBACK in (await follower.send_text(openid, text)).shown, text
        await page.reload()
        await ui.ready("inbox")
        groups = page.locator("main section.inbox-group")
        await expect(groups).to_have_count(3)
        await expect(groups.nth(0).locator("h3")).to_have_text(f"“{PUZZLE}” 等 2 种说法，共 3 次")
        await expect(groups.nth(0)).to_contain_text("兜底回复")
        await expect(groups.nth(1).locator("h3")).to_have_text("“怎么开发票” 等 2 种说法，共 2 次")
        await expect(groups.nth(2).locator("h3")).to_have_text("“黑洞是什么”，共 1 次")
        await keep_screenshot(page, "console-inbox")
        await ui.assert_readable()

        first = groups.nth(0)
        await first.locator("form.teach select[name=intent]").select_option("ask_return_policy")
        await first.locator("form.teach button").click()
        await ui.flash("已教会机器人：2 种说法归入“了解退换货政策”，立即生效")
        await ui.ready("inbox")
        await expect(groups).to_have_count(2)
        answered = (await follower.send_text("o_g", PUZZLE)).shown
        assert "7天" in answered and FALLBACK not in answered, answered

        invoice = groups.filter(has_text="怎么开发票")
        await invoice.locator("form.answer input[name=reply]").fill("电子发票请在订单详情里申请")
        await invoice.locator("form.answer button").click()
        await ui.flash("已添加关键词规则「问答：怎么开发票」")
        await ui.ready("inbox")
        await expect(groups).to_have_count(1)
        assert (await follower.send_text("o_h", "发票怎么开？")).shown == "电子发票请在订单详情里申请"

        await groups.nth(0).locator("button:has-text('忽略这一组')").click()
        await ui.flash("已忽略“黑洞是什么”这一组")
        await ui.ready("inbox")
        await expect(page.locator("main .empty")).to_contain_text("没有待处理的问题")
