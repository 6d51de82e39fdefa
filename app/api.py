"""The routes: parse → repository → bytes. Each handler is a few lines; tenancy
comes from ``CurrentScope``, errors are raised as ``AppError``s."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query
from fastapi import Path as PathParam
from starlette.responses import Response

from app import docs
from app.auth import CurrentScope, Db
from app.errors import NotFoundError
from app.ids import new_sync_config_id
from app.pagination import (
    MAX_LIMIT,
    MAX_OFFSET,
    NO_FILTERS,
    PageRequest,
    choose_cursor,
    choose_filters,
    choose_limit,
    choose_offset,
    pagination_block,
)
from app.repository import SyncReads, SyncWrites
from app.schemas import (
    DeleteResponse,
    ErrorResponse,
    PauseRequest,
    SyncConfigCreate,
    SyncConfigOut,
    SyncConfigUpdate,
    SyncListFilter,
    SyncListResponse,
    is_storable_text,
)

router = APIRouter(prefix="/v1/buckets/{bucket_id}/syncs", tags=["Bucket Syncs"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Bad request: missing namespace, conflicting parameters, invalid cursor.",
        401: "Missing, malformed, unknown or revoked API key.",
        404: "Namespace, bucket or sync configuration not found.",
        413: "Request body larger than 1 MiB.",
        422: "Validation error: unknown keys, wrong types, out-of-range values.",
        429: "Too many requests.",
        503: "The database is unavailable; retry after Retry-After seconds.",
    }.items()
}

SyncConfigId = Annotated[
    str, PathParam(description="The sync configuration's id (`sync_…`).", max_length=64)
]
CursorParam = Annotated[
    str | None,
    Query(max_length=1024, description="Opaque cursor from `pagination.next_cursor`."),
]


def _json(document: str | bytes) -> Response:
    body = document if isinstance(document, bytes) else document.encode()
    return Response(body, media_type="application/json")


@router.post(
    "/list",
    summary="List Sync Configurations",
    description=docs.LIST_DESCRIPTION,
    operation_id="list_sync_configurations",
    response_model=SyncListResponse,
    responses=_ERRORS,
)
async def list_sync_configs(
    scope: CurrentScope,
    database: Db,
    filters: Annotated[
        SyncListFilter | None, Body(openapi_examples=docs.LIST_BODY_EXAMPLES)
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..1000 (default 10).")
    ] = None,
    page_size: Annotated[
        int | None, Query(ge=1, le=MAX_LIMIT, description="Alias of `limit`.")
    ] = None,
    offset: Annotated[
        int | None, Query(ge=0, le=MAX_OFFSET, description="Rows to skip, 0..10000.")
    ] = None,
    page: Annotated[
        int | None,
        Query(ge=1, le=MAX_OFFSET + 1, description="1-based page number: offset = (page-1)*limit."),
    ] = None,
    cursor: CursorParam = None,
    next_cursor: CursorParam = None,
    after: CursorParam = None,
    include_total: Annotated[
        bool | None, Query(description="Accepted for compatibility; `total` is always exact.")
    ] = None,
) -> Response:
    size = choose_limit(limit, page_size)
    token = choose_cursor(("cursor", cursor), ("next_cursor", next_cursor), ("after", after))
    start = choose_offset(size, offset, page, token)
    stated = filters.as_key() if filters is not None else None
    if token is None:
        request = PageRequest(size, start, None, stated or NO_FILTERS)
    else:
        cursor_filters, position = database.cursors.decode(
            token, scope.namespace_id, scope.bucket_id
        )
        request = PageRequest(size, 0, position, choose_filters(stated, cursor_filters))

    async with database.read() as conn:
        result = await SyncReads(conn, database.statements, scope).list(request)

    following = None
    if result.has_more and result.last is not None:
        following = database.cursors.encode(
            scope.namespace_id, scope.bucket_id, request.filters, result.last
        )
    pagination = pagination_block(
        base_path=f"/v1/buckets/{scope.bucket_id}/syncs/list",
        total=result.total,
        request=request,
        next_cursor=following,
    )
    return _json(
        b'{"results":%b,"pagination":%b,"total":%d}'
        % (result.results_json.encode(), orjson.dumps(pagination), result.total)
    )


def _stored(body: SyncConfigCreate | SyncConfigUpdate, fields: set[str]) -> dict[str, Any]:
    """The column values for ``fields`` of a validated body (nested models as JSON)."""
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(body, name)
        if hasattr(value, "model_dump"):
            value = value.model_dump(mode="json")
        elif hasattr(value, "value"):  # enums
            value = value.value
        values[name] = value
    return values


@router.post(
    "",
    summary="Create Sync Configuration",
    description=docs.CREATE_DESCRIPTION,
    operation_id="create_sync_configuration",
    response_model=SyncConfigOut,
    responses=_ERRORS,
)
async def create_sync_config(
    scope: CurrentScope,
    database: Db,
    body: Annotated[SyncConfigCreate, Body(openapi_examples=docs.CREATE_BODY_EXAMPLES)],
) -> Response:
    values = _stored(body, set(SyncConfigCreate.model_fields))
    values["metadata"] = values["metadata"] or {}
    values["skip_batch_submission"] = bool(values["skip_batch_submission"])
    async with database.write() as conn:
        writes = SyncWrites(conn, scope)
        if not await writes.connection_exists(body.connection_id):
            raise NotFoundError.of("connection", body.connection_id)
        document = await writes.create(new_sync_config_id(), values)
    database.note_write(scope)
    return _json(document)


@router.get(
    "/{sync_config_id}",
    summary="Get Sync Configuration",
    description="Return one sync configuration of the bucket.",
    operation_id="get_sync_configuration",
    response_model=SyncConfigOut,
    responses=_ERRORS,
)
async def get_sync_config(
    scope: CurrentScope, database: Db, sync_config_id: SyncConfigId
) -> Response:
    _require_storable(sync_config_id)
    async with database.read_for(scope) as conn:
        document = await SyncReads(conn, database.statements, scope).get(sync_config_id)
    if document is None:
        raise NotFoundError.of("sync_config", sync_config_id)
    return _json(document)


@router.patch(
    "/{sync_config_id}",
    summary="Update Sync Configuration",
    description=docs.UPDATE_DESCRIPTION,
    operation_id="update_sync_configuration",
    response_model=SyncConfigOut,
    responses=_ERRORS,
)
async def update_sync_config(
    scope: CurrentScope,
    database: Db,
    sync_config_id: SyncConfigId,
    body: Annotated[SyncConfigUpdate, Body(openapi_examples=docs.UPDATE_BODY_EXAMPLES)],
) -> Response:
    _require_storable(sync_config_id)
    sent = body.model_fields_set - {
        name for name in SyncConfigUpdate.NOT_NULL if getattr(body, name) is None
    }
    async with database.write() as conn:
        writes = SyncWrites(conn, scope)
        if sent:
            document = await writes.update(sync_config_id, _stored(body, sent))
        else:
            document = await writes.current(sync_config_id)
    if document is None:
        raise NotFoundError.of("sync_config", sync_config_id)
    database.note_write(scope)
    return _json(document)


@router.delete(
    "/{sync_config_id}",
    summary="Delete Sync Configuration",
    description="Delete a sync configuration. A second delete of the same id is 404.",
    operation_id="delete_sync_configuration",
    response_model=DeleteResponse,
    responses=_ERRORS,
)
async def delete_sync_config(
    scope: CurrentScope, database: Db, sync_config_id: SyncConfigId
) -> Response:
    _require_storable(sync_config_id)
    async with database.write() as conn:
        deleted = await SyncWrites(conn, scope).delete(sync_config_id)
    if not deleted:
        raise NotFoundError.of("sync_config", sync_config_id)
    database.note_write(scope)
    return _json(
        orjson.dumps(
            {
                "success": True,
                "message": f"Sync configuration {sync_config_id} deleted.",
                "sync_config_id": sync_config_id,
            }
        )
    )


@router.post(
    "/{sync_config_id}/pause",
    summary="Pause Sync Configuration",
    description=docs.PAUSE_DESCRIPTION,
    operation_id="pause_sync_configuration",
    response_model=SyncConfigOut,
    responses=_ERRORS,
)
async def pause_sync_config(
    scope: CurrentScope,
    database: Db,
    sync_config_id: SyncConfigId,
    body: Annotated[PauseRequest | None, Body(openapi_examples=docs.PAUSE_BODY_EXAMPLES)] = None,
) -> Response:
    _require_storable(sync_config_id)
    reason = body.reason if body is not None else None
    async with database.write() as conn:
        document = await SyncWrites(conn, scope).pause(sync_config_id, reason)
    if document is None:
        raise NotFoundError.of("sync_config", sync_config_id)
    database.note_write(scope)
    return _json(document)


@router.post(
    "/{sync_config_id}/resume",
    summary="Resume Sync Configuration",
    description=docs.RESUME_DESCRIPTION,
    operation_id="resume_sync_configuration",
    response_model=SyncConfigOut,
    responses=_ERRORS,
)
async def resume_sync_config(
    scope: CurrentScope, database: Db, sync_config_id: SyncConfigId
) -> Response:
    _require_storable(sync_config_id)
    async with database.write() as conn:
        document = await SyncWrites(conn, scope).resume(sync_config_id)
    if document is None:
        raise NotFoundError.of("sync_config", sync_config_id)
    database.note_write(scope)
    return _json(document)


def _require_storable(sync_config_id: str) -> None:
    if not is_storable_text(sync_config_id):
        raise NotFoundError.of("sync_config", sync_config_id.encode(errors="replace").decode())
