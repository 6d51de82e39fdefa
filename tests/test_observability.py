"""Access log lines and Prometheus metrics (app/observability.py)."""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app import observability
from app.settings import Settings
from tests.conftest import Tenant

LIST_ROUTE = "/v1/buckets/{bucket_id}/syncs/list"


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    capsys.readouterr()  # drop what came before
    return capsys


def access_lines(err: str) -> list[dict[str, object]]:
    lines = [orjson.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "bucket_syncs.access"]


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    route = labels(method="POST", route=LIST_ROUTE, status="200")
    before = await scrape(client)

    for _ in range(3):
        response = await client.post(tenant.list_url, headers=tenant.headers, json={})
        assert response.status_code == 200
    unauthorized = await client.post(tenant.list_url, json={})
    after = await scrape(client)

    assert unauthorized.status_code == 401
    assert (
        after[("http_requests_total", route)] - before.get(("http_requests_total", route), 0) == 3
    )
    assert (
        after[("http_request_duration_seconds_count", route)]
        - before.get(("http_request_duration_seconds_count", route), 0)
        == 3
    )
    assert ("http_request_duration_seconds_bucket", route | labels(le="+Inf")) in after
    failed = labels(method="POST", route=LIST_ROUTE, status="401")
    assert (
        after[("http_requests_total", failed)] - before.get(("http_requests_total", failed), 0) == 1
    )
    # The bucket id is a label value nowhere: routes are templates.
    assert not any(tenant.bucket_id in str(key) for key in after)


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/path/1")
    await client.get("/no/such/path/2")
    samples = await scrape(client)

    unmatched = labels(method="GET", route="<unmatched>", status="404")
    assert samples[("http_requests_total", unmatched)] >= 2
    assert not any("/no/such/path" in str(key) for key in samples)


async def test_unusual_methods_are_folded_into_other(client: httpx.AsyncClient) -> None:
    await client.request("BREW", "/health")
    samples = await scrape(client)

    assert any(
        name == "http_requests_total" and ("method", "OTHER") in key for name, key in samples
    )
    assert not any("BREW" in str(key) for key in samples)


async def test_pool_gauges_describe_the_connection_pool(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.get("/ready")).status_code == 200
    samples = await scrape(client)

    assert samples[("db_pool_size", frozenset())] == settings.pool_size
    checked_in = samples[("db_pool_checked_in", frozenset())]
    checked_out = samples[("db_pool_checked_out", frozenset())]
    assert checked_in >= 1  # the readiness check's connection went back to the pool
    assert checked_out >= 0
    assert checked_in + checked_out <= settings.pool_size + settings.pool_max_overflow
    assert 0 <= samples[("db_pool_overflow", frozenset())] <= settings.pool_max_overflow


async def test_one_json_access_line_per_request_without_the_key(
    client: httpx.AsyncClient, tenant: Tenant, json_lines: pytest.CaptureFixture[str]
) -> None:
    response = await client.post(
        tenant.list_url, headers={**tenant.headers, "X-Request-ID": "req-observe-1"}, json={}
    )

    err = json_lines.readouterr().err
    lines = access_lines(err)
    assert response.status_code == 200
    assert len(lines) == 1
    line = lines[0]
    assert isinstance(line.pop("time"), str)
    duration = line.pop("duration_ms")
    assert isinstance(duration, float)
    assert duration > 0
    assert line == {
        "level": "INFO",
        "logger": "bucket_syncs.access",
        "message": f"POST {tenant.list_url} 200 {duration:.2f}ms",
        "request_id": "req-observe-1",
        "method": "POST",
        "route": LIST_ROUTE,
        "path": tenant.list_url,
        "status": 200,
        "namespace_id": tenant.namespace_id,
    }
    assert tenant.api_key not in err
    assert tenant.api_key[3:] not in err


async def test_failed_requests_are_logged_with_a_generated_request_id(
    client: httpx.AsyncClient, tenant: Tenant, json_lines: pytest.CaptureFixture[str]
) -> None:
    response = await client.post(
        tenant.list_url, headers={"Authorization": "Bearer sk_wrong"}, json={}
    )

    (line,) = access_lines(json_lines.readouterr().err)
    assert response.status_code == 401
    assert line["status"] == 401
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["namespace_id"] is None
    assert "sk_wrong" not in str(line)


async def test_probes_are_logged_at_debug_only(
    client: httpx.AsyncClient, json_lines: pytest.CaptureFixture[str]
) -> None:
    await client.get("/health")
    await client.get("/metrics")

    assert access_lines(json_lines.readouterr().err) == []


def test_text_format_is_one_readable_line(app: FastAPI, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        observability.configure_logging(Settings(log_format="text", log_level="WARNING"))
        logging.getLogger("bucket_syncs.test").info("hidden below the level")
        logging.getLogger("bucket_syncs.test").warning("shown %s", "plainly")
        err = capsys.readouterr().err
    finally:
        observability.configure_logging(app.state.settings)

    assert "hidden" not in err
    (line,) = err.splitlines()
    assert line.endswith(" WARNING bucket_syncs.test: shown plainly")
    assert not line.startswith("{")


def test_reconfiguring_keeps_a_single_handler(app: FastAPI) -> None:
    observability.configure_logging(app.state.settings)
    observability.configure_logging(app.state.settings)

    own = [h for h in logging.getLogger().handlers if isinstance(h, observability._OwnHandler)]
    assert len(own) == 1
