"""Service configuration, read from the environment (prefix ``APP_``) and ``.env``.

Nothing is read at import time: ``get_settings()`` builds the settings on first
use and caches them, so tests and the CLI can set the environment first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL is started under data_dir.",
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
        default=5.0,
        ge=0,
        le=300,
        description="How long a worker reuses a resolved key/namespace/bucket. Bounds how "
        "long a revoked key keeps working; 0 disables the cache.",
    )
    pool_size: int = Field(default=10, ge=1, le=200)
    pool_max_overflow: int = Field(default=5, ge=0, le=200)
    pool_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    statement_timeout_ms: int = Field(default=5000, ge=100, le=600_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = Field(default="INFO")

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
