"""SQL round trips per list request, counted on the driver connection.

The read path runs on the pooled asyncpg connection (``Database.read()``), so
SQLAlchemy's events never see those statements: every new connection of the
app's pool gets an asyncpg query logger instead, which sees each statement the
driver sends. With the tenancy cache warm a list request is exactly one
statement; with it cold, exactly two (tenancy, then the list)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.conftest import Tenant, make_tenant, seed


@dataclass
class Counted:
    app: FastAPI
    client: httpx.AsyncClient
    statements: list[str] = field(default_factory=list)

    async def post(self, tenant: Tenant, **kwargs: Any) -> httpx.Response:
        response = await self.client.post(tenant.list_url, headers=tenant.headers, **kwargs)
        assert response.status_code == 200, response.text
        return response

    async def count(self, tenant: Tenant, **kwargs: Any) -> list[str]:
        """The statements one list request sends."""
        self.statements.clear()
        await self.post(tenant, **kwargs)
        return [" ".join(s.split()) for s in self.statements]


@pytest.fixture
async def counted(database_ready: str, settings: Settings) -> AsyncIterator[Counted]:
    app = create_app(settings.model_copy(update={"auth_cache_seconds": 60}))
    async with app.router.lifespan_context(app):
        engine: AsyncEngine = app.state.database.engine
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            counted = Counted(app, c)

            def log_queries(dbapi_connection: Any, _record: Any) -> None:
                driver = dbapi_connection.driver_connection
                driver.add_query_logger(lambda query: counted.statements.append(query.query))

            event.listen(engine.sync_engine, "connect", log_queries)
            # A connection made before the listener would go uncounted: start afresh.
            await engine.dispose()
            try:
                yield counted
            finally:
                event.remove(engine.sync_engine, "connect", log_queries)


async def test_warm_tenancy_cache_costs_one_statement(
    counted: Counted, engine: AsyncEngine, tenant: Tenant
) -> None:
    await seed(engine, tenant, 25)
    first = await counted.post(tenant)  # resolves the tenant (and warms the connection)
    cursor = first.json()["pagination"]["next_cursor"]
    assert cursor

    assert len(await counted.count(tenant)) == 1
    assert len(await counted.count(tenant, json={"status": "ACTIVE", "is_active": True})) == 1
    assert len(await counted.count(tenant, params={"limit": 5, "offset": 10})) == 1
    assert len(await counted.count(tenant, params={"cursor": cursor})) == 1


async def test_cold_tenancy_cache_costs_two_statements(
    counted: Counted, engine: AsyncEngine, tenant: Tenant
) -> None:
    await seed(engine, tenant, 3)
    await counted.post(tenant)  # warm the pool's connection, not the other tenant

    other = await make_tenant(engine, "cold")
    await seed(engine, other, 3)
    cold = await counted.count(other)
    assert len(cold) == 2, cold
    assert "FROM api_keys" in cold[0]  # key -> organization -> namespace -> bucket
    assert "json_agg" in cold[1]  # count + page as one statement

    counted.app.state.tenancy_cache.clear()
    again = await counted.count(tenant)
    assert len(again) == 2, again
    assert len(await counted.count(tenant)) == 1
