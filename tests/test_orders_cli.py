"""`wxshop orders ship` and `wxshop orders ship-csv`: one clear line per outcome, problems with their line numbers,
and a CSV that ships whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.process.config import Config
from store.core.db import close_database, open_database
from store.orders.checkout import PAID, SHIPPED, Order
from tests.logistics_support import notices, paid_order
from tests.order_support import BUYER, OTHER, make_shop
from tests.support import wxshop


@pytest.fixture
def orders(migrated: Config) -> list[str]:
    open_database(migrated.database.url, migrated.var_dir)
    shop = make_shop()
    made = [paid_order(shop, BUYER).order_no, paid_order(shop, OTHER).order_no,
            paid_order(shop, BUYER, virtual=True).order_no]  # fmt: skip
    close_database()
    return made


def status(config: Config, order_no: str) -> str:
    open_database(config.database.url, config.var_dir)
    try:
        return Order.get(Order.order_no == order_no).status
    finally:
        close_database()


def test_ship_one_order(migrated: Config, env: dict[str, str], orders: list[str]) -> None:
    first, _, virtual = orders
    shipped = wxshop("orders", "ship", first, "yuantong", "YT1234567890", env=env)
    assert shipped.returncode == 0, shipped.stderr
    assert shipped.stdout.strip() == f"shipped: {first} 圆通速递 YT1234567890"
    again = wxshop("orders", "ship", first, "yuantong", "YT1234567890", env=env)
    assert again.returncode == 0 and again.stdout.startswith("already shipped")
    other = wxshop("orders", "ship", first, "yuantong", "YT0000000000", env=env)
    assert other.returncode == 1 and other.stderr.startswith("wxshop: order ") and "was shipped as" in other.stderr
    refused = wxshop("orders", "ship", virtual, "yuantong", "YT1234567899", env=env)
    assert refused.returncode == 1 and "virtual" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert status(migrated, first) == SHIPPED


def test_ship_a_csv_whole_or_not_at_all(migrated: Config, env: dict[str, str], orders: list[str],
                                        tmp_path: Path) -> None:  # fmt: skip
    first, second, virtual = orders
    bad = tmp_path / "bad.csv"
    bad.write_text(f"order_no,carrier,tracking_no\n{first},yuantong,YT0000000001\n{virtual},yuantong,YT0000000002\n"
                   f"{second},圆通,YT0000000003\n", encoding="utf-8")  # fmt: skip
    refused = wxshop("orders", "ship-csv", str(bad), env=env)
    assert refused.returncode == 2
    problems = refused.stderr.strip().splitlines()
    assert [p.split(": ")[1] for p in problems[:-1]] == ["line 4", "line 3"]
    assert problems[-1].endswith("2 problem(s) in " + str(bad) + "; nothing was shipped")
    assert status(migrated, first) == PAID

    good = tmp_path / "good.csv"
    good.write_text(f"\ufefforder_no,carrier,tracking_no\n{first},yuantong,YT0000000001\n\n{second},zhongtong,"
                    "ZT0000000003\n", encoding="utf-8")  # fmt: skip
    shipped = wxshop("orders", "ship-csv", str(good), env=env)
    assert shipped.returncode == 0, shipped.stderr
    assert shipped.stdout.strip() == "shipped 2 order(s), 0 already shipped"
    assert (status(migrated, first), status(migrated, second)) == (SHIPPED, SHIPPED)
    open_database(migrated.database.url, migrated.var_dir)
    assert len(notices(BUYER, "shipped")) == 1 and len(notices(OTHER, "shipped")) == 1
    close_database()

    headless = tmp_path / "headless.csv"
    headless.write_text("order,number\n1,2\n", encoding="utf-8")
    missing = wxshop("orders", "ship-csv", str(headless), env=env)
    assert missing.returncode == 2 and "missing column(s) order_no, carrier, tracking_no" in missing.stderr
    assert wxshop("orders", "ship-csv", str(tmp_path / "nope.csv"), env=env).returncode == 1
