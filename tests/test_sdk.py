"""The official ``mixpeek`` SDK against a real server: every response must parse
into the SDK's own models."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from mixpeek import ApiClient, BucketSyncsApi, Configuration
from mixpeek.exceptions import NotFoundException, UnprocessableEntityException
from mixpeek.models.list_sync_configurations_request import ListSyncConfigurationsRequest
from mixpeek.models.sync_configuration_model import SyncConfigurationModel
from mixpeek.models.sync_create_request import SyncCreateRequest
from mixpeek.models.sync_update_request import SyncUpdateRequest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.conftest import Tenant, make_tenant, seed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server_url(database_ready: str, settings: Settings) -> Iterator[str]:
    """The app under a real uvicorn server, in a thread with its own event loop."""
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def sdk_tenant(engine: AsyncEngine) -> Tenant:
    return await make_tenant(engine, "sdk")


def _api(url: str, tenant: Tenant) -> tuple[ApiClient, BucketSyncsApi]:
    config = Configuration(
        host=url, access_token=tenant.api_key, api_key={"NamespaceHeader": tenant.namespace_name}
    )
    client = ApiClient(config)
    return client, BucketSyncsApi(client)


async def test_sdk_round_trip(server_url: str, engine: AsyncEngine, sdk_tenant: Tenant) -> None:
    await seed(engine, sdk_tenant, 25)
    await asyncio.to_thread(_round_trip, server_url, sdk_tenant)


def _round_trip(url: str, tenant: Tenant) -> None:
    client, api = _api(url, tenant)
    with client:
        bucket = tenant.bucket_name
        created = api.create_sync_configuration_buckets(
            bucket,
            SyncCreateRequest(
                connection_id=tenant.connection_id,
                source_path="media/videos/",
                sync_mode="continuous",
                file_filters={"include_patterns": ["*.mp4"], "extensions": [".mp4"]},
                metadata={"team": "media"},
                description="created by the SDK",
            ),
        )
        assert isinstance(created, SyncConfigurationModel)
        assert created.source_path == "media/videos/"
        assert created.locked is False
        assert created.file_filters is not None
        assert created.file_filters.include_patterns == ["*.mp4"]
        sync_id = created.sync_config_id
        assert sync_id is not None

        got = api.get_sync_configuration_buckets_id_config(bucket, sync_id)
        assert got == created

        # Filters plus a cursor walk over 26 configurations, 7 at a time.
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = api.list_sync_configurations_buckets(
                bucket,
                limit=7,
                cursor=cursor,
                list_sync_configurations_request=ListSyncConfigurationsRequest(),
            )
            assert page.total == 26
            seen += [r.sync_config_id for r in page.results if r.sync_config_id]
            cursor = page.pagination.next_cursor
            if cursor is None:
                break
        assert len(seen) == 26
        assert len(set(seen)) == 26
        assert seen[0] == sync_id  # newest first

        pending = api.list_sync_configurations_buckets(
            bucket,
            limit=100,
            list_sync_configurations_request=ListSyncConfigurationsRequest(
                connection_id=tenant.connection_id, status="PENDING", is_active=True
            ),
        )
        assert sync_id in [r.sync_config_id for r in pending.results]
        assert all(r.status == "PENDING" and r.is_active for r in pending.results)
        assert pending.total == len(pending.results)

        by_offset = api.list_sync_configurations_buckets(bucket, limit=10, offset=20)
        assert len(by_offset.results) == 6
        assert by_offset.pagination.page == 3

        updated = api.update_sync_configuration_buckets_id_config(
            bucket,
            sync_id,
            SyncUpdateRequest(description="updated", batch_size=10, metadata={"v": 2}),
        )
        assert updated.description == "updated"
        assert updated.batch_size == 10
        assert updated.metadata == {"v": 2}
        assert updated.created_at == created.created_at

        paused = api.pause_sync_configuration_buckets_id_config(bucket, sync_id)
        assert paused.paused is True
        assert paused.status == "SUSPENDED"
        assert paused.paused_by_user_id == tenant.user_id
        resumed = api.resume_sync_configuration_buckets_id_config(bucket, sync_id)
        assert resumed.paused is False
        assert resumed.status == "ACTIVE"
        assert resumed.is_active is True

        deleted = api.delete_sync_configuration_buckets_id_config(bucket, sync_id)
        assert deleted == {
            "success": True,
            "message": f"Sync configuration {sync_id} deleted.",
            "sync_config_id": sync_id,
        }
        with pytest.raises(NotFoundException) as missing:
            api.get_sync_configuration_buckets_id_config(bucket, sync_id)
        assert missing.value.data is not None  # the envelope parsed as the SDK's ErrorResponse
        with pytest.raises(UnprocessableEntityException):
            api.create_sync_configuration_buckets(
                bucket, SyncCreateRequest(connection_id=tenant.connection_id, batch_size=50)
            )


def test_documented_examples_parse_as_the_sdks_models() -> None:
    from mixpeek.models.sync_list_response import SyncListResponse as SdkListResponse

    from app.schemas import EXAMPLE_SYNC, SyncListResponse

    SyncConfigurationModel.from_dict(EXAMPLE_SYNC)
    (example,) = SyncListResponse.model_json_schema()["examples"]
    SdkListResponse.from_dict(example)
