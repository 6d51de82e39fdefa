"""Extra databases on the test run's PostgreSQL server, for tests that need one of
their own (an unmigrated schema, a server process started by the test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

from app.database import driver_connect_kwargs


@asynccontextmanager
async def empty_database(database_ready: str, name: str) -> AsyncIterator[str]:
    """A new, unmigrated database beside the test database; yields its URL and drops
    it afterwards."""
    connect = {**driver_connect_kwargs(database_ready), "database": "postgres"}
    admin = await asyncpg.connect(**connect)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(database_ready).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
