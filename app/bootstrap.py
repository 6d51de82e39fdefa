"""Development data for a first start, and bulk seeding (CLI and benchmarks)."""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app import admin, ids
from app.models import connections, users

SEED_BATCH = 20_000


async def bootstrap_if_empty(conn: AsyncConnection) -> dict[str, str] | None:
    """On an empty database: an organization, a key, namespace ``default``, bucket
    ``demo``, a connection and a few syncs. Returns what was made, key included."""
    if await admin.any_organization(conn):
        return None
    organization_id = await admin.create_organization(conn, "Development")
    issued = await admin.create_api_key(conn, organization_id, "development")
    namespace_id = await admin.create_namespace(conn, organization_id, "default")
    bucket_id, _ = await admin.create_bucket(conn, organization_id, namespace_id, "demo")
    connection_id = await admin.create_connection(conn, organization_id, "demo-s3", "s3")
    await _copy(
        conn,
        admin.seed_rows(
            5,
            namespace_id=namespace_id,
            bucket_id=bucket_id,
            organization_id=organization_id,
            user_id=issued.user_id,
            connection_ids=[connection_id],
            rng=random.Random(7),
        ),
    )
    return {
        "api_key": issued.api_key,
        "internal_id": organization_id,
        "user_id": issued.user_id,
        "namespace_id": namespace_id,
        "bucket_id": bucket_id,
        "connection_id": connection_id,
    }


async def seed_bucket(
    conn: AsyncConnection,
    *,
    organization_id: str,
    namespace_ref: str,
    bucket_ref: str,
    count: int,
    connections: int,
    rng: random.Random,
    progress: Callable[[int], None] | None = None,
) -> None:
    await admin.require_organization(conn, organization_id)
    namespace_id = await admin.find_namespace(conn, organization_id, namespace_ref)
    bucket_id = await admin.find_bucket(conn, namespace_id, bucket_ref)
    connection_ids = await _seed_connections(conn, organization_id, connections)
    user_id = await conn.scalar(
        select(users.c.user_id).where(users.c.organization_id == organization_id).limit(1)
    )
    if user_id is None:
        user_id = (await admin.create_api_key(conn, organization_id, "seed")).user_id
    newest = None
    remaining = count
    while remaining > 0:
        rows = admin.seed_rows(
            min(SEED_BATCH, remaining),
            namespace_id=namespace_id,
            bucket_id=bucket_id,
            organization_id=organization_id,
            user_id=str(user_id),
            connection_ids=connection_ids,
            rng=rng,
            newest=newest,
        )
        await _copy(conn, rows)
        newest = rows[-1][admin.SEED_COLUMNS.index("created_at")]
        remaining -= len(rows)
        if progress is not None:
            progress(len(rows))


async def _seed_connections(conn: AsyncConnection, organization_id: str, wanted: int) -> list[str]:
    existing: list[str] = list(
        (
            await conn.execute(
                select(connections.c.connection_id)
                .where(connections.c.organization_id == organization_id)
                .order_by(connections.c.created_at)
                .limit(wanted)
            )
        ).scalars()
    )
    providers = ("s3", "google_drive", "sharepoint", "tigris")
    while len(existing) < wanted:
        name = f"seed-{ids.new_connection_id()[-6:].lower()}"
        existing.append(
            await admin.create_connection(
                conn, organization_id, name, providers[len(existing) % len(providers)]
            )
        )
    return existing


async def _copy(conn: AsyncConnection, rows: list[tuple[object, ...]]) -> None:
    raw = await conn.get_raw_connection()
    await admin.copy_sync_rows(raw.driver_connection, rows)
