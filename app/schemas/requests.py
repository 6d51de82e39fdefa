"""Request bodies and query parameters: unknown keys are refused, bounds live on
the fields."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.schemas.fields import (
    Glob,
    ShortText,
    StatusInput,
    StrictModel,
    SyncMode,
    SyncModeInput,
    UtcDatetime,
    json_size_at_most,
)

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
    source: Annotated[dict[str, Any], json_size_at_most(4096, "source")]
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
    json_size_at_most(16 * 1024, "metadata"),
]
ProviderFilters = Annotated[dict[str, Any], json_size_at_most(16 * 1024, "provider_filters")]
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
