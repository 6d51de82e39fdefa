"""Several worker processes behave as one service: a cursor issued by one worker is
accepted by the other (the cursor secret is shared), a revoked key is refused by
every worker (here after the cache expires; immediately is tested in test_auth), and
one rate limit covers them all.

Which worker served a request is read from the operating system — the worker process
holding the server side of the request's TCP connection — so the API exposes nothing
for it."""

from __future__ import annotations

import asyncio
import http.client
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app import admin
from tests.conftest import Tenant, make_tenant, seed
from tests.servers import Server, running_server, worker_pids

pytestmark = pytest.mark.asyncio

AUTH_CACHE_SECONDS = 1.0
MAX_REQUESTS = 300  # per phase; both workers answer long before this


def served_by(workers: list[int], client_port: int) -> int:
    for pid in workers:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.raddr and conn.raddr.port == client_port:
                return pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def request(
    server: Server, workers: list[int], path: str, headers: dict[str, str]
) -> tuple[int, int, Any]:
    """One request on a new connection: (worker pid, status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", path, headers=headers)
        response = conn.getresponse()
        body = orjson.loads(response.read())
        assert conn.sock is not None
        pid = served_by(workers, conn.sock.getsockname()[1])
        return pid, response.status, body
    finally:
        conn.close()


def until_both_served(
    server: Server, workers: list[int], path: str, headers: dict[str, str]
) -> list[tuple[int, int, Any]]:
    """Requests on fresh connections until every worker has answered one."""
    answers: list[tuple[int, int, Any]] = []
    while {pid for pid, _, _ in answers} != set(workers):
        served = {pid for pid, _, _ in answers}
        assert len(answers) < MAX_REQUESTS, f"only {served} answered"
        answers.append(request(server, workers, path, headers))
    return answers


async def test_workers_share_cursors_and_refuse_a_revoked_key_in_time(
    engine: AsyncEngine, database_ready: str, tmp_path: Path
) -> None:
    tenant: Tenant = await make_tenant(engine, "workers")
    await seed(engine, tenant, 3)
    headers = {**tenant.headers, "Content-Type": "application/json"}
    env = {
        "APP_DATABASE_URL": database_ready,
        # No APP_CURSOR_SECRET: the workers must agree through the data folder.
        "APP_DATA_DIR": str(tmp_path / "data"),
        "APP_AUTH_CACHE_SECONDS": str(AUTH_CACHE_SECONDS),
        "APP_LOG_LEVEL": "INFO",  # shown only when the server fails to start
        # Hundreds of requests with one key: keep rate limiting (tested on its own) out.
        "APP_RATE_LIMIT_PER_MINUTE": "0",
    }
    with running_server(env, tmp_path / "server.log", workers=2) as server:
        deadline = time.monotonic() + 30
        while len(workers := worker_pids(server.pid)) != 2:
            assert time.monotonic() < deadline, f"workers: {workers}"
            await asyncio.sleep(0.1)

        issuer, status, first = await asyncio.to_thread(
            request, server, workers, f"{tenant.list_url}?limit=1", headers
        )
        assert status == 200, (first, server.log())
        cursor = first["pagination"]["next_cursor"]
        assert cursor

        followed = await asyncio.to_thread(
            until_both_served,
            server,
            workers,
            f"{tenant.list_url}?limit=1&cursor={cursor}",
            headers,
        )
        assert {status for _, status, _ in followed} == {200}
        assert len({orjson.dumps(body) for _, _, body in followed}) == 1
        assert any(pid != issuer for pid, _, _ in followed)

        # Both workers have the key cached now; revoke it and wait out the cache.
        async with engine.begin() as conn:
            await admin.revoke_api_key(conn, tenant.api_key)
        await asyncio.sleep(AUTH_CACHE_SECONDS + 0.2)
        refused = await asyncio.to_thread(
            until_both_served, server, workers, tenant.list_url, headers
        )
        assert {status for _, status, _ in refused} == {401}


async def test_workers_share_one_rate_limit(
    engine: AsyncEngine, database_ready: str, tmp_path: Path
) -> None:
    """Two worker processes draw on one bucket per key: together they allow the burst
    (plus what refills meanwhile), not one burst each."""
    tenant: Tenant = await make_tenant(engine, "limits")
    headers = {**tenant.headers, "Content-Type": "application/json"}
    burst, per_minute = 12, 6  # 0.1 token per second
    env = {
        "APP_DATABASE_URL": database_ready,
        "APP_DATA_DIR": str(tmp_path / "data"),
        "APP_RATE_LIMIT_BURST": str(burst),
        "APP_RATE_LIMIT_PER_MINUTE": str(per_minute),
    }
    with running_server(env, tmp_path / "server.log", workers=2) as server:
        deadline = time.monotonic() + 30
        while len(workers := worker_pids(server.pid)) != 2:
            assert time.monotonic() < deadline, f"workers: {workers}"
            await asyncio.sleep(0.1)
        started = time.monotonic()

        def burst_of(count: int) -> list[tuple[int, int, Any]]:
            return [request(server, workers, tenant.list_url, headers) for _ in range(count)]

        answers = await asyncio.to_thread(burst_of, 3 * burst)
        answers += await asyncio.to_thread(
            until_both_served, server, workers, tenant.list_url, headers
        )
        elapsed = time.monotonic() - started
    allowed = [pid for pid, status, _ in answers if status == 200]
    refused = [body for _, status, body in answers if status == 429]
    assert {status for _, status, _ in answers} <= {200, 429}
    assert {pid for pid, _, _ in answers} == set(workers)
    assert burst <= len(allowed) <= burst + int(elapsed * per_minute / 60)
    assert refused
    assert refused[0]["error"]["type"] == "TooManyRequestsError"
