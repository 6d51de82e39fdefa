#!/usr/bin/env python3
"""`make bench`: the list endpoint against its ceilings and two peers, on one machine.

One run: start an embedded PostgreSQL (reusing a seeded data folder when its
version marker matches), seed it if needed, start each server under test on
127.0.0.1, drive it with the same bounded wrk load, print one table and write
bench/results/latest.json. See bench/README.md.

Knobs (environment): BENCH_DATA_DIR (/tmp/bench-data), BENCH_TENANTS (1000),
BENCH_ROWS (1000 per tenant), BENCH_HOT_ROWS (100000), BENCH_DURATION (8 s per
wrk run), BENCH_THREADS (2), BENCH_CONNECTIONS (32), BENCH_RSS_REQUESTS (100000),
BENCH_PORT (18000, first of the ports used), BENCH_SERVERS (comma list, default
all), BENCH_OUT (bench/results/latest.json).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import importlib.util
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

DATA_VERSION = 1  # bump when the seeded data or the schema changes
CURSOR_SECRET = "bench-cursor-secret-" + "0" * 32
HOT_BODY = '{"status": "ACTIVE", "is_active": true}'


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR", "/tmp/bench-data"))  # noqa: S108
TENANTS = env_int("BENCH_TENANTS", 1000)
ROWS = env_int("BENCH_ROWS", 1000)
HOT_ROWS = env_int("BENCH_HOT_ROWS", 100_000)
DURATION = env_int("BENCH_DURATION", 8)
THREADS = env_int("BENCH_THREADS", 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 32)
RSS_REQUESTS = env_int("BENCH_RSS_REQUESTS", 100_000)
PORT = env_int("BENCH_PORT", 18000)
FULL = not os.environ.get("BENCH_SERVERS") and (TENANTS, ROWS, HOT_ROWS) == (1000, 1000, 100_000)
# Only a full run replaces the committed results; others go to partial.json (ignored).
OUT = Path(
    os.environ.get("BENCH_OUT", BENCH / "results" / ("latest.json" if FULL else "partial.json"))
)
LOGS = DATA_DIR / "logs"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- tools ---------------------------------------------------------------------------


def ensure_tools() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        log("wrk missing: apt-get install wrk")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        wrk = shutil.which("wrk")
        assert wrk is not None, "apt-get installed no wrk"
    needed = ("django", "rest_framework", "django_filters", "psycopg", "gunicorn")
    if any(importlib.util.find_spec(name) is None for name in needed):
        log("installing the bench extra (pip install -e '.[bench]')")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[bench]"],
            check=True,
        )
    return wrk


# --- data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    api_key: str
    namespace_id: str
    bucket_id: str

    def line(self) -> str:
        return f"{self.api_key}\t{self.namespace_id}\t{self.bucket_id}\n"


@dataclass
class Data:
    url: str  # postgresql+asyncpg://postgres:@/DB?host=SOCKETDIR
    socket_dir: str
    port: int
    database: str
    tenants: list[Tenant]
    hot: Tenant
    tenants_file: Path
    hot_file: Path
    seed_seconds: float | None


def marker() -> dict[str, Any]:
    return {"version": DATA_VERSION, "tenants": TENANTS, "rows": ROWS, "hot_rows": HOT_ROWS}


def prepare_data() -> Data:
    from app.database import database_url, driver_connect_kwargs
    from app.settings import Settings

    settings = Settings(
        data_dir=DATA_DIR / "app", database_name="bench", cursor_secret=CURSOR_SECRET
    )
    url = database_url(settings)  # starts the embedded server; this process owns it
    connect = driver_connect_kwargs(url)
    marker_file, tenants_file = DATA_DIR / "seeded.json", DATA_DIR / "tenants.tsv"
    hot_file = DATA_DIR / "hot.tsv"
    seconds = None
    expected = marker()
    stored = json.loads(marker_file.read_text()) if marker_file.exists() else None
    if stored != expected or not asyncio.run(_looks_seeded(connect)):
        log(f"seeding {TENANTS} tenants x {ROWS} rows + one bucket of {HOT_ROWS} ...")
        marker_file.unlink(missing_ok=True)
        started = time.perf_counter()
        tenants, hot = asyncio.run(_seed(url, settings, connect))
        seconds = round(time.perf_counter() - started, 1)
        tenants_file.write_text("".join(t.line() for t in tenants))
        hot_file.write_text(hot.line())
        marker_file.write_text(json.dumps(expected))
        log(f"seeded in {seconds} s")
    else:
        log(f"reusing seeded data in {DATA_DIR} (marker {expected}); migrating to head")
        asyncio.run(_migrate(url, settings))

    def read(path: Path) -> list[Tenant]:
        return [Tenant(*line.split("\t")) for line in path.read_text().splitlines()]

    return Data(
        url=url,
        socket_dir=connect["host"],
        port=int(connect["port"] or 5432),
        database=connect["database"],
        tenants=read(tenants_file),
        hot=read(hot_file)[0],
        tenants_file=tenants_file,
        hot_file=hot_file,
        seed_seconds=seconds,
    )


async def _migrate(url: str, settings: Any) -> None:
    from app.database import create_engine
    from app.migrate import upgrade

    engine = create_engine(url, settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _looks_seeded(connect: dict[str, Any]) -> bool:
    import asyncpg

    conn = await asyncpg.connect(**connect)
    try:
        found = await conn.fetchval("SELECT to_regclass('organizations') IS NOT NULL")
        if not found:
            return False
        orgs = await conn.fetchval("SELECT count(*) FROM organizations")
        return bool(orgs == TENANTS + 1)
    finally:
        await conn.close()


async def _seed(url: str, settings: Any, connect: dict[str, Any]) -> tuple[list[Tenant], Tenant]:
    import asyncpg

    from app import admin
    from app.database import create_engine, recreate_database
    from app.migrate import upgrade

    await recreate_database(url)
    engine = create_engine(url, settings)
    rng = random.Random(20261204)
    try:
        await upgrade(engine)
        made: list[tuple[Tenant, str, str, list[str]]] = []  # tenant, org, user, connections
        async with engine.begin() as conn:
            for i in range(TENANTS + 1):
                hot = i == TENANTS
                org = await admin.create_organization(conn, "bench-hot" if hot else f"bench-{i}")
                issued = await admin.create_api_key(conn, org, "bench")
                namespace_id = await admin.create_namespace(conn, org, "main")
                bucket_id, _ = await admin.create_bucket(conn, org, namespace_id, "main")
                connection_ids = [
                    await admin.create_connection(conn, org, f"conn-{n}", "s3")
                    for n in range(4 if hot else 1)
                ]
                made.append(
                    (Tenant(issued.api_key, namespace_id, bucket_id), org, issued.user_id,
                     connection_ids)
                )  # fmt: skip
        log(f"directory: {len(made)} organizations, keys, namespaces, buckets")
        driver = await asyncpg.connect(**connect)
        try:
            pending: list[tuple[Any, ...]] = []
            copied = 0
            for tenant, org, user, connection_ids in made:
                hot = tenant is made[-1][0]
                count = HOT_ROWS if hot else ROWS
                while count > 0:
                    step = min(count, 20_000)
                    pending += admin.seed_rows(
                        step,
                        namespace_id=tenant.namespace_id,
                        bucket_id=tenant.bucket_id,
                        organization_id=org,
                        user_id=user,
                        connection_ids=connection_ids,
                        rng=rng,
                    )
                    count -= step
                    if len(pending) >= 20_000:
                        await admin.copy_sync_rows(driver, pending)
                        copied += len(pending)
                        pending = []
                        if copied % 200_000 == 0:
                            log(f"  {copied} rows")
            await admin.copy_sync_rows(driver, pending)
            log("VACUUM ANALYZE")
            await driver.execute("VACUUM ANALYZE")
            await driver.execute("CHECKPOINT")
        finally:
            await driver.close()
    finally:
        await engine.dispose()
    return [m[0] for m in made[:-1]], made[-1][0]


# --- servers -------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    title: str
    argv: list[str]
    env: dict[str, str]
    port: int
    workers: int = 1
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{self.name}.log"
        handle = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        handle.close()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the server itself with one worker, else
        its children."""
        assert self.process is not None
        if self.workers == 1 and not self.argv[0].endswith("gunicorn"):
            return [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()]


