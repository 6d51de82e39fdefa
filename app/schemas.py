"""The wire contract: request and response models.

Requests forbid unknown keys (the error names the accepted ones); bounds live on
the fields. Responses are documented here and produced as JSON by PostgreSQL
(see ``repository.py``), so these models describe them rather than build them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.models import SYNC_STATUSES


class SyncStatus(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    INTERRUPTED = "INTERRUPTED"
    UNKNOWN = "UNKNOWN"
    SKIPPED = "SKIPPED"
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
    SUSPENDED = "SUSPENDED"
    DEACTIVATED = "DEACTIVATED"


assert tuple(SyncStatus) == SYNC_STATUSES


class SyncMode(StrEnum):
    CONTINUOUS = "continuous"
    INITIAL_ONLY = "initial_only"


_SYNC_MODE_ALIASES = {"scheduled": "continuous", "one_time": "initial_only"}


def _status_any_case(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    upper = value.strip().upper()
    if upper in SyncStatus.__members__:
        return upper
    hint = " To find paused syncs, use is_active=false." if upper == "PAUSED" else ""
    raise PydanticCustomError(
        "enum",
        "Unknown status '{value}'. Allowed values (any case): {allowed}.{hint}",
        {"value": value[:64], "allowed": ", ".join(SYNC_STATUSES), "hint": hint},
    )


def _sync_mode_any_case(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    lower = value.strip().lower()
    return _SYNC_MODE_ALIASES.get(lower, lower)


StatusInput = Annotated[SyncStatus, BeforeValidator(_status_any_case)]
SyncModeInput = Annotated[SyncMode, BeforeValidator(_sync_mode_any_case)]


def _json_size_at_most(limit: int, what: str) -> Any:
    def check(value: Any) -> Any:
        if value is None:
            return value
        try:
            encoded = orjson.dumps(value)
        except orjson.JSONEncodeError:
            # Integers outside 64 bits or nesting past 254 levels: not storable as
            # JSON we can return (a TypeError here would otherwise be a 500).
            raise PydanticCustomError(
                "json_unsupported",
                "{what} must hold integers within 64 bits and at most 254 levels of nesting",
                {"what": what},
            ) from None
        if len(encoded) > limit:
            raise PydanticCustomError(
                "too_long",
                "{what} must be at most {limit} bytes as JSON",
                {"what": what, "limit": limit},
            )
        return value

    return AfterValidator(check)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError(
            "timezone_aware", "Timestamps must carry a timezone (e.g. a trailing 'Z')."
        )
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Glob = Annotated[StrictStr, Field(min_length=1, max_length=256)]
ShortText = Annotated[StrictStr, Field(min_length=1, max_length=256)]


def is_storable_text(value: str) -> bool:
    """PostgreSQL text holds neither NUL nor lone surrogates (which JSON can encode)."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _find_unstorable(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return not is_storable_text(value)
    if depth > 64:
        return False  # pydantic's own depth limits apply further down
    if isinstance(value, dict):
        return any(
            _find_unstorable(k, depth + 1) or _find_unstorable(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_find_unstorable(item, depth + 1) for item in value)
    return False


class StrictModel(BaseModel):
    """Refuses unknown keys with a message that names the accepted ones, and text
    that PostgreSQL cannot store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if _find_unstorable(data):
                raise PydanticCustomError(
                    "string_unstorable",
                    "Text may not contain NUL characters or unpaired surrogates.",
                )
            unknown = [key for key in data if key not in cls.model_fields]
            if unknown:
                raise PydanticCustomError(
                    "extra_forbidden",
                    "Unknown field(s): {unknown}. Accepted fields: {accepted}.",
                    {
                        "unknown": ", ".join(repr(str(k)[:64]) for k in unknown[:10]),
                        "accepted": ", ".join(cls.model_fields),
                    },
                )
        return data


# --- list -------------------------------------------------------------------------


class SyncListFilter(StrictModel):
    """Request to filter sync configurations for listing.

    All filters are optional - when omitted, returns all sync configurations for the
    bucket. Multiple filters are combined with AND logic. An empty body, `{}` or
    `null` returns every configuration of the bucket."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"connection_id": "conn_abc123", "status": "pending", "is_active": True}]
        },
    )

    connection_id: Annotated[StrictStr, Field(max_length=64)] | None = Field(
        default=None,
        description="Filter sync configurations by connection ID. NOT REQUIRED. When "
        "provided, only returns syncs using this connection. Example: 'conn_abc123'",
        examples=["conn_abc123"],
    )
    status: StatusInput | None = Field(
        default=None,
        description="Filter sync configurations by status. NOT REQUIRED. Case-insensitive "
        "('pending' and 'PENDING' are the same). Use is_active=false to find paused syncs.",
        examples=["pending"],
    )
    is_active: StrictBool | None = Field(
        default=None,
        description="Filter by active status. NOT REQUIRED. True: only active syncs. "
        "False: only paused/disabled syncs. Omit to include both.",
        examples=[True],
    )

    def as_key(self) -> tuple[str | None, str | None, bool | None]:
        return (self.connection_id, self.status.value if self.status else None, self.is_active)


