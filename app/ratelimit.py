"""Per-key token buckets, shared by every worker and host through PostgreSQL.

The bucket of each key lives in ``rate_limit_buckets``. A worker does not ask the
database on every request: it *leases* a handful of tokens in one statement
(refill by elapsed time, then take up to ``lease_size``; see
``repository.lease_statement``) and spends them locally until they run out or
the lease expires (30 s). Tokens are taken from the shared bucket when leased, so all
workers together never exceed ``burst + rate * time``; a lease that expires
unspent only makes the limit a little stricter, never looser. The lease rides
on the tenancy statement when that runs anyway, so a cached request costs no
extra round trip.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from app.errors import TooManyRequestsError
from app.repository import LeaseRequest

# A lease outlives the tenancy cache's usual refresh, so sparse keys rarely re-lease;
# tokens it holds unspent only make the shared limit slightly stricter.
LEASE_SECONDS = 30.0
_MAX_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class RatePolicy:
    per_minute: int
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0

    @property
    def lease_size(self) -> int:
        """Tokens a worker takes at once: a tenth of the burst, at most 100."""
        return max(1, min(self.burst // 10, 100))

    @property
    def policy_header(self) -> str:
        # draft-ietf-httpapi-ratelimit-headers: quota q per window w (seconds).
        return f'"per-key";q={self.burst};w={max(1, math.ceil(self.burst / self.per_second))}'


@dataclass(slots=True)
class _Lease:
    tokens: int
    granted: int
    expires_at: float
    shared_left: float  # the shared bucket's tokens right after this lease was taken


class RateLimiter:
    def __init__(self, policy: RatePolicy) -> None:
        self.policy = policy
        self._leases: dict[bytes, _Lease] = {}

    @property
    def lease_request(self) -> LeaseRequest:
        return LeaseRequest(self.policy.lease_size, self.policy.burst, self.policy.per_second)

    def wants_lease(self, key_hash: bytes) -> bool:
        """True when this request must lease tokens from the shared bucket."""
        lease = self._leases.get(key_hash)
        if lease is None or lease.expires_at < time.monotonic():
            return True
        # A refused lease stands until a token is due: a client over its limit is
        # answered locally instead of costing the database a write per request.
        return lease.tokens <= 0 and lease.granted > 0

    def record_lease(self, key_hash: bytes, granted: int, shared_left: float) -> None:
        """Add a lease's tokens to what this worker holds for the key. Concurrent
        requests may lease at once; adding (not replacing) keeps every token used."""
        if len(self._leases) >= _MAX_KEYS:
            self._leases.clear()
        now = time.monotonic()
        held = self._leases.get(key_hash)
        carried = held.tokens if held is not None and held.expires_at >= now else 0
        lifetime = LEASE_SECONDS if granted else min(LEASE_SECONDS, self._wait(shared_left))
        self._leases[key_hash] = _Lease(carried + granted, granted, now + lifetime, shared_left)

    def _wait(self, shared_left: float) -> int:
        return max(1, math.ceil((1 - shared_left) / self.policy.per_second))

    def spend(self, key_hash: bytes) -> str:
        """Take one token from the local lease, or raise 429. Returns the RateLimit
        header value for the response."""
        lease = self._leases.get(key_hash)
        if lease is None or lease.tokens <= 0:
            wait = self._wait(0.0 if lease is None else lease.shared_left)
            raise TooManyRequestsError(
                f"Rate limit exceeded for this API key ({self.policy.per_minute} requests "
                f"per minute, bursts of {self.policy.burst}). Retry in {wait} s.",
                code="rate_limited",
                headers={
                    "Retry-After": str(wait),
                    "RateLimit-Policy": self.policy.policy_header,
                    "RateLimit": f'"per-key";r=0;t={wait}',
                },
            )
        lease.tokens -= 1
        remaining = int(lease.shared_left) + lease.tokens
        refill = math.ceil((self.policy.burst - remaining) / self.policy.per_second)
        return f'"per-key";r={remaining};t={max(0, refill)}'
