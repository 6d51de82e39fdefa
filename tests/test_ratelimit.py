"""Per-key rate limits: 429 with Retry-After and RateLimit headers, one shared bucket
for every worker (here: several app instances on one database)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings
from tests.conftest import Tenant

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def workers(
    settings: Settings, count: int, **limits: int
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` independent app instances — separate caches and leases, like
    separate worker processes — each with its own client."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(count):
            app: FastAPI = create_app(settings.model_copy(update=limits))
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://testserver")
                )
            )
        yield clients


async def test_over_the_limit_is_429_with_headers(
    database_ready: str, settings: Settings, tenant: Tenant
) -> None:
    async with workers(settings, 1, rate_limit_per_minute=60, rate_limit_burst=5) as (client,):
        ok = [await client.post(tenant.list_url, headers=tenant.headers) for _ in range(5)]
        assert [r.status_code for r in ok] == [200] * 5
        assert ok[0].headers["ratelimit-policy"] == '"per-key";q=5;w=5'
        assert ok[0].headers["ratelimit"].startswith('"per-key";r=')
        refused = await client.post(tenant.list_url, headers=tenant.headers)
    assert refused.status_code == 429
    body = refused.json()
    assert body["status"] == 429
    assert body["error"]["type"] == "TooManyRequestsError"
    assert body["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-policy"] == '"per-key";q=5;w=5'
    assert refused.headers["ratelimit"] == f'"per-key";r=0;t={refused.headers["retry-after"]}'


async def test_workers_share_one_bucket(
    database_ready: str, settings: Settings, tenant: Tenant
) -> None:
    async with workers(settings, 3, rate_limit_per_minute=6, rate_limit_burst=10) as clients:
        started = time.monotonic()
        statuses = await asyncio.gather(
            *[clients[i % 3].post(tenant.list_url, headers=tenant.headers) for i in range(30)]
        )
        elapsed = time.monotonic() - started
    codes = [r.status_code for r in statuses]
    # 10 tokens in the shared bucket, plus what refilled meanwhile (0.1 per second).
    allowed = 10 + math.floor(elapsed * 0.1)
    assert 10 <= codes.count(200) <= allowed
    assert codes.count(200) + codes.count(429) == 30


async def test_limits_are_per_key(database_ready: str, settings: Settings, tenant: Tenant) -> None:
    from tests.conftest import make_tenant

    async with workers(settings, 1, rate_limit_per_minute=6, rate_limit_burst=2) as (client,):
        other = await make_tenant(client._transport.app.state.database.engine, "rl")  # type: ignore[attr-defined]
        for _ in range(2):
            assert (await client.post(tenant.list_url, headers=tenant.headers)).status_code == 200
        assert (await client.post(tenant.list_url, headers=tenant.headers)).status_code == 429
        assert (await client.post(other.list_url, headers=other.headers)).status_code == 200


async def test_tokens_refill_over_time(
    database_ready: str, settings: Settings, tenant: Tenant
) -> None:
    async with workers(settings, 1, rate_limit_per_minute=60, rate_limit_burst=2) as (client,):
        for _ in range(2):
            assert (await client.post(tenant.list_url, headers=tenant.headers)).status_code == 200
        assert (await client.post(tenant.list_url, headers=tenant.headers)).status_code == 429
        await asyncio.sleep(1.5)  # 1 token/s: the refused lease stands 1 s, then refills
        assert (await client.post(tenant.list_url, headers=tenant.headers)).status_code == 200


async def test_invalid_keys_do_not_touch_the_buckets(
    database_ready: str, settings: Settings, tenant: Tenant
) -> None:
    async with workers(settings, 1, rate_limit_per_minute=6, rate_limit_burst=1) as (client,):
        bad = {**tenant.headers, "Authorization": "Bearer sk_" + "b" * 40}
        for _ in range(3):
            assert (await client.post(tenant.list_url, headers=bad)).status_code == 401
        assert (await client.post(tenant.list_url, headers=tenant.headers)).status_code == 200


async def test_disabled_limit_sends_no_headers(
    database_ready: str, settings: Settings, tenant: Tenant
) -> None:
    async with workers(settings, 1, rate_limit_per_minute=0) as (client,):
        response = await client.post(tenant.list_url, headers=tenant.headers)
    assert response.status_code == 200
    assert "ratelimit" not in response.headers