def uvicorn(target: str, port: int, workers: int = 1, factory: bool = False) -> list[str]:
    argv = [str(BIN / "uvicorn"), target, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)] if workers > 1 else []
    argv += ["--factory"] if factory else []
    # The same production settings for every ASGI server: uvloop, httptools, no access log.
    return [*argv, "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            "--log-level", "warning"]  # fmt: skip


def servers(data: Data, body_file: Path) -> list[Server]:
    service_env = {
        "APP_DATABASE_URL": data.url,
        "APP_CURSOR_SECRET": CURSOR_SECRET,
        "APP_DATA_DIR": str(DATA_DIR / "app"),
        # Everything else as shipped (access log included), except the per-key rate
        # limit: scenario (b) sends every request with one key. The limiter still runs
        # (and leases tokens), it just never says no.
        "APP_RATE_LIMIT_PER_MINUTE": "10000000",
        "APP_RATE_LIMIT_BURST": "10000000",
        # Experiments: BENCH_SERVICE_ENV="APP_POOL_SIZE=32 APP_LOG_LEVEL=WARNING"
        **dict(pair.split("=", 1) for pair in os.environ.get("BENCH_SERVICE_ENV", "").split()),
    }
    peer_env = {
        "BENCH_PG_HOST": data.socket_dir,
        "BENCH_PG_PORT": str(data.port),
        "BENCH_PG_DB": data.database,
        "BENCH_DATABASE_URL": data.url,
        "BENCH_BODY_FILE": str(body_file),
        "PYTHONPATH": str(ROOT),
    }
    gunicorn = [
        str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{PORT + 13}", "--workers", "1",
        "--worker-class", "gthread", "--threads", "8", "--log-level", "warning",
        "bench.peers.peer_drf:application",
    ]  # fmt: skip
    return [
        Server(
            "service",
            "service, 1 worker",
            uvicorn("app.main:create_app", PORT + 1, factory=True),
            service_env,
            PORT + 1,
        ),
        Server(
            "service_2w",
            "service, 2 workers",
            uvicorn("app.main:create_app", PORT + 2, 2, factory=True),
            service_env,
            PORT + 2,
            workers=2,
        ),
        Server(
            "ceiling_a",
            "ceiling A: constant bytes",
            uvicorn("bench.peers.ceiling_a:app", PORT + 10),
            peer_env,
            PORT + 10,
        ),
        Server(
            "ceiling_a_fastapi",
            "ceiling A in a FastAPI route",
            uvicorn("bench.peers.ceiling_a_fastapi:app", PORT + 14),
            peer_env,
            PORT + 14,
        ),
        Server(
            "ceiling_b",
            "ceiling B: asyncpg+orjson",
            uvicorn("bench.peers.ceiling_b:app", PORT + 11),
            peer_env,
            PORT + 11,
        ),
        Server(
            "peer_orm",
            "peer 1: FastAPI+ORM",
            uvicorn("bench.peers.peer_orm:app", PORT + 12),
            peer_env,
            PORT + 12,
        ),
        Server("peer_drf", "peer 2: DRF+gunicorn", gunicorn, peer_env, PORT + 13),
    ]


def post_list(
    base: str,
    tenant: Tenant,
    body: str = "{}",
    query: str = "limit=10",
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    own = conn is None
    if conn is None:
        parts = urlsplit(base)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(
            "POST",
            f"/v1/buckets/{tenant.bucket_id}/syncs/list?{query}",
            body=body.encode(),
            headers={
                "Authorization": f"Bearer {tenant.api_key}",
                "X-Namespace": tenant.namespace_id,
                "Content-Type": "application/json",
            },
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


def wait_ready(server: Server, tenant: Tenant, timeout: float = 60) -> None:
    """Until the server answers a list request with 200; a server that answers with
    anything else for 5 s has failed."""
    deadline, answered_at = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log_path}")
        try:
            status, payload = post_list(server.base, tenant)
        except OSError:
            time.sleep(0.2)
            continue
        if status == 200:
            return
        answered_at = answered_at or time.monotonic()
        if time.monotonic() - answered_at > 5:
            raise RuntimeError(f"{server.name} answers {status}: {payload[:300]!r}")
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout} s; see {server.log_path}")


# --- load ----------------------------------------------------------------------------


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def tree_cpu_seconds(root: int) -> float:
    """CPU time of ``root``, its live children, and its children that exited."""
    fields = _stat(root)
    if not fields:
        return 0.0
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat(int(entry.name))
            if child and child[1] == str(root):
                total += int(child[11]) + int(child[12])
    return total / _TICKS


def postmaster_pid() -> int | None:
    pid_file = DATA_DIR / "app" / "pg" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def wrk_run(
    wrk: str,
    server: Server,
    tenants_file: Path,
    *,
    body: str = "{}",
    query: str = "limit=10",
    duration: int = DURATION,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
) -> dict[str, Any]:
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s"]
    argv += ["-s", str(BENCH / "lua" / "list.lua"), server.base, "--"]
    argv += [str(tenants_file), body, query]
    assert server.process is not None
    postmaster = postmaster_pid()
    server_cpu = tree_cpu_seconds(server.process.pid)
    pg_cpu = tree_cpu_seconds(postmaster) if postmaster else 0.0
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    server_cpu = tree_cpu_seconds(server.process.pid) - server_cpu
    pg_cpu = (tree_cpu_seconds(postmaster) if postmaster else 0.0) - pg_cpu
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return {
        "rps": round(raw["requests"] / seconds, 1),
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "errors": errors,
        "non_2xx": raw["errors_status"],
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "bytes_per_response": round(raw["bytes"] / max(raw["requests"], 1)),
        # CPU per request: the server's processes, and every PostgreSQL process.
        "server_cpu_ms": round(1000 * server_cpu / max(raw["requests"], 1), 3),
        "pg_cpu_ms": round(1000 * pg_cpu / max(raw["requests"], 1), 3),
        "threads": threads,
        "connections": connections,
    }


def rss_kib(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0])
    return values


