"""POST /v1/buckets/{bucket_id}/syncs/list: filters, pagination, ordering, shape."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.repository import OUTPUT_FIELDS
from tests.conftest import Tenant, column, expected_order, make_tenant, seed

pytestmark = pytest.mark.asyncio


async def list_ids(
    client: httpx.AsyncClient, tenant: Tenant, body: Any = None, **params: Any
) -> list[str]:
    response = await client.post(tenant.list_url, headers=tenant.headers, json=body, params=params)
    assert response.status_code == 200, response.text
    return [item["sync_config_id"] for item in response.json()["results"]]


async def test_empty_bucket_lists_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(tenant.list_url, headers=tenant.headers)
    assert response.status_code == 200
    assert response.json() == {
        "results": [],
        "pagination": {
            "total": 0,
            "page": 1,
            "page_size": 10,
            "total_pages": 0,
            "next_page": None,
            "previous_page": None,
            "next_cursor": None,
        },
        "total": 0,
    }
    assert response.headers["content-type"] == "application/json"


async def test_published_curl_body_returns_200(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    await seed(engine, tenant, 5)
    response = await client.post(
        f"/v1/buckets/{tenant.bucket_id}/syncs/list",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=b'{"connection_id":"conn_abc123","status":"pending","is_active":true}',
    )
    assert response.status_code == 200
    assert response.json()["total"] == 0


async def test_every_field_is_present_with_explicit_nulls(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 1)
    (item,) = (await client.post(tenant.list_url, headers=tenant.headers)).json()["results"]
    assert list(item) == list(OUTPUT_FIELDS)
    row = rows[0]
    assert item["sync_config_id"] == row[column("sync_config_id")]
    assert item["namespace_id"] == tenant.namespace_id
    assert item["bucket_id"] == tenant.bucket_id
    assert item["internal_id"] == tenant.organization_id
    assert item["created_by_user_id"] == tenant.user_id
    assert item["status"] == row[column("status")]
    assert item["locked"] is False
    assert item["schema_mapping"] is None
    assert item["created_at"] == row[column("created_at")].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if row[column("last_sync_at")] is None:
        assert item["last_sync_at"] is None


@pytest.mark.parametrize("body", [None, {}, "null", ""])
async def test_absent_empty_and_null_bodies_mean_no_filter(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant, body: Any
) -> None:
    rows = await seed(engine, tenant, 3)
    if isinstance(body, str):
        response = await client.post(
            tenant.list_url,
            headers={**tenant.headers, "Content-Type": "application/json"},
            content=body.encode(),
        )
    else:
        response = await client.post(tenant.list_url, headers=tenant.headers, json=body)
    assert response.status_code == 200, response.text
    assert [r["sync_config_id"] for r in response.json()["results"]] == expected_order(rows)


async def test_newest_first_with_id_breaking_ties(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 300, rng_seed=3)
    created = column("created_at")
    assert len({r[created] for r in rows}) < len(rows), "the seed must contain exact ties"
    ids = await list_ids(client, tenant, limit=1000)
    assert ids == expected_order(rows)


async def test_each_filter_alone_and_combined(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    async with engine.begin() as conn:
        from app import admin

        other = await admin.create_connection(conn, tenant.organization_id, "other", "google_drive")
    rows = await seed(engine, tenant, 400, connection_ids=[tenant.connection_id, other])

    def matching(connection_id: str | None, status: str | None, active: bool | None) -> list[str]:
        kept = [
            r
            for r in rows
            if (connection_id is None or r[column("connection_id")] == connection_id)
            and (status is None or r[column("status")] == status)
            and (active is None or r[column("is_active")] is active)
        ]
        return expected_order(kept)

    cases: list[tuple[str | None, str | None, bool | None]] = [
        (other, None, None),
        (None, "FAILED", None),
        (None, None, False),
        (None, None, True),
        (other, "ACTIVE", None),
        (None, "COMPLETED", True),
        (tenant.connection_id, None, False),
        (other, "ACTIVE", True),
        (other, "SUSPENDED", True),  # matches nothing: suspended syncs are inactive
    ]
    for connection_id, status, active in cases:
        body = {
            key: value
            for key, value in {
                "connection_id": connection_id,
                "status": status,
                "is_active": active,
            }.items()
            if value is not None
        }
        response = await client.post(
            tenant.list_url, headers=tenant.headers, json=body, params={"limit": 1000}
        )
        expected = matching(connection_id, status, active)
        assert response.status_code == 200
        data = response.json()
        assert [r["sync_config_id"] for r in data["results"]] == expected, body
        assert data["total"] == len(expected)
    assert matching(other, "SUSPENDED", True) == []


@pytest.mark.parametrize("spelling", ["failed", "FAILED", "Failed", " fAiLeD "])
async def test_status_filter_is_case_insensitive(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant, spelling: str
) -> None:
    rows = await seed(engine, tenant, 200)
    failed = expected_order([r for r in rows if r[column("status")] == "FAILED"])
    assert failed
    ids = await list_ids(client, tenant, {"status": spelling}, limit=1000)
    assert ids == failed


async def test_explicit_null_filters_are_ignored(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 4)
    ids = await list_ids(client, tenant, {"connection_id": None, "status": None, "is_active": None})
    assert ids == expected_order(rows)


async def test_bucket_can_be_named_and_namespace_given_by_name_or_query(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 2)
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    by_names = await client.post(
        f"/v1/buckets/{tenant.bucket_name}/syncs/list",
        headers={**auth, "X-Namespace": tenant.namespace_name},
    )
    by_query = await client.post(
        f"/v1/buckets/{tenant.bucket_id}/syncs/list",
        headers=auth,
        params={"namespace": tenant.namespace_name},
    )
    for response in (by_names, by_query):
        assert response.status_code == 200
        assert [r["sync_config_id"] for r in response.json()["results"]] == expected_order(rows)
    # Links always name the bucket by id.
    assert by_names.json()["pagination"]["next_page"] is None


async def test_header_namespace_wins_over_query(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    response = await client.post(
        tenant.list_url, headers=tenant.headers, params={"namespace": "does-not-exist"}
    )
    assert response.status_code == 200


# --- pagination ---------------------------------------------------------------------


async def test_page_math_for_partial_last_page(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 25)
    order = expected_order(rows)
    base = tenant.list_url
    first = (await client.post(base, headers=tenant.headers, params={"limit": 10})).json()
    assert first["pagination"] | {"next_cursor": None} == {
        "total": 25,
        "page": 1,
        "page_size": 10,
        "total_pages": 3,
        "next_page": f"{base}?limit=10&offset=10",
        "previous_page": None,
        "next_cursor": None,
    }
    assert first["pagination"]["next_cursor"] is not None
    last = (await client.post(base, headers=tenant.headers, params={"limit": 10, "page": 3})).json()
    assert [r["sync_config_id"] for r in last["results"]] == order[20:]
    assert last["pagination"] == {
        "total": 25,
        "page": 3,
        "page_size": 10,
        "total_pages": 3,
        "next_page": None,
        "previous_page": f"{base}?limit=10&offset=10",
        "next_cursor": None,
    }


async def test_exactly_one_page(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    await seed(engine, tenant, 10)
    data = (await client.post(tenant.list_url, headers=tenant.headers)).json()
    assert len(data["results"]) == 10
    assert data["pagination"]["total_pages"] == 1
    assert data["pagination"]["next_page"] is None
    assert data["pagination"]["next_cursor"] is None


async def test_offset_past_the_end_is_empty_with_a_way_back(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    await seed(engine, tenant, 12)
    data = (
        await client.post(tenant.list_url, headers=tenant.headers, params={"offset": 50})
    ).json()
    assert data["results"] == []
    assert data["total"] == 12
    assert data["pagination"]["page"] == 6
    assert data["pagination"]["next_page"] is None
    assert data["pagination"]["previous_page"] == f"{tenant.list_url}?limit=10&offset=10"


async def test_links_fetch_the_neighbouring_pages(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 23)
    seen: list[str] = []
    url: str | None = f"{tenant.list_url}?limit=7"
    pages = 0
    while url:
        data = (await client.post(url, headers=tenant.headers)).json()
        seen += [r["sync_config_id"] for r in data["results"]]
        url = data["pagination"]["next_page"]
        pages += 1
    assert seen == expected_order(rows)
    assert pages == math.ceil(23 / 7)
    back = (
        await client.post(f"{tenant.list_url}?limit=7&offset=14", headers=tenant.headers)
    ).json()
    previous = await client.post(back["pagination"]["previous_page"], headers=tenant.headers)
    assert [r["sync_config_id"] for r in previous.json()["results"]] == seen[7:14]


@pytest.mark.parametrize(
    ("params", "size", "start"),
    [
        ({"limit": 3}, 3, 0),
        ({"page_size": 4}, 4, 0),
        ({"limit": 5, "page_size": 5}, 5, 0),
        ({"limit": 4, "offset": 6}, 4, 6),
        ({"page_size": 4, "page": 3}, 4, 8),
        ({"limit": 1000}, 1000, 0),
        ({"include_total": "false"}, 10, 0),
        ({"include_total": "true", "offset": 0}, 10, 0),
    ],
)
async def test_pagination_parameters_and_aliases(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    tenant: Tenant,
    params: dict[str, Any],
    size: int,
    start: int,
) -> None:
    rows = await seed(engine, tenant, 20)
    response = await client.post(tenant.list_url, headers=tenant.headers, params=params)
    assert response.status_code == 200, response.text
    data = response.json()
    assert [r["sync_config_id"] for r in data["results"]] == expected_order(rows)[
        start : start + size
    ]
    assert data["pagination"]["page_size"] == size
    assert data["pagination"]["page"] == start // size + 1
    assert data["total"] == data["pagination"]["total"] == 20


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"page_size": 0},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"offset": -1},
        {"offset": 10001},
        {"page": 0},
        {"page": "x"},
        {"include_total": "maybe"},
        {"page": 2002, "limit": 10},
        {"cursor": "c" * 1025},
    ],
)
async def test_out_of_range_parameters_are_422(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any]
) -> None:
    response = await client.post(tenant.list_url, headers=tenant.headers, params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "ValidationError"
    assert error["details"]["validation_errors"][0]["location"][0] == "query"


@pytest.mark.parametrize(
    "params",
    [
        {"page": 1, "offset": 0},
        {"limit": 5, "page_size": 6},
        {"cursor": "abc", "offset": 0},
        {"cursor": "abc", "page": 1},
        {"cursor": "abc", "after": "abc"},
        {"next_cursor": "abc", "cursor": "abd"},
    ],
)
async def test_conflicting_parameters_are_400(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any]
) -> None:
    response = await client.post(tenant.list_url, headers=tenant.headers, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "conflicting_parameters"


async def test_offset_pages_past_the_offset_limit_link_by_cursor(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    rows = await seed(engine, tenant, 10_020, rng_seed=9)
    data = (
        await client.post(
            tenant.list_url, headers=tenant.headers, params={"limit": 10, "offset": 10_000}
        )
    ).json()
    order = expected_order(rows)
    assert [r["sync_config_id"] for r in data["results"]] == order[10_000:10_010]
    link = data["pagination"]["next_page"]
    assert link == f"{tenant.list_url}?limit=10&cursor={data['pagination']['next_cursor']}"
    following = (await client.post(link, headers=tenant.headers)).json()
    assert [r["sync_config_id"] for r in following["results"]] == order[10_010:10_020]


# --- bodies -------------------------------------------------------------------------


async def test_unknown_body_key_is_422_naming_accepted_keys(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(tenant.list_url, headers=tenant.headers, json={"sttus": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "ValidationError"
    problem = error["details"]["validation_errors"][0]
    assert problem["type"] == "extra_forbidden"
    assert "connection_id, status, is_active" in problem["message"]
    assert "'sttus'" in problem["message"]


async def test_unknown_status_lists_allowed_values(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(tenant.list_url, headers=tenant.headers, json={"status": "nope"})
    assert response.status_code == 422
    message = response.json()["error"]["details"]["validation_errors"][0]["message"]
    assert "PENDING" in message
    assert "DEACTIVATED" in message


async def test_paused_status_points_to_is_active(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(tenant.list_url, headers=tenant.headers, json={"status": "paused"})
    assert response.status_code == 422
    message = response.json()["error"]["details"]["validation_errors"][0]["message"]
    assert "is_active=false" in message


@pytest.mark.parametrize(
    "body",
    [
        {"is_active": "yes"},
        {"is_active": 1},
        {"connection_id": 5},
        {"status": 3},
        [1, 2],
        "text",
        {"connection_id": "a\u0000b"},
    ],
)
async def test_wrong_types_are_422(client: httpx.AsyncClient, tenant: Tenant, body: Any) -> None:
    response = await client.post(tenant.list_url, headers=tenant.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "ValidationError"


async def test_body_that_is_not_json_is_422_json_invalid(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        tenant.list_url,
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["validation_errors"][0]["type"] == "json_invalid"


async def test_other_buckets_rows_never_appear(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> None:
    neighbour = await make_tenant(engine, "n")
    await seed(engine, neighbour, 5)
    mine = await seed(engine, tenant, 3)
    assert await list_ids(client, tenant) == expected_order(mine)
