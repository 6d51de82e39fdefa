"""Extra databases on the test run's PostgreSQL server, for tests that need one of
their own (an unmigrated schema, a server process started by the test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url

from app.database import drop_database, recreate_database


@asynccontextmanager
async def empty_database(database_ready: str, name: str) -> AsyncIterator[str]:
    """A new, unmigrated database beside the test database; yields its URL and drops
    it afterwards."""
    url = make_url(database_ready).set(database=name).render_as_string(hide_password=False)
    await recreate_database(url)
    try:
        yield url
    finally:
        await drop_database(url)
