"""The edge of every request, as one pure-ASGI layer (cheaper than a stack of them).

- ``X-Request-ID``: the client's value when it is a short safe token, else a new one;
  set on every response, including errors produced below or here.
- Body size: a declared ``Content-Length`` over the limit is refused before reading;
  a chunked or lying body is cut off as soon as the running count passes the limit.
- Anything that escapes the app becomes the 500 envelope (or 503 when the database
  is unreachable), never a stack trace.
"""

from __future__ import annotations

import logging
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.database import is_database_unavailable
from app.errors import (
    RETRY_AFTER_SECONDS,
    PayloadTooLargeError,
    envelope,
    internal_error_body,
)

logger = logging.getLogger("bucket_syncs.edge")

_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = b""
        declared_length = -1
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value
            elif name == b"content-length":
                declared_length = int(value) if value.isdigit() else -1
        if not _SAFE_REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        request_id_header = (b"x-request-id", request_id)

        started = False
        too_large = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if too_large:
                # The app may turn the aborted read into an error of its own (FastAPI
                # reports body-read failures as 400); the client must see the 413.
                if not started:
                    started = True
                    await _refuse_too_large(send_raw, self.max_body_bytes)
                return
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        async def send_raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        if declared_length > self.max_body_bytes:
            await _refuse_too_large(send_with_id, self.max_body_bytes)
            return

        limit = self.max_body_bytes
        received = 0

        async def receive_bounded() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise PayloadTooLargeError(
                        f"The request body is larger than {limit} bytes.",
                        code="payload_too_large",
                    )
            return message

        try:
            await self.app(scope, receive_bounded, send_with_id)
        except Exception as exc:
            if started:
                raise
            if too_large:
                await send_with_id({"type": "http.response.start"})
                return
            if is_database_unavailable(exc):
                logger.warning("database unavailable: %s", type(exc).__name__)
                await _send_json(
                    send_with_id,
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
            await _send_json(send_with_id, 500, internal_error_body())


async def _refuse_too_large(send: Send, limit: int) -> None:
    body = envelope(
        413,
        "PayloadTooLargeError",
        f"The request body is larger than {limit} bytes.",
        code="payload_too_large",
    )
    # Connection: close, since the unread body is still on the wire.
    await _send_json(send, 413, body, extra=[(b"connection", b"close")])


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
