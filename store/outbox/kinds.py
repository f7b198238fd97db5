"""What the shop may tell a follower on its own initiative: one `NoticeKind` per notice, with its fields.

A kind says which fields a notice carries and of which value type (the same types WeChat's category templates
use for their keys: `thing4`, `amount1`, `time3`…), the customer-service text built from them, whether it is a
service notice (only those may go out as template messages, WECHAT.md §2.3) and its usual priority. Callers pass
field values already formatted (`format_fen`, `format_time`); the linter checks them at enqueue time.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from store.core.clock import SHANGHAI


class Priority(enum.IntEnum):
    """Who goes first when the daily template quota is short: lower values first."""

    TRANSACTIONAL = 1  # order paid, shipped, tracking, after-sales
    SERVICE = 2  # account status: tier change, operator alerts
    MEMBER_CARE = 3  # birthdays, reminders


# Value types of notice fields; each matches the template key prefix of the same name.
FIELD_TYPES = frozenset(
    {"thing", "amount", "time", "character_string", "phrase", "number", "letter", "name", "phone_number", "const"}
)


@dataclass(frozen=True)
class NoticeKind:
    name: str
    priority: Priority
    service: bool
    text: str
    fields: Mapping[str, str]
    template_only: bool = False  # never a customer-service message, even inside a window
    tracked: bool = False  # its messages may carry a link of their own (a campaign's, its taps counted)

    def render_text(self, values: Mapping[str, str]) -> str:
        """The customer-service message for these field values."""
        return self.text.format(**values)


def _kind(name: str, priority: Priority, service: bool, text: str, **fields: str) -> NoticeKind:
    unknown = set(fields.values()) - FIELD_TYPES
    if unknown:
        raise ValueError(f"notice kind {name}: unknown field types {sorted(unknown)}")
    return NoticeKind(name, priority, service, text, dict(fields))


KINDS: dict[str, NoticeKind] = {
    k.name: k
    for k in (
        _kind(
            "paid", Priority.TRANSACTIONAL, True,
            "支付成功！您的订单{order_no}已支付{amount}（{goods}），发送“订单详情”可随时查看进度。",
            order_no="character_string", amount="amount", goods="thing", paid_at="time",
        ),
        _kind(
            "shipped", Priority.TRANSACTIONAL, True, "您的订单{order_no}已发货：{carrier} {tracking_no}。",
            order_no="character_string", carrier="thing", tracking_no="character_string", shipped_at="time",
        ),
        _kind(
            "tracking", Priority.TRANSACTIONAL, True, "订单{order_no}物流更新：{state}（运单号{tracking_no}）。",
            order_no="character_string", tracking_no="character_string", state="thing", updated_at="time",
        ),
        _kind(
            "after_sales", Priority.TRANSACTIONAL, True, "售后单{case_no}进度：{progress}。",
            case_no="character_string", progress="thing", updated_at="time",
        ),
        _kind(
            "compensation", Priority.TRANSACTIONAL, True, "售后单{case_no}的补偿已发放：{compensation}。",
            case_no="character_string", compensation="thing", granted_at="time",
        ),
        _kind(
            "reshipped", Priority.TRANSACTIONAL, True,
            "售后单{case_no}的换货商品已包邮寄出：{carrier} {tracking_no}，回复“查快递”查看物流。",
            case_no="character_string", carrier="thing", tracking_no="character_string", shipped_at="time",
        ),
        _kind(
            "rating_request", Priority.SERVICE, True,
            "售后单{case_no}（{item}）已办结，请为本次服务打分：回复数字1-5（5分最满意），回复“不评价”跳过。",
            case_no="character_string", item="thing", closed_at="time", how="thing",
        ),
        _kind(
            "parcel_issue", Priority.TRANSACTIONAL, True, "很抱歉，您的订单{order_no}{issue}，我们正在加急处理。",
            order_no="character_string", issue="thing", raised_at="time",
        ),
        _kind(
            "apology_coupon", Priority.TRANSACTIONAL, False, "为表歉意，送您一张优惠券：{coupon}，下单时可用。",
            coupon="thing",
        ),
        _kind(
            "group_full", Priority.TRANSACTIONAL, True,
            "拼团成功！团{group_no}已满{members}人（{goods}），我们会尽快发货。",
            group_no="character_string", goods="thing", members="number", formed_at="time",
        ),
        _kind(
            "group_failed", Priority.TRANSACTIONAL, True,
            "很遗憾，团{group_no}（{goods}）未在时限内成团，{amount}将原路退回。",
            group_no="character_string", goods="thing", amount="amount", closed_at="time",
        ),
        _kind(
            "bargain_cut", Priority.SERVICE, True,
            "又有好友帮您砍了一刀！{goods}现价{price}，已有{helped}位好友助力，还差{left}位。回复“砍价下单”按现价购买。",
            goods="thing", price="amount", helped="number", left="number", cut_at="time",
        ),
        _kind(
            "bargain_complete", Priority.TRANSACTIONAL, True,
            "砍价成功！{helped}位好友帮您把{goods}砍到了{price}，回复“砍价下单”即可购买。",
            goods="thing", price="amount", helped="number", completed_at="time",
        ),
        _kind(
            "ops_alert", Priority.SERVICE, True, "运营提醒：{subject}（{ref}，{raised_at}）。",
            subject="thing", ref="character_string", raised_at="time",
        ),
        _kind(
            "tier_change", Priority.SERVICE, True, "您的会员等级已变更为{tier}。",
            tier="thing", changed_at="time",
        ),
        _kind(
            "restock_alert", Priority.SERVICE, True, "补货提醒：{title}（{sku}）库存仅剩{stock}件。",
            sku="character_string", title="thing", stock="number",
        ),
        _kind(
            "birthday", Priority.MEMBER_CARE, True, "{member}，祝您生日快乐！生日礼物已放进您的账户，发消息即可查看。",
            member="thing", date="time",
        ),
        _kind(
            "points_expiry", Priority.MEMBER_CARE, True, "您有{points}积分将于{expires_at}到期。",
            points="number", expires_at="time",
        ),
        replace(  # a campaign: customer-service message inside a window, template message outside
            _kind(
                "campaign", Priority.MEMBER_CARE, True, "{subject}：{detail}",
                subject="thing", detail="thing", sent_at="time", campaign="character_string",
            ),
            tracked=True,
        ),
        replace(
            _kind(
                "campaign_template", Priority.MEMBER_CARE, True, "{subject}：{detail}",
                subject="thing", detail="thing", sent_at="time", campaign="character_string",
            ),
            template_only=True, tracked=True,
        ),
        replace(  # customer-service messages only: the text may name offers a template may not
            _kind(
                "campaign_cs", Priority.MEMBER_CARE, False, "{subject}：{detail}",
                subject="thing", detail="thing", campaign="character_string",
            ),
            tracked=True,
        ),
        replace(
            _kind(
                "campaign_coupon", Priority.MEMBER_CARE, False,
                "{subject}：{detail}\n送您一张优惠券：{coupon}，回复“我的优惠券”查看，下单时可用。",
                subject="thing", detail="thing", coupon="thing", campaign="character_string",
            ),
            tracked=True,
        ),
        _kind(  # 到货提醒 / 降价提醒 the follower asked for (store.catalog.watches)
            "product_alert", Priority.MEMBER_CARE, True,
            "您关注的“{goods}”{status}，现价{price}。回复商品名即可选购，回复“我的提醒”查看其他提醒。",
            goods="thing", status="thing", price="amount", at="time",
        ),
        _kind(
            "gift_reminder", Priority.MEMBER_CARE, False, "您的新人礼包将于{expires_at}到期，回复“礼包”即可领取。",
            expires_at="time",
        ),
    )
}  # fmt: skip


class UnknownNoticeKind(ValueError):
    """No such notice kind (see `KINDS`)."""


def kind_of(name: str) -> NoticeKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownNoticeKind(f"unknown notice kind {name!r} (known: {', '.join(sorted(KINDS))})") from None


def format_fen(fen: int) -> str:
    """Money as template `amount` fields show it: 19900 → ¥199.00."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def format_time(when: datetime) -> str:
    """A time as template `time` fields show it, in Asia/Shanghai: 2026-11-24 10:00."""
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def shanghai_day_start(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return datetime(local.year, local.month, local.day, tzinfo=SHANGHAI)


def next_shanghai_midnight(now: datetime) -> datetime:
    """The start of the next Asia/Shanghai day: when a new template quota begins."""
    return shanghai_day_start(now) + timedelta(days=1)
