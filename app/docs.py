"""OpenAPI prose and examples, written to read like the published reference."""

from __future__ import annotations

from typing import Any

LIST_DESCRIPTION = """\
List the sync configurations of a bucket, newest first.

All filters in the body are optional and combined with AND logic; an empty body
(or `{}`, or `null`) returns every sync configuration of the bucket.

**Use cases**
- Find all syncs for a specific connection (`connection_id`)
- List only active or paused syncs (`is_active`)
- Filter by status to find failed syncs (`status`, any case: `"failed"` = `"FAILED"`)

**Pagination**: `limit` (alias `page_size`, 1 to 1000, default 10) with `offset`
(0 to 10000) or `page`; or follow `pagination.next_cursor` with `cursor` (aliases
`next_cursor`, `after`) — a cursor walk never skips or repeats a row, however
the bucket changes meanwhile. `total` is always the exact number of matches.

```bash
curl --request POST \\
  --url http://127.0.0.1:8000/v1/buckets/{bucket_id}/syncs/list \\
  --header 'Authorization: Bearer sk_...' \\
  --header 'Content-Type: application/json' \\
  --header 'X-Namespace: default' \\
  --data '{"connection_id": "conn_abc123", "status": "pending", "is_active": true}'
```
"""

LIST_BODY_EXAMPLES: dict[str, Any] = {
    "published": {
        "summary": "The published example",
        "value": {"connection_id": "conn_abc123", "status": "pending", "is_active": True},
    },
    "failed": {"summary": "Failed syncs", "value": {"status": "FAILED"}},
    "paused": {"summary": "Paused or disabled syncs", "value": {"is_active": False}},
    "all": {"summary": "Everything in the bucket", "value": {}},
}

CREATE_DESCRIPTION = """\
Create a sync configuration that ties a storage connection to this bucket.

`connection_id` and `source_path` are required; the connection must belong to
your organization. `sync_mode` accepts `continuous` (alias `scheduled`) and
`initial_only` (alias `one_time`), in any case. Returns the new configuration
(HTTP 200, like the hosted API).
"""

CREATE_BODY_EXAMPLES: dict[str, Any] = {
    "s3": {
        "summary": "Watch an S3 prefix for videos",
        "value": {
            "connection_id": "conn_abc123",
            "source_path": "my-bucket/videos/",
            "sync_mode": "continuous",
            "polling_interval_seconds": 300,
            "file_filters": {"include_patterns": ["*.mp4", "*.mov"]},
            "metadata": {"team": "marketing"},
        },
    },
    "minimal": {
        "summary": "Only the required keys",
        "value": {"connection_id": "conn_abc123", "source_path": "/"},
    },
}

UPDATE_DESCRIPTION = """\
Partially update a sync configuration: only the keys sent change. `metadata`,
`file_filters`, `schema_mapping` and `provider_filters` replace the stored value
(they are not merged). `updated_at` moves on every update; `created_at` never.
"""

UPDATE_BODY_EXAMPLES: dict[str, Any] = {
    "tune": {"summary": "Poll less often", "value": {"polling_interval_seconds": 3600}},
    "describe": {
        "summary": "Describe and tag",
        "value": {"description": "Nightly video import", "metadata": {"owner": "media"}},
    },
}

PAUSE_DESCRIPTION = """\
Pause a sync: `paused=true`, `is_active=false`, `status=SUSPENDED`, with the time,
the reason (optional body `{"reason": "…"}`) and the user who paused it.
Pausing a paused sync changes nothing.
"""

PAUSE_BODY_EXAMPLES: dict[str, Any] = {
    "reason": {"summary": "With a reason", "value": {"reason": "maintenance window"}},
    "none": {"summary": "No body", "value": None},
}

RESUME_DESCRIPTION = """\
Resume a sync: `paused=false`, `is_active=true`, `status=ACTIVE`, pause fields
cleared and `next_sync_at` set to now. Resuming a running sync changes nothing.
"""


def _query_parameters() -> list[dict[str, Any]]:
    from app.schemas import ListQuery

    schema = ListQuery.model_json_schema()
    parameters = []
    for name, field_schema in schema["properties"].items():
        description = field_schema.pop("description", None)
        field_schema.pop("default", None)
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": description,
                "schema": field_schema,
            }
        )
    return parameters


def list_operation_extra() -> dict[str, Any]:
    """The list operation's parameters and body for OpenAPI: the handler reads the raw
    request, so FastAPI cannot infer them (``extra_component_schemas`` adds the
    models these refer to)."""
    return {
        "parameters": [
            {
                "name": "bucket_id",
                "in": "path",
                "required": True,
                "description": "The bucket's id (`bkt_…`) or name, in the namespace.",
                "schema": {"type": "string", "title": "Bucket Id"},
            },
            {
                "name": "X-Namespace",
                "in": "header",
                "required": False,
                "description": "REQUIRED: the namespace, by id (`ns_…`) or name. "
                "May be given as the `namespace` query parameter instead.",
                "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            {
                "name": "namespace",
                "in": "query",
                "required": False,
                "description": "The namespace, when the X-Namespace header cannot be sent.",
                "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            *_query_parameters(),
        ],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/SyncListFilter"},
                            {"type": "null"},
                        ],
                        "title": "Filters",
                    },
                    "examples": LIST_BODY_EXAMPLES,
                }
            },
        },
        "security": [{"HTTPBearer": []}],
    }


def extra_component_schemas() -> dict[str, Any]:
    from app.schemas import SyncListFilter

    schema = SyncListFilter.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["SyncListFilter"] = schema
    return components
