"""Properties of app/pagination.py: the pagination block's arithmetic and links, and
the signed cursor codec (round trip; any altered byte or character is refused;
a cursor is bound to its namespace and bucket)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.errors import BadRequestError
from app.pagination import (
    MAX_LIMIT,
    MAX_OFFSET,
    NO_FILTERS,
    CursorCodec,
    FilterKey,
    PageRequest,
    SortKey,
    pagination_block,
)

BASE = "/v1/buckets/bkt_x/syncs/list"
SECRET = b"property-secret-" + b"k" * 32
CODEC = CursorCodec(SECRET)
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

limits = st.integers(1, MAX_LIMIT)
offsets = st.integers(0, MAX_OFFSET)
totals = st.one_of(st.integers(0, 50_000), st.integers(0, 10**8))
ids = st.text(min_size=1, max_size=40)
statuses = st.sampled_from(["PENDING", "ACTIVE", "FAILED", "SUSPENDED"])
filter_keys: st.SearchStrategy[FilterKey] = st.tuples(
    st.none() | ids, st.none() | statuses, st.none() | st.booleans()
)
sort_keys = st.builds(
    SortKey,
    created_at=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    sync_config_id=ids,
)


def link_params(link: str) -> dict[str, str]:
    parts = urlsplit(link)
    assert parts.path == BASE, link
    query = parse_qs(parts.query, strict_parsing=True)
    assert all(len(values) == 1 for values in query.values()), link
    return {name: values[0] for name, values in query.items()}


def offset_block(limit: int, offset: int, total: int) -> dict[str, object]:
    """The block as the list route builds it: a cursor exists exactly when more rows follow."""
    request = PageRequest(limit, offset, None, NO_FILTERS)
    has_more = offset + limit < total
    return pagination_block(
        base_path=BASE, total=total, request=request, next_cursor="CUR" if has_more else None
    )


# -- the pagination block -----------------------------------------------------------------


@given(limit=limits, offset=offsets, total=totals)
def test_offset_block_arithmetic(limit: int, offset: int, total: int) -> None:
    block = offset_block(limit, offset, total)
    assert block["total"] == total
    assert block["page_size"] == limit
    assert block["page"] == offset // limit + 1
    total_pages = block["total_pages"]
    assert isinstance(total_pages, int)
    assert (total_pages - 1) * limit < total <= total_pages * limit or total == total_pages == 0


@given(limit=limits, offset=offsets, total=totals)
def test_next_link_stays_in_offset_range_or_switches_to_cursor(
    limit: int, offset: int, total: int
) -> None:
    block = offset_block(limit, offset, total)
    next_page = block["next_page"]
    if offset + limit >= total:
        assert next_page is None  # nothing after this page
        assert block["next_cursor"] is None
        return
    assert isinstance(next_page, str)  # more rows: always a way forward
    params = link_params(next_page)
    assert params["limit"] == str(limit)
    if "offset" in params:
        assert "cursor" not in params
        assert int(params["offset"]) == offset + limit
        assert 0 <= int(params["offset"]) <= MAX_OFFSET
    else:
        assert offset + limit > MAX_OFFSET  # only past the offset ceiling
        assert params["cursor"] == block["next_cursor"] == "CUR"


@given(limit=limits, offset=offsets, total=totals)
def test_previous_link_goes_back_within_range(limit: int, offset: int, total: int) -> None:
    block = offset_block(limit, offset, total)
    previous = block["previous_page"]
    if offset == 0:
        assert previous is None
        return
    assert isinstance(previous, str)
    params = link_params(previous)
    assert set(params) == {"limit", "offset"}
    assert params["limit"] == str(limit)
    back = int(params["offset"])
    assert 0 <= back < offset
    assert back <= MAX_OFFSET
    if total > 0:
        assert back < total  # never points at an empty page past the end
    if offset <= total and offset % limit == 0:
        assert back == offset - limit  # exactly one page back, on page boundaries


@given(limit=st.integers(1, 200), total=st.integers(0, 3000))
def test_following_next_links_visits_every_page_once(limit: int, total: int) -> None:
    offset, pages, seen = 0, 0, 0
    while True:
        block = offset_block(limit, offset, total)
        assert block["page"] == pages + 1
        seen += min(limit, max(total - offset, 0))
        pages += 1
        next_page = block["next_page"]
        if next_page is None:
            break
        assert isinstance(next_page, str)
        params = link_params(next_page)
        if "cursor" in params:
            assert offset + limit > MAX_OFFSET
            return  # the cursor takes over past the offset ceiling
        offset = int(params["offset"])
    assert seen == total
    assert pages == max(block["total_pages"], 1)  # type: ignore[call-overload]


@given(limit=limits, total=totals, cursor=st.none() | st.just("NEXT"), after=sort_keys)
def test_cursor_block_has_no_page_numbers(
    limit: int, total: int, cursor: str | None, after: SortKey
) -> None:
    request = PageRequest(limit, 0, after, NO_FILTERS)
    block = pagination_block(base_path=BASE, total=total, request=request, next_cursor=cursor)
    assert block["page"] is None
    assert block["previous_page"] is None
    assert block["next_cursor"] == cursor
    if cursor is None:
        assert block["next_page"] is None
    else:
        assert isinstance(block["next_page"], str)
        assert link_params(block["next_page"]) == {"limit": str(limit), "cursor": cursor}


# -- the cursor codec ---------------------------------------------------------------------


def assert_invalid(
    token: str, namespace_id: str, bucket_id: str, codec: CursorCodec = CODEC
) -> None:
    with pytest.raises(BadRequestError) as caught:
        codec.decode(token, namespace_id, bucket_id)
    assert caught.value.code == "invalid_cursor"
    assert caught.value.status == 400


@given(ns=ids, bucket=ids, filters=filter_keys, after=sort_keys)
def test_cursor_round_trip(ns: str, bucket: str, filters: FilterKey, after: SortKey) -> None:
    token = CODEC.encode(ns, bucket, filters, after)
    assert set(token) <= set(BASE64URL)  # safe in a query string as is
    assert CODEC.decode(token, ns, bucket) == (filters, after)


@given(
    ns=ids,
    bucket=ids,
    filters=filter_keys,
    after=sort_keys,
    data=st.data(),
)
def test_any_changed_character_is_rejected(
    ns: str, bucket: str, filters: FilterKey, after: SortKey, data: st.DataObject
) -> None:
    token = CODEC.encode(ns, bucket, filters, after)
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    replacement = data.draw(
        st.sampled_from(BASE64URL) | st.characters(codec="utf-8"), label="replacement"
    )
    assume(replacement != token[index])
    assert_invalid(token[:index] + replacement + token[index + 1 :], ns, bucket)


@given(ns=ids, bucket=ids, filters=filter_keys, after=sort_keys, data=st.data())
def test_any_flipped_bit_of_the_bytes_is_rejected(
    ns: str, bucket: str, filters: FilterKey, after: SortKey, data: st.DataObject
) -> None:
    token = CODEC.encode(ns, bucket, filters, after)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    index = data.draw(st.integers(0, len(raw) - 1), label="byte")
    raw[index] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert_invalid(tampered, ns, bucket)


@given(ns=ids, bucket=ids, filters=filter_keys, after=sort_keys, data=st.data())
def test_inserted_removed_or_padded_characters_are_rejected(
    ns: str, bucket: str, filters: FilterKey, after: SortKey, data: st.DataObject
) -> None:
    token = CODEC.encode(ns, bucket, filters, after)
    index = data.draw(st.integers(0, len(token)), label="index")
    extra = data.draw(st.sampled_from([*BASE64URL, "=", "==", " ", "+", "/", ".", "\n"]))
    assert_invalid(token[:index] + extra + token[index:], ns, bucket)
    if index < len(token):
        assert_invalid(token[:index] + token[index + 1 :], ns, bucket)


@given(ns=ids, other_ns=ids, bucket=ids, other_bucket=ids, filters=filter_keys, after=sort_keys)
def test_cursor_of_another_namespace_or_bucket_is_rejected(
    ns: str,
    other_ns: str,
    bucket: str,
    other_bucket: str,
    filters: FilterKey,
    after: SortKey,
) -> None:
    token = CODEC.encode(ns, bucket, filters, after)
    if other_ns != ns:
        assert_invalid(token, other_ns, bucket)
    if other_bucket != bucket:
        assert_invalid(token, ns, other_bucket)


@given(ns=ids, bucket=ids, filters=filter_keys, after=sort_keys)
def test_cursor_signed_with_another_secret_is_rejected(
    ns: str, bucket: str, filters: FilterKey, after: SortKey
) -> None:
    token = CursorCodec(b"another-secret-" + b"z" * 32).encode(ns, bucket, filters, after)
    assert_invalid(token, ns, bucket)


@given(token=st.text(max_size=1100) | st.text(alphabet=BASE64URL, max_size=400))
def test_arbitrary_text_is_an_invalid_cursor_never_a_crash(token: str) -> None:
    assert_invalid(token, "ns_a", "bkt_a")
