"""The error envelope for every failure, and X-Request-ID on every response."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Scope

from app.settings import Settings
from tests.conftest import Tenant

pytestmark = pytest.mark.asyncio


def assert_envelope(response: httpx.Response, status: int, error_type: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    assert body["status"] == status
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert set(body) == {"success", "status", "error"}
    assert set(body["error"]) <= {"message", "type", "code", "details"}
    assert "x-request-id" in response.headers
    error: dict[str, object] = body["error"]
    return error


async def test_unknown_route_is_404_envelope(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/v1/nothing"), 404, "NotFoundError")


async def test_wrong_method_is_405_envelope(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.put(tenant.list_url, headers=tenant.headers)
    assert_envelope(response, 405, "MethodNotAllowedError")
    assert "POST" in response.headers["allow"]


async def test_validation_is_422_envelope(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(tenant.list_url, headers=tenant.headers, params={"limit": 0})
    error = assert_envelope(response, 422, "ValidationError")
    assert error["details"] == {
        "validation_errors": [
            {
                "type": "greater_than_equal",
                "location": ["query", "limit"],
                "message": "Input should be greater than or equal to 1",
            }
        ]
    }


async def test_declared_oversize_body_is_413_without_reading_it(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = b"{" + b" " * (1024 * 1024) + b"}"
    response = await client.post(
        tenant.list_url,
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=body,
    )
    assert_envelope(response, 413, "PayloadTooLargeError")


async def test_chunked_oversize_body_is_413(client: httpx.AsyncClient, tenant: Tenant) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"connection_id": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        tenant.list_url,
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "PayloadTooLargeError")


async def test_body_longer_than_its_declared_length_is_refused(
    app: FastAPI, tenant: Tenant
) -> None:
    """A lying Content-Length cannot smuggle a large body past the limit."""
    chunk = b"x" * 65536
    messages: list[Message] = [{"type": "http.request", "body": chunk, "more_body": True}] * 20
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    replies: list[Message] = []

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        replies.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": tenant.list_url,
        "raw_path": tenant.list_url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"10"),
            *[(k.lower().encode(), v.encode()) for k, v in tenant.headers.items()],
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = replies[0]
    assert start["type"] == "http.response.start"
    assert start["status"] == 413


async def test_request_id_is_echoed_when_safe_and_replaced_otherwise(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get("/v1/nothing", headers={"X-Request-ID": "abc-123.DEF_9"})
    assert kept.headers["x-request-id"] == "abc-123.DEF_9"
    for unsafe in ("a b", "<script>", "x" * 129, "é"):
        response = await client.get("/v1/nothing", headers={b"X-Request-ID": unsafe.encode()})
        assert response.headers["x-request-id"] != unsafe
        assert len(response.headers["x-request-id"]) == 32
    generated = await client.get("/v1/nothing")
    assert len(generated.headers["x-request-id"]) == 32


async def test_unexpected_error_is_500_envelope_without_details(
    database_ready: str, settings: Settings
) -> None:
    from app.main import create_app

    application = create_app(settings)

    @application.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail: SELECT * FROM api_keys")

    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            response = await c.get("/boom", headers={"X-Request-ID": "trace-1"})
    error = assert_envelope(response, 500, "InternalServerError")
    assert "secret" not in response.text
    assert "SELECT" not in response.text
    assert error == {
        "message": "An unexpected error occurred.",
        "type": "InternalServerError",
        "code": "internal_error",
    }
    assert response.headers["x-request-id"] == "trace-1"


async def test_success_responses_carry_a_request_id(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        tenant.list_url, headers={**tenant.headers, "X-Request-ID": "req-42"}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42"


async def test_docs_and_openapi_are_served_offline(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "cdn.jsdelivr" not in docs.text
    assert "unpkg.com" not in docs.text
    redoc = await client.get("/redoc")
    assert redoc.status_code == 200
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/buckets/{bucket_id}/syncs/list"]["post"]
    assert operation["summary"] == "List Sync Configurations"
    assert operation["requestBody"]["content"]["application/json"]["examples"]["published"][
        "value"
    ] == {"connection_id": "conn_abc123", "status": "pending", "is_active": True}
