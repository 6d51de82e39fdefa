"""Every SQL statement of the service.

Reads on the hot path (tenancy resolution, list, get) are SQLAlchemy Core
statements compiled once per shape and run on the pooled asyncpg connection:
building and cache-keying a statement per request cost more than running it.
Writes go through SQLAlchemy's connection inside the caller's transaction; this
module flushes, never commits.

Every object leaves the database as JSON built by ``sync_document`` — the same
expression for create, get, update and list — so each route returns exactly the
same bytes for the same configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Double,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    delete,
    func,
    literal,
    literal_column,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import AlreadyExistsError
from app.models import (
    api_keys,
    buckets,
    connections,
    namespaces,
    rate_limit_buckets,
    sync_configs,
)
from app.pagination import PageRequest, SortKey

# The order keys appear in every object, published fields first.
OUTPUT_FIELDS = (
    "sync_config_id", "bucket_id", "connection_id", "internal_id", "namespace_id",
    "source_path", "created_by_user_id", "file_filters", "sync_mode",
    "polling_interval_seconds", "batch_size", "create_object_on_confirm", "skip_duplicates",
    "status", "is_active", "total_files_discovered", "total_files_synced",
    "total_files_failed", "total_bytes_synced", "created_at", "updated_at", "last_sync_at",
    "next_sync_at", "last_error", "consecutive_failures", "metadata", "description",
    "paused", "paused_at", "pause_reason", "paused_by_user_id", "locked",
    "schema_mapping", "ingest_filter", "reconcile", "provider_filters",
    "batch_collection_ids", "skip_batch_submission", "sync_from", "max_objects_per_run",
    "sync_concurrency",
)  # fmt: skip


def _iso_utc(column: ColumnElement[Any]) -> ColumnElement[str]:
    """ISO 8601 in UTC with a ``Z`` and microseconds, formatted by PostgreSQL."""
    return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')


def sync_document(columns: Iterable[ColumnElement[Any]]) -> ColumnElement[Any]:
    """``json_build_object`` of one configuration, every field present."""
    by_name = {str(getattr(c, "name", "")): c for c in columns}
    pairs: list[Any] = []
    for name in OUTPUT_FIELDS:
        column = by_name[name]
        pairs.append(literal(name, String))
        pairs.append(_iso_utc(column) if isinstance(column.type, DateTime) else column)
    return func.json_build_object(*pairs)


def _micros(column: ColumnElement[Any]) -> ColumnElement[int]:
    return cast(func.extract("epoch", column) * 1_000_000, postgresql.BIGINT)


# --- compiled statements -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compiled:
    """An SQLAlchemy statement compiled once into the driver's SQL and argument order."""

    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]  # values SQLAlchemy bound itself, such as LIMIT 1

    @classmethod
    def of(cls, statement: Select[Any], dialect: Dialect) -> Compiled:
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        constants = {k: v for k, v in compiled.params.items() if v is not None}
        return cls(compiled.string, names, constants)

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[n] if n in values else self.constants[n] for n in self.names]


def _param(name: str, type_: Any = String) -> Any:
    return bindparam(name, type_=type_)


def _tenancy_statement() -> Select[Any]:
    """Key → organization → namespace (id or name) → bucket (id or name), in one trip.

    An id match wins over a name match, so a name that looks like another
    namespace's or bucket's id cannot shadow it."""
    ns_ref, bucket_ref = _param("namespace_ref"), _param("bucket_ref")
    namespace_id = (
        select(namespaces.c.namespace_id)
        .where(
            namespaces.c.organization_id == api_keys.c.organization_id,
            (namespaces.c.namespace_id == ns_ref) | (namespaces.c.name == ns_ref),
        )
        .order_by((namespaces.c.namespace_id == ns_ref).desc())
        .limit(1)
        .correlate(api_keys)
        .scalar_subquery()
    )
    bucket_id = (
        select(buckets.c.bucket_id)
        .where(
            buckets.c.namespace_id == namespace_id,
            (buckets.c.bucket_id == bucket_ref) | (buckets.c.name == bucket_ref),
        )
        .order_by((buckets.c.bucket_id == bucket_ref).desc())
        .limit(1)
        .correlate(api_keys)
        .scalar_subquery()
    )
    return select(
        api_keys.c.organization_id,
        api_keys.c.user_id,
        namespace_id.label("namespace_id"),
        bucket_id.label("bucket_id"),
    ).where(
        api_keys.c.key_hash == _param("key_hash", postgresql.BYTEA),
        api_keys.c.revoked_at.is_(None),
    )


