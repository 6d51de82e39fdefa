"""Sync configurations: the list/get statements (compiled once) and the writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    Text,
    cast,
    delete,
    func,
    literal,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import AlreadyExistsError, UnauthorizedError
from app.models import (
    api_keys,
    connections,
    sync_configs,
)
from app.pagination import PageRequest, SortKey
from app.repository.compiled import param
from app.repository.documents import micros, sync_document

if TYPE_CHECKING:
    from app.repository import Statements


def _filter_conditions(shape: tuple[bool, bool, bool]) -> list[ColumnElement[bool]]:
    """The namespace, bucket and filters: shared by the page and its count."""
    by_connection, by_status, by_active = shape
    conditions = [
        sync_configs.c.namespace_id == param("namespace_id"),
        sync_configs.c.bucket_id == param("bucket_id"),
    ]
    if by_connection:
        conditions.append(sync_configs.c.connection_id == param("connection_id"))
    if by_status:
        conditions.append(sync_configs.c.status == param("status"))
    if by_active:
        conditions.append(sync_configs.c.is_active == param("is_active", Boolean))
    return conditions


def _key_is_live() -> ColumnElement[bool]:
    """Whether the caller's key is still unrevoked: checked inside every read, so a
    revocation takes effect at once even while the tenancy cache holds the key."""
    return (
        select(api_keys.c.key_id)
        .where(
            api_keys.c.key_hash == param("key_hash", postgresql.BYTEA),
            api_keys.c.revoked_at.is_(None),
        )
        .exists()
    )


def list_statement(shape: tuple[bool, bool, bool], with_cursor: bool) -> Select[Any]:
    """Count, page, and the position of the page's last row, as one statement.

    The page fetches one row more than it shows, to know whether another follows."""
    conditions = _filter_conditions(shape)
    total = select(func.count()).select_from(sync_configs).where(*conditions)
    order = (sync_configs.c.created_at.desc(), sync_configs.c.sync_config_id.desc())
    page_conditions = list(conditions)
    if with_cursor:
        page_conditions.append(
            tuple_(sync_configs.c.created_at, sync_configs.c.sync_config_id)
            < tuple_(param("after_created_at", DateTime(timezone=True)), param("after_id"))
        )
    fetched = (
        select(sync_configs)
        .where(*page_conditions)
        .order_by(*order)
        .limit(param("fetch", Integer))
        .offset(param("offset", Integer))
        .cte("fetched")
    )
    shown = (
        select(fetched)
        .order_by(fetched.c.created_at.desc(), fetched.c.sync_config_id.desc())
        .limit(param("limit", Integer))
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
        _key_is_live().label("key_live"),
        total.scalar_subquery().label("total"),
        results.scalar_subquery().label("results"),
        select(func.count()).select_from(fetched).scalar_subquery().label("fetched"),
        select(micros(last.c.created_at)).scalar_subquery().label("last_micros"),
        select(last.c.sync_config_id).scalar_subquery().label("last_id"),
    )


def get_statement() -> Select[Any]:
    document = select(cast(sync_document(sync_configs.c), Text)).where(
        sync_configs.c.namespace_id == param("namespace_id"),
        sync_configs.c.bucket_id == param("bucket_id"),
        sync_configs.c.sync_config_id == param("sync_config_id"),
    )
    return select(_key_is_live().label("key_live"), document.scalar_subquery())


@dataclass(frozen=True, slots=True)
class BucketScope:
    """The caller's organization, user, namespace and bucket: every query is cut to it."""

    organization_id: str
    user_id: str
    namespace_id: str
    bucket_id: str
    key_hash: bytes  # the credential that resolved it, re-checked by every statement


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
            "key_hash": self._scope.key_hash,
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
        key_live, total, results, fetched, last_micros, last_id = row
        if not key_live:
            raise revoked_key()
        last = None if last_id is None else SortKey.from_micros(last_micros, last_id)
        return ListPage(total, results, fetched > page.limit, last)

    async def get(self, sync_config_id: str) -> str | None:
        stmt = self._statements.get
        row = await self._conn.fetchrow(
            stmt.sql,
            *stmt.args(
                {
                    "key_hash": self._scope.key_hash,
                    "namespace_id": self._scope.namespace_id,
                    "bucket_id": self._scope.bucket_id,
                    "sync_config_id": sync_config_id,
                }
            ),
        )
        assert row is not None
        key_live, document = row
        if not key_live:
            raise revoked_key()
        return None if document is None else str(document)


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


def revoked_key() -> UnauthorizedError:
    return UnauthorizedError("The API key is invalid or revoked.", code="invalid_api_key")


class SyncWrites:
    """Changes to sync configurations inside the caller's transaction."""

    def __init__(self, conn: AsyncConnection, scope: BucketScope) -> None:
        self._conn = conn
        self._scope = scope

    @classmethod
    async def open(cls, conn: AsyncConnection, scope: BucketScope) -> SyncWrites:
        """The writer for ``scope``, once its key is known to be unrevoked right now
        (the tenancy cache may be older than a revocation)."""
        live = await conn.scalar(select(_key_is_live()), {"key_hash": scope.key_hash})
        if not live:
            raise revoked_key()
        return cls(conn, scope)

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
            # One instant for both: two clock_timestamp() defaults can differ by 1 µs.
            "created_at": func.now(),
            "updated_at": func.now(),
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
