"""Prometheus metrics: ingest outcomes and request latency."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

INGESTED = Counter(
    "recording_ingest_events_total",
    "Events received by POST /api/recording/events/, by outcome.",
    ["outcome"],
)
REQUESTS = Histogram(
    "recording_request_duration_seconds",
    "Request latency by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def record_ingest(accepted: int, duplicates: int, invalid: int) -> None:
    INGESTED.labels("accepted").inc(accepted)
    INGESTED.labels("duplicate").inc(duplicates)
    INGESTED.labels("invalid").inc(invalid)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
