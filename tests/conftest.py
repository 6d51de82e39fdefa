"""One embedded PostgreSQL and one migrated database for the run; the app is driven
through real HTTP semantics with httpx's ASGI transport.

Isolation: every test that touches data makes its own organization, key, namespace
and bucket (``tenant``), so tests assert exact results without sharing rows and
without truncating anything."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app import admin
from app.bootstrap import _copy
from app.database import create_engine, database_url, recreate_database
from app.main import create_app
from app.migrate import upgrade
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE = "bucket_syncs_test"


@pytest.fixture(scope="session")
def settings() -> Settings:
    data_dir = Path(os.environ.get("TEST_DATA_DIR", ROOT / ".data" / "test"))
    return Settings(
        data_dir=data_dir,
        database_name=TEST_DATABASE,
        database_url=os.environ.get("TEST_DATABASE_URL") or None,
        cursor_secret="test-secret-" + "x" * 32,
        auth_cache_seconds=0,
    )


@pytest.fixture(scope="session")
async def database_ready(settings: Settings) -> str:
    """A fresh database, migrated to head once per run (this also runs the migrations)."""
    url = database_url(settings)
    await recreate_database(url)
    engine = create_engine(url, settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
async def engine(database_ready: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_ready, settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app(database_ready: str, settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Tenant:
    organization_id: str
    api_key: str
    user_id: str
    namespace_id: str
    namespace_name: str
    bucket_id: str
    bucket_name: str
    connection_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Namespace": self.namespace_id}

    @property
    def list_url(self) -> str:
        return f"/v1/buckets/{self.bucket_id}/syncs/list"

    @property
    def syncs_url(self) -> str:
        return f"/v1/buckets/{self.bucket_id}/syncs"


async def make_tenant(engine: AsyncEngine, label: str = "t") -> Tenant:
    suffix = os.urandom(4).hex()
    async with engine.begin() as conn:
        organization_id = await admin.create_organization(conn, f"org-{label}-{suffix}")
        issued = await admin.create_api_key(conn, organization_id, "test")
        namespace_name = f"ns-{label}-{suffix}"
        namespace_id = await admin.create_namespace(conn, organization_id, namespace_name)
        bucket_name = f"bucket-{label}-{suffix}"
        bucket_id, _ = await admin.create_bucket(conn, organization_id, namespace_id, bucket_name)
        connection_id = await admin.create_connection(conn, organization_id, "main", "s3")
    return Tenant(
        organization_id,
        issued.api_key,
        issued.user_id,
        namespace_id,
        namespace_name,
        bucket_id,
        bucket_name,
        connection_id,
    )


@pytest.fixture
async def tenant(engine: AsyncEngine) -> Tenant:
    return await make_tenant(engine)


async def seed(
    engine: AsyncEngine,
    tenant: Tenant,
    count: int,
    *,
    connection_ids: list[str] | None = None,
    rng_seed: int = 1,
) -> list[tuple[Any, ...]]:
    """Insert ``count`` varied rows into the tenant's bucket; returns them newest first."""
    rows = admin.seed_rows(
        count,
        namespace_id=tenant.namespace_id,
        bucket_id=tenant.bucket_id,
        organization_id=tenant.organization_id,
        user_id=tenant.user_id,
        connection_ids=connection_ids or [tenant.connection_id],
        rng=random.Random(rng_seed),
    )
    async with engine.begin() as conn:
        await _copy(conn, rows)
    return rows


def column(name: str) -> int:
    return admin.SEED_COLUMNS.index(name)


def expected_order(rows: list[tuple[Any, ...]]) -> list[str]:
    """Ids in list order: created_at DESC, sync_config_id DESC."""
    created, ident = column("created_at"), column("sync_config_id")
    ordered = sorted(rows, key=lambda r: (r[created], r[ident]), reverse=True)
    return [r[ident] for r in ordered]
