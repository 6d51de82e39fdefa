"""Ceiling B: the straightforward hand-written endpoint, raw asyncpg + orjson.

A bare ASGI app (no framework, no auth): the namespace comes from X-Namespace,
the bucket from the path, the filters from the JSON body; then the two obvious
queries on one pooled connection, page and count, and the rows go out with
orjson. This is what the service has to beat while also authenticating.

    BENCH_PG_HOST=/socket/dir BENCH_PG_DB=bench uvicorn bench.peers.ceiling_b:app
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import orjson

COLUMNS = "*"  # every column, as the service returns every field
pool: asyncpg.Pool | None = None


async def _init(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
            schema="pg_catalog",
        )  # fmt: skip


async def _startup() -> None:
    global pool
    pool = await asyncpg.create_pool(
        host=os.environ["BENCH_PG_HOST"], port=int(os.environ.get("BENCH_PG_PORT", "5432")),
        user="postgres", database=os.environ["BENCH_PG_DB"], min_size=10, max_size=10,
        init=_init,
    )  # fmt: skip


async def _list(scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    headers = dict(scope["headers"])
    namespace = headers.get(b"x-namespace", b"").decode()
    bucket = scope["path"].split("/")[3]
    query = parse_qs(scope["query_string"].decode())
    limit, offset = int(query.get("limit", ["10"])[0]), int(query.get("offset", ["0"])[0])
    filters = orjson.loads(body) if body else {}
    where, args = ["namespace_id = $1", "bucket_id = $2"], [namespace, bucket]
    for column in ("connection_id", "status", "is_active"):
        value = (filters or {}).get(column)
        if value is not None:
            args.append(value.upper() if column == "status" else value)
            where.append(f"{column} = ${len(args)}")
    condition = " AND ".join(where)
    assert pool is not None
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM sync_configs WHERE {condition} "
            f"ORDER BY created_at DESC, sync_config_id DESC "
            f"LIMIT {limit} OFFSET {offset}",
            *args,
        )
        total = await conn.fetchval(f"SELECT count(*) FROM sync_configs WHERE {condition}", *args)
    pagination = {"total": total, "page": offset // limit + 1, "page_size": limit}
    return 200, orjson.dumps(
        {"results": [dict(r) for r in rows], "pagination": pagination, "total": total}
    )


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if pool is not None:
                    await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    status, payload = await _list(scope, body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})
