"""Migrations: upgrade → downgrade → upgrade on an empty database, and the models
match the migrated schema."""

from __future__ import annotations

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from app.database import create_engine, driver_connect_kwargs
from app.migrate import at_head, downgrade, upgrade
from app.models import Base
from app.settings import Settings

pytestmark = pytest.mark.asyncio

SCRATCH = "bucket_syncs_migrations"


async def test_upgrade_downgrade_upgrade_on_an_empty_database(
    database_ready: str, settings: Settings
) -> None:
    connect = driver_connect_kwargs(database_ready)
    admin = await asyncpg.connect(**{**connect, "database": "postgres"})
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{SCRATCH}"')
    finally:
        await admin.close()
    url = database_ready.replace(f"/{settings.database_name}?", f"/{SCRATCH}?")
    engine = create_engine(url, settings)

    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    def drift(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    try:
        await upgrade(engine)
        assert await at_head(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(tables) >= {"sync_configs", "buckets", "api_keys"}
            assert await conn.run_sync(drift) == []
        await downgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(tables) == {"alembic_version"}
        assert not await at_head(engine)
        await upgrade(engine)
        assert await at_head(engine)
    finally:
        await engine.dispose()
