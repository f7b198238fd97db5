"""Stock contention: many buyers at once for few units (DESIGN §7: 1,000 concurrent orders for 100 units → exactly
100 succeed, on SQLite and PostgreSQL; ≥ 1,000 orders/s sustained on PostgreSQL).

    python -m benchmarks.stock [--quick] [--threads N] [--database-url postgresql://…]

Per backend (a fresh SQLite file under $WXSHOP_VAR_DIR, default ./var; and PostgreSQL when `--database-url` or
$WXSHOP_BENCH_DATABASE_URL / $WXSHOP_TEST_DATABASE_URL names one — a fresh schema, dropped afterwards):

* contention: 1,000 `create_order` attempts from N threads for 100 units of one SKU; every attempt either
  gets an order or `OutOfStock`. Reports the successes (must be 100), the final stock (must be 0), attempts/s
  and p50/p99 per call.
* sustained: orders with plenty of stock on 10 hot SKUs from N threads — orders/s, p50/p99 per call.
* baseline: the bare guarded `UPDATE sku SET stock = stock - 1 WHERE id = ? AND stock >= 1` (`take_stock`) from
  the same threads in the same run: the ratio says what pricing, the order rows and the transaction cost.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable

from benchmarks.common import percentile, print_figures, print_machine_info
from benchmarks.databases import fresh_sqlite_url, postgres_schema, var_dir
from store.catalog.inventory import stock_of, take_stock
from store.catalog.products import Category, Product, Sku
from store.core.clock import SystemClock
from store.core.db import close_database, database, open_database, write_transaction
from store.orders.addresses import AddressInput
from store.orders.checkout import CartLine, Order, OutOfStock, ShopRules, create_order
from store.schema.steps import upgrade

HOME = AddressInput("张三", "13812345678", "广东省 深圳市 南山区", "科技园南路 88 号")
RULES = ShopRules()


def _catalog(units: int, hot: int, hot_units: int) -> tuple[int, list[int]]:
    """One contended SKU with `units`, and `hot` SKUs with `hot_units` each; returns their ids."""
    with write_transaction():
        top = Category.create(name="基准", level=1, path=f"基准{uuid.uuid4().hex[:6]}")
        product = Product.create(code=f"B{uuid.uuid4().hex[:8]}", title="基准商品", category=top)
        contended = Sku.create(code=f"{product.code}-0", product=product, price_fen=9900, stock=units)
        others = [Sku.create(code=f"{product.code}-{i + 1}", product=product, price_fen=4900 + i, stock=hot_units).id
                  for i in range(hot)]  # fmt: skip
    return contended.id, others


def _run_threads(threads: int, jobs: int, work: Callable[[int], bool]) -> tuple[float, list[int], int]:
    """`work(i)` for every i on `threads` threads released together. Returns wall seconds, per-call ns, wins."""
    start = threading.Barrier(threads + 1)
    next_job = iter(range(jobs))
    lock = threading.Lock()
    samples: list[int] = []
    wins = [0]
    errors: list[BaseException] = []

    def run() -> None:
        mine: list[int] = []
        won = 0
        try:
            database.connect(reuse_if_open=True)
            start.wait()
            while True:
                with lock:
                    i = next(next_job, None)
                if i is None:
                    break
                began = time.perf_counter_ns()
                won += work(i)
                mine.append(time.perf_counter_ns() - began)
        except BaseException as exc:  # reported after the run
            errors.append(exc)
        finally:
            with lock:
                samples.extend(mine)
                wins[0] += won
            database.close()

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return elapsed, sorted(samples), wins[0]


def _ms(samples: list[int], q: float) -> float:
    return percentile(samples, q) / 1e6


def bench(label: str, url: str, threads: int, attempts: int, units: int, sustained: int) -> dict[str, float]:
    open_database(url, var_dir())
    upgrade()
    clock = SystemClock()
    contended, hot = _catalog(units, 10, sustained)
    figures: dict[str, float] = {}

    def attempt(i: int) -> bool:
        try:
            create_order(f"o_bench_{label}_{i:06d}", [CartLine(contended, 1)], HOME, [], 0, clock.now(), rules=RULES)
        except OutOfStock:
            return False
        return True

    elapsed, samples, won = _run_threads(threads, attempts, attempt)
    orders = Order.select().where(Order.openid.startswith(f"o_bench_{label}_")).count()
    figures |= {
        f"stock_{label}_contention_attempts": attempts,
        f"stock_{label}_contention_units": units,
        f"stock_{label}_contention_successes": won,
        f"stock_{label}_contention_orders": orders,
        f"stock_{label}_contention_stock_left": stock_of(contended),
        f"stock_{label}_contention_attempts_per_s": attempts / elapsed,
        f"stock_{label}_contention_p50_ms": _ms(samples, 50),
        f"stock_{label}_contention_p99_ms": _ms(samples, 99),
    }
    print(f"{label}: contention {won}/{attempts} won for {units} units in {elapsed:.2f} s", flush=True)

    def order(i: int) -> bool:
        sku = hot[i % len(hot)]
        create_order(f"o_sus_{label}_{i:06d}", [CartLine(sku, 1)], HOME, [], 0, clock.now(), rules=RULES)
        return True

    elapsed, samples, won = _run_threads(threads, sustained, order)
    figures |= {
        f"stock_{label}_sustained_orders": won,
        f"stock_{label}_orders_per_s": won / elapsed,
        f"stock_{label}_create_order_p50_ms": _ms(samples, 50),
        f"stock_{label}_create_order_p99_ms": _ms(samples, 99),
    }
    print(f"{label}: sustained {won} orders in {elapsed:.2f} s", flush=True)

    now = clock.now()
    elapsed, samples, won = _run_threads(threads, sustained, lambda i: take_stock(hot[i % len(hot)], 1, now))
    figures |= {
        f"stock_{label}_baseline_updates_per_s": won / elapsed,
        f"stock_{label}_baseline_p50_ms": _ms(samples, 50),
        f"stock_{label}_orders_vs_baseline": figures[f"stock_{label}_orders_per_s"] / (won / elapsed),
    }
    close_database()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run (fewer sustained orders)")
    parser.add_argument("--threads", type=int, default=32, help="concurrent buyers (default 32)")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL database to measure as well")
    args = parser.parse_args(argv)
    pg_url = (
        args.database_url
        or os.environ.get("WXSHOP_BENCH_DATABASE_URL")
        or os.environ.get("WXSHOP_TEST_DATABASE_URL")
        or ""
    )
    attempts, units = 1000, 100
    sustained = 300 if args.quick else 3000
    print_machine_info()
    print(f"# threads: {args.threads}; contention: {attempts} attempts for {units} units; sustained: {sustained}")
    figures = bench("sqlite", fresh_sqlite_url("stock"), args.threads, attempts, units, sustained)
    if pg_url.startswith("postgres"):
        with postgres_schema(pg_url, "stock") as url:
            figures |= bench("postgresql", url, args.threads, attempts, units, sustained)
    else:
        print("# PostgreSQL: not measured (pass --database-url or set WXSHOP_BENCH_DATABASE_URL)")
    print_figures(figures)
    ok = all(
        figures[f"stock_{b}_contention_successes"] == units and figures[f"stock_{b}_contention_stock_left"] == 0
        and figures[f"stock_{b}_contention_orders"] == units
        for b in ("sqlite", "postgresql") if f"stock_{b}_contention_successes" in figures
    )  # fmt: skip
    if not ok:
        print("FAILED: the contention run did not end with exactly the units sold", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
