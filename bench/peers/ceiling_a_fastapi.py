"""Ceiling A, framework edition: the same constant bytes behind a FastAPI route.

Not a target, a reading aid: between this and the bare ceiling A lies what FastAPI
and Starlette cost per request (routing, request object, dependency solving) before
any auth, parsing or database work.

    BENCH_BODY_FILE=body.json uvicorn bench.peers.ceiling_a_fastapi:app --no-access-log
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
app = FastAPI()


@app.post("/v1/buckets/{bucket_id}/syncs/list")
async def list_syncs(bucket_id: str) -> Response:
    return Response(BODY, media_type="application/json")
