"""Peer 1: the typical stack, as most tutorials write it.

FastAPI + SQLAlchemy ORM with an ``AsyncSession`` per request (a dependency),
``select(Model)`` for the page, ``select(func.count())`` for the total, ORM
objects validated into a Pydantic ``response_model``. Same tables (the service's
own mapped class), same URL and body; no auth (the namespace is X-Namespace).

    BENCH_DATABASE_URL=postgresql+asyncpg://... uvicorn bench.peers.peer_orm:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.models import SyncConfig

engine = create_async_engine(os.environ["BENCH_DATABASE_URL"])
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


class ListFilter(BaseModel):
    connection_id: str | None = None
    status: str | None = None
    is_active: bool | None = None


class SyncConfigOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sync_config_id: str
    bucket_id: str
    connection_id: str
    internal_id: str
    namespace_id: str
    source_path: str
    created_by_user_id: str
    file_filters: dict[str, Any] | None
    sync_mode: str
    polling_interval_seconds: int
    batch_size: int
    create_object_on_confirm: bool
    skip_duplicates: bool
    status: str
    is_active: bool
    total_files_discovered: int
    total_files_synced: int
    total_files_failed: int
    total_bytes_synced: int
    created_at: datetime
    updated_at: datetime
    last_sync_at: datetime | None
    next_sync_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    description: str | None
    paused: bool
    paused_at: datetime | None
    pause_reason: str | None
    paused_by_user_id: str | None
    locked: bool
    schema_mapping: dict[str, Any] | None
    ingest_filter: dict[str, Any] | None
    reconcile: dict[str, Any] | None
    provider_filters: dict[str, Any] | None
    batch_collection_ids: list[str] | None
    skip_batch_submission: bool
    sync_from: datetime | None
    max_objects_per_run: int | None
    sync_concurrency: int | None


class Pagination(BaseModel):
    total: int
    page: int
    page_size: int


class SyncListResponse(BaseModel):
    results: list[SyncConfigOut]
    pagination: Pagination
    total: int


@app.post("/v1/buckets/{bucket_id}/syncs/list", response_model=SyncListResponse)
async def list_syncs(
    bucket_id: str,
    session: Annotated[AsyncSession, Depends(get_session)],
    x_namespace: Annotated[str, Header()],
    filters: ListFilter | None = None,
    limit: int = 10,
    offset: int = 0,
) -> Any:
    conditions = [SyncConfig.namespace_id == x_namespace, SyncConfig.bucket_id == bucket_id]
    if filters is not None and filters.connection_id is not None:
        conditions.append(SyncConfig.connection_id == filters.connection_id)
    if filters is not None and filters.status is not None:
        conditions.append(SyncConfig.status == filters.status.upper())
    if filters is not None and filters.is_active is not None:
        conditions.append(SyncConfig.is_active == filters.is_active)
    query = select(SyncConfig).where(*conditions)
    page = query.order_by(SyncConfig.created_at.desc(), SyncConfig.sync_config_id.desc())
    rows = (await session.scalars(page.limit(limit).offset(offset))).all()
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    pagination = {"total": total, "page": offset // limit + 1, "page_size": limit}
    return {"results": rows, "pagination": pagination, "total": total}
