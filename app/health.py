"""Probes for orchestrators: no authentication, outside ``/v1`` (so outside rate limits).

- ``GET /health`` (liveness): the process answers HTTP. Never touches the database,
  so a database outage does not get healthy workers restarted.
- ``GET /ready`` (readiness): the database answers and its schema is at the newest
  migration. Once the schema has been seen at head it stays so for this process
  (migrations only move forward while it runs), and the probe is then one
  ``SELECT 1`` on a pooled connection.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth import Db
from app.database import Database, is_database_unavailable
from app.errors import RETRY_AFTER_SECONDS, envelope
from app.migrate import at_head

logger = logging.getLogger("bucket_syncs.health")

READY_TIMEOUT_SECONDS = 3.0

router = APIRouter(include_in_schema=False)

_HEALTHY = orjson.dumps({"status": "ok"})
_READY = orjson.dumps({"status": "ready", "checks": {"database": "ok", "migrations": "ok"}})


@router.get("/health")
async def health() -> Response:
    return Response(_HEALTHY, media_type="application/json")


@router.get("/ready")
async def ready(request: Request, database: Db) -> Response:
    state = request.app.state
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            if getattr(state, "migrations_at_head", False):
                await _ping(database)
            elif await at_head(database.engine):
                state.migrations_at_head = True
            else:
                return _not_ready(
                    "The database schema is not at the newest migration; run "
                    "`bucket-syncs migrate`.",
                    code="migrations_pending",
                )
    except Exception as exc:
        if not is_database_unavailable(exc):
            logger.exception("readiness check failed")
        else:
            logger.warning("readiness: database unavailable: %s", type(exc).__name__)
        return _not_ready(
            "The database is unavailable; retry shortly.", code="database_unavailable"
        )
    return Response(_READY, media_type="application/json")


async def _ping(database: Database) -> None:
    async with database.read() as conn:
        await conn.fetchval("SELECT 1")


def _not_ready(message: str, *, code: str) -> Response:
    return Response(
        envelope(503, "ServiceUnavailableError", message, code=code),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        media_type="application/json",
    )
