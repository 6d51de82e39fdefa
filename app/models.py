"""Tables. Organizations, users, keys, namespaces and connections are directory
data (reference tables under Citus); buckets and sync configurations belong to a
namespace, and their primary and unique keys lead with ``namespace_id`` so they can
be distributed by it (see docs/scaling.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SYNC_STATUSES = (
    "PENDING",
    "QUEUED",
    "IN_PROGRESS",
    "PROCESSING",
    "COMPLETED",
    "COMPLETED_WITH_ERRORS",
    "FAILED",
    "CANCELED",
    "INTERRUPTED",
    "UNKNOWN",
    "SKIPPED",
    "DRAFT",
    "ACTIVE",
    "ARCHIVED",
    "SUSPENDED",
    "DEACTIVATED",
)
SYNC_MODES = ("continuous", "initial_only")
PROVIDER_TYPES = ("s3", "google_drive", "snowflake", "sharepoint", "tigris", "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, typed as such (for Core statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Organization(Base):
    __tablename__ = "organizations"

    internal_id: Mapped[str] = mapped_column(String(28), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(19), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.internal_id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


class ApiKey(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.internal_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the whole key; the key itself is shown once and never stored.
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # "sk_" + 7 characters, to recognise a key in listings and revoke it by prefix.
    key_prefix: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[datetime] = _now()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Namespace(Base):
    __tablename__ = "namespaces"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    namespace_id: Mapped[str] = mapped_column(String(15), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.internal_id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


class StorageConnection(Base):
    __tablename__ = "storage_connections"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        CheckConstraint(_in("provider_type", PROVIDER_TYPES), name="provider_type"),
    )

    connection_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.internal_id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    provider_type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()


class Bucket(Base):
    __tablename__ = "buckets"
    __table_args__ = (
        PrimaryKeyConstraint("namespace_id", "bucket_id"),
        UniqueConstraint("namespace_id", "name"),
    )

    namespace_id: Mapped[str] = mapped_column(
        ForeignKey("namespaces.namespace_id", ondelete="CASCADE")
    )
    bucket_id: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


_LIST_ORDER = ("created_at DESC", "sync_config_id DESC")


def _list_index(name: str, *leading: str, include: tuple[str, ...]) -> Index:
    """An index in list order after ``(namespace_id, bucket_id, *leading)``.

    INCLUDE carries the other filter columns so a filtered count is an
    index-only scan."""
    return Index(
        name,
        "namespace_id",
        "bucket_id",
        *leading,
        text(_LIST_ORDER[0]),
        text(_LIST_ORDER[1]),
        postgresql_include=list(include),
    )


class SyncConfig(Base):
    __tablename__ = "sync_configs"
    __table_args__ = (
        PrimaryKeyConstraint("namespace_id", "sync_config_id"),
        # One sync per source in a bucket: a second would ingest the same files twice.
        UniqueConstraint(
            "namespace_id",
            "bucket_id",
            "connection_id",
            "source_path",
            name="uq_sync_configs_source",
        ),
        ForeignKeyConstraint(
            ["namespace_id", "bucket_id"],
            ["buckets.namespace_id", "buckets.bucket_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_in("status", SYNC_STATUSES), name="status"),
        CheckConstraint(_in("sync_mode", SYNC_MODES), name="sync_mode"),
        CheckConstraint("polling_interval_seconds BETWEEN 30 AND 86400", name="polling"),
        CheckConstraint("batch_size BETWEEN 1 AND 100", name="batch_size"),
        CheckConstraint(
            "total_files_discovered >= 0 AND total_files_synced >= 0 AND "
            "total_files_failed >= 0 AND total_bytes_synced >= 0 AND consecutive_failures >= 0",
            name="counters",
        ),
        _list_index("ix_sync_configs_list", include=("status", "is_active", "connection_id")),
        _list_index("ix_sync_configs_status", "status", include=("is_active", "connection_id")),
        _list_index("ix_sync_configs_connection", "connection_id", include=("status", "is_active")),
        _list_index("ix_sync_configs_active", "is_active", include=("status", "connection_id")),
    )

    namespace_id: Mapped[str] = mapped_column(String(15))
    sync_config_id: Mapped[str] = mapped_column(String(21))
    bucket_id: Mapped[str] = mapped_column(String(16))
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("storage_connections.connection_id", ondelete="RESTRICT")
    )
    internal_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.internal_id", ondelete="CASCADE")
    )
    created_by_user_id: Mapped[str] = mapped_column(String(19))
    source_path: Mapped[str] = mapped_column(String(1024))
    file_filters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    sync_mode: Mapped[str] = mapped_column(String(16), server_default="continuous")
    polling_interval_seconds: Mapped[int] = mapped_column(Integer, server_default="300")
    batch_size: Mapped[int] = mapped_column(Integer, server_default="50")
    create_object_on_confirm: Mapped[bool] = mapped_column(Boolean, server_default="true")
    skip_duplicates: Mapped[bool] = mapped_column(Boolean, server_default="true")
    status: Mapped[str] = mapped_column(String(32), server_default="PENDING")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    total_files_discovered: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total_files_synced: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total_files_failed: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total_bytes_synced: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(1000))
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    # "metadata" is reserved on declarative classes; the column keeps the wire name.
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    description: Mapped[str | None] = mapped_column(String(500))
    paused: Mapped[bool] = mapped_column(Boolean, server_default="false")
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pause_reason: Mapped[str | None] = mapped_column(String(500))
    paused_by_user_id: Mapped[str | None] = mapped_column(String(19))
    locked: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Kept for SDK compatibility: validated, stored and returned, not acted on.
    schema_mapping: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ingest_filter: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reconcile: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    provider_filters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    batch_collection_ids: Mapped[list[str] | None] = mapped_column(JSONB)
    skip_batch_submission: Mapped[bool] = mapped_column(Boolean, server_default="false")
    sync_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    max_objects_per_run: Mapped[int | None] = mapped_column(Integer)
    sync_concurrency: Mapped[int | None] = mapped_column(Integer)


class RateLimitBucket(Base):
    """The shared token bucket of one API key (see app/ratelimit.py)."""

    __tablename__ = "rate_limit_buckets"
    # Unlogged: no WAL, so a lease costs no fsync; a crash empties the buckets, which
    # only means every key starts again with a full bucket.
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double)
    refilled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Tokens handed out by the latest lease: set and returned by the same statement.
    granted: Mapped[int] = mapped_column(Integer)


# Core handles of the tables, for the statements in repository.py and admin.py.
organizations = table_of(Organization)
users = table_of(User)
api_keys = table_of(ApiKey)
namespaces = table_of(Namespace)
buckets = table_of(Bucket)
connections = table_of(StorageConnection)
sync_configs = table_of(SyncConfig)
rate_limit_buckets = table_of(RateLimitBucket)
