"""Liveness and readiness probes: no authentication, JSON, the error envelope on 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app import health
from app.database import Database
from app.main import create_app
from app.migrate import upgrade
from app.settings import Settings
from tests.databases import empty_database

SECRET = "probe-secret-" + "y" * 32


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield application, c


def unreachable_settings(tmp_path: Path) -> Settings:
    return Settings(
        # Port 1 on the loopback: refused at once.
        database_url="postgresql://nobody:nothing@127.0.0.1:1/none",
        data_dir=tmp_path,
        cursor_secret=SECRET,
        connect_timeout_seconds=1,
    )


async def test_health_is_ok_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_ready_is_ok_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready", headers={"Authorization": "Bearer not-a-key"})

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok"},
    }


async def test_health_does_not_need_the_database_and_ready_reports_it(tmp_path: Path) -> None:
    async with serving(unreachable_settings(tmp_path)) as (_, client):
        live = await client.get("/health")
        ready = await client.get("/ready")

    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "1"
    assert ready.json() == {
        "success": False,
        "status": 503,
        "error": {
            "message": "The database is unavailable; retry shortly.",
            "type": "ServiceUnavailableError",
            "code": "database_unavailable",
        },
    }


async def test_ready_waits_for_migrations_then_remembers_them(
    database_ready: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with empty_database(database_ready, "bucket_syncs_probe") as url:
        probe_settings = settings.model_copy(update={"database_url": url})
        async with serving(probe_settings) as (application, client):
            before = await client.get("/ready")
            database: Database = application.state.database
            await upgrade(database.engine)
            after = await client.get("/ready")

            async def must_not_run(*_: object) -> bool:
                raise AssertionError("the migration check ran again")

            monkeypatch.setattr(health, "at_head", must_not_run)
            cached = await client.get("/ready")

    assert before.status_code == 503
    assert before.json()["error"]["code"] == "migrations_pending"
    assert before.json()["error"]["type"] == "ServiceUnavailableError"
    assert after.status_code == 200
    assert cached.status_code == 200


async def test_ready_fails_when_the_database_goes_away_after_being_ready(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await client.get("/ready")).status_code == 200

    async def refused(_: Database) -> None:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(health, "_ping", refused)
    response = await client.get("/ready")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"


async def test_probes_are_outside_the_api_and_its_schema(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert not {"/health", "/ready", "/metrics"} & set(paths)
    # Rate limits apply to /v1 only: the probes must stay outside it.
    assert all(path.startswith("/v1/") for path in paths)
