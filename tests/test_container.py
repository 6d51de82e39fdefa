"""The container files, checked without a container engine: the Dockerfile with hadolint,
docker-compose.yml against the Compose specification (dclint, which validates with the
spec's JSON schema and lints), the image's entrypoint and healthcheck commands run
directly, and the configuration checks the entrypoint does at start."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.settings import Settings
from tests.databases import empty_database
from tests.servers import free_port, spawned_until_ready

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
SECRET = "container-secret-" + "c" * 32


# --- reading the files -------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (KEYWORD, arguments), grouped by stage."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword.upper(), arguments.strip()))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages()[-1]


def instruction(stage: list[tuple[str, str]], keyword: str) -> str:
    (value,) = [arguments for kw, arguments in stage if kw == keyword]
    return value


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"not exec (JSON array) form: {arguments}"
    return [str(part) for part in value]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in final_stage():
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def image_command() -> list[str]:
    stage = final_stage()
    return exec_form(instruction(stage, "ENTRYPOINT")) + exec_form(instruction(stage, "CMD"))


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])((?:[^{}]|\{[^}]*\})*))?\}")


class MissingVariableError(Exception):
    pass


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}``."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if env.get(name):
            return env[name]
        if operator == "?":
            raise MissingVariableError(f"{name}: {argument}")
        return argument if operator == "-" else ""

    return _VARIABLE.sub(replace, value)


# --- tools ---------------------------------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def dclint_path() -> Path:
    candidates = [os.environ.get("DCLINT", ""), str(ROOT / ".tools/node_modules/.bin/dclint")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    pytest.fail("dclint is not installed: run `make tools` (needs npm)")


def dclint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(dclint_path()), "--no-color", "--max-warnings", "0", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


# --- the Dockerfile ------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN cd /tmp && pip install fastapi\n")
    result = hadolint(careless)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_dockerfile_builds_in_stages_and_runs_unprivileged() -> None:
    stages = dockerfile_stages()
    final = final_stage()

    assert len(stages) >= 2
    assert all(stage[0][1].startswith("${PYTHON_IMAGE} AS ") for stage in stages)
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text()
    # The final image takes the built virtualenv, not the build tools or the context.
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final
    assert not any(kw == "RUN" and "pip install" in arg for kw, arg in final)
    copied = [arg.split()[0] for kw, arg in final if kw == "COPY" and "--from" not in arg]
    assert sorted(copied) == ["alembic.ini", "app", "migrations"]
    user = instruction(final, "USER")
    assert re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user), "a numeric, non-root user"
    assert instruction(final, "STOPSIGNAL") == "SIGTERM"
    assert image_env()["WEB_CONCURRENCY"]
    assert image_env()["APP_LOG_FORMAT"] == "json"
    assert image_env()["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")  # noqa: S108
    assert image_command() == ["bucket-syncs", "serve", "--host", "0.0.0.0"]  # noqa: S104


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for stage in dockerfile_stages():
        for keyword, arguments in stage:
            if keyword == "COPY" and "--from" not in arguments:
                copied.update(arguments.split()[:-1])

    assert lines[0] == "*"
    assert copied == allowed
    assert all((ROOT / name).exists() for name in copied)


def healthcheck_command() -> list[str]:
    arguments = instruction(final_stage(), "HEALTHCHECK")
    assert "--interval=" in arguments
    return exec_form(arguments.split(" CMD ", 1)[1])


# --- the compose file ----------------------------------------------------------------


def test_compose_file_passes_dclint() -> None:
    result = dclint(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dclint_rejects_a_compose_file_outside_the_specification(tmp_path: Path) -> None:
    wrong = tmp_path / "docker-compose.yml"
    wrong.write_text(
        "services:\n  api:\n    image: example\n    depends_on:\n"
        "      db:\n        condition: service_finished\n"
    )
    result = dclint(wrong)
    assert result.returncode != 0
    assert "invalid-schema" in result.stdout


def test_compose_runs_postgres_then_migrate_then_the_api() -> None:
    services = compose()["services"]
    postgres, migrate, api = services["postgres"], services["migrate"], services["api"]

    assert re.fullmatch(r"postgres:\d+[\w.-]*", postgres["image"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose()["volumes"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert api["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert migrate["build"] == api["build"] == "."


def test_compose_requires_its_secrets_from_the_environment() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    api = compose()["services"]["api"]["environment"]

    assert required == {"POSTGRES_PASSWORD", "APP_CURSOR_SECRET"}
    with pytest.raises(MissingVariableError, match="POSTGRES_PASSWORD"):
        interpolate(api["APP_DATABASE_URL"], {"APP_CURSOR_SECRET": SECRET})
    with pytest.raises(MissingVariableError, match="APP_CURSOR_SECRET"):
        interpolate(api["APP_CURSOR_SECRET"], {"POSTGRES_PASSWORD": "pw"})


def test_compose_environment_is_valid_configuration_for_the_service(tmp_path: Path) -> None:
    env = {"POSTGRES_PASSWORD": "0123abcd", "APP_CURSOR_SECRET": SECRET}
    services = compose()["services"]
    api = {k: interpolate(str(v), env) for k, v in services["api"]["environment"].items()}
    migrate = {k: interpolate(str(v), env) for k, v in services["migrate"]["environment"].items()}
    postgres = services["postgres"]["environment"]

    assert migrate["APP_DATABASE_URL"] == api["APP_DATABASE_URL"]
    assert api["APP_DATABASE_URL"] == (
        f"postgresql://{postgres['POSTGRES_USER']}:0123abcd@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    assert int(api["WEB_CONCURRENCY"]) >= 1
    app_settings = {k.removeprefix("APP_").lower(): v for k, v in api.items() if "APP_" in k}
    parsed = Settings(**app_settings, data_dir=tmp_path)  # type: ignore[arg-type]
    assert parsed.cursor_secret is not None
    assert parsed.cursor_secret.get_secret_value() == SECRET


# --- the entrypoint, run directly ----------------------------------------------------


def local(command: list[str]) -> list[str]:
    """An image command as this checkout runs it: the virtualenv's executables."""
    head = command[0]
    if head == "python":
        return [sys.executable, *command[1:]]
    return [str(BIN / head), *command[1:]]