def _lease_insert(source: Select[Any]) -> Any:
    """Refill a key's shared bucket by the time elapsed, then hand out up to
    ``want`` whole tokens; one statement, so concurrent workers serialize on the row."""
    capacity = _param("capacity", Double)
    refilled = func.least(
        capacity,
        rate_limit_buckets.c.tokens
        + func.extract("epoch", func.now() - rate_limit_buckets.c.refilled_at)
        * _param("rate", Double),
    )
    granted = cast(func.least(_param("want", Integer), func.floor(refilled)), Integer)
    statement = postgresql.insert(rate_limit_buckets).from_select(
        ["key_hash", "tokens", "refilled_at", "granted"], source
    )
    return statement.on_conflict_do_update(
        index_elements=[rate_limit_buckets.c.key_hash],
        set_={"tokens": refilled - granted, "refilled_at": func.now(), "granted": granted},
    ).returning(rate_limit_buckets.c.granted, rate_limit_buckets.c.tokens)


def _new_bucket_row() -> Select[Any]:
    """A first lease: a full bucket minus what this lease takes."""
    first = func.least(_param("want", Integer), _param("capacity", Double))
    return select(
        _param("key_hash", postgresql.BYTEA),
        _param("capacity", Double) - first,
        func.now(),
        cast(first, Integer),
    )


def _lease_statement() -> Any:
    return _lease_insert(_new_bucket_row())


def _tenancy_with_lease_statement() -> Select[Any]:
    """Tenancy resolution and, for a valid key, a rate-limit lease: one round trip."""
    owner = _tenancy_statement().cte("owner")
    lease = _lease_insert(_new_bucket_row().where(select(owner).exists())).cte("lease")
    return select(
        owner.c.organization_id,
        owner.c.user_id,
        owner.c.namespace_id,
        owner.c.bucket_id,
        lease.c.granted,
        lease.c.tokens,
    ).select_from(owner.outerjoin(lease, true()))


def _filter_conditions(shape: tuple[bool, bool, bool]) -> list[ColumnElement[bool]]:
    """The namespace, bucket and filters: shared by the page and its count."""
    by_connection, by_status, by_active = shape
    conditions = [
        sync_configs.c.namespace_id == _param("namespace_id"),
        sync_configs.c.bucket_id == _param("bucket_id"),
    ]
    if by_connection:
        conditions.append(sync_configs.c.connection_id == _param("connection_id"))
    if by_status:
        conditions.append(sync_configs.c.status == _param("status"))
    if by_active:
        conditions.append(sync_configs.c.is_active == _param("is_active", Boolean))
    return conditions


def _list_statement(shape: tuple[bool, bool, bool], with_cursor: bool) -> Select[Any]:
    """Count, page, and the position of the page's last row, as one statement.

    The page fetches one row more than it shows, to know whether another follows."""
    conditions = _filter_conditions(shape)
    total = select(func.count()).select_from(sync_configs).where(*conditions)
    order = (sync_configs.c.created_at.desc(), sync_configs.c.sync_config_id.desc())
    page_conditions = list(conditions)
    if with_cursor:
        page_conditions.append(
            tuple_(sync_configs.c.created_at, sync_configs.c.sync_config_id)
            < tuple_(_param("after_created_at", DateTime(timezone=True)), _param("after_id"))
        )
    fetched = (
        select(sync_configs)
        .where(*page_conditions)
        .order_by(*order)
        .limit(_param("fetch", Integer))
        .offset(_param("offset", Integer))
        .cte("fetched")
    )
    shown = (
        select(fetched)
        .order_by(fetched.c.created_at.desc(), fetched.c.sync_config_id.desc())
        .limit(_param("limit", Integer))
        .cte("shown")
    )
    shown_order = (shown.c.created_at.desc(), shown.c.sync_config_id.desc())
    results = select(
        cast(
            func.coalesce(
                func.json_agg(aggregate_order_by(sync_document(shown.c), *shown_order)),
                literal_column("'[]'::json"),
            ),
            Text,
        )
    )
    last = (
        select(shown.c.created_at, shown.c.sync_config_id)
        .order_by(shown.c.created_at.asc(), shown.c.sync_config_id.asc())
        .limit(1)
        .subquery("last")
    )
    return select(
        total.scalar_subquery().label("total"),
        results.scalar_subquery().label("results"),
        select(func.count()).select_from(fetched).scalar_subquery().label("fetched"),
        select(_micros(last.c.created_at)).scalar_subquery().label("last_micros"),
        select(last.c.sync_config_id).scalar_subquery().label("last_id"),
    )


