"""Service configuration, read from the environment (prefix ``APP_``) and ``.env``.

Nothing is read at import time: ``get_settings()`` builds the settings on first
use and caches them, so tests and the CLI can set the environment first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL is started under data_dir.",
    )
    database_read_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of a streaming read replica (hot standby). Set: list "
        "and get read from it, except a caller's reads that could miss its own latest "
        "write, and while the replica lags or is down (then the primary). See "
        "docs/scaling.md.",
    )
    read_replica_max_lag_seconds: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="Reads go to the primary while the replica has not been seen caught "
        "up with it for this long. Also bounds how stale a replica read can be for "
        "writes made through other workers or hosts.",
    )
    data_dir: Path = Field(
        default=Path(".data"),
        description="Folder for the embedded PostgreSQL and the generated cursor secret.",
    )
    database_name: str = Field(
        default="bucket_syncs", description="Database created on the embedded server."
    )
    cursor_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key for pagination cursors (>= 32 chars). Unset: generated once "
        "and kept in data_dir.",
    )
    auth_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long a worker reuses a resolved key -> namespace -> bucket. "
        "Revocation is not delayed by it: every request re-checks its key inside the "
        "statement that serves it. 0 disables the cache.",
    )
    rate_limit_per_minute: int = Field(
        default=6000,
        ge=0,
        le=10_000_000,
        description="Sustained requests per minute per API key, across all workers and "
        "hosts (token bucket in PostgreSQL). 0 disables rate limiting.",
    )
    rate_limit_burst: int = Field(
        default=1000,
        ge=1,
        le=10_000_000,
        description="Bucket size: requests a key may make at once before the sustained "
        "rate applies.",
    )
    pool_size: int = Field(
        default=32,
        ge=1,
        le=200,
        description="Connections each worker keeps open. Size it to the concurrency a "
        "worker serves: a request beyond it waits for a free connection.",
    )
    pool_max_overflow: int = Field(
        default=0,
        ge=0,
        le=200,
        description="Extra connections under bursts, closed again when returned; each "
        "costs a new PostgreSQL backend, so 0 unless bursts are rare.",
    )
    pool_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    statement_timeout_ms: int = Field(default=5000, ge=100, le=600_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = Field(default="INFO")
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="Log lines as JSON objects (containers, log shippers) or readable "
        "text (`make run`).",
    )

    @field_validator("cursor_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("APP_CURSOR_SECRET must be at least 32 characters")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("APP_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level


@lru_cache
def get_settings() -> Settings:
    return Settings()


def describe_invalid(error: ValidationError) -> str:
    """One line naming each wrong variable and why; never the value (it may be a secret)."""
    prefix = Settings.model_config.get("env_prefix", "")
    problems = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "settings"
        message = str(problem["msg"]).removeprefix("Value error, ")
        problems.append(f"{prefix}{field.upper()}: {message}")
    return "invalid configuration: " + "; ".join(problems)
