"""A small shop for checkout tests: three SKUs (two physical, one virtual), a follower, coupons, a race helper."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from store.catalog.products import Category, Product, Sku
from store.core.clock import SHANGHAI
from store.core.db import database, write_transaction
from store.members.accounts import Member, ensure_member
from store.orders.addresses import AddressInput
from store.orders.checkout import ShopRules
from store.promotions.coupons import CouponTemplate, create_template, issue_coupon

T = TypeVar("T")

BUYER = "o_buyer_0001"
OTHER = "o_other_0002"
START = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
RULES = ShopRules()
HOME = AddressInput("张三", "13812345678", "广东省 深圳市 南山区", "科技园南路 88 号 2 栋 301")


@dataclass(frozen=True)
class Shop:
    dress: int  # 159.00 yuan, 10 in stock
    tee: int  # 49.99 yuan, 100 in stock
    card: int  # virtual gift card, 100.00 yuan, 50 in stock


def make_shop(dress_stock: int = 10) -> Shop:
    with write_transaction():
        top = Category.create(name="服饰", level=1, path="服饰")
        dresses = Product.create(code="P1", title="法式碎花连衣裙", category=top)
        tees = Product.create(code="P2", title="纯棉T恤", category=top)
        cards = Product.create(code="P3", title="电子礼品卡", category=top)
        dress = Sku.create(code="P1-M", product=dresses, spec="颜色:红色;尺码:M", price_fen=15900, stock=dress_stock)
        tee = Sku.create(code="P2-L", product=tees, spec="尺码:L", price_fen=4999, stock=100)
        card = Sku.create(code="P3-100", product=cards, spec="面额:100元", price_fen=10000, stock=50, virtual=True)
    return Shop(dress.id, tee.id, card.id)


def give_points(openid: str, points: int, now: datetime = START) -> None:
    with write_transaction():
        ensure_member(openid, now)
        Member.update(points=Member.points + points).where(Member.openid == openid).execute()


def coupon(openid: str, kind: str, value: int, threshold_fen: int = 0, now: datetime = START, days: int = 30) -> str:
    """Issue one coupon of a fresh template; returns the coupon's code."""
    template = f"T{kind[:2]}{value}_{threshold_fen}_{days}"
    if CouponTemplate.get_or_none(CouponTemplate.code == template) is None:
        create_template(template, kind, value, now, threshold_fen=threshold_fen, valid_days=days)
    return issue_coupon(openid, template, now, source="test").code


def race(workers: int, jobs: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run `work(i)` for i in range(jobs) on `workers` threads released together; each thread uses (and closes)
    its own connection. Returns each job's result, or the exception it raised."""
    workers = min(workers, jobs)
    start = threading.Barrier(workers)
    results: list[T | BaseException | None] = [None] * jobs
    next_job = iter(range(jobs))
    lock = threading.Lock()

    def run() -> None:
        try:
            start.wait()
            while True:
                with lock:
                    i = next(next_job, None)
                if i is None:
                    return
                try:
                    results[i] = work(i)
                except BaseException as exc:  # the test looks at which error each attempt got
                    results[i] = exc
        finally:
            database.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results  # type: ignore[return-value]
