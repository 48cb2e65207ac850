"""The OpenAPI document: the raw-body ingest request, the embedded event schema, 400 not 422."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api import API_PREFIX
from app.deps import SECURITY_SCHEMES
from app.validation import load_schema

EVENT_SCHEMA_NAME = "CloneEvent"
# Paths outside the API prefix that take the key too: OTLP's standard path.
UNPREFIXED_KEYED_PATHS = ("/v1/logs",)

EXAMPLE_BATCH = [
    {
        "id": "sess-1-start",
        "session_id": "demo-1",
        "occurred_at": "2026-05-05T12:00:00Z",
        "source": "cli",
        "type": "session.started",
    },
    {
        "id": "sess-1-prompt",
        "session_id": "demo-1",
        "occurred_at": "2026-05-05T12:00:05Z",
        "source": "agent",
        "source_detail": "claude-code",
        "type": "agent.prompt",
        "agent": "Claude Code",
        "prompt": "Run the test suite.",
    },
]

INGEST_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": (
        "A JSON array of 1–1000 events (`Content-Type: application/json`, optionally "
        "`Content-Encoding: gzip`). Each item is validated on its own against the CloneEvent "
        "schema; invalid items are reported, never stored, and never fail the batch."
    ),
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {"$ref": f"#/components/schemas/{EVENT_SCHEMA_NAME}"},
            },
            "example": EXAMPLE_BATCH,
        }
    },
}

INGEST_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "results",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["items"]},
        "example": "items",
        "description": (
            "`items`: add `results`, one `{index, id, status, errors?, details?}` per item in "
            "batch order (status accepted, duplicate, conflict or invalid), and each invalid "
            "item's `details` (code, JSON Pointer path, message). Without it the answer is "
            "v1's, plus `conflicts` when there is one."
        ),
    },
    {
        "name": "dry_run",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean", "default": False},
        "example": True,
        "description": (
            "`true`: validate, check the key and the sessions' owners, and report which ids "
            "are already stored (duplicate or conflict), writing nothing; always 200, with "
            "the same shape (`accepted`: what would be new)."
        ),
    },
]

# The documented shape of Claude Code's hook inputs (the hooks reference's examples).
CLAUDE_CODE_HOOK_BODY: dict[str, Any] = {
    "required": True,
    "description": (
        "One hook input exactly as Claude Code sends it (`session_id`, `hook_event_name`, "
        "`cwd`, `transcript_path`, `prompt_id`, … and the event's own fields). "
        "SessionStart → `session.started`; SessionEnd → `session.stopped`; UserPromptSubmit → "
        "`agent.prompt`; PreToolUse → `agent.tool_call`; PostToolUse / PostToolUseFailure → "
        "`agent.tool_result`, plus `command.executed` for Bash and `file.changed` for "
        "Write/Edit/MultiEdit/NotebookEdit; Stop / SubagentStop → `agent.response` (from "
        "`last_assistant_message`); any other hook → `note` with the input in `attributes`. "
        "Ids come from natural keys (session, tool_use_id, prompt_id…), so posting the same "
        "input twice stores it once. A body that is not a hook input is a 400; nothing is "
        "stored when any of its events would be invalid."
    ),
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["session_id", "hook_event_name"],
                "properties": {
                    "session_id": {"type": "string"},
                    "hook_event_name": {"type": "string"},
                    "cwd": {"type": "string"},
                    "transcript_path": {"type": "string"},
                    "prompt_id": {"type": "string"},
                },
                "additionalProperties": True,
            },
            "examples": {
                "PostToolUse": {
                    "value": {
                        "session_id": "abc123",
                        "transcript_path": "/home/dev/.claude/projects/app/abc123.jsonl",
                        "cwd": "/home/dev/app",
                        "permission_mode": "default",
                        "hook_event_name": "PostToolUse",
                        "tool_name": "Write",
                        "tool_input": {"file_path": "/home/dev/app/notes.txt", "content": "hi"},
                        "tool_response": {"filePath": "/home/dev/app/notes.txt", "success": True},
                        "tool_use_id": "toolu_01ABC123",
                    }
                },
                "UserPromptSubmit": {
                    "value": {
                        "session_id": "abc123",
                        "transcript_path": "/home/dev/.claude/projects/app/abc123.jsonl",
                        "cwd": "/home/dev/app",
                        "hook_event_name": "UserPromptSubmit",
                        "prompt_id": "5f0e4a4c-7f52-4d38-9f0a-2d2b7c1f9e10",
                        "prompt": "Write a function to calculate the factorial of a number",
                    }
                },
            },
        }
    },
}

SESSION = "8c35adc1-3f4e-4b8a-9d2c-6e1f0a7b5c3d"
OTLP_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": (
        "An OTLP ExportLogsServiceRequest, as `application/x-protobuf` or `application/json` "
        "(OTLP/JSON: hex trace and span ids, 64-bit integers as numbers or strings), "
        "optionally gzip-compressed; a chunked body without Content-Length is fine. Point an "
        "exporter here with `OTEL_EXPORTER_OTLP_ENDPOINT=<base URL>` (it appends /v1/logs) "
        "and `OTEL_EXPORTER_OTLP_HEADERS=X-Clone-API-Key=<key>` (or "
        "`Authorization=Bearer <key>`). Claude Code's events (`claude_code.user_prompt`, "
        "`assistant_response`, `tool_decision`, `tool_result`) become agent.prompt, "
        "agent.response, agent.tool_call and agent.tool_result under their `session.id`; "
        "`api_request`, `api_error` and other records become notes that keep every attribute."
    ),
    "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {
            "schema": {"type": "object", "properties": {"resourceLogs": {"type": "array"}}},
            "example": {
                "resourceLogs": [
                    {
                        "resource": {
                            "attributes": [
                                {"key": "service.name", "value": {"stringValue": "claude-code"}}
                            ]
                        },
                        "scopeLogs": [
                            {
                                "scope": {"name": "com.anthropic.claude_code.events"},
                                "logRecords": [
                                    {
                                        "timeUnixNano": "1778068805000000000",
                                        "body": {"stringValue": "claude_code.user_prompt"},
                                        "attributes": [
                                            {
                                                "key": "event.name",
                                                "value": {"stringValue": "user_prompt"},
                                            },
                                            {
                                                "key": "event.timestamp",
                                                "value": {
                                                    "stringValue": "2026-05-05T12:00:05.000Z"
                                                },
                                            },
                                            {"key": "event.sequence", "value": {"intValue": "1"}},
                                            {
                                                "key": "session.id",
                                                "value": {"stringValue": SESSION},
                                            },
                                            {
                                                "key": "prompt_length",
                                                "value": {"stringValue": "19"},
                                            },
                                            {
                                                "key": "prompt",
                                                "value": {"stringValue": "Run the test suite."},
                                            },
                                        ],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            },
        },
    },
}


def _component_schemas() -> dict[str, Any]:
    """The event schema and its definitions as components, with refs rewritten to match."""
    schema = load_schema()
    definitions = schema.pop("definitions", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: (
                    value.replace("#/definitions/", f"#/components/schemas/{EVENT_SCHEMA_NAME}_")
                    if key == "$ref" and isinstance(value, str)
                    else rewrite(value)
                )
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    components = {EVENT_SCHEMA_NAME: rewrite(schema)}
    for name, definition in definitions.items():
        components[f"{EVENT_SCHEMA_NAME}_{name}"] = rewrite(definition)
    return components


def _drop_422(document: dict[str, Any]) -> None:
    """Request validation errors answer 400 here, so FastAPI's 422 entries are not true."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _document_security(document: dict[str, Any]) -> None:
    """Both key schemes, on every operation under the API prefix (each reads the key)."""
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    requirement: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
    for path, operations in document["paths"].items():
        if path.startswith(API_PREFIX) or path in UNPREFIXED_KEYED_PATHS:
            for operation in operations.values():
                operation["security"] = requirement


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _drop_422(document)
            _document_security(document)
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                _component_schemas()
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
