"""The application: ``create_app()`` wires settings → database → routes → errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import api
from app.auth import TenancyCache
from app.database import Database, create_engine, cursor_secret, database_url
from app.errors import install_error_handlers
from app.middleware import EdgeMiddleware
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(database_url(settings), settings)
        app.state.database = Database(engine, cursor_secret(settings))
        app.state.tenancy_cache = TenancyCache(settings.auth_cache_seconds)
        try:
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
    install_error_handlers(app)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
