"""Tenancy matrix, inert SQL metacharacters, and keys that never leak."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app import admin
from tests.conftest import Tenant

pytestmark = pytest.mark.asyncio


@dataclass
class Place:
    """One bucket of one namespace of one organization, with a sync and a cursor."""

    org: int
    api_key: str
    namespace_id: str
    namespace_name: str
    bucket_id: str
    bucket_name: str
    sync_id: str = ""
    cursor: str = ""


async def build_world(engine: AsyncEngine, client: httpx.AsyncClient) -> list[Place]:
    places: list[Place] = []
    for org in range(2):
        async with engine.begin() as conn:
            organization = await admin.create_organization(conn, f"matrix-{org}")
            key = await admin.create_api_key(conn, organization, "matrix")
            connection = await admin.create_connection(conn, organization, "c", "s3")
            for n in range(2):
                # The same names in both organizations: resolution must stay inside each.
                namespace_id = await admin.create_namespace(conn, organization, f"space-{n}")
                for b in range(2):
                    bucket_id, _ = await admin.create_bucket(
                        conn, organization, namespace_id, f"bucket-{b}"
                    )
                    places.append(
                        Place(
                            org, key.api_key, namespace_id, f"space-{n}", bucket_id, f"bucket-{b}"
                        )
                    )
        for place in places[-4:]:
            headers = auth(place, place.namespace_id)
            for i in range(3):
                made = await client.post(
                    f"/v1/buckets/{place.bucket_id}/syncs",
                    headers=headers,
                    json={"connection_id": connection, "source_path": f"/{i}"},
                )
                assert made.status_code == 200
                place.sync_id = made.json()["sync_config_id"]
            page = await client.post(
                f"/v1/buckets/{place.bucket_id}/syncs/list", headers=headers, params={"limit": 1}
            )
            place.cursor = page.json()["pagination"]["next_cursor"]
    return places


def auth(place: Place, namespace: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {place.api_key}", "X-Namespace": namespace}


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/buckets/{bucket}/syncs/list", None),
    ("POST", "/v1/buckets/{bucket}/syncs", {"connection_id": "conn_x", "source_path": "/"}),
    ("GET", "/v1/buckets/{bucket}/syncs/{sync}", None),
    ("PATCH", "/v1/buckets/{bucket}/syncs/{sync}", {"description": "hijacked"}),
    ("DELETE", "/v1/buckets/{bucket}/syncs/{sync}", None),
    ("POST", "/v1/buckets/{bucket}/syncs/{sync}/pause", None),
    ("POST", "/v1/buckets/{bucket}/syncs/{sync}/resume", None),
]


async def test_tenancy_matrix_never_leaks(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    places = await build_world(engine, client)
    checked = 0
    for caller, target in itertools.permutations(places, 2):
        if caller.org == target.org:
            continue  # a key may use every namespace of its own organization
        for (method, template, body), by_name in itertools.product(ROUTES, (False, True)):
            namespace = target.namespace_name if by_name else target.namespace_id
            bucket = target.bucket_name if by_name else target.bucket_id
            url = template.format(bucket=bucket, sync=target.sync_id)
            response = await client.request(method, url, headers=auth(caller, namespace), json=body)
            for secret in (target.sync_id, target.bucket_id, target.namespace_id):
                if secret not in url and secret != namespace:  # echoes are not leaks
                    assert secret not in response.text, (method, url)
            if not by_name or "{sync}" in template:
                # By id the target's namespace does not exist for the caller. By name the
                # caller's own same-named namespace and bucket resolve, and the target's
                # sync is still not in them.
                assert response.status_code == 404, (method, url)
            checked += 1
    # Same organization, another bucket's sync through one's own bucket: 404.
    for caller, target in itertools.permutations(places, 2):
        for method, template, body in ROUTES[2:]:
            url = template.format(bucket=caller.bucket_id, sync=target.sync_id)
            response = await client.request(
                method, url, headers=auth(caller, caller.namespace_id), json=body
            )
            assert response.status_code == 404, (method, url)
            checked += 1
        # A cursor issued for another bucket is refused outright.
        response = await client.post(
            f"/v1/buckets/{caller.bucket_id}/syncs/list",
            headers=auth(caller, caller.namespace_id),
            params={"cursor": target.cursor},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_cursor"
        checked += 1
    assert checked > 500
    # Nothing was changed by any of it.
    for place in places:
        got = await client.get(
            f"/v1/buckets/{place.bucket_id}/syncs/{place.sync_id}",
            headers=auth(place, place.namespace_id),
        )
        assert got.status_code == 200
        assert got.json()["description"] is None
        assert got.json()["paused"] is False
        listed = await client.post(
            f"/v1/buckets/{place.bucket_id}/syncs/list", headers=auth(place, place.namespace_id)
        )
        assert listed.json()["total"] == 3


HOSTILE = [
    "'; DROP TABLE sync_configs; --",
    '" OR 1=1 --',
    "x' OR '1'='1",
    "%' OR 'a' LIKE '%",
    "$1::text",
    "\\x00\\",
    "ns_') UNION SELECT key_hash FROM api_keys --",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_sql_metacharacters_are_inert(
    client: httpx.AsyncClient, tenant: Tenant, text: str
) -> None:
    made = await client.post(
        tenant.syncs_url,
        headers=tenant.headers,
        json={
            "connection_id": tenant.connection_id,
            "source_path": text,
            "description": text,
            "metadata": {text: text},
            "file_filters": {"include_patterns": [text], "mime_types": [text]},
        },
    )
    assert made.status_code == 200
    body = made.json()
    assert body["source_path"] == text
    assert body["description"] == text
    assert body["metadata"] == {text: text}
    listed = await client.post(
        tenant.list_url, headers=tenant.headers, json={"connection_id": text}
    )
    assert listed.status_code == 200
    assert listed.json()["total"] == 0
    for headers, url in (
        ({**tenant.headers, "X-Namespace": text.replace("\\", "")}, tenant.list_url),
        (tenant.headers, f"/v1/buckets/{httpx.URL(text).raw_path.decode()}/syncs/list"),
    ):
        response = await client.post(url, headers=headers)
        assert response.status_code == 404
    everything = await client.post(tenant.list_url, headers=tenant.headers)
    assert everything.json()["total"] == 1


async def test_api_keys_never_appear_in_logs_or_responses(
    client: httpx.AsyncClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [
        await client.post(tenant.list_url, headers=tenant.headers),
        await client.post(tenant.list_url, headers={**tenant.headers, "X-Namespace": "nope"}),
        await client.post(
            tenant.list_url,
            headers={**tenant.headers, "Authorization": f"Bearer {tenant.api_key[:-1]}x"},
        ),
        await client.post(tenant.list_url, headers=tenant.headers, json={"bad": 1}),
    ]
    secret_part = tenant.api_key[3:]
    for response in responses:
        assert secret_part not in response.text
        assert all(secret_part not in value for value in response.headers.values())
    assert secret_part not in caplog.text
