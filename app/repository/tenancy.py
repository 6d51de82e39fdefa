"""Key → organization → namespace → bucket resolution, and rate-limit leases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy import (
    Double,
    Integer,
    Select,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.dialects import postgresql

from app.models import (
    api_keys,
    buckets,
    namespaces,
    rate_limit_buckets,
)
from app.repository.compiled import param

if TYPE_CHECKING:
    from app.repository import Statements


def tenancy_statement() -> Select[Any]:
    """Key → organization → namespace (id or name) → bucket (id or name), in one trip.

    An id match wins over a name match, so a name that looks like another
    namespace's or bucket's id cannot shadow it."""
    ns_ref, bucket_ref = param("namespace_ref"), param("bucket_ref")
    namespace_id = (
        select(namespaces.c.namespace_id)
        .where(
            namespaces.c.organization_id == api_keys.c.organization_id,
            (namespaces.c.namespace_id == ns_ref) | (namespaces.c.name == ns_ref),
        )
        .order_by((namespaces.c.namespace_id == ns_ref).desc())
        .limit(1)
        .correlate(api_keys)
        .scalar_subquery()
    )
    bucket_id = (
        select(buckets.c.bucket_id)
        .where(
            buckets.c.namespace_id == namespace_id,
            (buckets.c.bucket_id == bucket_ref) | (buckets.c.name == bucket_ref),
        )
        .order_by((buckets.c.bucket_id == bucket_ref).desc())
        .limit(1)
        .correlate(api_keys)
        .scalar_subquery()
    )
    return select(
        api_keys.c.organization_id,
        api_keys.c.user_id,
        namespace_id.label("namespace_id"),
        bucket_id.label("bucket_id"),
    ).where(
        api_keys.c.key_hash == param("key_hash", postgresql.BYTEA),
        api_keys.c.revoked_at.is_(None),
    )


def _lease_insert(source: Select[Any]) -> Any:
    """Refill a key's shared bucket by the time elapsed, then hand out up to
    ``want`` whole tokens; one statement, so concurrent workers serialize on the row."""
    capacity = param("capacity", Double)
    refilled = func.least(
        capacity,
        rate_limit_buckets.c.tokens
        + func.extract("epoch", func.now() - rate_limit_buckets.c.refilled_at)
        * param("rate", Double),
    )
    granted = cast(func.least(param("want", Integer), func.floor(refilled)), Integer)
    statement = postgresql.insert(rate_limit_buckets).from_select(
        ["key_hash", "tokens", "refilled_at", "granted"], source
    )
    return statement.on_conflict_do_update(
        index_elements=[rate_limit_buckets.c.key_hash],
        set_={"tokens": refilled - granted, "refilled_at": func.now(), "granted": granted},
    ).returning(rate_limit_buckets.c.granted, rate_limit_buckets.c.tokens)


def _new_bucket_row() -> Select[Any]:
    """A first lease: a full bucket minus what this lease takes."""
    first = func.least(param("want", Integer), param("capacity", Double))
    return select(
        param("key_hash", postgresql.BYTEA),
        param("capacity", Double) - first,
        func.now(),
        cast(first, Integer),
    )


def lease_statement() -> Any:
    return _lease_insert(_new_bucket_row())


def tenancy_with_lease_statement() -> Select[Any]:
    """Tenancy resolution and, for a valid key, a rate-limit lease: one round trip."""
    owner = tenancy_statement().cte("owner")
    lease = _lease_insert(_new_bucket_row().where(select(owner).exists())).cte("lease")
    return select(
        owner.c.organization_id,
        owner.c.user_id,
        owner.c.namespace_id,
        owner.c.bucket_id,
        lease.c.granted,
        lease.c.tokens,
    ).select_from(owner.outerjoin(lease, true()))


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """Who a key belongs to, and what its namespace and bucket references name.

    ``namespace_id`` / ``bucket_id`` are None when the reference matches nothing
    in the key's organization (or that namespace)."""

    organization_id: str
    user_id: str
    namespace_id: str | None
    bucket_id: str | None
    lease: Lease | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    granted: int  # tokens handed to this worker
    left: float  # tokens left in the shared bucket


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    want: int
    capacity: int
    per_second: float

    def values(self, key_hash: bytes) -> dict[str, Any]:
        return {
            "key_hash": key_hash,
            "want": self.want,
            "capacity": float(self.capacity),
            "rate": self.per_second,
        }


async def find_key_owner(
    conn: asyncpg.Connection,
    statements: Statements,
    *,
    key_hash: bytes,
    namespace_ref: str,
    bucket_ref: str,
    lease: LeaseRequest | None = None,
) -> KeyOwner | None:
    """None when the key is unknown or revoked. With ``lease``, also leases
    rate-limit tokens for a valid key, in the same round trip."""
    values: dict[str, Any] = {
        "key_hash": key_hash,
        "namespace_ref": namespace_ref,
        "bucket_ref": bucket_ref,
    }
    stmt = statements.tenancy
    if lease is not None:
        stmt = statements.tenancy_with_lease
        values.update(lease.values(key_hash))
    row = await conn.fetchrow(stmt.sql, *stmt.args(values))
    if row is None:
        return None
    granted = Lease(row[4], row[5]) if lease is not None and row[4] is not None else None
    return KeyOwner(row[0], row[1], row[2], row[3], granted)


async def lease_tokens(
    conn: asyncpg.Connection, statements: Statements, key_hash: bytes, lease: LeaseRequest
) -> Lease:
    stmt = statements.lease
    row = await conn.fetchrow(stmt.sql, *stmt.args(lease.values(key_hash)))
    return Lease(row[0], row[1])
