"""Enumerations, field types and validators shared by the request models."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.models import SYNC_STATUSES


class SyncStatus(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    INTERRUPTED = "INTERRUPTED"
    UNKNOWN = "UNKNOWN"
    SKIPPED = "SKIPPED"
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
    SUSPENDED = "SUSPENDED"
    DEACTIVATED = "DEACTIVATED"


assert tuple(SyncStatus) == SYNC_STATUSES


class SyncMode(StrEnum):
    CONTINUOUS = "continuous"
    INITIAL_ONLY = "initial_only"


_SYNC_MODE_ALIASES = {"scheduled": "continuous", "one_time": "initial_only"}


def _status_any_case(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    upper = value.strip().upper()
    if upper in SyncStatus.__members__:
        return upper
    hint = " To find paused syncs, use is_active=false." if upper == "PAUSED" else ""
    raise PydanticCustomError(
        "enum",
        "Unknown status '{value}'. Allowed values (any case): {allowed}.{hint}",
        {"value": value[:64], "allowed": ", ".join(SYNC_STATUSES), "hint": hint},
    )


def _sync_mode_any_case(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    lower = value.strip().lower()
    return _SYNC_MODE_ALIASES.get(lower, lower)


StatusInput = Annotated[SyncStatus, BeforeValidator(_status_any_case)]
SyncModeInput = Annotated[SyncMode, BeforeValidator(_sync_mode_any_case)]


def json_size_at_most(limit: int, what: str) -> Any:
    def check(value: Any) -> Any:
        if value is None:
            return value
        try:
            encoded = orjson.dumps(value)
        except orjson.JSONEncodeError:
            # Integers outside 64 bits or nesting past 254 levels: not storable as
            # JSON we can return (a TypeError here would otherwise be a 500).
            raise PydanticCustomError(
                "json_unsupported",
                "{what} must hold integers within 64 bits and at most 254 levels of nesting",
                {"what": what},
            ) from None
        if len(encoded) > limit:
            raise PydanticCustomError(
                "too_long",
                "{what} must be at most {limit} bytes as JSON",
                {"what": what, "limit": limit},
            )
        return value

    return AfterValidator(check)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError(
            "timezone_aware", "Timestamps must carry a timezone (e.g. a trailing 'Z')."
        )
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Glob = Annotated[StrictStr, Field(min_length=1, max_length=256)]
ShortText = Annotated[StrictStr, Field(min_length=1, max_length=256)]


def is_storable_text(value: str) -> bool:
    """PostgreSQL text holds neither NUL nor lone surrogates (which JSON can encode)."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _find_unstorable(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return not is_storable_text(value)
    if depth > 64:
        return False  # pydantic's own depth limits apply further down
    if isinstance(value, dict):
        return any(
            _find_unstorable(k, depth + 1) or _find_unstorable(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_find_unstorable(item, depth + 1) for item in value)
    return False


class StrictModel(BaseModel):
    """Refuses unknown keys with a message that names the accepted ones, and text
    that PostgreSQL cannot store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if _find_unstorable(data):
                raise PydanticCustomError(
                    "string_unstorable",
                    "Text may not contain NUL characters or unpaired surrogates.",
                )
            unknown = [key for key in data if key not in cls.model_fields]
            if unknown:
                raise PydanticCustomError(
                    "extra_forbidden",
                    "Unknown field(s): {unknown}. Accepted fields: {accepted}.",
                    {
                        "unknown": ", ".join(repr(str(k)[:64]) for k in unknown[:10]),
                        "accepted": ", ".join(cls.model_fields),
                    },
                )
        return data
