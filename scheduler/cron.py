"""The cron table as data: which job runs when. arq gives each run a unique id, so any number of workers
share the table and every run happens once."""

from __future__ import annotations

from arq.cron import CronJob, cron

from scheduler.jobs import beat, sweep_outbox
from scheduler.order_jobs import cancel_expired_orders, sync_refunds


def cron_table() -> list[CronJob]:
    return [
        cron(beat, name="heartbeat", second=0, unique=True, run_at_startup=False, keep_result=60),
        cron(sweep_outbox, name="outbox-sweep", second=30, unique=True, run_at_startup=False, keep_result=60),
        cron(cancel_expired_orders, name="order-timeouts", second=15, unique=True, keep_result=60),
        cron(sync_refunds, name="refund-sync", minute=set(range(0, 60, 5)), second=45, unique=True, keep_result=60),
    ]
