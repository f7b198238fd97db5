"""The cron table as data: which job runs when. arq gives each run a unique id, so any number of workers
share the table and every run happens once."""

from __future__ import annotations

from arq.cron import CronJob, cron

from scheduler.after_sales_jobs import sweep_after_sales
from scheduler.jobs import beat, sweep_outbox
from scheduler.logistics_jobs import complete_virtual_orders, poll_parcels, subscribe_parcels, sweep_parcel_exceptions
from scheduler.member_jobs import member_cron
from scheduler.metrics_jobs import metrics_cron
from scheduler.order_jobs import cancel_expired_orders, sync_refunds
from scheduler.stock_jobs import deliver_stock_alerts


def cron_table(birthday_at: str = "09:00", metrics_at: str = "00:45") -> list[CronJob]:
    """`birthday_at`: `[shop] birthday_sweep_at`, `metrics_at`: `[shop] metrics_check_at` (Asia/Shanghai; the
    worker runs cron in that zone)."""
    return [
        *member_cron(birthday_at),
        *metrics_cron(metrics_at),
        cron(beat, name="heartbeat", second=0, unique=True, run_at_startup=False, keep_result=60),
        cron(sweep_outbox, name="outbox-sweep", second=30, unique=True, run_at_startup=False, keep_result=60),
        cron(cancel_expired_orders, name="order-timeouts", second=15, unique=True, keep_result=60),
        cron(sync_refunds, name="refund-sync", minute=set(range(0, 60, 5)), second=45, unique=True, keep_result=60),
        cron(subscribe_parcels, name="parcel-subscriptions", second=20, unique=True, keep_result=60),
        cron(complete_virtual_orders, name="virtual-orders", second=25, unique=True, keep_result=60),
        cron(poll_parcels, name="parcel-polling", minute=set(range(3, 60, 15)), second=5, unique=True, keep_result=60),
        cron(sweep_parcel_exceptions, name="parcel-exceptions", minute=set(range(7, 60, 10)), second=10, unique=True,
             keep_result=60),
        cron(deliver_stock_alerts, name="stock-alerts", second=50, unique=True, keep_result=60),
        cron(sweep_after_sales, name="after-sales", minute=set(range(1, 60, 5)), second=35, unique=True,
             keep_result=60),
    ]
