"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-04 21:21:40.444943
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("internal_id", sa.String(length=28), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("internal_id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "namespaces",
        sa.Column("namespace_id", sa.String(length=15), nullable=False),
        sa.Column("organization_id", sa.String(length=28), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.internal_id"],
            name=op.f("fk_namespaces_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", name=op.f("pk_namespaces")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_namespaces_organization_id_name")
        ),
    )
    op.create_table(
        "storage_connections",
        sa.Column("connection_id", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.String(length=28), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider_type", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "provider_type IN ('s3', 'google_drive', 'snowflake', 'sharepoint', 'tigris', 'postgresql')",
            name=op.f("ck_storage_connections_provider_type"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.internal_id"],
            name=op.f("fk_storage_connections_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_storage_connections")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_storage_connections_organization_id_name")
        ),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(length=19), nullable=False),
        sa.Column("organization_id", sa.String(length=28), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.internal_id"],
            name=op.f("fk_users_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_organization_id"), "users", ["organization_id"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.String(length=28), nullable=False),
        sa.Column("user_id", sa.String(length=19), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_prefix", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.internal_id"],
            name=op.f("fk_api_keys_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_api_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_key_prefix"), "api_keys", ["key_prefix"], unique=False)
    op.create_index(
        op.f("ix_api_keys_organization_id"), "api_keys", ["organization_id"], unique=False
    )
    op.create_table(
        "buckets",
        sa.Column("namespace_id", sa.String(length=15), nullable=False),
        sa.Column("bucket_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.namespace_id"],
            name=op.f("fk_buckets_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "bucket_id", name=op.f("pk_buckets")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f("uq_buckets_namespace_id_name")),
    )
    op.create_table(
        "sync_configs",
        sa.Column("namespace_id", sa.String(length=15), nullable=False),
        sa.Column("sync_config_id", sa.String(length=21), nullable=False),
        sa.Column("bucket_id", sa.String(length=16), nullable=False),
        sa.Column("connection_id", sa.String(length=20), nullable=False),
        sa.Column("internal_id", sa.String(length=28), nullable=False),
        sa.Column("created_by_user_id", sa.String(length=19), nullable=False),
        sa.Column("source_path", sa.String(length=1024), nullable=False),
        sa.Column("file_filters", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("sync_mode", sa.String(length=16), server_default="continuous", nullable=False),
        sa.Column("polling_interval_seconds", sa.Integer(), server_default="300", nullable=False),
        sa.Column("batch_size", sa.Integer(), server_default="50", nullable=False),
        sa.Column("create_object_on_confirm", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("skip_duplicates", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("status", sa.String(length=32), server_default="PENDING", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("total_files_discovered", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_files_synced", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_files_failed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_bytes_synced", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("paused", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pause_reason", sa.String(length=500), nullable=True),
        sa.Column("paused_by_user_id", sa.String(length=19), nullable=True),
        sa.Column("locked", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("schema_mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("ingest_filter", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("reconcile", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("provider_filters", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("batch_collection_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("skip_batch_submission", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("sync_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_objects_per_run", sa.Integer(), nullable=True),
        sa.Column("sync_concurrency", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'QUEUED', 'IN_PROGRESS', 'PROCESSING', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELED', 'INTERRUPTED', 'UNKNOWN', 'SKIPPED', 'DRAFT', 'ACTIVE', 'ARCHIVED', 'SUSPENDED', 'DEACTIVATED')",
            name=op.f("ck_sync_configs_status"),
        ),
        sa.CheckConstraint(
            "sync_mode IN ('continuous', 'initial_only')", name=op.f("ck_sync_configs_sync_mode")
        ),
        sa.CheckConstraint("batch_size BETWEEN 1 AND 100", name=op.f("ck_sync_configs_batch_size")),
        sa.CheckConstraint(
            "polling_interval_seconds BETWEEN 30 AND 86400", name=op.f("ck_sync_configs_polling")
        ),
        sa.CheckConstraint(
            "total_files_discovered >= 0 AND total_files_synced >= 0 AND total_files_failed >= 0 AND total_bytes_synced >= 0 AND consecutive_failures >= 0",
            name=op.f("ck_sync_configs_counters"),
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["storage_connections.connection_id"],
            name=op.f("fk_sync_configs_connection_id_storage_connections"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["internal_id"],
            ["organizations.internal_id"],
            name=op.f("fk_sync_configs_internal_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id", "bucket_id"],
            ["buckets.namespace_id", "buckets.bucket_id"],
            name=op.f("fk_sync_configs_namespace_id_bucket_id_buckets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "sync_config_id", name=op.f("pk_sync_configs")),
        sa.UniqueConstraint(
            "namespace_id",
            "bucket_id",
            "connection_id",
            "source_path",
            name=op.f("uq_sync_configs_source"),
        ),
    )
    op.create_index(
        "ix_sync_configs_active",
        "sync_configs",
        [
            "namespace_id",
            "bucket_id",
            "is_active",
            sa.literal_column("created_at DESC"),
            sa.literal_column("sync_config_id DESC"),
        ],
        unique=False,
        postgresql_include=["status", "connection_id"],
    )
    op.create_index(
        "ix_sync_configs_connection",
        "sync_configs",
        [
            "namespace_id",
            "bucket_id",
            "connection_id",
            sa.literal_column("created_at DESC"),
            sa.literal_column("sync_config_id DESC"),
        ],
        unique=False,
        postgresql_include=["status", "is_active"],
    )
    op.create_index(
        "ix_sync_configs_list",
        "sync_configs",
        [
            "namespace_id",
            "bucket_id",
            sa.literal_column("created_at DESC"),
            sa.literal_column("sync_config_id DESC"),
        ],
        unique=False,
        postgresql_include=["status", "is_active", "connection_id"],
    )
    op.create_index(
        "ix_sync_configs_status",
        "sync_configs",
        [
            "namespace_id",
            "bucket_id",
            "status",
            sa.literal_column("created_at DESC"),
            sa.literal_column("sync_config_id DESC"),
        ],
        unique=False,
        postgresql_include=["is_active", "connection_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_sync_configs_status",
        table_name="sync_configs",
        postgresql_include=["is_active", "connection_id"],
    )
    op.drop_index(
        "ix_sync_configs_list",
        table_name="sync_configs",
        postgresql_include=["status", "is_active", "connection_id"],
    )
    op.drop_index(
        "ix_sync_configs_connection",
        table_name="sync_configs",
        postgresql_include=["status", "is_active"],
    )
    op.drop_index(
        "ix_sync_configs_active",
        table_name="sync_configs",
        postgresql_include=["status", "connection_id"],
    )
    op.drop_table("sync_configs")
    op.drop_table("buckets")
    op.drop_index(op.f("ix_api_keys_organization_id"), table_name="api_keys")
    op.drop_index(op.f("ix_api_keys_key_prefix"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_users_organization_id"), table_name="users")
    op.drop_table("users")
    op.drop_table("storage_connections")
    op.drop_table("namespaces")
    op.drop_table("organizations")
