"""Shipping addresses: validated (a mainland mobile number, a region, a detail line), remembered per follower so
the next checkout can offer "寄到上次的地址吗？". An order keeps its own copy (`Order.ship_*`), so editing or
forgetting an address never changes an order the merchant must keep.

Addresses are personal data: unsubscribe deletes them (store.members.privacy, per WeChat's rule).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction
from store.core.hot_sql import Insert, Statement

# Mainland mobile numbers: 11 digits starting 13–19 (an optional +86 / 86 in front is dropped).
MOBILE = re.compile(r"1[3-9]\d{9}")


class Address(BaseModel):
    openid = peewee.CharField(max_length=64, index=True)
    name = peewee.CharField(max_length=32)
    phone = peewee.CharField(max_length=16)
    region = peewee.CharField(max_length=64)  # 省 市 区, e.g. "广东省 深圳市 南山区"
    detail = peewee.CharField(max_length=200)
    created_at = ShanghaiDateTimeField()
    last_used_at = ShanghaiDateTimeField()


@dataclass(frozen=True)
class AddressInput:
    name: str
    phone: str
    region: str
    detail: str

    def one_line(self) -> str:
        return f"{self.name} {self.phone} {self.region} {self.detail}"


class InvalidAddress(ValueError):
    """Every problem with an address, in Chinese, so the chat flow can ask again for exactly those fields."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("；".join(problems.values()))
        self.problems = problems


def normalise_phone(text: str) -> str:
    """Full-width digits, spaces, dashes and a +86 / 86 prefix are accepted and removed."""
    digits = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", text))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def validate_address(name: str, phone: str, region: str, detail: str) -> AddressInput:
    """Clean and check an address; raises InvalidAddress naming each bad field."""
    name, region, detail = (" ".join(unicodedata.normalize("NFKC", v).split()) for v in (name, region, detail))
    phone = normalise_phone(phone)
    problems: dict[str, str] = {}
    if not 1 <= len(name) <= 32:
        problems["name"] = "请填写收件人姓名（不超过32个字）"
    if not MOBILE.fullmatch(phone):
        problems["phone"] = "手机号应为11位大陆手机号，例如13812345678"
    if not 2 <= len(region) <= 64:
        problems["region"] = "请填写所在地区（省 市 区）"
    if not 4 <= len(detail) <= 200:
        problems["detail"] = "请填写详细地址（街道、门牌号，至少4个字）"
    if problems:
        raise InvalidAddress(problems)
    return AddressInput(name, phone, region, detail)


_TOUCH = Statement(Address, (
    'UPDATE {t} SET "last_used_at" = {p} '
    'WHERE "openid" = {p} AND "name" = {p} AND "phone" = {p} AND "region" = {p} AND "detail" = {p}'
))  # fmt: skip
_INSERT = Insert(Address, ("openid", "name", "phone", "region", "detail", "created_at", "last_used_at"))


def remember_address(openid: str, address: AddressInput, now: datetime) -> None:
    """Save the address for next time: the same address again is one row, touched (an UPDATE, then an INSERT
    only when it matched nothing)."""
    at = Address.last_used_at.db_value(now)
    with write_transaction():
        touched = _TOUCH.execute([at, openid, address.name, address.phone, address.region, address.detail])
        if not touched.rowcount:
            _INSERT.execute([{"openid": openid, "created_at": now, "last_used_at": now, **address.__dict__}])


def last_address(openid: str) -> Address | None:
    """The address used most recently: what checkout offers first."""
    query = Address.select().where(Address.openid == openid)
    return query.order_by(Address.last_used_at.desc(), Address.id.desc()).first()


def addresses_of(openid: str, limit: int = 5) -> list[Address]:
    query = Address.select().where(Address.openid == openid).order_by(Address.last_used_at.desc(), Address.id.desc())
    return list(query.limit(limit))


def as_input(address: Address) -> AddressInput:
    return AddressInput(address.name, address.phone, address.region, address.detail)
