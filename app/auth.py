"""Bearer key + namespace + bucket → the caller's ``BucketScope``. Tenancy is
enforced here and nowhere else: every repository is built from the scope.

Resolution is one statement (``find_key_owner``), which also leases rate-limit
tokens for the key (``app/ratelimit.py``). Each worker keeps successful
resolutions for ``APP_AUTH_CACHE_SECONDS`` (default 60 s), so most requests cost no
tenancy round trip; revocation still takes effect at once, because every read
statement and every write transaction re-checks the key (``repository.syncs``).
Failures are never cached.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.database import Database
from app.errors import BadRequestError, NotFoundError, UnauthorizedError
from app.ids import API_KEY_LENGTH, hash_api_key
from app.ratelimit import RateLimiter
from app.repository import BucketScope, find_key_owner, lease_tokens
from app.schemas import is_storable_text

MAX_REF_LENGTH = 200
_CACHE_MAX_ENTRIES = 10_000

CacheKey = tuple[bytes, str, str]


class TenancyCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[CacheKey, tuple[float, BucketScope]] = {}

    def get(self, key: CacheKey) -> BucketScope | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, scope = entry
        if expires_at < time.monotonic():
            del self._entries[key]
            return None
        return scope

    def put(self, key: CacheKey, scope: BucketScope) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= _CACHE_MAX_ENTRIES:
            self._entries.clear()  # crude but bounded; refills within one TTL
        self._entries[key] = (time.monotonic() + self.ttl, scope)

    def clear(self) -> None:
        self._entries.clear()


bearer = HTTPBearer(
    auto_error=False,
    description="Your API key: `Authorization: Bearer sk_...`",
)


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


Db = Annotated[Database, Depends(get_database)]


async def current_scope(
    request: Request,
    bucket_id: Annotated[
        str, Path(description="The bucket's id (`bkt_…`) or name, in the namespace.")
    ],
    # Declared for the OpenAPI document; ``authenticate`` reads the raw request.
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_namespace: Annotated[
        str | None,
        Header(
            alias="X-Namespace",
            description="REQUIRED: the namespace, by id (`ns_…`) or name. "
            "May be given as the `namespace` query parameter instead.",
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        Query(description="The namespace, when the X-Namespace header cannot be sent."),
    ] = None,
) -> BucketScope:
    return await authenticate(request, bucket_id)


def _bearer_key(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise UnauthorizedError(
            "Missing or malformed Authorization header; send 'Authorization: Bearer sk_...'.",
            code="missing_api_key",
        )
    key = key.strip()
    if len(key) != API_KEY_LENGTH or not key.startswith("sk_"):
        raise UnauthorizedError("The API key is invalid or revoked.", code="invalid_api_key")
    return key


async def authenticate(request: Request, bucket_id: str) -> BucketScope:
    """The one place a request becomes a tenant: key, then namespace, then bucket."""
    api_key = _bearer_key(request.headers.get("authorization"))
    namespace_ref = request.headers.get("x-namespace")
    if namespace_ref is None:
        namespace_ref = request.query_params.get("namespace")
    if not namespace_ref:
        raise BadRequestError(
            "The X-Namespace header is required (a namespace id or name); "
            "the 'namespace' query parameter may be used instead.",
            code="missing_namespace",
        )
    if not is_storable_text(namespace_ref):
        raise NotFoundError.of("namespace", namespace_ref.encode(errors="replace").decode())
    if not is_storable_text(bucket_id):
        raise NotFoundError.of("bucket", bucket_id.encode(errors="replace").decode())
    database: Database = request.app.state.database
    key_hash = hash_api_key(api_key)
    cache: TenancyCache = request.app.state.tenancy_cache
    limiter: RateLimiter | None = request.app.state.rate_limiter
    cache_key = (key_hash, namespace_ref, bucket_id)
    scope = cache.get(cache_key)
    if scope is None:
        scope = await _resolve(database, cache, limiter, cache_key)
    elif limiter is not None and limiter.wants_lease(key_hash):
        async with database.read() as conn:
            lease = await lease_tokens(conn, database.statements, key_hash, limiter.lease_request)
        limiter.record_lease(key_hash, lease.granted, lease.left)
    request.state.namespace_id = scope.namespace_id  # for the access log
    if limiter is not None:
        request.state.rate_limit = (limiter.policy.policy_header, limiter.spend(key_hash))
    return scope


async def _resolve(
    database: Database, cache: TenancyCache, limiter: RateLimiter | None, cache_key: CacheKey
) -> BucketScope:
    key_hash, namespace_ref, bucket_ref = cache_key
    wants_lease = limiter is not None and limiter.wants_lease(key_hash)
    async with database.read() as conn:
        owner = await find_key_owner(
            conn,
            database.statements,
            key_hash=key_hash,
            # Longer than any stored name: cannot match, and need not be sent whole.
            namespace_ref=namespace_ref[: MAX_REF_LENGTH + 1],
            bucket_ref=bucket_ref[: MAX_REF_LENGTH + 1],
            lease=limiter.lease_request if limiter is not None and wants_lease else None,
        )
    if owner is None:
        raise UnauthorizedError("The API key is invalid or revoked.", code="invalid_api_key")
    if limiter is not None and owner.lease is not None:
        limiter.record_lease(key_hash, owner.lease.granted, owner.lease.left)
    if owner.namespace_id is None:
        raise NotFoundError.of("namespace", namespace_ref[:MAX_REF_LENGTH])
    if owner.bucket_id is None:
        raise NotFoundError.of("bucket", bucket_ref[:MAX_REF_LENGTH])
    scope = BucketScope(
        owner.organization_id, owner.user_id, owner.namespace_id, owner.bucket_id, key_hash
    )
    cache.put(cache_key, scope)
    return scope


CurrentScope = Annotated[BucketScope, Depends(current_scope)]
