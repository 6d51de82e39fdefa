"""The routes: parse → repository → bytes. Each handler is a few lines; tenancy
comes from ``CurrentScope``, errors are raised as ``AppError``s."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Body, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from app import docs
from app.auth import CurrentScope, Db, authenticate
from app.database import Database
from app.errors import NotFoundError, ValidationFailedError
from app.ids import new_sync_config_id
from app.pagination import (
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
    ListQuery,
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
        408: "The request body was not received in time.",
        409: "A sync configuration for this connection and source path already exists.",
        413: "Request body larger than 1 MiB.",
        414: "Query string longer than 8 KiB.",
        422: "Validation error: unknown keys, wrong types, out-of-range values.",
        429: "Too many requests.",
        431: "Request headers exceed 100 fields or 32 KiB.",
        503: "The database is unavailable; retry after Retry-After seconds.",
    }.items()
}

SyncConfigId = Annotated[
    str, PathParam(description="The sync configuration's id (`sync_…`).", max_length=64)
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
    openapi_extra=docs.list_operation_extra(),
)
async def list_sync_configs(request: Request) -> Response:
    # The hottest route reads its raw request itself: FastAPI's per-parameter
    # extraction cost more than the query (see bench/README.md). The parameters are
    # documented through ``openapi_extra`` and validated by the same models.
    bucket_ref: str = request.path_params["bucket_id"]
    scope = await authenticate(request, bucket_ref)
    query = _validated(ListQuery, dict(request.query_params), "query")
    filters = await _list_filters(request)
    database: Database = request.app.state.database

    size = choose_limit(query.limit, query.page_size)
    token = choose_cursor(
        ("cursor", query.cursor), ("next_cursor", query.next_cursor), ("after", query.after)
    )
    start = choose_offset(size, query.offset, query.page, token)
    stated = filters.as_key() if filters is not None else None
    if token is None:
        page = PageRequest(size, start, None, stated or NO_FILTERS)
    else:
        cursor_filters, position = database.cursors.decode(
            token, scope.namespace_id, scope.bucket_id
        )
        page = PageRequest(size, 0, position, choose_filters(stated, cursor_filters))

    async with database.read_for(scope) as conn:
        result = await SyncReads(conn, database.statements, scope).list(page)

    following = None
    if result.has_more and result.last is not None:
        following = database.cursors.encode(
            scope.namespace_id, scope.bucket_id, page.filters, result.last
        )
    pagination = pagination_block(
        base_path=f"/v1/buckets/{scope.bucket_id}/syncs/list",
        total=result.total,
        request=page,
        next_cursor=following,
    )
    return _json(
        b'{"results":%b,"pagination":%b,"total":%d}'
        % (result.results_json.encode(), orjson.dumps(pagination), result.total)
    )


Validated = TypeVar("Validated", bound=BaseModel)


def _validated(model: type[Validated], data: Any, where: str) -> Validated:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailedError.of(
            [{**e, "loc": (where, *e["loc"])} for e in error.errors(include_input=False)]
        ) from None


async def _list_filters(request: Request) -> SyncListFilter | None:
    """The optional body: absent, empty and ``null`` all mean no filter. Parsed as JSON
    whatever the Content-Type, so ``curl -d '{...}'`` works too."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationFailedError.of(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "The request body is not valid JSON.",
                }
            ]
        ) from None
    if data is None:
        return None
    return _validated(SyncListFilter, data, "body")


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
        writes = await SyncWrites.open(conn, scope)
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
        writes = await SyncWrites.open(conn, scope)
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
        writes = await SyncWrites.open(conn, scope)
        deleted = await writes.delete(sync_config_id)
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
        writes = await SyncWrites.open(conn, scope)
        document = await writes.pause(sync_config_id, reason)
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
        writes = await SyncWrites.open(conn, scope)
        document = await writes.resume(sync_config_id)
    if document is None:
        raise NotFoundError.of("sync_config", sync_config_id)
    database.note_write(scope)
    return _json(document)


def _require_storable(sync_config_id: str) -> None:
    if not is_storable_text(sync_config_id):
        raise NotFoundError.of("sync_config", sync_config_id.encode(errors="replace").decode())
