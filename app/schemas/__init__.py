"""The wire contract: request and response models.

Requests forbid unknown keys (the error names the accepted ones); bounds live on the
fields. Responses are produced as JSON by PostgreSQL (``app/repository``), so their
models here document them rather than build them.
"""

from app.schemas.fields import SyncMode, SyncStatus, is_storable_text
from app.schemas.requests import (
    FileFilters,
    IngestFilter,
    ListQuery,
    MappingEntry,
    PauseRequest,
    ReconcileSettings,
    SchemaMapping,
    SyncConfigCreate,
    SyncConfigUpdate,
    SyncListFilter,
)
from app.schemas.responses import (
    EXAMPLE_SYNC,
    DeleteResponse,
    ErrorDetail,
    ErrorResponse,
    Pagination,
    SyncConfigOut,
    SyncListResponse,
)

__all__ = [
    "EXAMPLE_SYNC",
    "DeleteResponse",
    "ErrorDetail",
    "ErrorResponse",
    "FileFilters",
    "IngestFilter",
    "ListQuery",
    "MappingEntry",
    "Pagination",
    "PauseRequest",
    "ReconcileSettings",
    "SchemaMapping",
    "SyncConfigCreate",
    "SyncConfigOut",
    "SyncConfigUpdate",
    "SyncListFilter",
    "SyncListResponse",
    "SyncMode",
    "SyncStatus",
    "is_storable_text",
]
