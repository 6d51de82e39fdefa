#!/usr/bin/env python3
"""`make soak`: a steady mixed load against a local server for SOAK_SECONDS (default
600), recording per window (default a minute) the request count, statuses, p50/p99/max
latency and the server's RSS; writes bench/results/soak-latest.json.

The load is open-loop: requests are issued on a fixed schedule (SOAK_RATE per second)
whatever the latency, bounded by SOAK_CONCURRENCY requests in flight (a tick that finds
the bound reached is counted as ``late``, not queued). The mix: list 50 % (varied
filters and page sizes), create 15 %, update 20 %, delete 15 % (of rows the soak
created, so the bucket's size stays level).

Knobs (environment): SOAK_SECONDS (600), SOAK_WINDOW_SECONDS (60), SOAK_RATE (40),
SOAK_CONCURRENCY (16), SOAK_SERVER_WORKERS (1), SOAK_SEED_ROWS (5000),
SOAK_DATA_DIR (/tmp/bucket-syncs-soak: the server is reused, the database recreated),
SOAK_PORT_RANGE (18380-18389), SOAK_OUT (bench/results/soak-latest.json).

Verdicts in the JSON: ``zero_5xx`` (and no transport errors), ``p99_stable`` (the
last window's p99 within 2x the first full window's, or within 20 ms of it),
``rss_flat`` (RSS growth from the first window to the last under 10 %, or 16 MiB).
The exit status is 1 when any verdict fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from app.database import create_engine, database_url, recreate_database  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.settings import Settings  # noqa: E402


def env_number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


SECONDS = env_number("SOAK_SECONDS", 600)
WINDOW = env_number("SOAK_WINDOW_SECONDS", 60)
RATE = env_number("SOAK_RATE", 40)
CONCURRENCY = int(env_number("SOAK_CONCURRENCY", 16))
SERVER_WORKERS = int(env_number("SOAK_SERVER_WORKERS", 1))
SEED_ROWS = int(env_number("SOAK_SEED_ROWS", 5000))
DATA_DIR = Path(os.environ.get("SOAK_DATA_DIR", "/tmp/bucket-syncs-soak"))  # noqa: S108
OUT = Path(os.environ.get("SOAK_OUT", ROOT / "bench" / "results" / "soak-latest.json"))
CURSOR_SECRET = "soak-cursor-secret-" + "s" * 32
STATUSES = ["PENDING", "ACTIVE", "FAILED", "COMPLETED", "SUSPENDED"]


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Tenant:
    api_key: str
    namespace_id: str
    bucket_id: str
    connection_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Namespace": self.namespace_id}


async def prepare(url: str, settings: Settings) -> Tenant:
    """A fresh database (the server folder is reused, its data is not), one tenant."""
    from tests.conftest import make_tenant, seed

    await recreate_database(url)
    engine = create_engine(url, settings)
    try:
        await upgrade(engine)
        made = await make_tenant(engine, "soak")
        if SEED_ROWS:
            await seed(engine, made, SEED_ROWS, rng_seed=7)
    finally:
        await engine.dispose()
    return Tenant(made.api_key, made.namespace_id, made.bucket_id, made.connection_id)


@dataclass
class Window:
    index: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    late: int = 0
    rss_mib: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2)

        return {
            "window": self.index,
            "requests": len(lat),
            "rate_per_second": round(len(lat) / WINDOW, 1),
            "statuses": dict(sorted(self.statuses.items())),
            "kinds": dict(sorted(self.kinds.items())),
            "late": self.late,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(lat[-1] * 1000, 2) if lat else None,
            "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
            "rss_mib": round(self.rss_mib, 1),
        }


class Soak:
    def __init__(self, base_url: str, tenant: Tenant, server_pid: int) -> None:
        self.base_url = base_url
        self.tenant = tenant
        self.server_pid = server_pid
        self.rng = random.Random(11)
        self.created: list[str] = []
        self.existing: list[str] = []
        self.windows: list[Window] = []
        self.in_flight = 0

    def rss_mib(self) -> float:
        """Resident memory of the server: the manager and its workers."""
        try:
            root = psutil.Process(self.server_pid)
            processes = [root, *root.children(recursive=True)]
            return sum(p.memory_info().rss for p in processes) / 2**20
        except psutil.Error:
            return 0.0

    async def one(self, client: httpx.AsyncClient, window: Window) -> None:
        t = self.tenant
        base = f"/v1/buckets/{t.bucket_id}/syncs"
        roll = self.rng.random()
        started = time.perf_counter()
        try:
            if roll < 0.5 or not self.existing:
                kind = "list"
                body: dict[str, Any] = {}
                if self.rng.random() < 0.5:
                    body["status"] = self.rng.choice(STATUSES)
                if self.rng.random() < 0.3:
                    body["is_active"] = self.rng.random() < 0.5
                response = await client.post(
                    f"{base}/list",
                    headers=t.headers,
                    json=body or None,
                    params={"limit": self.rng.choice([10, 10, 25, 100])},
                )
                if response.status_code == 200 and not self.existing:
                    self.existing = [r["sync_config_id"] for r in response.json()["results"]]
            elif roll < 0.65:
                kind = "create"
                response = await client.post(
                    base,
                    headers=t.headers,
                    json={
                        "connection_id": t.connection_id,
                        "source_path": f"/soak/{self.rng.randrange(10**9)}",
                        "description": "soak",
                        "metadata": {"n": self.rng.randrange(1000)},
                    },
                )
                if response.status_code == 200:
                    self.created.append(response.json()["sync_config_id"])
            elif roll < 0.85:
                kind = "update"
                target = self.rng.choice(self.existing + self.created[-50:])
                response = await client.patch(
                    f"{base}/{target}",
                    headers=t.headers,
                    json={
                        "description": f"soak update {self.rng.randrange(10**6)}",
                        "batch_size": self.rng.randrange(1, 100),
                    },
                )
                if response.status_code == 404 and target in self.created:
                    self.created.remove(target)
            else:
                kind = "delete"
                if not self.created:
                    return
                target = self.created.pop(0)
                response = await client.delete(f"{base}/{target}", headers=t.headers)
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            kind = locals().get("kind", "unknown")
            status = type(exc).__name__
        window.latencies.append(time.perf_counter() - started)
        window.statuses[status] += 1
        window.kinds[kind] += 1

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=self.base_url, limits=limits, timeout=httpx.Timeout(30)
        ) as client:
            interval = 1 / RATE
            start = time.perf_counter()
            tasks: set[asyncio.Task[None]] = set()
            window = Window(0)
            self.windows.append(window)
            tick = 0
            while True:
                now = time.perf_counter() - start
                if now >= SECONDS:
                    break
                index = int(now // WINDOW)
                if index != window.index:
                    window.rss_mib = self.rss_mib()
                    log(json.dumps(window.summary()))
                    window = Window(index)
                    self.windows.append(window)
                if len(tasks) >= CONCURRENCY:
                    window.late += 1
                else:
                    task = asyncio.create_task(self.one(client, window))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                tick += 1
                delay = start + tick * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if tasks:
                await asyncio.gather(*tasks)
            window.rss_mib = self.rss_mib()
            log(json.dumps(window.summary()))


def verdicts(windows: list[dict[str, Any]]) -> dict[str, Any]:
    full = [w for w in windows if w["requests"]]
    statuses: Counter[str] = Counter()
    for w in full:
        statuses.update(w["statuses"])
    server_errors = sum(n for s, n in statuses.items() if not s.isdigit() or int(s) >= 500)
    first, last = full[0], full[-1]
    p99_first, p99_last = first["p99_ms"] or 0.0, last["p99_ms"] or 0.0
    rss_first, rss_last = first["rss_mib"], last["rss_mib"]
    rss_growth = rss_last - rss_first
    return {
        "zero_5xx": server_errors == 0,
        "server_errors_or_transport_failures": server_errors,
        "p99_stable": p99_last <= max(2 * p99_first, p99_first + 20),
        "p99_first_last_ms": [p99_first, p99_last],
        "rss_flat": rss_growth <= max(0.10 * rss_first, 16.0),
        "rss_first_last_mib": [rss_first, rss_last],
        "rss_growth_mib": round(rss_growth, 1),
        "statuses": dict(sorted(statuses.items())),
    }


def main() -> int:
    from tests.servers import running_server

    os.environ.setdefault("TEST_PORT_RANGE", os.environ.get("SOAK_PORT_RANGE", "18380-18389"))
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        data_dir=DATA_DIR, database_name="bucket_syncs_soak", cursor_secret=CURSOR_SECRET
    )
    log(f"database under {DATA_DIR}")
    url = database_url(settings)
    tenant = asyncio.run(prepare(url, settings))
    env = {
        "APP_DATABASE_URL": url,
        "APP_DATA_DIR": str(DATA_DIR / "app"),
        "APP_CURSOR_SECRET": CURSOR_SECRET,
        "APP_LOG_FORMAT": "text",
    }
    log(f"{SECONDS:.0f} s at {RATE:g}/s, <= {CONCURRENCY} in flight, {SERVER_WORKERS} worker(s)")
    with running_server(env, DATA_DIR / "server.log", workers=SERVER_WORKERS) as server:
        soak = Soak(server.base_url, tenant, server.pid)
        asyncio.run(soak.run())
    windows = [w.summary() for w in soak.windows]
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "config": {
            "seconds": SECONDS,
            "window_seconds": WINDOW,
            "rate_per_second": RATE,
            "concurrency": CONCURRENCY,
            "server_workers": SERVER_WORKERS,
            "seed_rows": SEED_ROWS,
            "mix": {"list": 0.5, "create": 0.15, "update": 0.2, "delete": 0.15},
        },
        "windows": windows,
        "verdicts": verdicts(windows),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    log(f"verdicts: {json.dumps(result['verdicts'])}")
    log(f"wrote {OUT}")
    checks = result["verdicts"]
    return 0 if checks["zero_5xx"] and checks["p99_stable"] and checks["rss_flat"] else 1


if __name__ == "__main__":
    sys.exit(main())
