"""Routing reads to a streaming read replica (``APP_DATABASE_READ_URL``), per process.

See ``ReadReplica`` for the rule and docs/scaling.md for what it guarantees across
workers and hosts."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict, deque
from contextlib import AbstractAsyncContextManager, suppress
from typing import TYPE_CHECKING

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import asyncpg_url, create_engine, is_database_unavailable, pooled
from app.settings import Settings

if TYPE_CHECKING:
    from app.database import Database

logger = logging.getLogger("bucket_syncs.replica")


# How often each process compares the replica's replay position with the primary's.
REPLICA_POLL_SECONDS = 0.1
# Primary positions kept while the replica is behind them (bounded: ~max lag / poll).
_MAX_SAMPLES = 1000
# Writers remembered per process; past this the oldest become one barrier for all.
_MAX_TRACKED_WRITERS = 10_000
# The end of everything committed so far (insert position: >= any commit record end,
# whatever synchronous_commit is), and the WAL page size (see _end_of_records).
_PRIMARY_POSITION = (
    "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint, "
    "current_setting('wal_block_size')::bigint"
)
# WAL page header sizes (short, and long at a segment start).
_PAGE_HEADERS = (24, 40)
# How far the replica has replayed (a server that is not in recovery is its own
# primary: its current position).
_REPLICA_POSITION = (
    "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_insert_lsn() END - '0/0')::bigint"
)


def _end_of_records(insert_position: int, wal_block_size: int) -> int:
    """The end of the last record before ``insert_position``.

    Right after a page boundary the insert position points past the new page's
    header, where no record ends; a standby that replayed everything reports the
    boundary itself. Comparing with the boundary keeps an idle replica "caught up"."""
    offset = insert_position % wal_block_size
    return insert_position - offset if offset in _PAGE_HEADERS else insert_position


class ReadReplica:
    """Routing state for one streaming replica, kept per process.

    A poller samples the primary's WAL position P (at local time t) and then the
    replica's replay position R; once R >= P, everything committed before t is
    visible on the replica: ``caught_up_at`` = t. A read goes to the replica when

    * the caller's last write in this process completed before ``caught_up_at``
      (read-your-writes, with no extra round trip on reads or writes), and
    * ``caught_up_at`` is at most ``max_lag`` old: the bound on how stale a read can
      be for writes made elsewhere (other workers, other hosts), and what sends every
      read to the primary while the replica falls behind.

    A replica that fails (connect or query) sets ``caught_up_at`` to -inf: reads go
    to the primary until the poller sees it caught up again."""

    def __init__(self, engine: AsyncEngine, max_lag_seconds: float) -> None:
        self.engine = engine
        self.max_lag = max_lag_seconds
        self.caught_up_at = -math.inf
        self.available = False
        self._samples: deque[tuple[float, int]] = deque()  # (local time, primary position)
        self._writes: OrderedDict[str, float] = OrderedDict()  # user → last write, oldest first
        self._barrier = -math.inf
        self._poller: asyncio.Task[None] | None = None

    def serves(self, user_id: str) -> bool:
        """Whether ``user_id``'s read may go to the replica now (no I/O)."""
        caught_up_at = self.caught_up_at
        if time.monotonic() - caught_up_at > self.max_lag or self._barrier >= caught_up_at:
            return False
        wrote = self._writes.get(user_id)
        return wrote is None or wrote < caught_up_at

    def note_write(self, user_id: str) -> None:
        writes = self._writes
        writes[user_id] = time.monotonic()
        writes.move_to_end(user_id)
        if len(writes) > _MAX_TRACKED_WRITERS:
            _, wrote = writes.popitem(last=False)
            self._barrier = max(self._barrier, wrote)

    def failed(self) -> None:
        if self.available:
            logger.warning("read replica unavailable; reading from the primary")
        self.available = False
        self.caught_up_at = -math.inf
        self._samples.clear()

    async def refresh(self, primary: AbstractAsyncContextManager[asyncpg.Connection]) -> None:
        """One poll: the primary's position, then the replica's."""
        sampled_at = time.monotonic()
        async with primary as conn:
            insert_position, wal_block_size = await conn.fetchrow(_PRIMARY_POSITION)
        position = _end_of_records(insert_position, wal_block_size)
        samples = self._samples
        if not samples or samples[-1][1] != position:
            samples.append((sampled_at, position))
        else:  # nothing written since: the newer time covers the same position
            samples[-1] = (sampled_at, position)
        if len(samples) > _MAX_SAMPLES:
            samples.popleft()  # only delays catching up: safe
        try:
            async with pooled(self.engine) as conn:
                replayed = int(await conn.fetchval(_REPLICA_POSITION))
        except Exception as exc:
            self.failed()
            if is_database_unavailable(exc):
                # Drop the pool's dead connections; new ones are made on recovery.
                await self.engine.dispose()
            raise
        while samples and samples[0][1] <= replayed:
            self.caught_up_at = max(self.caught_up_at, samples.popleft()[0])
        if not self.available:
            logger.info("read replica available")
            self.available = True
        writes = self._writes
        while writes and next(iter(writes.values())) < self.caught_up_at:
            writes.popitem(last=False)

    async def _poll(self, database: Database) -> None:
        failing = False
        while True:
            try:
                await self.refresh(database.read())
                failing = False
            except Exception as exc:
                if not failing:  # log a failure once, not every poll
                    logger.warning("read replica poll failed: %s: %s", type(exc).__name__, exc)
                failing = True
            await asyncio.sleep(min(REPLICA_POLL_SECONDS, self.max_lag / 4))

    async def start(self, database: Database) -> None:
        with suppress(Exception):  # a replica that is down must not stop the service
            await self.refresh(database.read())
        self._poller = asyncio.create_task(self._poll(database), name="read-replica-poller")

    async def dispose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with suppress(asyncio.CancelledError):
                await self._poller
        await self.engine.dispose()


def read_replica(settings: Settings) -> ReadReplica | None:
    """The configured read replica, or None (then every read uses the primary)."""
    if not settings.database_read_url:
        return None
    engine = create_engine(
        asyncpg_url(settings.database_read_url), settings, application_name="bucket-syncs-read"
    )
    return ReadReplica(engine, settings.read_replica_max_lag_seconds)
