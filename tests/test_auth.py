"""Bearer keys, namespaces, buckets and tenant isolation."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import admin
from app.main import create_app
from app.settings import Settings
from tests.conftest import Tenant, make_tenant, seed

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token sk_" + "a" * 40,
        "Bearer sk_short",
        "Bearer pk_" + "a" * 40,
        "Bearer sk_" + "a" * 41,
        "Bearer sk_" + "a" * 40,  # well-formed, unknown
    ],
)
async def test_missing_malformed_or_unknown_key_is_401(
    client: httpx.AsyncClient, tenant: Tenant, authorization: str | None
) -> None:
    headers = {"X-Namespace": tenant.namespace_id}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.post(tenant.list_url, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["success"] is False
    assert body["status"] == 401
    assert body["error"]["type"] == "UnauthorizedError"
    assert tenant.api_key not in response.text


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        tenant.list_url,
        headers={"Authorization": f"bearer {tenant.api_key}", "X-Namespace": tenant.namespace_id},
    )
    assert response.status_code == 200


async def test_revoked_key_is_401(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    assert (await client.post(tenant.list_url, headers=tenant.headers)).status_code == 200
    async with engine.begin() as conn:
        await admin.revoke_api_key(conn, tenant.api_key[:10])
    response = await client.post(tenant.list_url, headers=tenant.headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


async def test_missing_namespace_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for headers in (
        {"Authorization": f"Bearer {tenant.api_key}"},
        {"Authorization": f"Bearer {tenant.api_key}", "X-Namespace": ""},
    ):
        response = await client.post(tenant.list_url, headers=headers)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["type"] == "BadRequestError"
        assert "X-Namespace header is required" in error["message"]


async def test_unknown_namespace_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        tenant.list_url,
        headers={"Authorization": f"Bearer {tenant.api_key}", "X-Namespace": "nowhere"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["details"] == {"resource": "namespace", "id": "nowhere"}


async def test_unknown_bucket_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1/buckets/bkt_nothinghere/syncs/list", headers=tenant.headers)
    assert response.status_code == 404
    assert response.json()["error"]["details"] == {"resource": "bucket", "id": "bkt_nothinghere"}


@pytest.mark.parametrize("ref", ["a%00b", "%ED%A0%80", "x" * 300])
async def test_unstorable_or_overlong_references_are_404(
    client: httpx.AsyncClient, tenant: Tenant, ref: str
) -> None:
    bucket = await client.post(f"/v1/buckets/{ref}/syncs/list", headers=tenant.headers)
    assert bucket.status_code == 404
    assert bucket.json()["error"]["details"]["resource"] == "bucket"
    sync = await client.get(f"{tenant.syncs_url}/{ref}", headers=tenant.headers)
    assert sync.status_code in {404, 422}
    namespace = await client.post(
        tenant.list_url,
        headers={"Authorization": f"Bearer {tenant.api_key}"},
        params={"namespace": ref.replace("%00", "\x00")},
    )
    assert namespace.status_code == 404


async def test_other_organizations_namespace_bucket_and_syncs_are_404(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    mine = await make_tenant(engine, "a")
    theirs = await make_tenant(engine, "b")
    await seed(engine, theirs, 3)
    made = await client.post(
        theirs.syncs_url,
        headers=theirs.headers,
        json={"connection_id": theirs.connection_id, "source_path": "/"},
    )
    their_sync = made.json()["sync_config_id"]
    auth = {"Authorization": f"Bearer {mine.api_key}"}

    for namespace in (theirs.namespace_id, theirs.namespace_name):
        response = await client.post(theirs.list_url, headers={**auth, "X-Namespace": namespace})
        assert response.status_code == 404
        assert response.json()["error"]["details"] == {"resource": "namespace", "id": namespace}

    for bucket in (theirs.bucket_id, theirs.bucket_name):
        response = await client.post(f"/v1/buckets/{bucket}/syncs/list", headers=mine.headers)
        assert response.status_code == 404
        assert response.json()["error"]["details"] == {"resource": "bucket", "id": bucket}

    for method, suffix in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/pause"),
        ("POST", "/resume"),
    ):
        response = await client.request(
            method,
            f"{mine.syncs_url}/{their_sync}{suffix}",
            headers=mine.headers,
            json={"description": "x"} if method == "PATCH" else None,
        )
        assert response.status_code == 404, (method, suffix)
    still = await client.get(f"{theirs.syncs_url}/{their_sync}", headers=theirs.headers)
    assert still.status_code == 200
    assert still.json()["description"] is None
    assert still.json()["paused"] is False


async def test_namespace_id_wins_over_a_name_that_looks_like_it(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    async with engine.begin() as conn:
        impostor = await admin.create_namespace(conn, tenant.organization_id, tenant.namespace_id)
        await admin.create_bucket(conn, tenant.organization_id, impostor, tenant.bucket_name)
    rows = await seed(engine, tenant, 2)
    response = await client.post(
        f"/v1/buckets/{tenant.bucket_name}/syncs/list", headers=tenant.headers
    )
    assert response.status_code == 200
    assert response.json()["total"] == len(rows)


async def test_revocation_is_immediate_even_with_a_warm_cache(
    database_ready: str, settings: Settings, engine: AsyncEngine
) -> None:
    tenant = await make_tenant(engine, "revoke")
    application = create_app(settings.model_copy(update={"auth_cache_seconds": 3600}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            made = await client.post(
                tenant.syncs_url,
                headers=tenant.headers,
                json={"connection_id": tenant.connection_id, "source_path": "/r"},
            )
            url = f"{tenant.syncs_url}/{made.json()['sync_config_id']}"
            assert (await client.post(tenant.list_url, headers=tenant.headers)).status_code == 200
            async with engine.begin() as conn:
                await admin.revoke_api_key(conn, tenant.api_key)
            attempts = [
                await client.post(tenant.list_url, headers=tenant.headers),
                await client.get(url, headers=tenant.headers),
                await client.patch(url, headers=tenant.headers, json={"description": "x"}),
                await client.post(f"{url}/pause", headers=tenant.headers),
                await client.delete(url, headers=tenant.headers),
            ]
    assert [r.status_code for r in attempts] == [401] * 5
    assert all(r.json()["error"]["code"] == "invalid_api_key" for r in attempts)
    async with engine.connect() as conn:
        from app.models import sync_configs

        still = await conn.scalar(
            select(sync_configs.c.description).where(
                sync_configs.c.namespace_id == tenant.namespace_id
            )
        )
    assert still is None  # the PATCH after revocation changed nothing
