"""Query parameters → a page request; signed keyset cursors; the pagination block.

A cursor is ``base64url(payload || hmac)``: the payload binds the namespace, the
bucket, the filters and the sort key of the last row returned, and the HMAC-SHA256
tag (first 16 bytes) proves the server issued it. Nothing in it is secret, but
nothing in it can be changed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from app.errors import BadRequestError, ValidationFailedError

MAX_LIMIT = 1000
MAX_OFFSET = 10_000
DEFAULT_LIMIT = 10
MAX_CURSOR_CHARS = 1024
_TAG_BYTES = 16
_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FilterKey = tuple[str | None, str | None, bool | None]  # connection_id, status, is_active
NO_FILTERS: FilterKey = (None, None, None)


@dataclass(frozen=True, slots=True)
class SortKey:
    """Position of a row in list order: ``created_at DESC, sync_config_id DESC``."""

    created_at: datetime
    sync_config_id: str

    @property
    def micros(self) -> int:
        delta = self.created_at - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    @classmethod
    def from_micros(cls, micros: int, sync_config_id: str) -> SortKey:
        return cls(_EPOCH + timedelta(microseconds=micros), sync_config_id)


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    offset: int
    after: SortKey | None
    filters: FilterKey

    @property
    def cursor_mode(self) -> bool:
        return self.after is not None


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, namespace_id: str, bucket_id: str, filters: FilterKey, after: SortKey) -> str:
        payload = orjson.dumps(
            [_VERSION, namespace_id, bucket_id, *filters, after.micros, after.sync_config_id]
        )
        return base64.urlsafe_b64encode(payload + self._tag(payload)).rstrip(b"=").decode()

    def decode(self, token: str, namespace_id: str, bucket_id: str) -> tuple[FilterKey, SortKey]:
        """The filters and position a cursor carries; 400 ``invalid_cursor`` if it was
        not issued by this server for this namespace and bucket."""
        if len(token) > MAX_CURSOR_CHARS:
            raise _invalid()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise _invalid() from None
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
            # Stray characters and altered padding bits decode to the same bytes: only
            # the exact token issued is accepted.
            raise _invalid()
        payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if len(raw) <= _TAG_BYTES or not hmac.compare_digest(tag, self._tag(payload)):
            raise _invalid()
        fields: Any = orjson.loads(payload)  # signed by us: well-formed
        version, ns, bucket, connection_id, status, is_active, micros, sync_id = fields
        if version != _VERSION or ns != namespace_id or bucket != bucket_id:
            raise _invalid()
        return (connection_id, status, is_active), SortKey.from_micros(micros, sync_id)


def _invalid() -> BadRequestError:
    return BadRequestError(
        "The cursor is invalid: it was altered, expired with a key change, or was issued "
        "for another bucket. Start again without a cursor.",
        code="invalid_cursor",
    )


def choose_limit(limit: int | None, page_size: int | None) -> int:
    if limit is not None and page_size is not None and limit != page_size:
        raise BadRequestError(
            "Give either 'limit' or its alias 'page_size', not both with different values.",
            code="conflicting_parameters",
        )
    chosen = limit if limit is not None else page_size
    return DEFAULT_LIMIT if chosen is None else chosen


def choose_cursor(*candidates: tuple[str, str | None]) -> str | None:
    given = [(name, value) for name, value in candidates if value is not None]
    if len(given) > 1:
        names = ", ".join(f"'{name}'" for name, _ in given)
        raise BadRequestError(
            f"Give one cursor parameter, not several ({names}).", code="conflicting_parameters"
        )
    return given[0][1] if given else None


def choose_offset(limit: int, offset: int | None, page: int | None, cursor: str | None) -> int:
    if cursor is not None and (offset is not None or page is not None):
        raise BadRequestError(
            "'offset' and 'page' cannot be combined with a cursor.",
            code="conflicting_parameters",
        )
    if offset is not None and page is not None:
        raise BadRequestError(
            "Give either 'page' or 'offset', not both.", code="conflicting_parameters"
        )
    if page is not None:
        offset = (page - 1) * limit
        if offset > MAX_OFFSET:
            raise ValidationFailedError.of(
                [
                    {
                        "type": "less_than_equal",
                        "loc": ("query", "page"),
                        "msg": f"page {page} with limit {limit} starts past the maximum "
                        f"offset ({MAX_OFFSET}); follow 'next_cursor' to go further",
                    }
                ]
            )
    return offset or 0


def choose_filters(stated: FilterKey | None, from_cursor: FilterKey) -> FilterKey:
    """With a cursor, the cursor's filters apply; a body that states others is a mistake."""
    if stated is not None and stated != NO_FILTERS and stated != from_cursor:
        raise BadRequestError(
            "The filters in the body differ from the ones this cursor was issued for. "
            "Send the same filters (or none) with the cursor.",
            code="cursor_filter_mismatch",
        )
    return from_cursor


def pagination_block(
    *,
    base_path: str,
    total: int,
    request: PageRequest,
    next_cursor: str | None,
) -> dict[str, Any]:
    limit, offset = request.limit, request.offset
    total_pages = -(-total // limit)
    if request.cursor_mode:
        return {
            "total": total,
            "page": None,
            "page_size": limit,
            "total_pages": total_pages,
            "next_page": f"{base_path}?limit={limit}&cursor={next_cursor}" if next_cursor else None,
            "previous_page": None,
            "next_cursor": next_cursor,
        }
    next_page = None
    if offset + limit < total:
        if offset + limit <= MAX_OFFSET:
            next_page = f"{base_path}?limit={limit}&offset={offset + limit}"
        elif next_cursor:
            next_page = f"{base_path}?limit={limit}&cursor={next_cursor}"
    previous_page = None
    if offset > 0:
        last_page_offset = max(total_pages - 1, 0) * limit
        previous_page = (
            f"{base_path}?limit={limit}&offset={max(min(offset - limit, last_page_offset), 0)}"
        )
    return {
        "total": total,
        "page": offset // limit + 1,
        "page_size": limit,
        "total_pages": total_pages,
        "next_page": next_page,
        "previous_page": previous_page,
        "next_cursor": next_cursor,
    }
