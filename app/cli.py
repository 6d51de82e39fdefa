"""The ``bucket-syncs`` command line. Every command takes ``--json``."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import admin
from app.database import create_engine, database_url
from app.errors import AppError
from app.migrate import upgrade
from app.settings import describe_invalid, get_settings

T = TypeVar("T")

cli = typer.Typer(help="Bucket sync configurations service.", no_args_is_help=True)
orgs = typer.Typer(help="Organizations.", no_args_is_help=True)
keys = typer.Typer(help="API keys.", no_args_is_help=True)
namespaces = typer.Typer(help="Namespaces.", no_args_is_help=True)
buckets = typer.Typer(help="Buckets.", no_args_is_help=True)
connections = typer.Typer(help="Storage connections.", no_args_is_help=True)
cli.add_typer(orgs, name="orgs")
cli.add_typer(keys, name="keys")
cli.add_typer(namespaces, name="namespaces")
cli.add_typer(buckets, name="buckets")
cli.add_typer(connections, name="connections")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Org = Annotated[str, typer.Option("--org", help="Organization internal id (int_…).")]


def _engine() -> AsyncEngine:
    settings = get_settings()
    return create_engine(database_url(settings), settings)


def _in_transaction(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = _engine()
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except AppError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data) if as_json else text)


@cli.command()
def migrate(as_json: JsonFlag = False) -> None:
    """Upgrade the database schema to the newest revision."""

    async def run() -> None:
        engine = _engine()
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    _emit(as_json, {"migrated": True}, "database is at the newest revision")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", envvar="WEB_CONCURRENCY")] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Migrate, create development data on an empty database, then serve."""
    import uvicorn

    from app.bootstrap import bootstrap_if_empty

    _reset_metrics_dir()  # before prometheus_client is imported: it opens its files then
    from app.observability import configure_logging

    configure_logging(get_settings())

    async def prepare() -> dict[str, str] | None:
        engine = _engine()
        try:
            await upgrade(engine)
            async with engine.begin() as conn:
                return await bootstrap_if_empty(conn)
        finally:
            await engine.dispose()

    created = asyncio.run(prepare())
    if created is not None:
        curl = (
            "curl --request POST \\\n"
            f"  --url http://{host}:{port}/v1/buckets/demo/syncs/list \\\n"
            f"  --header 'Authorization: Bearer {created['api_key']}' \\\n"
            "  --header 'Content-Type: application/json' \\\n"
            "  --header 'X-Namespace: default' \\\n"
            '  --data \'{"connection_id": "conn_abc123", "status": "pending", '
            '"is_active": true}\''
        )
        _emit(
            as_json,
            {**created, "curl": curl},
            "Development data created. This API key is shown only once:\n\n"
            f"  {created['api_key']}\n\nTry it:\n\n{curl}\n",
        )
    sys.stdout.flush()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=20,
        # A new worker may take a while to start on a busy host (rolling restarts).
        timeout_worker_healthcheck=30,
        h11_max_incomplete_event_size=16 * 1024,
        # Logging is set up by create_app() in each worker (app/observability.py),
        # and its access log replaces uvicorn's.
        log_config=None,
        access_log=False,
    )


def _reset_metrics_dir() -> None:
    """Empty (or create) ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, so a
    previous run's samples are not added to this one's (app/observability.py)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():  # the folder itself may be a mount point
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


@orgs.command("create")
def orgs_create(name: str, as_json: JsonFlag = False) -> None:
    """Create an organization."""
    internal_id = _in_transaction(lambda c: admin.create_organization(c, name))
    _emit(as_json, {"internal_id": internal_id}, internal_id)


@keys.command("create")
def keys_create(
    org: Org,
    name: Annotated[str, typer.Option(help="A label for the key and its user.")] = "default",
    as_json: JsonFlag = False,
) -> None:
    """Issue an API key (to a new user of the organization). Shown once."""
    issued = _in_transaction(lambda c: admin.create_api_key(c, org, name))
    data = {"api_key": issued.api_key, "user_id": issued.user_id, "internal_id": org}
    _emit(as_json, data, f"{issued.api_key}\n(user {issued.user_id}; store it now, it is not kept)")


@keys.command("revoke")
def keys_revoke(
    key_prefix_or_id: Annotated[str, typer.Argument(help="Key id (key_…) or its first 10 chars.")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key. Every running worker refuses it from the next request on."""
    key_id = _in_transaction(lambda c: admin.revoke_api_key(c, key_prefix_or_id))
    _emit(as_json, {"revoked": key_id}, f"revoked {key_id}")


@namespaces.command("create")
def namespaces_create(name: str, org: Org, as_json: JsonFlag = False) -> None:
    """Create a namespace."""
    namespace_id = _in_transaction(lambda c: admin.create_namespace(c, org, name))
    _emit(as_json, {"namespace_id": namespace_id, "name": name}, namespace_id)


@buckets.command("create")
def buckets_create(
    name: str,
    org: Org,
    namespace: Annotated[str, typer.Option(help="Namespace id or name.")],
    as_json: JsonFlag = False,
) -> None:
    """Create a bucket in a namespace."""
    bucket_id, namespace_id = _in_transaction(
        lambda c: admin.create_bucket(c, org, namespace, name)
    )
    _emit(as_json, {"bucket_id": bucket_id, "name": name, "namespace_id": namespace_id}, bucket_id)


@connections.command("create")
def connections_create(
    name: str,
    org: Org,
    provider: Annotated[str, typer.Option(help="s3, google_drive, snowflake, …")] = "s3",
    as_json: JsonFlag = False,
) -> None:
    """Create a storage connection."""
    connection_id = _in_transaction(lambda c: admin.create_connection(c, org, name, provider))
    _emit(as_json, {"connection_id": connection_id}, connection_id)


@cli.command()
def seed(
    org: Org,
    namespace: Annotated[str, typer.Option(help="Namespace id or name.")],
    bucket: Annotated[str, typer.Option(help="Bucket id or name.")],
    count: Annotated[int, typer.Option(min=1, max=50_000_000)],
    connections_count: Annotated[
        int, typer.Option("--connections", min=1, max=1000, help="Connections to spread over.")
    ] = 3,
    random_seed: Annotated[int | None, typer.Option("--seed", help="Repeatable data.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Insert COUNT realistic sync configurations (COPY, in batches)."""
    from app.bootstrap import seed_bucket

    started = time.perf_counter()
    with typer.progressbar(length=count, label="seeding", file=sys.stderr) as bar:
        _in_transaction(
            lambda c: seed_bucket(
                c,
                organization_id=org,
                namespace_ref=namespace,
                bucket_ref=bucket,
                count=count,
                connections=connections_count,
                rng=random.Random(random_seed),
                progress=bar.update,
            )
        )
    seconds = round(time.perf_counter() - started, 2)
    _emit(as_json, {"inserted": count, "seconds": seconds}, f"inserted {count} in {seconds} s")


def main() -> None:
    try:
        get_settings()
    except ValidationError as error:
        typer.echo(f"error: {describe_invalid(error)}", err=True)
        raise SystemExit(2) from None
    cli()