def rss_run(wrk: str, server: Server, data: Data, rps_estimate: float) -> dict[str, Any]:
    """RSS of the worker before, during (peak) and after RSS_REQUESTS requests of
    scenario (a), driven as consecutive wrk runs (wrk bounds time, not requests)."""
    pid = server.worker_pids()[0]
    before = rss_kib(pid)["VmRSS"]
    samples: list[int] = [before]
    served: list[dict[str, Any]] = []

    def drive() -> None:
        done = 0
        while done < RSS_REQUESTS:
            seconds = min(max(int((RSS_REQUESTS - done) / max(rps_estimate, 1)) + 1, 2), 30)
            run = wrk_run(wrk, server, data.tenants_file, duration=seconds)
            served.append(run)
            done += run["requests"]

    runner = threading.Thread(target=drive)
    runner.start()
    while runner.is_alive():
        samples.append(rss_kib(pid)["VmRSS"])
        runner.join(0.5)
    after = rss_kib(pid)
    requests = sum(r["requests"] for r in served)
    seconds = sum(r["seconds"] for r in served)
    return {
        "pid": pid,
        "requests": requests,
        "rps": round(requests / seconds, 1) if seconds else None,
        "errors": sum(r["errors"] for r in served),
        "before_mib": round(before / 1024, 1),
        "after_mib": round(after["VmRSS"] / 1024, 1),
        "peak_sampled_mib": round(max(samples) / 1024, 1),
        "peak_hwm_mib": round(after["VmHWM"] / 1024, 1),
        "drift_pct": round(100 * (after["VmRSS"] - before) / before, 1),
        "samples": len(samples),
    }


