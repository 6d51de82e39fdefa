"""What the access log + metrics middleware costs per request, in process.

Runs the same tight loop of requests through httpx's ASGI transport against two apps
that differ only in ``ObservabilityMiddleware``, alternating rounds, and prints the
median CPU time per request of each. Uses its own embedded PostgreSQL under DATA_DIR.

    .venv/bin/python bench/observability_overhead.py [DATA_DIR] 2>/dev/null

(stderr is where the JSON access lines go; send them to /dev/null as a log shipper
would take them off the process.)
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from app import admin, observability
from app.bootstrap import _copy
from app.database import create_engine, database_url
from app.main import create_app
from app.migrate import upgrade
from app.settings import Settings

ROUNDS = 20
REQUESTS = 150


def build(settings: Settings, *, observed: bool) -> FastAPI:
    app = create_app(settings)
    if not observed:
        app.user_middleware = [
            m for m in app.user_middleware if m.cls is not observability.ObservabilityMiddleware
        ]
    return app


async def tenant(settings: Settings) -> tuple[str, dict[str, str]]:
    engine = create_engine(database_url(settings), settings)
    try:
        await upgrade(engine)
        suffix = os.urandom(4).hex()
        async with engine.begin() as conn:
            org = await admin.create_organization(conn, f"bench-{suffix}")
            issued = await admin.create_api_key(conn, org, "bench")
            namespace_id = await admin.create_namespace(conn, org, f"ns-{suffix}")
            bucket_id, _ = await admin.create_bucket(conn, org, namespace_id, f"b-{suffix}")
            connection_id = await admin.create_connection(conn, org, "main", "s3")
            rows = admin.seed_rows(
                200,
                namespace_id=namespace_id,
                bucket_id=bucket_id,
                organization_id=org,
                user_id=issued.user_id,
                connection_ids=[connection_id],
                rng=random.Random(1),
            )
            await _copy(conn, rows)
    finally:
        await engine.dispose()
    headers = {"Authorization": f"Bearer {issued.api_key}", "X-Namespace": namespace_id}
    return f"/v1/buckets/{bucket_id}/syncs/list", headers


async def loop(client: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> float:
    # CPU time of this process (client + app): far less disturbed by whatever else
    # the machine runs than wall time; PostgreSQL's share is not in it.
    started = time.process_time()
    for _ in range(REQUESTS):
        response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
    return (time.process_time() - started) / REQUESTS * 1e6


async def main() -> None:
    data_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".data/bench-observability")
    settings = Settings(data_dir=data_dir, auth_cache_seconds=5, rate_limit_per_minute=0)
    list_url, headers = await tenant(settings)
    apps = {"without": build(settings, observed=False), "with": build(settings, observed=True)}
    results: dict[tuple[str, str], list[float]] = {}
    async with (
        apps["without"].router.lifespan_context(apps["without"]),
        apps["with"].router.lifespan_context(apps["with"]),
    ):
        clients = {
            name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
            for name, app in apps.items()
        }
        for client in clients.values():  # warm up: auth cache, statements, pools
            await loop(client, "POST", list_url, headers=headers, json={})
        for _ in range(ROUNDS):
            for name, client in clients.items():
                results.setdefault(("list", name), []).append(
                    await loop(client, "POST", list_url, headers=headers, json={})
                )
                results.setdefault(("health", name), []).append(
                    await loop(client, "GET", "/health")
                )
        for client in clients.values():
            await client.aclose()
    for route in ("list", "health"):
        without = statistics.median(results[(route, "without")])
        with_ = statistics.median(results[(route, "with")])
        print(
            f"{route:7} without {without:8.1f} us/req   with {with_:8.1f} us/req   "
            f"overhead {with_ - without:+7.1f} us ({(with_ / without - 1) * 100:+.1f} %)"
        )


if __name__ == "__main__":
    asyncio.run(main())
