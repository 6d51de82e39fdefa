"""Response shapes, for the OpenAPI document: PostgreSQL builds the JSON itself
(``app/repository/documents.py``), so these describe it rather than build it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from app.schemas.fields import SyncMode, SyncStatus
from app.schemas.requests import FileFilters

EXAMPLE_SYNC: dict[str, Any] = {
    "sync_config_id": "sync_4k2m9x7q1p0w3z8n",
    "bucket_id": "bkt_8f3k2m9x7q1p",
    "connection_id": "conn_abc123XYZ45678",
    "internal_id": "int_Qm9xK2p7Lr4Tz8Wn1Vb6Yc3D",
    "namespace_id": "ns_a1b2c3d4e5f6",
    "source_path": "my-bucket/videos/",
    "created_by_user_id": "usr_7Hk2Lm9Qp4Rs1Tv",
    "file_filters": {
        "include_patterns": ["*.mp4", "*.mov"],
        "exclude_patterns": None,
        "min_size_bytes": None,
        "max_size_bytes": None,
        "modified_after": None,
        "modified_before": None,
        "mime_types": None,
        "extensions": None,
    },
    "sync_mode": "continuous",
    "polling_interval_seconds": 300,
    "batch_size": 50,
    "create_object_on_confirm": True,
    "skip_duplicates": True,
    "status": "PENDING",
    "is_active": True,
    "total_files_discovered": 0,
    "total_files_synced": 0,
    "total_files_failed": 0,
    "total_bytes_synced": 0,
    "created_at": "2026-12-04T05:31:56.123456Z",
    "updated_at": "2026-12-04T05:31:56.123456Z",
    "last_sync_at": None,
    "next_sync_at": None,
    "last_error": None,
    "consecutive_failures": 0,
    "metadata": {"team": "marketing"},
    "description": None,
    "paused": False,
    "paused_at": None,
    "pause_reason": None,
    "paused_by_user_id": None,
    "locked": False,
    "schema_mapping": None,
    "ingest_filter": None,
    "reconcile": None,
    "provider_filters": None,
    "batch_collection_ids": None,
    "skip_batch_submission": False,
    "sync_from": None,
    "max_objects_per_run": None,
    "sync_concurrency": None,
}


class SyncConfigOut(BaseModel):
    """A sync configuration as every route returns it (all keys always present)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_SYNC]})

    sync_config_id: str
    bucket_id: str
    connection_id: str
    internal_id: str
    namespace_id: str
    source_path: str
    created_by_user_id: str
    file_filters: FileFilters | None
    sync_mode: SyncMode
    polling_interval_seconds: int
    batch_size: int
    create_object_on_confirm: bool
    skip_duplicates: bool
    status: SyncStatus
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
    metadata: dict[str, Any]
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
    page: int | None = Field(description="offset // limit + 1; null in cursor mode")
    page_size: int
    total_pages: int
    next_page: str | None = Field(description="Relative URL of the next page; null at the end")
    previous_page: str | None = Field(
        description="Relative URL of the previous page; null on the first page and in cursor mode"
    )
    next_cursor: str | None = Field(
        description="Opaque keyset cursor for the rows after this page; null on the last page"
    )


class SyncListResponse(BaseModel):
    """Response containing a list of sync configurations with pagination."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [EXAMPLE_SYNC],
                    "pagination": {
                        "total": 23,
                        "page": 1,
                        "page_size": 10,
                        "total_pages": 3,
                        "next_page": "/v1/buckets/bkt_8f3k2m9x7q1p/syncs/list?limit=10&offset=10",
                        "previous_page": None,
                        "next_cursor": "WzEsIm5zX2ExYjJjM2Q0ZTVmNiIsImJrdF84ZjNrMm05eDdxMXAiXQ",
                    },
                    "total": 23,
                }
            ]
        }
    )

    results: list[SyncConfigOut] = Field(
        description="Sync configurations matching the filters, newest first. ALWAYS PRESENT."
    )
    pagination: Pagination
    total: int = Field(description="Total matching the filters, across all pages.")


class DeleteResponse(BaseModel):
    success: Literal[True]
    message: str
    sync_config_id: str


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    details: dict[str, Any] | None = None


class ErrorResponse(BaseModel):
    success: Literal[False]
    status: int
    error: ErrorDetail
