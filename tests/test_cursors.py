"""Keyset cursors: walks, tampering, foreign cursors, filter binding."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import sync_configs
from tests.conftest import Tenant, column, expected_order, make_tenant, seed

pytestmark = pytest.mark.asyncio


async def walk(
    client: httpx.AsyncClient, tenant: Tenant, body: Any = None, limit: int = 10
) -> list[str]:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        response = await client.post(
            tenant.list_url, headers=tenant.headers, json=body, params=params
        )
        assert response.status_code == 200, response.text
        data = response.json()
        seen += [r["sync_config_id"] for r in data["results"]]
        cursor = data["pagination"]["next_cursor"]
        if cursor is None:
            return seen
        params = {"limit": limit, "cursor": cursor}


async def test_cursor_walk_returns_every_row_once_in_order(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 237, rng_seed=5)
    assert await walk(client, tenant, limit=10) == expected_order(rows)


async def test_cursor_mode_pagination_block(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    await seed(engine, tenant, 15)
    first = (await client.post(tenant.list_url, headers=tenant.headers)).json()
    cursor = first["pagination"]["next_cursor"]
    second = (
        await client.post(tenant.list_url, headers=tenant.headers, params={"cursor": cursor})
    ).json()
    assert second["pagination"] == {
        "total": 15,
        "page": None,
        "page_size": 10,
        "total_pages": 2,
        "next_page": None,
        "previous_page": None,
        "next_cursor": None,
    }
    assert len(second["results"]) == 5


@pytest.mark.parametrize("alias", ["cursor", "next_cursor", "after"])
async def test_cursor_aliases(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant, alias: str
) -> None:
    rows = await seed(engine, tenant, 12)
    first = (await client.post(tenant.list_url, headers=tenant.headers)).json()
    link = first["pagination"]["next_cursor"]
    second = await client.post(tenant.list_url, headers=tenant.headers, params={alias: link})
    assert [r["sync_config_id"] for r in second.json()["results"]] == expected_order(rows)[10:]


async def test_cursor_keeps_its_filters_when_the_body_is_omitted(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 300)
    failed = expected_order([r for r in rows if r[column("status")] == "FAILED"])
    assert len(failed) > 5
    first = (
        await client.post(
            tenant.list_url, headers=tenant.headers, json={"status": "failed"}, params={"limit": 5}
        )
    ).json()
    cursor = first["pagination"]["next_cursor"]
    for body in (None, {}, {"status": "FAILED"}, {"status": "Failed"}):
        rest = await client.post(
            tenant.list_url,
            headers=tenant.headers,
            json=body,
            params={"limit": 5, "cursor": cursor},
        )
        assert rest.status_code == 200
        assert [r["sync_config_id"] for r in rest.json()["results"]] == failed[5:10]
        assert rest.json()["total"] == len(failed)


@pytest.mark.parametrize(
    "body", [{"status": "COMPLETED"}, {"is_active": True}, {"connection_id": "conn_other"}]
)
async def test_cursor_with_different_filters_is_400(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant, body: dict[str, Any]
) -> None:
    await seed(engine, tenant, 300)
    first = (
        await client.post(
            tenant.list_url, headers=tenant.headers, json={"status": "FAILED"}, params={"limit": 2}
        )
    ).json()
    response = await client.post(
        tenant.list_url,
        headers=tenant.headers,
        json=body,
        params={"cursor": first["pagination"]["next_cursor"]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "cursor_filter_mismatch"


async def test_tampered_cursors_are_400(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    await seed(engine, tenant, 30)
    cursor = (await client.post(tenant.list_url, headers=tenant.headers)).json()["pagination"][
        "next_cursor"
    ]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    flipped = bytes([raw[0] ^ 1]) + raw[1:]
    forged_payload = raw.replace(b'"sync_', b'"synd_')
    candidates = [
        "garbage",
        "",
        "!!!!",
        cursor[:-2],
        cursor + "A",
        base64.urlsafe_b64encode(flipped).decode().rstrip("="),
        base64.urlsafe_b64encode(forged_payload).decode().rstrip("="),
        base64.urlsafe_b64encode(b"x" * 40).decode(),
    ]
    for candidate in candidates:
        response = await client.post(
            tenant.list_url, headers=tenant.headers, params={"cursor": candidate}
        )
        assert response.status_code == 400, candidate
        assert response.json()["error"]["code"] == "invalid_cursor"


async def test_cursor_of_another_bucket_or_tenant_is_400(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    other = await make_tenant(engine, "o")
    await seed(engine, other, 30)
    foreign = (await client.post(other.list_url, headers=other.headers)).json()["pagination"][
        "next_cursor"
    ]
    response = await client.post(
        tenant.list_url, headers=tenant.headers, params={"cursor": foreign}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"


async def test_walk_during_inserts_and_deletes_has_no_duplicates_or_skips(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 400, rng_seed=11)
    ids = expected_order(rows)
    # Rows deleted during the walk may or may not appear; the rest must appear exactly once.
    doomed = set(ids[::7])
    survivors = [i for i in ids if i not in doomed]
    table = sync_configs
    stop = asyncio.Event()
    pending = list(doomed)
    inserted = 0

    async def churn() -> None:
        nonlocal inserted
        n = 0
        while not stop.is_set():
            response = await client.post(
                tenant.syncs_url,
                headers=tenant.headers,
                json={"connection_id": tenant.connection_id, "source_path": f"/new/{n}"},
            )
            assert response.status_code == 200, (response.text, response.headers)
            n += 1
            inserted += 1
            if pending:
                victim = pending.pop()
                async with engine.begin() as conn:
                    await conn.execute(
                        delete(table).where(
                            table.c.namespace_id == tenant.namespace_id,
                            table.c.sync_config_id == victim,
                        )
                    )
            await asyncio.sleep(0)

    churner = asyncio.create_task(churn())
    try:
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 5}
        while True:
            data = (
                await client.post(tenant.list_url, headers=tenant.headers, params=params)
            ).json()
            seen += [r["sync_config_id"] for r in data["results"]]
            if data["pagination"]["next_cursor"] is None:
                break
            params = {"limit": 5, "cursor": data["pagination"]["next_cursor"]}
            await asyncio.sleep(0)
    finally:
        stop.set()
        deleted_during_walk = len(doomed) - len(pending)
        inserted_during_walk = inserted
        await churner
    assert deleted_during_walk >= 10, "the walk must actually race with the deletes"
    assert inserted_during_walk >= 10, "the walk must actually race with the inserts"
    assert len(seen) == len(set(seen)), "a row was returned twice"
    old = [i for i in seen if i in set(ids)]
    assert [i for i in old if i not in doomed] == survivors, "a surviving row was skipped"
