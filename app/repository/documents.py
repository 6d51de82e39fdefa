"""How a sync configuration leaves the database: one JSON expression for every route,
so create, get, update and list return the same bytes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    String,
    cast,
    func,
    literal_column,
)
from sqlalchemy.dialects import postgresql

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


def _constant(text: str) -> ColumnElement[str]:
    """A string written into the SQL itself: these never change, so binding them as
    parameters would only cost an encode per value per request."""
    return literal_column("'" + text.replace("'", "''") + "'", String)


_UTC = _constant("UTC")
_ISO_8601 = _constant('YYYY-MM-DD"T"HH24:MI:SS.US"Z"')


def _iso_utc(column: ColumnElement[Any]) -> ColumnElement[str]:
    """ISO 8601 in UTC with a ``Z`` and microseconds, formatted by PostgreSQL."""
    return func.to_char(func.timezone(_UTC, column), _ISO_8601)


def sync_document(columns: Iterable[ColumnElement[Any]]) -> ColumnElement[Any]:
    """``json_build_object`` of one configuration, every field present."""
    by_name = {str(getattr(c, "name", "")): c for c in columns}
    pairs: list[Any] = []
    for name in OUTPUT_FIELDS:
        column = by_name[name]
        pairs.append(_constant(name))
        pairs.append(_iso_utc(column) if isinstance(column.type, DateTime) else column)
    return func.json_build_object(*pairs)


def micros(column: ColumnElement[Any]) -> ColumnElement[int]:
    return cast(func.extract("epoch", column) * 1_000_000, postgresql.BIGINT)
