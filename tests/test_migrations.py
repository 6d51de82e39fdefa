"""Migrations: upgrade → downgrade → upgrade on an empty database, and the models
match the migrated schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from app.database import create_engine
from app.migrate import at_head, downgrade, upgrade
from app.models import Base
from app.settings import Settings
from tests.databases import empty_database

pytestmark = pytest.mark.asyncio

SCRATCH = "bucket_syncs_migrations"


async def test_upgrade_downgrade_upgrade_on_an_empty_database(
    database_ready: str, settings: Settings
) -> None:
    async with empty_database(database_ready, SCRATCH) as url:
        await _round_trip(url, settings)


async def _round_trip(url: str, settings: Settings) -> None:
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
