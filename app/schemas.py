"""Pydantic response models: they document the API; the hot path serializes with orjson."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str = Field(description="What is wrong, in a sentence.")


ERROR_CODES = {
    "required": "a required field is missing (path: that field)",
    "enum": "not one of the allowed values",
    "pattern": "does not match the pattern (ids: a letter or digit, then letters, digits, "
    "'.', '_', ':' or '-')",
    "max_length": "text longer than allowed",
    "min_length": "text shorter than allowed",
    "type": "a value of the wrong JSON type",
    "format": "not an RFC 3339 instant",
    "additional_property": "a field the event's type does not have (path: that field)",
    "minimum": "a number below the minimum",
    "maximum": "a number above the maximum",
    "too_large": "the event is larger than MAX_EVENT_BYTES",
    "too_deep": "nested deeper than MAX_NESTING_DEPTH",
    "unrepresentable": "text or a number JSON cannot carry faithfully (a lone surrogate, an "
    "integer beyond 64 bits)",
    "foreign_session": "the session belongs to another user",
    "schema": "does not match the event schema (no finer reason)",
}


class ErrorDetail(BaseModel):
    code: str = Field(
        description="One of: "
        + "; ".join(f"`{code}`: {meaning}" for code, meaning in ERROR_CODES.items())
        + "."
    )
    path: str = Field(description="JSON Pointer (RFC 6901) into the item; '' for the whole item.")
    message: str = Field(description="The same reason in words (as in `errors`).")


class InvalidItem(BaseModel):
    index: int = Field(description="Position of the item in the batch (0-based).")
    errors: list[str] = Field(description="Up to three reasons, in jsonschema's wording.")
    details: list[ErrorDetail] | None = Field(
        default=None, description="With ?results=items: the same reasons, machine-readable."
    )


class ItemResult(BaseModel):
    index: int
    id: str | None = Field(default=None, description="The item's id, when it had a string id.")
    status: str = Field(
        description="accepted: newly stored; duplicate: the id was stored (or earlier in the "
        "batch) with the same content; conflict: the id was stored with other content (a "
        "producer bug; the stored event is unchanged); invalid: refused, see errors."
    )
    errors: list[str] | None = None
    details: list[ErrorDetail] | None = None


class IngestResult(BaseModel):
    accepted: int = Field(description="Events newly stored (with ?dry_run=true: would be).")
    duplicates: int = Field(
        description="Events whose id was already stored or repeated (conflicts included)."
    )
    invalid: list[InvalidItem] = Field(description="Rejected items, ordered by index.")
    conflicts: int | None = Field(
        default=None,
        description="Present when some duplicates had other content than the stored event.",
    )
    results: list[ItemResult] | None = Field(
        default=None, description="With ?results=items: one result per item, in batch order."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"accepted": 2, "duplicates": 0, "invalid": []},
                {
                    "accepted": 1,
                    "duplicates": 1,
                    "invalid": [
                        {
                            "index": 2,
                            "errors": ["'source' is a required property"],
                            "details": [
                                {
                                    "code": "required",
                                    "path": "/source",
                                    "message": "'source' is a required property",
                                }
                            ],
                        }
                    ],
                    "conflicts": 1,
                    "results": [
                        {"index": 0, "id": "sess-1-start", "status": "accepted"},
                        {"index": 1, "id": "sess-1-prompt", "status": "conflict"},
                        {
                            "index": 2,
                            "id": "sess-1-note",
                            "status": "invalid",
                            "errors": ["'source' is a required property"],
                            "details": [
                                {
                                    "code": "required",
                                    "path": "/source",
                                    "message": "'source' is a required property",
                                }
                            ],
                        },
                    ],
                },
            ]
        }
    }


class EventSummary(BaseModel):
    id: str
    session_id: str
    type: str
    source: str
    source_detail: str | None
    occurred_at: datetime
    received_at: datetime


class EventDetail(EventSummary):
    payload: dict[str, Any] = Field(description="The event exactly as ingested.")


class SessionOut(BaseModel):
    id: str
    source: str
    source_detail: str | None
    started_at: datetime
    ended_at: datetime | None
    event_count: int
    last_event_at: datetime | None
    created_at: datetime


class EventRef(BaseModel):
    id: str
    occurred_at: datetime


class SessionWarning(BaseModel):
    code: str = Field(
        description=(
            "tool_call_without_result: an agent.tool_call whose call_id no agent.tool_result "
            "answers; tool_result_without_call: the reverse; event_after_stop: events that "
            "occurred after the session's last session.stopped; stop_without_start: a "
            "session.stopped in a session without session.started."
        )
    )
    message: str
    count: int = Field(description="How many events are involved.")
    event_ids: list[str] = Field(description="The first 100 of them, oldest first.")


class SessionDetail(SessionOut):
    last_event: EventRef | None = Field(
        description="The last stored event (by occurred_at, then arrival): where to resume."
    )
    warnings: list[SessionWarning] = Field(description="Integrity checks, computed on read.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "demo-1",
                    "source": "agent",
                    "source_detail": "claude-code",
                    "started_at": "2026-05-05T12:00:00Z",
                    "ended_at": "2026-05-05T12:30:00Z",
                    "event_count": 42,
                    "last_event_at": "2026-05-05T12:30:00Z",
                    "created_at": "2026-05-05T12:00:01Z",
                    "last_event": {"id": "sess-1-stop", "occurred_at": "2026-05-05T12:30:00Z"},
                    "warnings": [
                        {
                            "code": "tool_call_without_result",
                            "message": "1 tool call has no result (by call_id)",
                            "count": 1,
                            "event_ids": ["ev-3ad4903ab4085081aa8e64ab8b2d3869"],
                        }
                    ],
                }
            ]
        }
    }


class SessionDeleted(BaseModel):
    session_id: str
    deleted_events: int


class LookupRequest(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=1000, description="1–1000 event ids.")

    model_config = {
        "json_schema_extra": {
            "examples": [{"ids": ["sess-1-start", "sess-1-prompt", "sess-1-stop"]}]
        }
    }


class LookupResult(BaseModel):
    stored: list[str] = Field(description="The ids stored in your sessions, in request order.")
    missing: list[str] = Field(
        description="The others: not stored, or stored by another user (never revealed)."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"stored": ["sess-1-start", "sess-1-prompt"], "missing": ["sess-1-stop"]}]
        }
    }


class Status(BaseModel):
    status: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can answer."""
    meanings = {
        400: "Malformed request (see detail).",
        401: "Missing, unknown or revoked API key.",
        403: "The key's scope does not allow this (an ingest key reading, a read key sending).",
        404: "Unknown, or owned by another user.",
        413: "Body larger than the limit (after decompression).",
        415: "Content-Type is not application/json.",
        429: "Over the key's rate limit (RATE_LIMIT_PER_S): retry after Retry-After seconds; "
        "RateLimit-Limit, -Remaining and -Reset say more.",
        503: "Database unavailable; retry after Retry-After seconds.",
    }
    return {status: {"model": ErrorBody, "description": meanings[status]} for status in statuses}