def timed(
    base: str, tenant: Tenant, query: str, rounds: int, body: str = "{}"
) -> tuple[list[float], bytes]:
    """Client-side latency (ms) of ``rounds`` sequential requests on one keep-alive
    connection."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    times: list[float] = []
    payload = b""
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            status, payload = post_list(base, tenant, body, query, conn)
            times.append((time.perf_counter() - started) * 1000)
            assert status == 200, payload[:300]
    finally:
        conn.close()
    return times, payload


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def cursor_walk(
    server: Server, hot: Tenant, pages: int = 1000, rounds: int = 100
) -> dict[str, Any]:
    """Follow next_cursor from page 1 to page ``pages`` of the hot bucket, then time
    page 1 and page ``pages`` alternately."""
    parts = urlsplit(server.base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    query, walk_started = "limit=10", time.perf_counter()
    try:
        for _ in range(pages - 1):
            status, payload = post_list(server.base, hot, "{}", query, conn)
            assert status == 200, payload[:300]
            cursor = json.loads(payload)["pagination"]["next_cursor"]
            query = f"limit=10&cursor={cursor}"
    finally:
        conn.close()
    walk_seconds = time.perf_counter() - walk_started
    first_times, last_times = [], []
    for _ in range(rounds // 10):
        first_times += timed(server.base, hot, "limit=10", 10)[0]
        last_times += timed(server.base, hot, query, 10)[0]
    _, last_payload = timed(server.base, hot, query, 1)
    shown = json.loads(last_payload)["results"]
    first, last = summary(first_times), summary(last_times)
    return {
        "pages_walked": pages,
        "walk_seconds": round(walk_seconds, 2),
        "page_1": first,
        f"page_{pages}": last,
        "page_last_first_id": shown[0]["sync_config_id"] if shown else None,
        "ratio_p50": round(last["p50_ms"] / first["p50_ms"], 2),
    }


def offset_compare(server: Server, hot: Tenant, rounds: int = 100) -> dict[str, Any]:
    a, b = [], []
    for _ in range(rounds // 10):
        a += timed(server.base, hot, "limit=10&offset=0", 10)[0]
        b += timed(server.base, hot, "limit=10&offset=9990", 10)[0]
    first, deep = summary(a), summary(b)
    return {
        "offset_0": first,
        "offset_9990": deep,
        "ratio_p50": round(deep["p50_ms"] / first["p50_ms"], 2),
    }


# --- database-side timings and EXPLAIN -------------------------------------------------


def list_values(data: Data, shape: tuple[bool, bool, bool]) -> dict[str, Any]:
    from app.ids import hash_api_key

    return {
        "key_hash": hash_api_key(data.hot.api_key),
        "namespace_id": data.hot.namespace_id,
        "bucket_id": data.hot.bucket_id,
        "connection_id": None,
        "status": "ACTIVE" if shape[1] else None,
        "is_active": True if shape[2] else None,
        "fetch": 11,
        "limit": 10,
        "offset": 0,
    }


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "'\\x" + value.hex() + "'::bytea"
    return "'" + str(value).replace("'", "''") + "'"


async def database_side(data: Data, explain: bool) -> dict[str, Any]:
    """The hot-bucket filtered list statement timed in PostgreSQL alone, and its plan."""
    import asyncpg

    from app.database import create_engine, driver_connect_kwargs
    from app.repository import Statements
    from app.settings import Settings

    engine = create_engine(data.url, Settings(database_url=data.url))
    statements = Statements(engine.dialect)
    await engine.dispose()
    shape = (False, True, True)
    compiled = statements.list(shape, False)
    args = compiled.args(list_values(data, shape))
    conn = await asyncpg.connect(**driver_connect_kwargs(data.url))
    try:
        statement = await conn.prepare(compiled.sql)
        times = []
        for _ in range(60):
            started = time.perf_counter()
            row = await statement.fetchrow(*args)
            times.append((time.perf_counter() - started) * 1000)
        total = row[1] if row is not None else None  # (key_live, total, ...)
        explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
        custom = "\n".join(r[0] for r in await conn.fetch(explain + compiled.sql, *args))
        # The service's driver keeps statements prepared, so PostgreSQL may switch to a
        # generic plan after five runs: show that one too.
        await conn.execute("PREPARE bench_list AS " + compiled.sql)
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        literals = ", ".join(_literal(a) for a in args)
        generic = "\n".join(
            r[0] for r in await conn.fetch(f"{explain}EXECUTE bench_list({literals})")
        )
    finally:
        await conn.close()
    plan = f"-- custom plan (this request's values)\n{custom}\n\n-- generic plan\n{generic}"
    result: dict[str, Any] = {
        "statement_ms": summary(times[10:]),
        "filtered_total": total,
        "index_only_scans": plan.count("Index Only Scan"),  # both plans
        "heap_fetches": [int(x.split()[0]) for x in plan.split("Heap Fetches: ")[1:]],
        "seq_scans": plan.count("Seq Scan"),
    }
    if explain:
        result["plan"] = plan
        result["sql"] = compiled.sql
        result["args"] = [str(a) for a in args]
    return result


# --- the run -------------------------------------------------------------------------


def main() -> int:
    only = {s for s in os.environ.get("BENCH_SERVERS", "").split(",") if s}
    started = time.perf_counter()
    wrk = ensure_tools()
    data = prepare_data()
    log(f"database ready: {data.url}")
    body_file = DATA_DIR / "response.json"

    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "wrk": f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s",
        },
        "data": {
            "tenants": len(data.tenants),
            "rows_per_tenant": ROWS,
            "hot_rows": HOT_ROWS,
            "seed_seconds": data.seed_seconds,
        },
        "servers": {},
    }
    db = asyncio.run(database_side(data, explain=True))
    results["database"] = {k: v for k, v in db.items() if k not in {"plan", "sql", "args"}}
    (DATA_DIR / "explain.txt").write_text(f"-- args: {db['args']}\n{db['sql']}\n\n{db['plan']}\n")
    log(f"hot filtered list statement in PostgreSQL: {db['statement_ms']}")

    for server in servers(data, body_file):
        if only and server.name not in only:
            continue
        log(f"start {server.title} on {server.base}")
        if server.name.startswith("ceiling_a") and not body_file.exists():
            log("ceiling A needs the service's response bytes: run the service first")
            continue
        server.start()
        outcome: dict[str, Any] = {"title": server.title}
        try:
            wait_ready(server, data.tenants[0])
            status, sample = post_list(server.base, data.tenants[0])
            assert status == 200, sample[:300]
            outcome["sample_bytes"] = len(sample)
            if server.name == "service":
                body_file.write_bytes(sample)
            wrk_run(wrk, server, data.tenants_file, duration=2)  # warm-up, discarded
            outcome["a"] = wrk_run(wrk, server, data.tenants_file)
            log(f"  (a) {outcome['a']['rps']} req/s p99 {outcome['a']['p99_ms']} ms")
            if not server.name.startswith("ceiling_a"):
                outcome["b"] = wrk_run(wrk, server, data.hot_file, body=HOT_BODY)
                log(f"  (b) {outcome['b']['rps']} req/s p99 {outcome['b']['p99_ms']} ms")
            if server.name == "service":
                outcome["b_serial"] = wrk_run(
                    wrk, server, data.hot_file, body=HOT_BODY, threads=1, connections=1,
                    duration=max(DURATION // 2, 3),
                )  # fmt: skip
                log(f"  (b) one connection: p50 {outcome['b_serial']['p50_ms']} ms")
                outcome["c"] = cursor_walk(server, data.hot)
                log(f"  (c) cursor page 1 vs 1000: {outcome['c']['ratio_p50']}x")
                outcome["d"] = offset_compare(server, data.hot)
                log(f"  (d) offset 0 vs 9990: {outcome['d']['ratio_p50']}x")
                if RSS_REQUESTS > 0:
                    outcome["rss"] = rss_run(wrk, server, data, outcome["a"]["rps"])
                    log(f"  RSS: {outcome['rss']}")
            outcome["worker_rss_mib"] = [
                round(rss_kib(pid)["VmRSS"] / 1024, 1) for pid in server.worker_pids()
            ]
        except Exception as error:  # keep going: one broken server must not hide the others
            log(f"  {server.name} failed: {error!r}")
            outcome["error"] = repr(error)
        finally:
            server.stop()
        results["servers"][server.name] = outcome

    results["ratios"], results["targets"] = ratios(results)
    results["seconds"] = round(time.perf_counter() - started, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    log(f"wrote {OUT.relative_to(ROOT) if OUT.is_relative_to(ROOT) else OUT}; "
        f"EXPLAIN in {DATA_DIR / 'explain.txt'}; {results['seconds']} s in all")  # fmt: skip
    return 0


def _get(results: dict[str, Any], server: str, *path: str) -> Any:
    value: Any = results["servers"].get(server)
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def ratios(results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    out: dict[str, Any] = {}
    for scenario in ("a", "b"):
        mine = _get(results, "service", scenario, "rps")
        refs = ("service_2w", "ceiling_a", "ceiling_a_fastapi", "ceiling_b", "peer_orm", "peer_drf")
        for ref in refs:
            theirs = _get(results, ref, scenario, "rps")
            if mine and theirs:
                out[f"{scenario}: service / {ref}"] = round(mine / theirs, 2)
    t: dict[str, Any] = {}

    def target(name: str, value: Any, ok: bool | None) -> None:
        t[name] = {"value": value, "met": ok}

    def at_least(key: str, bound: float) -> None:
        value = out.get(key)
        target(f"{key} >= {bound}", value, None if value is None else value >= bound)

    at_least("a: service / ceiling_b", 1.0)
    at_least("a: service / ceiling_a", 0.25)
    at_least("a: service / peer_orm", 5.0)
    at_least("a: service / peer_drf", 5.0)
    mine, theirs = (
        _get(results, "service", "a", "p99_ms"),
        _get(results, "ceiling_b", "a", "p99_ms"),
    )
    target("a: service p99 <= ceiling_b p99 (ms)", [mine, theirs],
           None if mine is None or theirs is None else mine <= theirs)  # fmt: skip
    p50 = _get(results, "service", "b_serial", "p50_ms")
    target("b: hot filtered p50 <= 10 ms (one connection)", p50, None if p50 is None else p50 <= 10)
    scans = results.get("database", {}).get("index_only_scans")
    target("b: EXPLAIN shows index-only scans", scans, None if scans is None else scans > 0)
    ratio = _get(results, "service", "c", "ratio_p50")
    target("c: cursor page 1000 <= 1.5x page 1", ratio, None if ratio is None else ratio <= 1.5)
    drift = _get(results, "service", "rss", "drift_pct")
    target("RSS within +-10% over the run", drift, None if drift is None else abs(drift) <= 10)
    return out, t


def table(results: dict[str, Any]) -> str:
    lines = [
        "",
        f"{'server':<28} {'(a) req/s':>9} {'p50 ms':>7} {'p99 ms':>8} {'bytes':>6}"
        f" {'cpu srv':>7} {'cpu pg':>6} {'(b) req/s':>9} {'p50 ms':>7} {'p99 ms':>8}"
        f" {'err':>4} {'svc/x (a)':>9}",
    ]
    mine = _get(results, "service", "a", "rps")
    for outcome in results["servers"].values():
        a, b = outcome.get("a") or {}, outcome.get("b") or {}
        ratio = f"{mine / a['rps']:.2f}" if mine and a.get("rps") else "-"
        errors = a.get("errors", 0) + b.get("errors", 0)
        lines.append(
            f"{outcome['title']:<28} {a.get('rps', '-'):>9} {a.get('p50_ms', '-'):>7}"
            f" {a.get('p99_ms', '-'):>8} {a.get('bytes_per_response', '-'):>6}"
            f" {a.get('server_cpu_ms', '-'):>7} {a.get('pg_cpu_ms', '-'):>6}"
            f" {b.get('rps', '-'):>9} {b.get('p50_ms', '-'):>7} {b.get('p99_ms', '-'):>8}"
            f" {errors:>4} {ratio:>9}"
            + (f"  ERROR {outcome['error']}" if "error" in outcome else "")
        )
    lines.append(
        "(cpu srv / cpu pg: CPU ms per request of (a) in the server's processes / in PostgreSQL)"
    )
    service = results["servers"].get("service", {})
    if "b_serial" in service:
        s = service["b_serial"]
        db = results.get("database", {}).get("statement_ms", {})
        lines.append(
            f"\n(b) hot bucket, status+is_active, one connection: p50 {s['p50_ms']} ms, "
            f"p99 {s['p99_ms']} ms; the statement alone in PostgreSQL: p50 {db.get('p50_ms')} ms"
        )
    if "c" in service:
        c = service["c"]
        lines.append(
            f"(c) cursor walk, hot bucket: page 1 p50 {c['page_1']['p50_ms']} ms, "
            f"page 1000 p50 {c['page_1000']['p50_ms']} ms ({c['ratio_p50']}x)"
        )
    if "d" in service:
        d = service["d"]
        lines.append(
            f"(d) offset 0 p50 {d['offset_0']['p50_ms']} ms, offset 9990 p50 "
            f"{d['offset_9990']['p50_ms']} ms ({d['ratio_p50']}x)"
        )
    if "rss" in service:
        r = service["rss"]
        lines.append(
            f"RSS over {r['requests']} requests: {r['before_mib']} -> {r['after_mib']} MiB "
            f"({r['drift_pct']:+} %), peak {r['peak_hwm_mib']} MiB"
        )
    lines.append("\nratios: " + ", ".join(f"{k} {v}" for k, v in results["ratios"].items()))
    lines.append("targets:")
    for name, target in results["targets"].items():
        mark = {True: "ok  ", False: "MISS", None: "n/a "}[target["met"]]
        lines.append(f"  [{mark}] {name}: {target['value']}")
    return "\n".join(lines)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
