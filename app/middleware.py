"""The edge of every request, as one pure-ASGI layer (cheaper than a stack of them).

- ``X-Request-ID``: the client's value when it is a short safe token, else a new one;
  set on every response, including errors produced below or here.
- Size limits: a query string over 8 KiB (414) or headers over 100 fields / 32 KiB
  (431) are refused before any work; a declared ``Content-Length`` over the body
  limit is refused before reading (413); a chunked or lying body is cut off as soon
  as the running count passes the limit.
- A client that stalls while sending its body is answered 408 after
  ``body_timeout`` seconds instead of holding a worker.
- Rate-limit headers computed during the request (``state["rate_limit"]``) are added
  to the response.
- Anything that escapes the app becomes the 500 envelope (or 503 when the database
  is unreachable), never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.database import is_database_unavailable
from app.errors import RETRY_AFTER_SECONDS, envelope, error_type_for, internal_error_body

logger = logging.getLogger("bucket_syncs.edge")

_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
MAX_QUERY_BYTES = 8 * 1024
MAX_HEADER_FIELDS = 100
MAX_HEADER_BYTES = 32 * 1024


class _Refused(Exception):
    """Raised from ``receive`` to stop the app reading; the edge answers instead."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout: float = 15.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = b""
        declared_length = -1
        header_bytes = 0
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"x-request-id":
                request_id = value
            elif name == b"content-length":
                declared_length = int(value) if value.isdigit() else -1
        if not _SAFE_REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex.encode()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id.decode()
        request_id_header = (b"x-request-id", request_id)

        async def send_raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), request_id_header]
                rate_limit = state.get("rate_limit")
                if rate_limit is not None:
                    policy, current = rate_limit
                    headers.append((b"ratelimit-policy", policy.encode()))
                    headers.append((b"ratelimit", current.encode()))
                message["headers"] = headers
            await send(message)

        early = _refuse_early(scope, header_bytes, declared_length, self.max_body_bytes)
        if early is not None:
            await _send_refusal(send_raw, early)
            return

        refusal: _Refused | None = None
        started = False

        async def send_checked(message: Message) -> None:
            nonlocal started
            if refusal is not None:
                # The app may turn the aborted read into an error of its own (FastAPI
                # reports body-read failures as 400); the client must see ours.
                if not started:
                    started = True
                    await _send_refusal(send_raw, refusal)
                return
            if message["type"] == "http.response.start":
                started = True
            await send_raw(message)

        limit, received = self.max_body_bytes, 0

        async def receive_bounded() -> Message:
            nonlocal received, refusal
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                refusal = _Refused(
                    408,
                    f"The request body was not received within {self.body_timeout:g} s.",
                    "request_timeout",
                )
                raise refusal from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refusal = _too_large(limit)
                    raise refusal
            return message

        try:
            await self.app(scope, receive_bounded, send_checked)
        except Exception as exc:
            if started:
                raise
            if refusal is not None:
                await send_checked({"type": "http.response.start"})
                return
            if is_database_unavailable(exc):
                logger.warning("database unavailable: %s", type(exc).__name__)
                await _send_json(
                    send_raw,
                    503,
                    envelope(
                        503,
                        "ServiceUnavailableError",
                        "The database is unavailable; retry shortly.",
                        code="database_unavailable",
                    ),
                    extra=[(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
                )
                return
            logger.exception("unhandled error", extra={"request_id": request_id.decode()})
            await _send_json(send_raw, 500, internal_error_body())


def _too_large(limit: int) -> _Refused:
    return _Refused(413, f"The request body is larger than {limit} bytes.", "payload_too_large")


def _refuse_early(
    scope: Scope, header_bytes: int, declared_length: int, max_body_bytes: int
) -> _Refused | None:
    if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
        return _Refused(
            414, f"The query string is longer than {MAX_QUERY_BYTES} bytes.", "uri_too_long"
        )
    if len(scope["headers"]) > MAX_HEADER_FIELDS or header_bytes > MAX_HEADER_BYTES:
        return _Refused(
            431,
            f"Request headers exceed {MAX_HEADER_FIELDS} fields or {MAX_HEADER_BYTES} bytes.",
            "headers_too_large",
        )
    if declared_length > max_body_bytes:
        return _too_large(max_body_bytes)
    return None


async def _send_refusal(send: Send, refusal: _Refused) -> None:
    body = envelope(
        refusal.status, error_type_for(refusal.status), refusal.message, code=refusal.code
    )
    # Connection: close, since an unread body may still be on the wire.
    await _send_json(send, refusal.status, body, extra=[(b"connection", b"close")])


async def _send_json(
    send: Send, status: int, body: bytes, *, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