@pytest.fixture
async def service_database(database_ready: str) -> AsyncIterator[str]:
    async with empty_database(database_ready, "bucket_syncs_entrypoint") as url:
        yield url


@contextmanager
def entrypoint(env: dict[str, str], log: Path) -> Iterator[str]:
    """The image's ENTRYPOINT + CMD, bound to the loopback instead of 0.0.0.0 (the
    last --host wins); yields the base URL once /health answers."""
    port = free_port()
    command = [*local(image_command()), "--host", "127.0.0.1"]
    base = f"http://127.0.0.1:{port}"
    with spawned_until_ready(
        command, {**env, "PORT": str(port)}, log, f"{base}/health", 90
    ) as process:
        yield base
        # STOPSIGNAL: SIGTERM must end the server and its workers cleanly.
        process.send_signal(signal.SIGTERM)
        assert process.wait(40) == 0, log.read_text()


def container_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The image's environment, with paths moved under tmp_path, plus what compose adds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        {
            k: v
            for k, v in image_env().items()
            if k not in {"PATH", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
        }
    )
    env["APP_DATA_DIR"] = str(tmp_path / "data")
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    env["APP_DATABASE_URL"] = database_url
    env["APP_CURSOR_SECRET"] = SECRET
    return env


def metric_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


POOL_SIZE = Settings.model_fields["pool_size"].default


def all_workers_metrics(
    base: str, workers: int
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A scrape once every worker has started (each adds its pool to the gauges)."""
    deadline = time.monotonic() + 60
    while True:
        samples = metric_samples(httpx.get(f"{base}/metrics", timeout=5).text)
        if samples.get(("db_pool_size", frozenset())) == workers * POOL_SIZE:
            return samples
        assert time.monotonic() < deadline, samples
        time.sleep(0.2)


async def test_image_commands_migrate_serve_answer_the_healthcheck_and_stop(
    tmp_path: Path, service_database: str
) -> None:
    await asyncio.to_thread(run_the_image, tmp_path, service_database)


def run_the_image(tmp_path: Path, database_url: str) -> None:
    env = container_env(tmp_path, database_url)
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "stale.db").write_bytes(b"from a previous run")

    # The compose `migrate` service: the entrypoint with its command.
    migrate = subprocess.run(
        local(["bucket-syncs", *compose()["services"]["migrate"]["command"]]),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr

    log = tmp_path / "serve.log"
    workers = int(env["WEB_CONCURRENCY"])
    with entrypoint(env, log) as base:
        healthcheck = subprocess.run(
            local(healthcheck_command()),
            env={**env, "PORT": base.rsplit(":", 1)[1]},
            capture_output=True,
            timeout=10,
            check=False,
        )
        ready = httpx.get(f"{base}/ready", timeout=5)
        for _ in range(12):
            assert httpx.get(f"{base}/health", timeout=5).status_code == 200
        samples = all_workers_metrics(base, workers)

    assert healthcheck.returncode == 0, healthcheck.stderr
    assert ready.status_code == 200, ready.text
    assert not (tmp_path / "metrics" / "stale.db").exists()
    health = frozenset({("method", "GET"), ("route", "/health"), ("status", "200")})
    # Summed over the workers, whichever of them served each request: the 12 above,
    # plus the ones the startup wait made (at least one).
    assert samples[("http_requests_total", health)] >= 13
    assert samples[("db_pool_size", frozenset())] == workers * POOL_SIZE
    # Logs: JSON lines on the way (the development data banner aside).
    lines = log.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r["logger"] == "uvicorn.error" for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_healthcheck_fails_when_nothing_answers() -> None:
    result = subprocess.run(
        local(healthcheck_command()),
        env={**os.environ, "PORT": str(free_port())},
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert result.returncode != 0


# --- configuration -------------------------------------------------------------------


def run_cli(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    return subprocess.run(
        [str(BIN / "bucket-syncs"), *arguments],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT / "tests",  # no .env file here
    )


def test_invalid_settings_stop_the_start_with_one_clear_line() -> None:
    result = run_cli("serve", APP_POOL_SIZE="0", APP_LOG_FORMAT="xml")

    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: invalid configuration: ")
    assert "APP_POOL_SIZE: Input should be greater than or equal to 1" in line
    assert "APP_LOG_FORMAT: Input should be 'json' or 'text'" in line


def test_invalid_secret_is_named_but_never_printed() -> None:
    result = run_cli("migrate", APP_CURSOR_SECRET="too-short-to-use")

    assert result.returncode == 2
    assert "APP_CURSOR_SECRET: APP_CURSOR_SECRET must be at least 32 characters" in result.stderr
    assert "too-short-to-use" not in result.stderr


def setting_variables() -> set[str]:
    return {f"APP_{name.upper()}" for name in Settings.model_fields}


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^#?\s*(APP_\w+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert listed == setting_variables()


def test_env_example_is_valid_configuration(tmp_path: Path) -> None:
    values = {
        match[0]: match[1]
        for match in re.findall(
            r"^(APP_\w+)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE
        )
    }
    overrides = {k.removeprefix("APP_").lower(): v for k, v in values.items()}
    Settings(_env_file=None, **overrides)


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    configuration = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(APP_\w+)`", configuration, re.MULTILINE))
    assert documented == setting_variables()
