"""Schemathesis over the service's own OpenAPI document: every operation, positive
and negative data, sent over real HTTP to a uvicorn server with a real key,
namespace, bucket, connection and sync configuration.

Every response must be a non-5xx; every error must be the contract's envelope
with the type of its status; the status must be documented and a 2xx must match
the documented response schema. The run is deterministic (derandomized); set
``FUZZ_EXAMPLES`` to change the examples per operation and mode, and
``FUZZ_RANDOM=1`` for a fresh random run. The number of requests sent is
printed (``pytest -s``) and asserted to be at least ``MIN_REQUESTS``.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.conftest import Tenant, make_tenant
from tests.servers import Server, running_server, scratch_dir

MIN_REQUESTS = 2000
# Examples per (operation, mode) with the real bucket, and with generated path values.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "135"))
FREE_PATH_EXAMPLES = max(EXAMPLES // 6, 5)

# CONTRACT.md, "Errors": the one type for each status.
ERROR_TYPES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "AlreadyExistsError",
    413: "PayloadTooLargeError",
    422: "ValidationError",
    429: "TooManyRequestsError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}
# Refused at the edge before any route runs (app/middleware.py): the contract's table has
# no row for them, and the service uses its generic 4xx type.
EDGE_LIMITS = {414: "BadRequestError", 431: "BadRequestError"}


def assert_error_envelope(
    response: httpx.Response | requests.Response | schemathesis.Response,
) -> None:
    """``{"success": false, "status": <HTTP status>, "error": {"message", "type", ...}}``."""
    status = response.status_code
    headers = {
        name.lower(): value[0] if isinstance(value, list) else value
        for name, value in response.headers.items()
    }
    assert headers.get("content-type", "").startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict), body
    assert body.get("success") is False, body
    assert body.get("status") == status, body
    error = body.get("error")
    assert isinstance(error, dict), body
    assert isinstance(error.get("message"), str), body
    assert error["message"], body
    assert error.get("type") == ERROR_TYPES.get(status, EDGE_LIMITS.get(status)), (status, body)
    if "code" in error:
        assert isinstance(error["code"], str), body
    if status == 422:
        problems = error["details"]["validation_errors"]
        assert problems, body
        assert all({"type", "location", "message"} <= set(p) for p in problems), body
    if status in {429, 503}:
        assert headers.get("retry-after", "").isdigit(), headers
    if status == 401:
        assert headers.get("www-authenticate") == "Bearer", headers


def test_openapi_document_is_valid() -> None:
    document = create_app(Settings(cursor_secret="s" * 32)).openapi()
    validate(document)  # raises on any violation of the OpenAPI 3.1 meta-schema
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }
    assert len(operations) == 7, operations


@pytest.fixture(scope="module")
async def fuzz_tenant(engine: AsyncEngine) -> Tenant:
    return await make_tenant(engine, "fuzz")


@pytest.fixture(scope="module")
def fuzz_server(database_ready: str, settings: Settings) -> Iterator[Server]:
    workdir = scratch_dir("fuzz")
    assert settings.cursor_secret is not None
    env = {
        "APP_DATABASE_URL": database_ready,
        "APP_DATA_DIR": str(workdir / "data"),
        "APP_CURSOR_SECRET": settings.cursor_secret.get_secret_value(),
        # A fuzz run is a burst from one key: keep it clear of the rate limit.
        "APP_RATE_LIMIT_PER_MINUTE": "0",
    }
    try:
        with running_server(env, workdir / "server.log") as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _create_sync(server: Server, tenant: Tenant) -> str:
    response = httpx.post(
        f"{server.base_url}{tenant.syncs_url}",
        headers=tenant.headers,
        json={
            "connection_id": tenant.connection_id,
            # One sync per (connection, source path): each target needs its own path.
            "source_path": f"/fuzz/{uuid.uuid4().hex}",
            "description": "fuzz target",
        },
    )
    assert response.status_code == 200, response.text
    sync_id: str = response.json()["sync_config_id"]
    return sync_id


class Tally:
    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.detail: Counter[tuple[str, int]] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    *,
    examples: int,
    path_parameters: dict[str, str] | None,
    auth: dict[str, str],
    tenant: Tenant,
    session: requests.Session,
    base_url: str,
    tally: Tally,
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    label = f"{operation.label} [{mode.value}{'' if path_parameters else ', free path'}]"

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=os.environ.get("FUZZ_RANDOM") != "1",
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def run(case: schemathesis.Case[Any]) -> None:
        if (
            mode is GenerationMode.POSITIVE
            and operation.method.upper() == "POST"
            and operation.path.endswith("/syncs")
            and isinstance(case.body, dict)
        ):
            # A valid body with a real connection is stored: the write path gets fuzzed too.
            case.body["connection_id"] = tenant.connection_id
        response = case.call(base_url=base_url, session=session, headers=auth, timeout=30)
        tally.by_operation[label] += 1
        tally.by_status[response.status_code] += 1
        tally.detail[(label, response.status_code)] += 1
        assert response.status_code < 500, (response.status_code, response.text)
        assert any(name.lower() == "x-request-id" for name in response.headers), response.headers
        if response.status_code >= 400:
            assert_error_envelope(response)
        checks = [content_type_conformance]
        if response.status_code not in EDGE_LIMITS:
            checks.append(status_code_conformance)  # documented for the operation
        case.validate_response(response, checks=checks, headers=auth)
        if response.status_code < 300:
            case.validate_response(response, checks=[response_schema_conformance], headers=auth)

    run()


def test_fuzz_every_operation(fuzz_server: Server, fuzz_tenant: Tenant) -> None:
    base_url = fuzz_server.base_url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) == 7, results

    sync_id = _create_sync(fuzz_server, fuzz_tenant)
    doomed_id = _create_sync(fuzz_server, fuzz_tenant)  # the one DELETE cases may remove
    auth = {"Authorization": f"Bearer {fuzz_tenant.api_key}"}
    tally = Tally()
    started = time.perf_counter()
    with requests.Session() as session:
        for operation in operations:
            real_path: dict[str, str] = {"bucket_id": fuzz_tenant.bucket_id}
            if "{sync_config_id}" in operation.path:
                real_path["sync_config_id"] = doomed_id if operation.method == "delete" else sync_id
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                common: dict[str, Any] = {
                    "auth": {**auth, "X-Namespace": fuzz_tenant.namespace_id},
                    "tenant": fuzz_tenant,
                    "session": session,
                    "base_url": base_url,
                    "tally": tally,
                }
                _fuzz_operation(
                    operation, mode, examples=EXAMPLES, path_parameters=real_path, **common
                )
                # Path values generated too (unknown buckets, odd characters in ids).
                _fuzz_operation(
                    operation, mode, examples=FREE_PATH_EXAMPLES, path_parameters=None, **common
                )
    elapsed = time.perf_counter() - started
    summary = (
        f"fuzz: {tally.total} generated requests in {elapsed:.1f} s; "
        f"statuses {dict(sorted(tally.by_status.items()))}"
    )
    print(f"\n{summary}")
    for label, count in sorted(tally.by_operation.items()):
        print(f"  {count:5d}  {label}")
    for (label, status), count in sorted(tally.detail.items()):
        print(f"  {count:5d}  {status} {label}")
    _record(summary, tally)
    assert tally.total >= MIN_REQUESTS, summary
    assert not [status for status in tally.by_status if status >= 500], summary
    # The real sync configuration survived all of it and still reads back.
    check = httpx.get(
        f"{base_url}{fuzz_tenant.syncs_url}/{sync_id}",
        headers=fuzz_tenant.headers,
    )
    assert check.status_code == 200, check.text


def _record(summary: str, tally: Tally) -> None:
    """Keep the last run's figures where CI logs and people can find them."""
    target = os.environ.get("FUZZ_REPORT")
    if target:
        lines = [summary, *(f"{c:5d}  {label}" for label, c in sorted(tally.by_operation.items()))]
        Path(target).write_text("\n".join(lines) + "\n")
