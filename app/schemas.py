"""Pydantic response models: they document the API; the hot path serializes with orjson."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str = Field(description="What is wrong, in a sentence.")


class InvalidItem(BaseModel):
    index: int = Field(description="Position of the item in the batch (0-based).")
    errors: list[str] = Field(description="Up to three reasons, in jsonschema's wording.")


class IngestResult(BaseModel):
    accepted: int = Field(description="Events newly stored.")
    duplicates: int = Field(description="Events whose id was already stored or repeated.")
    invalid: list[InvalidItem] = Field(description="Rejected items, ordered by index.")

    model_config = {
        "json_schema_extra": {"examples": [{"accepted": 2, "duplicates": 0, "invalid": []}]}
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


class Status(BaseModel):
    status: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can answer."""
    meanings = {
        400: "Malformed request (see detail).",
        401: "Missing, unknown or revoked API key.",
        404: "Unknown, or owned by another user.",
        413: "Body larger than the limit (after decompression).",
        415: "Content-Type is not application/json.",
        503: "Database unavailable; retry after Retry-After seconds.",
    }
    return {status: {"model": ErrorBody, "description": meanings[status]} for status in statuses}
