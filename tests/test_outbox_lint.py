"""The template linter (WeChat's 2023 rules and typed keys) and the `[templates]` config, validated at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.process.config import ConfigError, load
from store.outbox.template_lint import TemplateLintError, lint_template_data, thing_value, value_problems
from store.outbox.templates import TemplateConfigError, parse_templates
from tests.outbox_support import TEMPLATES


@pytest.mark.parametrize(
    ("value_type", "value", "problem"),
    [
        ("thing", "超过二十个字的商品名称超过二十个字的商品名称", "22 characters, at most 20"),
        ("thing", "第一行\n第二行", "line break"),
        ("thing", "已发货🎉", "emoji"),
        ("thing", "领取优惠券", "marketing wording 优惠券/优惠/领取"),
        ("thing", "限时秒杀", "marketing wording 限时/秒杀"),
        ("thing", "红包到账", "marketing wording 红包"),
        ("thing", "免费领好礼", "marketing wording 免费领"),
        ("thing", "  ", "empty"),
        ("amount", "199", None),
        ("amount", "¥199.00", None),
        ("amount", "199.00元", None),
        ("amount", "一百九十九元", "amount must be money"),
        ("amount", "¥199.999", "amount must be money"),
        ("time", "2026-11-24 10:00", None),
        ("time", "2026年11月24日", None),
        ("time", "明天上午", "time must be a date or time"),
        ("character_string", "WX20261124001", None),
        ("character_string", "订单001", "character_string must be letters, digits or symbols"),
        ("character_string", "A B", "character_string must be letters, digits or symbols"),
        ("phrase", "已发货", None),
        ("phrase", "已发货待签收", "phrase must be at most 5 Chinese characters"),
        ("phrase", "ok", "phrase must be at most 5 Chinese characters"),
        ("number", "42", None),
        ("number", "四十二", "number must be digits"),
    ],
)
def test_value_rules(value_type: str, value: str, problem: str | None) -> None:
    problems = value_problems("k", value_type, value)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_codes_may_be_longer_than_twenty_but_not_than_thirty_two() -> None:
    assert value_problems("k", "character_string", "A" * 32) == []
    assert value_problems("k", "character_string", "A" * 33) != []


def test_a_customer_service_only_text_may_speak_of_coupons() -> None:
    assert value_problems("k", "thing", "领取优惠券", service=False) == []


def test_template_payloads_are_linted_by_key_type() -> None:
    lint_template_data({"thing4": {"value": "红色连衣裙"}, "amount1": {"value": "¥199.00"}})
    with pytest.raises(TemplateLintError) as info:
        lint_template_data(
            {
                "first": {"value": "您好"},
                "amount1": {"value": "199元整"},
                "time3": {"value": "soon"},
                "thing4": {"value": ""},
            }
        )
    problems = info.value.problems
    assert problems[0].startswith("'first' is not a template data key")
    assert any(p.startswith("amount1: amount must be money") for p in problems)
    assert any(p.startswith("time3: time must be a date or time") for p in problems)
    assert "thing4: empty" in problems
    with pytest.raises(TemplateLintError, match="data: no fields"):
        lint_template_data({})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"coupon_blast": {}}, "[templates.coupon_blast]: unknown notice kind"),
        ({"gift_reminder": {"template_id": "T", "fields": {"expires_at": "time1"}}}, "is not a service notice"),
        ({"paid": {"fields": {"amount": "amount1"}}}, "[templates.paid] template_id: expected the template id"),
        ({"paid": {"template_id": "T", "fields": {}}}, "[templates.paid] fields: expected a table"),
        ({"paid": {"template_id": "T", "fields": {"price": "amount1"}}}, "fields.price: no such field"),
        ({"paid": {"template_id": "T", "fields": {"paid_at": "amount1"}}}, "a time field cannot fill amount1"),
        ({"paid": {"template_id": "T", "fields": {"amount": "remark"}}}, "'remark' is not a template data key"),
        (
            {"paid": {"template_id": "T", "fields": {"order_no": "thing1", "goods": "thing1"}}},
            "thing1 is given to both order_no and goods",
        ),
        ({"paid": {"template_id": "T", "url": "ftp://x", "fields": {"amount": "amount1"}}}, "url: expected"),
        ({"paid": {"template_id": "T", "colour": "red", "fields": {"amount": "amount1"}}}, "unknown keys ['colour']"),
    ],
)
def test_template_config_mistakes_are_named(table: dict, message: str) -> None:
    with pytest.raises(TemplateConfigError) as info:
        parse_templates(table)
    assert message in str(info.value)


def test_template_config_maps_fields_to_keys() -> None:
    specs = parse_templates(TEMPLATES)
    paid = specs["paid"]
    assert paid.template_id == "TPL_PAID" and paid.url is None
    values = {"order_no": "WX1", "amount": "¥1.00", "paid_at": "2026-11-24 10:00", "goods": "袜子"}
    assert paid.data(values) == {
        "character_string2": {"value": "WX1"},
        "amount1": {"value": "¥1.00"},
        "time3": {"value": "2026-11-24 10:00"},
        "thing4": {"value": "袜子"},
    }
    assert specs["shipped"].url == "https://shop.example.com/orders"


def test_config_load_validates_templates(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[templates.paid]\ntemplate_id = "TPL_PAID"\nfields = { amount = "amount1", paid_at = "time3" }\n',
        encoding="utf-8",
    )
    assert load(path, env={}).templates["paid"]["template_id"] == "TPL_PAID"
    path.write_text('[templates.paid]\ntemplate_id = "TPL_PAID"\nfields = { paid_at = "amount1" }\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config: \[templates.paid\] fields.paid_at: a time field cannot fill"):
        load(path, env={})


def test_the_shipped_config_file_is_valid() -> None:
    load(Path(__file__).resolve().parent.parent / "config.toml", env={})


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("法式碎花连衣裙 等3件", "法式碎花连衣裙 等3件"),
        ("限时特价🔥连衣裙\n红色 M码", "连衣裙 红色 M码"),
        ("特特价价", "商品"),  # removing one word must not leave another behind
        ("超长标题" * 8, "超长标题" * 5),
    ],
)
def test_a_product_title_becomes_a_thing_field_wechat_accepts(title: str, shown: str) -> None:
    """The paid notice is queued inside the payment's transaction: its goods field must never fail the linter."""
    value = thing_value(title, "商品")
    assert value == shown
    assert value_problems("goods", "thing", value) == []
