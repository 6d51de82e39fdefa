# syntax=docker/dockerfile:1
# bucket-syncs: `docker build -t bucket-syncs .`; run with docker-compose.yml (README,
# "Operations"). Two stages: the build stage installs the project and its runtime
# dependencies into a virtualenv (no dev extras, no compilers, no pip cache); the
# final image gets that virtualenv and the code, and runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# Dependencies and the `bucket-syncs` command. The package copy in site-packages is
# removed: the code runs from /srv/bucket-syncs, where app/migrate.py finds
# alembic.ini and migrations/ beside it.
RUN pip install . \
    && rm -rf /opt/venv/lib/python3.11/site-packages/app

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/bucket-syncs \
    && chown app:app /var/lib/bucket-syncs
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/bucket-syncs
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
RUN python -m compileall -q app migrations
# PORT and WEB_CONCURRENCY are read by `bucket-syncs serve` (--port, --workers).
# PROMETHEUS_MULTIPROC_DIR: the workers share their metrics there (emptied at start).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv/bucket-syncs \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_DATA_DIR=/var/lib/bucket-syncs \
    APP_LOG_FORMAT=json \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/bucket-syncs-metrics
USER 10001:10001
EXPOSE 8000
# uvicorn drains in-flight requests on SIGTERM (up to 20 s; give the container 30).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=2)"]
ENTRYPOINT ["bucket-syncs"]
CMD ["serve", "--host", "0.0.0.0"]
