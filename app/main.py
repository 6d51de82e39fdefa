"""The application: ``create_app()`` wires settings → database → routes → errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import api, docs, health, observability
from app.auth import TenancyCache
from app.database import Database, create_engine, cursor_secret, database_url
from app.errors import install_error_handlers
from app.middleware import EdgeMiddleware
from app.ratelimit import RateLimiter, RatePolicy
from app.replica import read_replica
from app.settings import Settings, get_settings

logger = logging.getLogger("bucket_syncs")

DESCRIPTION = """\
Self-hosted, compatible implementation of the Mixpeek **bucket sync configurations**
API. Every `/v1` route takes `Authorization: Bearer sk_…` and `X-Namespace`
(namespace id or name). Errors share one envelope:
`{"success": false, "status": …, "error": {"message", "type", "code", "details"}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    observability.configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(database_url(settings), settings)
        app.state.database = Database(engine, cursor_secret(settings), read_replica(settings))
        await app.state.database.start()
        app.state.tenancy_cache = TenancyCache(settings.auth_cache_seconds)
        policy = RatePolicy(settings.rate_limit_per_minute, settings.rate_limit_burst)
        app.state.rate_limiter = RateLimiter(policy) if policy.enabled else None
        try:
            async with observability.pool_metrics(engine):
                yield
        finally:
            await app.state.database.dispose()

    app = FastAPIOffline(
        title="bucket-syncs",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[{"name": "Bucket Syncs", "description": "Sync configurations of a bucket."}],
    )
    app.state.settings = settings
    app.include_router(api.router)
    app.include_router(health.router)
    app.include_router(observability.router)
    install_error_handlers(app)
    _document_raw_routes(app)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    # Outermost: logs and counts the status the client actually got.
    app.add_middleware(observability.ObservabilityMiddleware)
    return app


def _document_raw_routes(app: FastAPI) -> None:
    """Add the models that hand-documented operations refer to (see docs.py)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                docs.extra_component_schemas()
            )
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
