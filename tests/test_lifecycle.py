"""Create, get, update, delete, pause and resume of sync configurations."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app import admin
from app.repository import OUTPUT_FIELDS
from tests.conftest import Tenant, make_tenant

pytestmark = pytest.mark.asyncio


async def create(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"connection_id": tenant.connection_id, "source_path": "media/videos/", **fields}
    response = await client.post(tenant.syncs_url, headers=tenant.headers, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_create_applies_the_contract_defaults(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create(client, tenant)
    assert list(made) == list(OUTPUT_FIELDS)
    assert made["sync_config_id"].startswith("sync_")
    assert len(made["sync_config_id"]) == 21
    volatile = {"sync_config_id", "created_at", "updated_at"}
    assert {k: v for k, v in made.items() if k not in volatile} == {
        "bucket_id": tenant.bucket_id,
        "connection_id": tenant.connection_id,
        "internal_id": tenant.organization_id,
        "namespace_id": tenant.namespace_id,
        "source_path": "media/videos/",
        "created_by_user_id": tenant.user_id,
        "file_filters": None,
        "sync_mode": "continuous",
        "polling_interval_seconds": 300,
        "batch_size": 50,
        "create_object_on_confirm": True,
        "skip_duplicates": True,
        "status": "PENDING",
        "is_active": True,
        "total_files_discovered": 0,
        "total_files_synced": 0,
        "total_files_failed": 0,
        "total_bytes_synced": 0,
        "last_sync_at": None,
        "next_sync_at": None,
        "last_error": None,
        "consecutive_failures": 0,
        "metadata": {},
        "description": None,
        "paused": False,
        "paused_at": None,
        "pause_reason": None,
        "paused_by_user_id": None,
        "locked": False,
        "schema_mapping": None,
        "ingest_filter": None,
        "reconcile": None,
        "provider_filters": None,
        "batch_collection_ids": None,
        "skip_batch_submission": False,
        "sync_from": None,
        "max_objects_per_run": None,
        "sync_concurrency": None,
    }
    assert made["created_at"] == made["updated_at"]
    assert made["created_at"].endswith("Z")


async def test_create_get_and_list_return_the_same_bytes(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        tenant.syncs_url,
        headers=tenant.headers,
        json={
            "connection_id": tenant.connection_id,
            "source_path": "s3://b/p",
            "file_filters": {
                "include_patterns": ["*.mp4"],
                "min_size_bytes": 1,
                "max_size_bytes": 10,
                "modified_after": "2024-01-01T00:00:00+02:00",
            },
            "metadata": {"team": "média", "n": 1.5, "nested": {"a": [1, None]}},
            "schema_mapping": {"mappings": {"title": {"source": {"type": "tag", "key": "t"}}}},
            "ingest_filter": {"retriever_id": "ret_1"},
            "reconcile": {"on_delete": False},
            "sync_from": "2024-05-01T12:00:00Z",
        },
    )
    assert response.status_code == 200, response.text
    created = response.content
    sync_id = response.json()["sync_config_id"]
    got = await client.get(f"{tenant.syncs_url}/{sync_id}", headers=tenant.headers)
    assert got.content == created
    listed = await client.post(tenant.list_url, headers=tenant.headers)
    assert listed.content.startswith(b'{"results":[' + created + b"]")
    body = response.json()
    assert body["file_filters"]["modified_after"] == "2023-12-31T22:00:00Z"
    assert body["schema_mapping"]["mappings"]["title"]["target_type"] == "field"
    assert body["sync_from"] == "2024-05-01T12:00:00.000000Z"


@pytest.mark.parametrize(
    ("given", "stored"),
    [("scheduled", "continuous"), ("ONE_TIME", "initial_only"), ("Initial_Only", "initial_only")],
)
async def test_sync_mode_aliases(
    client: httpx.AsyncClient, tenant: Tenant, given: str, stored: str
) -> None:
    assert (await create(client, tenant, sync_mode=given))["sync_mode"] == stored


async def test_create_with_unknown_connection_is_404(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    other = await make_tenant(engine, "o")
    for connection_id in ("conn_doesnotexist0", other.connection_id):
        response = await client.post(
            tenant.syncs_url,
            headers=tenant.headers,
            json={"connection_id": connection_id, "source_path": "/"},
        )
        assert response.status_code == 404
        assert response.json()["error"]["details"] == {
            "resource": "connection",
            "id": connection_id,
        }


DROP = object()  # marks a required key left out of the body


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"connection_id": DROP}, ["body", "connection_id"]),
        ({"source_path": DROP}, ["body", "source_path"]),
        ({"source_path": ""}, ["body", "source_path"]),
        ({"source_path": "x" * 1025}, ["body", "source_path"]),
        ({"polling_interval_seconds": 29}, ["body", "polling_interval_seconds"]),
        ({"polling_interval_seconds": 86401}, ["body", "polling_interval_seconds"]),
        ({"polling_interval_seconds": "300"}, ["body", "polling_interval_seconds"]),
        ({"batch_size": 0}, ["body", "batch_size"]),
        ({"batch_size": 101}, ["body", "batch_size"]),
        ({"sync_mode": "hourly"}, ["body", "sync_mode"]),
        ({"file_filters": {"min_size_bytes": 5, "max_size_bytes": 4}}, ["body", "file_filters"]),
        ({"file_filters": {"min_size_bytes": -1}}, ["body", "file_filters", "min_size_bytes"]),
        (
            {
                "file_filters": {
                    "modified_after": "2024-02-01T00:00:00Z",
                    "modified_before": "2024-01-01T00:00:00Z",
                }
            },
            ["body", "file_filters"],
        ),
        (
            {"file_filters": {"include_patterns": ["*"] * 101}},
            ["body", "file_filters", "include_patterns"],
        ),
        (
            {"file_filters": {"include_patterns": ["x" * 257]}},
            ["body", "file_filters", "include_patterns", "0"],
        ),
        (
            {"file_filters": {"modified_after": "2024-02-01T00:00:00"}},
            ["body", "file_filters", "modified_after"],
        ),
        ({"file_filters": {"surprise": 1}}, ["body", "file_filters"]),
        ({"metadata": {f"k{i}": i for i in range(51)}}, ["body", "metadata"]),
        ({"metadata": {"big": "x" * 17000}}, ["body", "metadata"]),
        ({"description": "d" * 501}, ["body", "description"]),
        ({"sync_concurrency": 101}, ["body", "sync_concurrency"]),
        ({"max_objects_per_run": 0}, ["body", "max_objects_per_run"]),
        ({"ingest_filter": {}}, ["body", "ingest_filter", "retriever_id"]),
        ({"schema_mapping": {}}, ["body", "schema_mapping", "mappings"]),
        ({"unknown_key": 1}, ["body"]),
    ],
)
async def test_create_validation_errors(
    client: httpx.AsyncClient, tenant: Tenant, changes: dict[str, Any], location: list[str]
) -> None:
    payload: dict[str, Any] = {"connection_id": tenant.connection_id, "source_path": "/"}
    for key, value in changes.items():
        if value is DROP:
            del payload[key]
        else:
            payload[key] = value
    response = await client.post(tenant.syncs_url, headers=tenant.headers, json=payload)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "ValidationError"
    assert error["details"]["validation_errors"][0]["location"] == location


async def test_unknown_create_key_names_the_accepted_ones(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        tenant.syncs_url,
        headers=tenant.headers,
        json={"connection_id": tenant.connection_id, "source_path": "/", "colour": "red"},
    )
    message = response.json()["error"]["details"]["validation_errors"][0]["message"]
    assert "'colour'" in message
    assert "polling_interval_seconds" in message


async def test_get_unknown_or_foreign_sync_is_404(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    other = await make_tenant(engine, "o")
    theirs = await create(client, other)
    for sync_id in ("sync_doesnotexist00000", theirs["sync_config_id"]):
        response = await client.get(f"{tenant.syncs_url}/{sync_id}", headers=tenant.headers)
        assert response.status_code == 404
        assert response.json()["error"]["details"] == {"resource": "sync_config", "id": sync_id}


async def test_get_from_another_bucket_of_the_same_namespace_is_404(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    async with engine.begin() as conn:
        second, _ = await admin.create_bucket(
            conn, tenant.organization_id, tenant.namespace_id, "second"
        )
    made = await create(client, tenant)
    response = await client.get(
        f"/v1/buckets/{second}/syncs/{made['sync_config_id']}", headers=tenant.headers
    )
    assert response.status_code == 404


async def test_update_changes_only_what_is_sent(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await create(client, tenant, metadata={"a": 1, "b": 2}, description="first")
    url = f"{tenant.syncs_url}/{made['sync_config_id']}"
    response = await client.patch(
        url,
        headers=tenant.headers,
        json={"metadata": {"c": 3}, "status": "failed", "batch_size": 7},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["metadata"] == {"c": 3}  # replaced, not merged
    assert updated["status"] == "FAILED"
    assert updated["batch_size"] == 7
    assert updated["description"] == "first"
    assert updated["created_at"] == made["created_at"]
    assert updated["updated_at"] > made["updated_at"]
    unchanged = {
        k: v
        for k, v in updated.items()
        if k not in {"metadata", "status", "batch_size", "updated_at"}
    }
    assert unchanged == {
        k: v for k, v in made.items() if k not in {"metadata", "status", "batch_size", "updated_at"}
    }
    got = await client.get(url, headers=tenant.headers)
    assert got.content == response.content


async def test_update_can_clear_nullable_fields(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await create(client, tenant, description="x", file_filters={"mime_types": ["a/b"]})
    url = f"{tenant.syncs_url}/{made['sync_config_id']}"
    response = await client.patch(
        url, headers=tenant.headers, json={"description": None, "file_filters": None}
    )
    assert response.json()["description"] is None
    assert response.json()["file_filters"] is None


async def test_empty_update_changes_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await create(client, tenant)
    url = f"{tenant.syncs_url}/{made['sync_config_id']}"
    response = await client.patch(url, headers=tenant.headers, json={})
    assert response.status_code == 200
    assert response.json() == made


@pytest.mark.parametrize(
    "body",
    [
        {"connection_id": "conn_x"},
        {"sync_mode": "continuous"},
        {"batch_size": 500},
        {"status": "paused"},
        {"is_active": "no"},
    ],
)
async def test_update_validation_errors(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    made = await create(client, tenant)
    response = await client.patch(
        f"{tenant.syncs_url}/{made['sync_config_id']}", headers=tenant.headers, json=body
    )
    assert response.status_code == 422


async def test_update_of_missing_sync_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.patch(
        f"{tenant.syncs_url}/sync_missing", headers=tenant.headers, json={"batch_size": 5}
    )
    assert response.status_code == 404


async def test_delete_then_delete_again_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await create(client, tenant)
    url = f"{tenant.syncs_url}/{made['sync_config_id']}"
    first = await client.delete(url, headers=tenant.headers)
    assert first.status_code == 200
    assert first.json() == {
        "success": True,
        "message": f"Sync configuration {made['sync_config_id']} deleted.",
        "sync_config_id": made["sync_config_id"],
    }
    assert (await client.delete(url, headers=tenant.headers)).status_code == 404
    assert (await client.get(url, headers=tenant.headers)).status_code == 404


async def test_pause_and_resume(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await create(client, tenant)
    url = f"{tenant.syncs_url}/{made['sync_config_id']}"
    paused = (
        await client.post(f"{url}/pause", headers=tenant.headers, json={"reason": "maintenance"})
    ).json()
    assert paused["paused"] is True
    assert paused["is_active"] is False
    assert paused["status"] == "SUSPENDED"
    assert paused["pause_reason"] == "maintenance"
    assert paused["paused_by_user_id"] == tenant.user_id
    assert paused["paused_at"] is not None
    again = await client.post(f"{url}/pause", headers=tenant.headers)
    assert again.json() == paused  # idempotent: the first pause stands

    resumed = (await client.post(f"{url}/resume", headers=tenant.headers)).json()
    assert resumed["paused"] is False
    assert resumed["is_active"] is True
    assert resumed["status"] == "ACTIVE"
    assert resumed["paused_at"] is None
    assert resumed["pause_reason"] is None
    assert resumed["paused_by_user_id"] is None
    assert resumed["next_sync_at"] is not None
    assert resumed["updated_at"] > paused["updated_at"]
    assert (await client.post(f"{url}/resume", headers=tenant.headers)).json() == resumed


async def test_pause_of_missing_sync_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for action in ("pause", "resume"):
        response = await client.post(
            f"{tenant.syncs_url}/sync_nope/{action}", headers=tenant.headers
        )
        assert response.status_code == 404


async def test_concurrent_changes_lose_nothing_and_never_resurrect(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create(client, tenant)
    url = f"{tenant.syncs_url}/{made['sync_config_id']}"
    patches = [
        client.patch(url, headers=tenant.headers, json={"metadata": {"n": i}, "batch_size": i + 1})
        for i in range(20)
    ]
    toggles = [client.post(f"{url}/{a}", headers=tenant.headers) for a in ("pause", "resume") * 5]
    responses = await asyncio.gather(*patches, *toggles)
    assert all(r.status_code == 200 for r in responses)
    final = (await client.get(url, headers=tenant.headers)).json()
    # Every PATCH wrote metadata and batch_size together: they stay consistent.
    assert final["batch_size"] == final["metadata"]["n"] + 1

    racers = (
        [client.delete(url, headers=tenant.headers)]
        + [
            client.patch(url, headers=tenant.headers, json={"description": f"d{i}"})
            for i in range(10)
        ]
        + [client.post(f"{url}/pause", headers=tenant.headers) for _ in range(5)]
    )
    results = await asyncio.gather(*racers)
    assert results[0].status_code == 200
    assert {r.status_code for r in results[1:]} <= {200, 404}
    assert (await client.get(url, headers=tenant.headers)).status_code == 404
    listed = (await client.post(tenant.list_url, headers=tenant.headers)).json()
    assert listed["total"] == 0


async def test_second_sync_for_the_same_source_is_409(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first = await create(client, tenant, source_path="media/a/")
    again = await client.post(
        tenant.syncs_url,
        headers=tenant.headers,
        json={"connection_id": tenant.connection_id, "source_path": "media/a/"},
    )
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["type"] == "AlreadyExistsError"
    assert error["code"] == "sync_config_exists"
    other = await create(client, tenant, source_path="media/b/")
    moved = await client.patch(
        f"{tenant.syncs_url}/{other['sync_config_id']}",
        headers=tenant.headers,
        json={"source_path": "media/a/", "description": "would collide"},
    )
    assert moved.status_code == 409
    unchanged = await client.get(
        f"{tenant.syncs_url}/{other['sync_config_id']}", headers=tenant.headers
    )
    assert unchanged.json() == other  # the failed PATCH changed nothing
    listed = await client.post(tenant.list_url, headers=tenant.headers)
    assert {r["sync_config_id"] for r in listed.json()["results"]} == {
        first["sync_config_id"],
        other["sync_config_id"],
    }


async def test_update_accepts_the_kept_only_keys(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await create(client, tenant)
    response = await client.patch(
        f"{tenant.syncs_url}/{made['sync_config_id']}",
        headers=tenant.headers,
        json={
            "sync_from": "2025-01-02T03:04:05Z",
            "batch_collection_ids": ["col_1"],
            "skip_batch_submission": True,
            "max_objects_per_run": 500,
            "sync_concurrency": 4,
            "provider_filters": {"use_search_api": False},
            "reconcile": {"on_delete": False},
            "ingest_filter": {"retriever_id": "ret_9", "action": "drop"},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sync_from"] == "2025-01-02T03:04:05.000000Z"
    assert body["batch_collection_ids"] == ["col_1"]
    assert body["skip_batch_submission"] is True
    assert body["max_objects_per_run"] == 500
    assert body["sync_concurrency"] == 4
    assert body["provider_filters"] == {"use_search_api": False}
    assert body["reconcile"]["on_delete"] is False
    assert body["ingest_filter"]["action"] == "drop"