def _get_statement() -> Select[Any]:
    return select(cast(sync_document(sync_configs.c), Text)).where(
        sync_configs.c.namespace_id == _param("namespace_id"),
        sync_configs.c.bucket_id == _param("bucket_id"),
        sync_configs.c.sync_config_id == _param("sync_config_id"),
    )


class Statements:
    """The hot-path statements, compiled for one dialect on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self.tenancy = Compiled.of(_tenancy_statement(), dialect)
        self.tenancy_with_lease = Compiled.of(_tenancy_with_lease_statement(), dialect)
        self.lease = Compiled.of(_lease_statement(), dialect)
        self.get = Compiled.of(_get_statement(), dialect)
        self._lists: dict[tuple[bool, bool, bool, bool], Compiled] = {}

    def list(self, shape: tuple[bool, bool, bool], with_cursor: bool) -> Compiled:
        key = (*shape, with_cursor)
        compiled = self._lists.get(key)
        if compiled is None:
            compiled = Compiled.of(_list_statement(shape, with_cursor), self._dialect)
            self._lists[key] = compiled
        return compiled


# --- tenancy ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """Who a key belongs to, and what its namespace and bucket references name.

    ``namespace_id`` / ``bucket_id`` are None when the reference matches nothing
    in the key's organization (or that namespace)."""

    organization_id: str
    user_id: str
    namespace_id: str | None
    bucket_id: str | None
    lease: Lease | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    granted: int  # tokens handed to this worker
    left: float  # tokens left in the shared bucket


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    want: int
    capacity: int
    per_second: float

    def values(self, key_hash: bytes) -> dict[str, Any]:
        return {
            "key_hash": key_hash,
            "want": self.want,
            "capacity": float(self.capacity),
            "rate": self.per_second,
        }


async def find_key_owner(
    conn: asyncpg.Connection,
    statements: Statements,
    *,
    key_hash: bytes,
    namespace_ref: str,
    bucket_ref: str,
    lease: LeaseRequest | None = None,
) -> KeyOwner | None:
    """None when the key is unknown or revoked. With ``lease``, also leases
    rate-limit tokens for a valid key, in the same round trip."""
    values: dict[str, Any] = {
        "key_hash": key_hash,
        "namespace_ref": namespace_ref,
        "bucket_ref": bucket_ref,
    }
    stmt = statements.tenancy
    if lease is not None:
        stmt = statements.tenancy_with_lease
        values.update(lease.values(key_hash))
    row = await conn.fetchrow(stmt.sql, *stmt.args(values))
    if row is None:
        return None
    granted = Lease(row[4], row[5]) if lease is not None and row[4] is not None else None
    return KeyOwner(row[0], row[1], row[2], row[3], granted)


async def lease_tokens(
    conn: asyncpg.Connection, statements: Statements, key_hash: bytes, lease: LeaseRequest
) -> Lease:
    stmt = statements.lease
    row = await conn.fetchrow(stmt.sql, *stmt.args(lease.values(key_hash)))
    return Lease(row[0], row[1])


# --- sync configurations ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketScope:
    """The caller's organization, user, namespace and bucket: every query is cut to it."""

    organization_id: str
    user_id: str
    namespace_id: str
    bucket_id: str


@dataclass(frozen=True, slots=True)
class ListPage:
    total: int
    results_json: str
    has_more: bool
    last: SortKey | None


class SyncReads:
    def __init__(self, conn: asyncpg.Connection, statements: Statements, scope: BucketScope):
        self._conn = conn
        self._statements = statements
        self._scope = scope

    async def list(self, page: PageRequest) -> ListPage:
        connection_id, status, is_active = page.filters
        shape = (connection_id is not None, status is not None, is_active is not None)
        stmt = self._statements.list(shape, page.after is not None)
        values: dict[str, Any] = {
            "namespace_id": self._scope.namespace_id,
            "bucket_id": self._scope.bucket_id,
            "connection_id": connection_id,
            "status": status,
            "is_active": is_active,
            "fetch": page.limit + 1,
            "limit": page.limit,
            "offset": page.offset,
        }
        if page.after is not None:
            values["after_created_at"] = page.after.created_at
            values["after_id"] = page.after.sync_config_id
        row = await self._conn.fetchrow(stmt.sql, *stmt.args(values))
        assert row is not None
        total, results, fetched, last_micros, last_id = row
        last = None if last_id is None else SortKey.from_micros(last_micros, last_id)
        return ListPage(total, results, fetched > page.limit, last)

    async def get(self, sync_config_id: str) -> str | None:
        stmt = self._statements.get
        value = await self._conn.fetchval(
            stmt.sql,
            *stmt.args(
                {
                    "namespace_id": self._scope.namespace_id,
                    "bucket_id": self._scope.bucket_id,
                    "sync_config_id": sync_config_id,
                }
            ),
        )
        return None if value is None else str(value)


