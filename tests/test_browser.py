"""The interactive docs as a person sees them: the real server (`bucket-syncs serve`,
its own data folder and database) and /docs rendered by headless Chromium (Debian's
``chromium``), offline. Screenshots go to test-artifacts/.

Run with ``make test-browser`` (excluded from the default run: it needs Chromium)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.databases import empty_database
from tests.servers import free_port, spawned_until_ready

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
LIST_ANCHOR = "#/Bucket%20Syncs/list_sync_configurations"
LIST_SCHEMAS = ("SyncListFilter", "SyncListResponse", "SyncConfigOut", "ErrorResponse")

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    # Lets the page's scripts run (and fetch /openapi.json) before the DOM is taken.
    "--virtual-time-budget=15000",
)


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        found = name and shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: `apt-get install -y chromium` (.ci/run does)")


@contextmanager
def served(database_url: str, data_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update(
        APP_DATA_DIR=str(data_dir),
        APP_DATABASE_URL=database_url,
        APP_LOG_FORMAT="text",
        WEB_CONCURRENCY="1",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).parent / "bucket-syncs"), "serve", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with spawned_until_ready(command, env, data_dir / "serve.log", f"{base}/ready", 60):
        yield base


def render(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


@pytest.fixture
async def docs_database(database_ready: str) -> AsyncIterator[str]:
    async with empty_database(database_ready, "bucket_syncs_browser") as url:
        yield url


async def test_docs_render_the_list_operation_and_its_schemas(
    docs_database: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(check_docs, docs_database, tmp_path)


def check_docs(database_url: str, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    operation_png = ARTIFACTS / "docs-list-operation.png"
    overview_png = ARTIFACTS / "docs-overview.png"
    for stale in (operation_png, overview_png):
        stale.unlink(missing_ok=True)

    with served(database_url, tmp_path / "data") as base:
        dom = render(f"{base}/docs{LIST_ANCHOR}", tmp_path / "profile-dom", "--dump-dom")
        operation = render(
            f"{base}/docs{LIST_ANCHOR}",
            tmp_path / "profile-operation",
            "--window-size=1280,2400",
            f"--screenshot={operation_png}",
        )
        overview = render(
            f"{base}/docs",
            tmp_path / "profile-overview",
            "--window-size=1280,2000",
            f"--screenshot={overview_png}",
        )

    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    (ARTIFACTS / "docs.html").write_text(html)
    # Swagger UI ran: the operations exist only once its scripts have rendered them.
    assert 'class="swagger-ui"' in html
    list_block = re.search(
        r'<div class="opblock opblock-post is-open"[^>]*>.*?'
        r'data-path="/v1/buckets/\{bucket_id\}/syncs/list".*?'
        r'class="opblock-summary-description"[^>]*>([^<]*)<',
        html,
        re.DOTALL,
    )
    assert list_block is not None, "the list operation is not rendered (and open)"
    assert list_block.group(1) == "List Sync Configurations"
    # The open operation shows its request body with the published example.
    assert "Request body" in html
    assert "conn_abc123" in html
    # Its schemas, in the rendered Schemas section.
    models = html.split('<section class="models', 1)
    assert len(models) == 2, "no Schemas section"
    for schema in LIST_SCHEMAS:
        assert re.search(rf">\s*{schema}\s*<", models[1]), f"schema {schema} not rendered"

    for result, png in ((operation, operation_png), (overview, overview_png)):
        assert result.returncode == 0, result.stderr[-2000:]
        width, height = png_size(png)
        assert width == 1280
        assert height >= 2000
        assert png.stat().st_size > 50_000, f"{png} looks blank"
