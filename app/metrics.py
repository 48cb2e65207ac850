"""Prometheus metrics: ingest outcomes, group commit and request latency."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

# Set by `serve --workers N` (N > 1) before the workers start, so they share their counts.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

INGESTED = Counter(
    "recording_ingest_events_total",
    "Events received by POST /api/recording/events/, by outcome.",
    ["outcome"],
)
# Every outcome is exported from the start (at 0), so rates work before the first reject.
_ACCEPTED, _DUPLICATE, _INVALID = (INGESTED.labels(o) for o in ("accepted", "duplicate", "invalid"))
# Their ratio is the batches per store statement: how much group commit is sharing.
STORE_STATEMENTS = Counter(
    "recording_store_statements_total",
    "Store statements committed; one holds every batch that queued while the last ran.",
)
STORE_BATCHES = Counter("recording_store_batches_total", "Batches stored by those statements.")
REQUESTS = Histogram(
    "recording_request_duration_seconds",
    "Request latency by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


_REQUEST_SERIES: dict[tuple[str, str, int], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """`labels()` builds and checks its key on every call; the series of each (method,
    route, status) is looked up once per process instead (the same bounded set)."""
    key = (method, route, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        series = _REQUEST_SERIES[key] = REQUESTS.labels(method, route, str(status))
    series.observe(seconds)


def record_ingest(accepted: int, duplicates: int, invalid: int) -> None:
    # Adding 0 still takes the value's lock (and, with workers, writes its mmap file).
    if accepted:
        _ACCEPTED.inc(accepted)
    if duplicates:
        _DUPLICATE.inc(duplicates)
    if invalid:
        _INVALID.inc(invalid)


def record_store(batches: int) -> None:
    STORE_STATEMENTS.inc()
    STORE_BATCHES.inc(batches)


def render() -> tuple[bytes, str]:
    """This process's metrics, or every worker's when serve runs several (multiprocess mode)."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
