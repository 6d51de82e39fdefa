"""Directory operations behind the CLI: organizations, keys, namespaces, buckets,
connections, and bulk seeding. Each takes an open connection and flushes; the
caller owns the transaction."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import ids
from app.errors import AlreadyExistsError, BadRequestError, NotFoundError
from app.models import (
    PROVIDER_TYPES,
    SYNC_STATUSES,
    api_keys,
    buckets,
    connections,
    namespaces,
    organizations,
    users,
)


@dataclass(frozen=True)
class IssuedKey:
    api_key: str  # shown once, never stored
    key_id: str
    user_id: str
    organization_id: str


async def require_organization(conn: AsyncConnection, organization_id: str) -> None:
    found = await conn.scalar(
        select(organizations.c.internal_id).where(organizations.c.internal_id == organization_id)
    )
    if found is None:
        raise NotFoundError.of("organization", organization_id)


async def create_organization(conn: AsyncConnection, name: str) -> str:
    organization_id = ids.new_organization_id()
    await conn.execute(insert(organizations).values(internal_id=organization_id, name=name))
    return organization_id


async def create_api_key(conn: AsyncConnection, organization_id: str, name: str) -> IssuedKey:
    """A new user holding a new key (each key is issued to a user)."""
    await require_organization(conn, organization_id)
    user_id = ids.new_user_id()
    await conn.execute(
        insert(users).values(user_id=user_id, organization_id=organization_id, name=name)
    )
    api_key, key_id = ids.new_api_key(), ids.new_api_key_id()
    await conn.execute(
        insert(api_keys).values(
            key_id=key_id,
            organization_id=organization_id,
            user_id=user_id,
            name=name,
            key_hash=ids.hash_api_key(api_key),
            key_prefix=api_key[: ids.API_KEY_PREFIX_LENGTH],
        )
    )
    return IssuedKey(api_key, key_id, user_id, organization_id)


async def revoke_api_key(conn: AsyncConnection, prefix_or_id: str) -> str:
    """Revoke one key by id or by prefix; returns its id. An ambiguous prefix is refused."""
    matches: list[str] = list(
        (
            await conn.execute(
                select(api_keys.c.key_id).where(
                    or_(
                        api_keys.c.key_id == prefix_or_id,
                        api_keys.c.key_prefix == prefix_or_id[: ids.API_KEY_PREFIX_LENGTH],
                    ),
                    api_keys.c.revoked_at.is_(None),
                )
            )
        )
        .scalars()
        .all()
    )
    if not matches:
        raise NotFoundError.of("api_key", prefix_or_id)
    if len(matches) > 1:
        raise BadRequestError(
            f"'{prefix_or_id}' matches {len(matches)} keys; revoke by key id instead.",
            code="ambiguous_key",
        )
    await conn.execute(
        update(api_keys).where(api_keys.c.key_id == matches[0]).values(revoked_at=func.now())
    )
    return str(matches[0])


async def create_namespace(conn: AsyncConnection, organization_id: str, name: str) -> str:
    await require_organization(conn, organization_id)
    taken = await conn.scalar(
        select(namespaces.c.namespace_id).where(
            namespaces.c.organization_id == organization_id, namespaces.c.name == name
        )
    )
    if taken is not None:
        raise AlreadyExistsError(f"Namespace '{name}' already exists.", code="namespace_exists")
    namespace_id = ids.new_namespace_id()
    await conn.execute(
        insert(namespaces).values(
            namespace_id=namespace_id, organization_id=organization_id, name=name
        )
    )
    return namespace_id


async def find_namespace(conn: AsyncConnection, organization_id: str, ref: str) -> str:
    found = await conn.scalar(
        select(namespaces.c.namespace_id)
        .where(
            namespaces.c.organization_id == organization_id,
            or_(namespaces.c.namespace_id == ref, namespaces.c.name == ref),
        )
        .order_by((namespaces.c.namespace_id == ref).desc())
        .limit(1)
    )
    if found is None:
        raise NotFoundError.of("namespace", ref)
    return str(found)


async def create_bucket(
    conn: AsyncConnection, organization_id: str, namespace_ref: str, name: str
) -> tuple[str, str]:
    """Returns (bucket_id, namespace_id)."""
    namespace_id = await find_namespace(conn, organization_id, namespace_ref)
    taken = await conn.scalar(
        select(buckets.c.bucket_id).where(
            buckets.c.namespace_id == namespace_id, buckets.c.name == name
        )
    )
    if taken is not None:
        raise AlreadyExistsError(f"Bucket '{name}' already exists.", code="bucket_exists")
    bucket_id = ids.new_bucket_id()
    await conn.execute(
        insert(buckets).values(namespace_id=namespace_id, bucket_id=bucket_id, name=name)
    )
    return bucket_id, namespace_id


async def find_bucket(conn: AsyncConnection, namespace_id: str, ref: str) -> str:
    found = await conn.scalar(
        select(buckets.c.bucket_id)
        .where(
            buckets.c.namespace_id == namespace_id,
            or_(buckets.c.bucket_id == ref, buckets.c.name == ref),
        )
        .order_by((buckets.c.bucket_id == ref).desc())
        .limit(1)
    )
    if found is None:
        raise NotFoundError.of("bucket", ref)
    return str(found)


async def create_connection(
    conn: AsyncConnection, organization_id: str, name: str, provider_type: str
) -> str:
    if provider_type not in PROVIDER_TYPES:
        raise BadRequestError(
            f"provider must be one of {', '.join(PROVIDER_TYPES)}", code="invalid_provider"
        )
    await require_organization(conn, organization_id)
    taken = await conn.scalar(
        select(connections.c.connection_id).where(
            connections.c.organization_id == organization_id, connections.c.name == name
        )
    )
    if taken is not None:
        raise AlreadyExistsError(f"Connection '{name}' already exists.", code="connection_exists")
    connection_id = ids.new_connection_id()
    await conn.execute(
        insert(connections).values(
            connection_id=connection_id,
            organization_id=organization_id,
            name=name,
            provider_type=provider_type,
        )
    )
    return connection_id


async def any_organization(conn: AsyncConnection) -> bool:
    return await conn.scalar(select(organizations.c.internal_id).limit(1)) is not None


# --- seeding ------------------------------------------------------------------------

SEED_COLUMNS = (
    "namespace_id", "sync_config_id", "bucket_id", "connection_id", "internal_id",
    "created_by_user_id", "source_path", "file_filters", "sync_mode",
    "polling_interval_seconds", "batch_size", "status", "is_active",
    "total_files_discovered", "total_files_synced", "total_files_failed",
    "total_bytes_synced", "created_at", "updated_at", "last_sync_at", "next_sync_at",
    "last_error", "consecutive_failures", "metadata", "description", "paused", "paused_at",
    "pause_reason",
)  # fmt: skip

# Roughly what a fleet of syncs looks like: most settled, some failing, a few paused.
_STATUS_WEIGHTS = {
    "ACTIVE": 30, "COMPLETED": 20, "PENDING": 12, "PROCESSING": 6, "IN_PROGRESS": 4,
    "FAILED": 8, "COMPLETED_WITH_ERRORS": 4, "SUSPENDED": 5, "QUEUED": 3, "CANCELED": 2,
    "INTERRUPTED": 1, "UNKNOWN": 1, "SKIPPED": 1, "DRAFT": 1, "ARCHIVED": 1, "DEACTIVATED": 1,
}  # fmt: skip
assert set(_STATUS_WEIGHTS) == set(SYNC_STATUSES)
_PATHS = ("media-archive/videos/", "marketing/assets/", "raw/ingest/", "/sites/Team/Docs", "")
_FILTERS: tuple[str | None, ...] = (
    None,
    '{"include_patterns": ["*.mp4", "*.mov"], "exclude_patterns": null, "min_size_bytes": null,'
    ' "max_size_bytes": null, "modified_after": null, "modified_before": null,'
    ' "mime_types": null, "extensions": null}',
    '{"include_patterns": null, "exclude_patterns": ["*/drafts/*"], "min_size_bytes": 1024,'
    ' "max_size_bytes": 1073741824, "modified_after": null, "modified_before": null,'
    ' "mime_types": ["image/png", "image/jpeg"], "extensions": null}',
)


def seed_rows(
    count: int,
    *,
    namespace_id: str,
    bucket_id: str,
    organization_id: str,
    user_id: str,
    connection_ids: list[str],
    rng: random.Random,
    newest: datetime | None = None,
) -> list[tuple[Any, ...]]:
    """``count`` varied rows, newest first; about one in 40 shares its predecessor's
    ``created_at`` exactly, so ordering ties are exercised."""
    statuses, weights = zip(*_STATUS_WEIGHTS.items(), strict=True)
    chosen = rng.choices(statuses, weights=weights, k=count)
    moment = newest or datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    for status in chosen:
        sync_config_id = ids.new_sync_config_id()
        if rng.random() >= 0.025:
            moment -= timedelta(microseconds=rng.randint(1, 5_000_000))
        paused = status == "SUSPENDED"
        is_active = not paused and status not in {"ARCHIVED", "DEACTIVATED", "CANCELED"}
        discovered = rng.randint(0, 50_000)
        failed = rng.randint(0, discovered // 50) if status != "PENDING" else 0
        synced = discovered - failed if status != "PENDING" else 0
        failing = status in {"FAILED", "COMPLETED_WITH_ERRORS"}
        last_sync = None if status == "PENDING" else moment + timedelta(hours=rng.randint(1, 48))
        rows.append(
            (
                namespace_id,
                sync_config_id,
                bucket_id,
                rng.choice(connection_ids),
                organization_id,
                user_id,
                # Unique per sync: one sync per (connection, source path) in a bucket.
                rng.choice(_PATHS) + sync_config_id[5:],
                rng.choice(_FILTERS),
                "continuous" if rng.random() < 0.85 else "initial_only",
                rng.choice((60, 300, 300, 900, 3600)),
                rng.choice((10, 25, 50, 50, 100)),
                status,
                is_active,
                discovered,
                synced,
                failed,
                synced * rng.randint(10_000, 5_000_000),
                moment,
                moment if last_sync is None else last_sync,
                last_sync,
                None if not is_active or last_sync is None else last_sync + timedelta(minutes=5),
                "Access denied for s3://bucket/prefix" if failing else None,
                rng.randint(1, 5) if status == "FAILED" else 0,
                '{"env": "prod", "team": "media"}' if rng.random() < 0.3 else "{}",
                "Imported by seed" if rng.random() < 0.2 else None,
                paused,
                moment + timedelta(days=1) if paused else None,
                "maintenance window" if paused else None,
            )
        )
    return rows


async def copy_sync_rows(
    driver: asyncpg.Connection,
    rows: list[tuple[Any, ...]],
    progress: Callable[[int], None] | None = None,
    batch: int = 20_000,
) -> None:
    """COPY rows into sync_configs in batches (the fastest bulk path PostgreSQL has)."""
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        await driver.copy_records_to_table(
            "sync_configs", records=chunk, columns=list(SEED_COLUMNS)
        )
        if progress is not None:
            progress(len(chunk))
