"""Ceiling A: the framework-free limit of this machine for one uvicorn worker.

A bare ASGI app that reads the request body and answers every request with the
same bytes, taken from a real response of the service (``BENCH_BODY_FILE``). No
database, no parsing, no routing: what is left is uvicorn, the loopback and wrk.

    BENCH_BODY_FILE=body.json uvicorn bench.peers.ceiling_a:app --no-access-log
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # drain the request body, as a real handler would
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
