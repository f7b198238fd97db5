"""/healthz tells the truth about the database and Redis; /metrics counts what the server did."""

from __future__ import annotations

import dataclasses

from bot.process.config import Config, RedisConfig
from bot.web.app import create_app
from store.core.clock import ManualClock
from store.monitoring.heartbeat import record_heartbeat


async def test_healthz_turns_503_without_redis_and_back(aiohttp_client, migrated: Config, own_redis) -> None:
    config = dataclasses.replace(migrated, redis=RedisConfig(url=own_redis.url, prefix=migrated.redis.prefix))
    client = await aiohttp_client(create_app(config))

    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["redis"] == "ok"

    own_redis.stop()
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 503
    assert body["status"] == "down" and body["database"] == "ok" and "Error" in body["redis"]

    own_redis.start()
    response = await client.get("/healthz")
    assert response.status == 200, await response.text()


async def test_metrics_count_requests(aiohttp_client, migrated: Config) -> None:
    client = await aiohttp_client(create_app(migrated))
    for _ in range(3):
        assert (await client.get("/healthz")).status == 200
    assert (await client.get("/nope")).status == 404
    text = await (await client.get("/metrics")).text()
    assert 'wxshop_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'status="404"' in text
    assert "wxshop_http_request_seconds_bucket" in text
    assert "wxshop_job_queue_depth" in text


async def test_metrics_need_the_token_when_one_is_set(aiohttp_client, migrated: Config) -> None:
    server = dataclasses.replace(migrated.server, metrics_token="s3cret-scrape")
    client = await aiohttp_client(create_app(dataclasses.replace(migrated, server=server)))
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await client.get("/metrics?token=s3cret")).status == 401
    by_header = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert by_header.status == 200 and "wxshop_http_requests_total" in await by_header.text()
    by_query = await client.get("/metrics?token=s3cret-scrape")
    assert by_query.status == 200 and 'status="401"' in await by_query.text()
    assert (await client.get("/healthz")).status == 200, "only /metrics is guarded"


async def test_healthz_names_a_worker_whose_heartbeat_stopped(aiohttp_client, migrated: Config) -> None:
    """The worker's cron writes a heartbeat every minute; one older than `[server] worker_heartbeat_max_age_s`
    means the worker died or lost Redis for good, and a load balancer or operator must hear it."""
    clock = ManualClock()
    client = await aiohttp_client(create_app(migrated, clock=clock))
    first = await client.get("/healthz")
    assert first.status == 200 and (await first.json())["worker"] == "ok", "no worker has beaten yet: a new shop"
    record_heartbeat("cron:heartbeat:1", "cron@worker-1", clock.now())
    clock.advance(seconds=120)
    assert (await client.get("/healthz")).status == 200
    clock.advance(seconds=1)
    stale = await client.get("/healthz")
    body = await stale.json()
    assert stale.status == 503 and body["status"] == "down"
    assert body["worker"] == "no heartbeat for 121 s (more than 120 s)" and body["database"] == "ok"
    record_heartbeat("cron:heartbeat:2", "cron@worker-1", clock.now())
    assert (await client.get("/healthz")).status == 200
