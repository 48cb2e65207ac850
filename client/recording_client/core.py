"""What both recorders share: encoding, the buffer or spool, stats, callbacks, halting."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recording_client import __version__
from recording_client.buffer import Entry, MemoryBuffer
from recording_client.delivery import InvalidEvent, Policy, Rejection
from recording_client.ids import instant, new_id
from recording_client.spool import Spool
from recording_client.stats import Stats

if TYPE_CHECKING:
    from recording_client.buffer import Buffer
    from recording_client.spool import Sync

log = logging.getLogger("recording_client")
INGEST_PATH = "/api/recording/events/"
DROP_LOG_INTERVAL = 10.0  # seconds between two warnings about dropped events

OnInvalid = Callable[[InvalidEvent], None]
OnError = Callable[[Rejection], None]


def log_invalid(invalid: InvalidEvent) -> None:
    where = f" ({invalid.origin})" if invalid.origin else ""
    event_id = invalid.event.get("id") if isinstance(invalid.event, dict) else None
    log.warning("event %s%s was refused: %s", event_id, where, "; ".join(invalid.errors))


def log_error(rejection: Rejection) -> None:
    if rejection.halted:
        log.error(
            "the service refused the key (HTTP %d: %s): sending stopped; %d events kept",
            rejection.status,
            rejection.detail,
            rejection.events,
        )
    else:
        log.error(
            "the service refused a batch of %d events (HTTP %d: %s)",
            rejection.events,
            rejection.status,
            rejection.detail,
        )


MAX_BATCH_EVENTS = 1000  # the service's MAX_BATCH_ITEMS
# Uncompressed; well below the service's 32 MiB MAX_BODY_BYTES and its 1 MiB per event.
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_QUEUE_EVENTS = 100_000
MAX_SPOOL_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_events: int = MAX_BATCH_EVENTS
    max_batch_bytes: int = MAX_BATCH_BYTES
    max_queue_events: int = MAX_QUEUE_EVENTS
    max_spool_bytes: int = MAX_SPOOL_BYTES


def encode(event: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, with an id and an instant filled in when the event has none.

    Raises TypeError or ValueError for what JSON cannot carry (a programming error in the
    caller, unlike network trouble, which never raises).
    """
    if type(event) is not dict and not isinstance(event, Mapping):  # the common case first
        raise TypeError(f"an event is a mapping, not {type(event).__name__}")
    if "id" not in event or "occurred_at" not in event:
        event = {"id": new_id(), "occurred_at": instant(), **event}
    text = _ENCODER.encode(event)
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(f"event holds text that is not valid Unicode: {exc}") from exc


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for all: json.dumps with options builds a new one per call (~40% of its cost).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)


class Core:
    """The state one recorder keeps; every method is safe to call from any thread."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        spool_dir: str | Path | None,
        spool_sync: Sync,
        limits: Limits,
        policy: Policy,
        compress: bool,
        on_invalid: OnInvalid | None,
        on_error: OnError | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"X-Clone-API-Key": api_key, "User-Agent": f"recording-client/{__version__}"}
        self.limits, self.policy, self.compress = limits, policy, compress
        self.buffer: Buffer = (
            Spool(
                spool_dir, self.base_url, api_key, max_bytes=limits.max_spool_bytes, sync=spool_sync
            )
            if spool_dir is not None
            else MemoryBuffer(limits.max_queue_events)
        )
        self.spooled = spool_dir is not None
        self.on_invalid = on_invalid or log_invalid
        self.on_error = on_error or log_error
        self.rng = random.Random()
        self.halted: Rejection | None = None
        self.give_ups = 0  # deliveries that ran out of retries
        self.last_error: str | None = None
        self._stats = Stats()
        self._lock = threading.Lock()
        self._unsent = 0  # recorded since the sender was last woken
        self._last_drop_log = 0.0

    def put(
        self, events: Sequence[Mapping[str, Any]], origins: Iterable[str | None] | None
    ) -> tuple[int, bool]:
        """Queue events; (how many were queued, whether a full batch is now waiting)."""
        items: list[tuple[bytes, str | None]]
        if origins is None:
            items = [(encode(event), None) for event in events]
        else:
            tags = list(origins)
            if len(tags) != len(events):
                raise ValueError(f"{len(events)} events but {len(tags)} origins")
            items = [(encode(event), origin) for event, origin in zip(events, tags, strict=True)]
        return self._queue(items)

    def put_one(self, event: Mapping[str, Any], origin: str | None) -> tuple[int, bool]:
        """put() for one event, without its lists: record() is the hot path."""
        return self._queue(((encode(event), origin),))

    def _queue(self, items: Sequence[tuple[bytes, str | None]]) -> tuple[int, bool]:
        dropped = self.buffer.put(items)
        with self._lock:
            self._stats.recorded += len(items)
            if self.spooled:
                self._stats.spooled += len(items)
            self._unsent += len(items)
            full = self._unsent >= self.limits.max_batch_events
            if full:
                self._unsent = 0
        if dropped:
            self.drop(dropped, "the queue is full" if not self.spooled else "the spool is full")
        return len(items) - (0 if self.spooled else dropped), full

    def drop(self, count: int, why: str) -> None:
        with self._lock:
            self._stats.dropped += count
            total = self._stats.dropped
            now = time.monotonic()
            noisy = now - self._last_drop_log < DROP_LOG_INTERVAL
            if not noisy:
                self._last_drop_log = now
        if not noisy:
            log.warning("dropped %d events: %s (%d dropped in all)", count, why, total)

    def take(self) -> list[Entry]:
        return self.buffer.take(self.limits.max_batch_events, self.limits.max_batch_bytes)

    def stats(self) -> Stats:
        with self._lock:
            return replace(self._stats, pending=self.buffer.pending())

    # The delivery's Sink.

    def settle(
        self, entries: Sequence[Entry], accepted: int, duplicates: int, invalid: list[InvalidEvent]
    ) -> None:
        self.buffer.done(entries)
        with self._lock:
            self._stats.sent += len(entries)
            self._stats.accepted += accepted
            self._stats.duplicates += duplicates
            self._stats.invalid += len(invalid)
            self._stats.batches += 1
        for item in invalid:
            _report(self.on_invalid, item)

    def reject(self, entries: Sequence[Entry], rejection: Rejection) -> None:
        self.last_error = f"HTTP {rejection.status}: {rejection.detail}"
        if rejection.halted:
            # The events are fine, the key is not: keep them (on disk they wait for a fix).
            self.halted = rejection
        else:
            self.buffer.done(entries)
            with self._lock:
                self._stats.rejected += len(entries)
        _report(self.on_error, rejection)

    def retrying(self, reason: str) -> None:
        self.last_error = reason
        with self._lock:
            self._stats.retried += 1
        log.info("retrying a batch: %s", reason)

    def give_up(self, reason: str) -> None:
        self.last_error = reason
        self.give_ups += 1
        log.warning("%s; the events wait for the next attempt", reason)

    def close(self) -> None:
        """Count what an in-memory queue still holds as dropped; close the spool."""
        left = 0 if self.spooled else self.buffer.pending()
        if left:
            self.drop(left, "not delivered before close (no spool)")
        self.buffer.close()


def _report(callback: Callable[[Any], None], item: Any) -> None:
    try:
        callback(item)
    except Exception:  # a failing callback must not stop delivery
        log.exception("a recording_client callback raised")
