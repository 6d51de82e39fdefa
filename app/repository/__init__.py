"""Every SQL statement of the service, by concern.

Reads on the hot path (tenancy resolution, list, get) are SQLAlchemy Core statements
compiled once per shape and run on the pooled asyncpg connection: building and
cache-keying a statement per request cost more than running it. Writes go through
SQLAlchemy's connection inside the caller's transaction; nothing here commits.
"""

from __future__ import annotations

from sqlalchemy.engine import Dialect

from app.repository.compiled import Compiled
from app.repository.documents import OUTPUT_FIELDS, sync_document
from app.repository.syncs import (
    BucketScope,
    ListPage,
    SyncReads,
    SyncWrites,
    get_statement,
    list_statement,
)
from app.repository.tenancy import (
    KeyOwner,
    Lease,
    LeaseRequest,
    find_key_owner,
    lease_statement,
    lease_tokens,
    tenancy_statement,
    tenancy_with_lease_statement,
)

__all__ = [
    "OUTPUT_FIELDS",
    "BucketScope",
    "Compiled",
    "KeyOwner",
    "Lease",
    "LeaseRequest",
    "ListPage",
    "Statements",
    "SyncReads",
    "SyncWrites",
    "find_key_owner",
    "lease_tokens",
    "sync_document",
]


class Statements:
    """The hot-path statements, compiled for one dialect on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self.tenancy = Compiled.of(tenancy_statement(), dialect)
        self.tenancy_with_lease = Compiled.of(tenancy_with_lease_statement(), dialect)
        self.lease = Compiled.of(lease_statement(), dialect)
        self.get = Compiled.of(get_statement(), dialect)
        self._lists: dict[tuple[bool, bool, bool, bool], Compiled] = {}

    def list(self, shape: tuple[bool, bool, bool], with_cursor: bool) -> Compiled:
        key = (*shape, with_cursor)
        compiled = self._lists.get(key)
        if compiled is None:
            compiled = Compiled.of(list_statement(shape, with_cursor), self._dialect)
            self._lists[key] = compiled
        return compiled