_ONE_SYNC_PER_SOURCE = "uq_sync_configs_source"


def _duplicate_source(connection_id: str | None, source_path: str | None) -> AlreadyExistsError:
    return AlreadyExistsError(
        "A sync configuration for this connection and source path already exists in this bucket.",
        code="sync_config_exists",
        details={
            "resource": "sync_config",
            "connection_id": connection_id,
            "source_path": source_path,
        },
    )


class SyncWrites:
    """Changes to sync configurations inside the caller's transaction."""

    def __init__(self, conn: AsyncConnection, scope: BucketScope) -> None:
        self._conn = conn
        self._scope = scope

    def _this(self, sync_config_id: str) -> list[ColumnElement[bool]]:
        return [
            sync_configs.c.namespace_id == self._scope.namespace_id,
            sync_configs.c.bucket_id == self._scope.bucket_id,
            sync_configs.c.sync_config_id == sync_config_id,
        ]

    async def connection_exists(self, connection_id: str) -> bool:
        found = await self._conn.scalar(
            select(literal(1)).where(
                connections.c.connection_id == connection_id,
                connections.c.organization_id == self._scope.organization_id,
            )
        )
        return found is not None

    async def create(self, sync_config_id: str, values: Mapping[str, Any]) -> str:
        row = {
            **values,
            "namespace_id": self._scope.namespace_id,
            "bucket_id": self._scope.bucket_id,
            "internal_id": self._scope.organization_id,
            "created_by_user_id": self._scope.user_id,
            "sync_config_id": sync_config_id,
        }
        document = await self._conn.scalar(
            postgresql.insert(sync_configs)
            .values(row)
            .on_conflict_do_nothing(constraint=_ONE_SYNC_PER_SOURCE)
            .returning(cast(sync_document(sync_configs.c), Text))
        )
        if document is None:
            raise _duplicate_source(row["connection_id"], row["source_path"])
        return str(document)

    async def update(self, sync_config_id: str, values: Mapping[str, Any]) -> str | None:
        """Apply ``values`` in one conditional UPDATE; None when no such config."""
        try:
            document = await self._conn.scalar(
                update(sync_configs)
                .where(*self._this(sync_config_id))
                .values({**values, "updated_at": func.clock_timestamp()})
                .returning(cast(sync_document(sync_configs.c), Text))
            )
        except IntegrityError as error:
            if getattr(error.orig, "sqlstate", None) == "23505":  # unique_violation
                raise _duplicate_source(None, values.get("source_path")) from None
            raise
        return None if document is None else str(document)

    async def current(self, sync_config_id: str) -> str | None:
        document = await self._conn.scalar(
            select(cast(sync_document(sync_configs.c), Text)).where(*self._this(sync_config_id))
        )
        return None if document is None else str(document)

    async def pause(self, sync_config_id: str, reason: str | None) -> str | None:
        """Pause unless already paused (then the stored pause stands unchanged)."""
        document = await self._conn.scalar(
            update(sync_configs)
            .where(*self._this(sync_config_id), sync_configs.c.paused.is_(False))
            .values(
                paused=True,
                is_active=False,
                status="SUSPENDED",
                paused_at=func.clock_timestamp(),
                pause_reason=reason,
                paused_by_user_id=self._scope.user_id,
                updated_at=func.clock_timestamp(),
            )
            .returning(cast(sync_document(sync_configs.c), Text))
        )
        return str(document) if document is not None else await self.current(sync_config_id)

    async def resume(self, sync_config_id: str) -> str | None:
        """Resume unless already running (active, unpaused, ACTIVE)."""
        running = (
            sync_configs.c.paused.is_(False)
            & sync_configs.c.is_active.is_(True)
            & (sync_configs.c.status == "ACTIVE")
        )
        document = await self._conn.scalar(
            update(sync_configs)
            .where(*self._this(sync_config_id), ~running)
            .values(
                paused=False,
                is_active=True,
                status="ACTIVE",
                paused_at=None,
                pause_reason=None,
                paused_by_user_id=None,
                next_sync_at=func.clock_timestamp(),
                updated_at=func.clock_timestamp(),
            )
            .returning(cast(sync_document(sync_configs.c), Text))
        )
        return str(document) if document is not None else await self.current(sync_config_id)

    async def delete(self, sync_config_id: str) -> bool:
        deleted = await self._conn.scalar(
            delete(sync_configs)
            .where(*self._this(sync_config_id))
            .returning(sync_configs.c.sync_config_id)
        )
        return deleted is not None