class ListQuery(BaseModel):
    """The list route's query parameters (validated from the raw query string)."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="Page size, 1..1000 (default 10)."
    )
    page_size: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="Alias of `limit`."
    )
    offset: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        default=None, description="Rows to skip, 0..10000."
    )
    page: Annotated[int, Field(ge=1, le=10_001)] | None = Field(
        default=None, description="1-based page number: offset = (page-1) * limit."
    )
    cursor: Annotated[str, Field(max_length=1024)] | None = Field(
        default=None, description="Opaque cursor from `pagination.next_cursor`."
    )
    next_cursor: Annotated[str, Field(max_length=1024)] | None = Field(
        default=None, description="Alias of `cursor`."
    )
    after: Annotated[str, Field(max_length=1024)] | None = Field(
        default=None, description="Alias of `cursor`."
    )
    include_total: bool | None = Field(
        default=None, description="Accepted for compatibility; `total` is always exact."
    )


# --- objects ----------------------------------------------------------------------


class FileFilters(StrictModel):
    include_patterns: Annotated[list[Glob], Field(max_length=100)] | None = None
    exclude_patterns: Annotated[list[Glob], Field(max_length=100)] | None = None
    min_size_bytes: Annotated[StrictInt, Field(ge=0)] | None = None
    max_size_bytes: Annotated[StrictInt, Field(ge=0)] | None = None
    modified_after: UtcDatetime | None = None
    modified_before: UtcDatetime | None = None
    mime_types: Annotated[list[ShortText], Field(max_length=100)] | None = None
    # Documented by the official SDK's create request; kept and returned.
    extensions: Annotated[list[ShortText], Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> FileFilters:
        if (
            self.min_size_bytes is not None
            and self.max_size_bytes is not None
            and self.min_size_bytes > self.max_size_bytes
        ):
            raise PydanticCustomError(
                "range_order", "min_size_bytes must be less than or equal to max_size_bytes"
            )
        if (
            self.modified_after is not None
            and self.modified_before is not None
            and self.modified_after >= self.modified_before
        ):
            raise PydanticCustomError(
                "range_order", "modified_after must be earlier than modified_before"
            )
        return self


class MappingEntry(StrictModel):
    """One target field or blob of a schema mapping. ``target_type`` is always stored,
    since the official SDK cannot tell the two kinds apart without it."""

    target_type: Literal["field", "blob"] = "field"
    source: Annotated[dict[str, Any], _json_size_at_most(4096, "source")]
    transform: Annotated[StrictStr, Field(max_length=256)] | None = None
    required: StrictBool | None = None
    blob_type: Annotated[StrictStr, Field(max_length=64)] | None = None
    blob_property: Annotated[StrictStr, Field(min_length=1, max_length=128)] | None = None
    mime_type_override: Annotated[StrictStr, Field(max_length=256)] | None = None


class SchemaMapping(StrictModel):
    mappings: Annotated[
        dict[Annotated[str, Field(max_length=256)], MappingEntry], Field(max_length=200)
    ]


class IngestFilter(StrictModel):
    retriever_id: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    retriever_version: Annotated[StrictInt, Field(ge=1)] | None = None
    action: Literal["keep", "drop", "tag"] | None = None
    on_error: Literal["keep", "drop"] | None = None
    timeout_seconds: Annotated[StrictInt, Field(ge=1, le=300)] | None = 30


class ReconcileSettings(StrictModel):
    on_delete: StrictBool | None = True
    on_update: StrictBool | None = True
    on_filter_drift: StrictBool | None = True
    re_extract_on_update: StrictBool | None = True
    re_extract_fields: Annotated[list[ShortText], Field(max_length=100)] | None = None


Metadata = Annotated[
    dict[Annotated[str, Field(max_length=256)], Any],
    Field(max_length=50),
    _json_size_at_most(16 * 1024, "metadata"),
]
ProviderFilters = Annotated[dict[str, Any], _json_size_at_most(16 * 1024, "provider_filters")]
CollectionIds = Annotated[list[ShortText], Field(max_length=100)]
PollingInterval = Annotated[StrictInt, Field(ge=30, le=86400)]
BatchSize = Annotated[StrictInt, Field(ge=1, le=100)]
Description = Annotated[StrictStr, Field(max_length=500)]
MaxObjectsPerRun = Annotated[StrictInt, Field(ge=1, le=2_000_000_000)]
SyncConcurrency = Annotated[StrictInt, Field(ge=1, le=100)]


class _KeptOptions(StrictModel):
    """Keys the hosted API acts on and this service keeps: validated, stored, returned."""

    schema_mapping: SchemaMapping | None = None
    ingest_filter: IngestFilter | None = None
    reconcile: ReconcileSettings | None = None
    provider_filters: ProviderFilters | None = None
    batch_collection_ids: CollectionIds | None = None
    skip_batch_submission: StrictBool | None = None
    max_objects_per_run: MaxObjectsPerRun | None = None
    sync_concurrency: SyncConcurrency | None = None


class SyncConfigCreate(_KeptOptions):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "connection_id": "conn_abc123",
                    "source_path": "my-bucket/videos/",
                    "sync_mode": "continuous",
                    "polling_interval_seconds": 300,
                    "file_filters": {"include_patterns": ["*.mp4"]},
                    "metadata": {"team": "marketing"},
                }
            ]
        },
    )

    connection_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    source_path: Annotated[StrictStr, Field(min_length=1, max_length=1024)]
    sync_mode: SyncModeInput = SyncMode.CONTINUOUS
    file_filters: FileFilters | None = None
    polling_interval_seconds: PollingInterval = 300
    batch_size: BatchSize = 50
    create_object_on_confirm: StrictBool = True
    skip_duplicates: StrictBool = True
    sync_from: UtcDatetime | None = None
    description: Description | None = None
    metadata: Metadata | None = None


class SyncConfigUpdate(_KeptOptions):
    """Partial update: only the keys sent are changed; ``metadata`` replaces."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"description": "Nightly video import", "batch_size": 25}]},
    )

    description: Description | None = None
    metadata: Metadata | None = None
    status: StatusInput | None = None
    is_active: StrictBool | None = None
    polling_interval_seconds: PollingInterval | None = None
    batch_size: BatchSize | None = None
    file_filters: FileFilters | None = None
    source_path: Annotated[StrictStr, Field(min_length=1, max_length=1024)] | None = None
    sync_from: UtcDatetime | None = None

    # Columns that cannot hold NULL: sending null for them leaves them unchanged.
    NOT_NULL: ClassVar[frozenset[str]] = frozenset(
        {
            "metadata",
            "status",
            "is_active",
            "polling_interval_seconds",
            "batch_size",
            "source_path",
            "skip_batch_submission",
        }
    )


class PauseRequest(StrictModel):
    reason: Annotated[StrictStr, Field(max_length=500)] | None = None


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
