"""How one batch is delivered, without doing any I/O: requests, answers, retries, splits.

`deliver` is a generator that yields what to do next (`Post` a part, `Sleep` before a
retry) and is sent what happened; the thread and asyncio recorders drive the same plan
with their own client, so both retry, split and report identically.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol

from recording_client.buffer import Entry

if TYPE_CHECKING:  # the recorders import httpx; the spool and the hook command must not
    import httpx

# Worth asking again: the service or a proxy in front of it may answer later. Every other
# 5xx is too (a proxy's 52x), except the two that say the request can never work.
RETRY_STATUSES = frozenset({408, 425, 429})
NEVER_RETRIED_5XX = frozenset({501, 505})
# A body the service refused whole: halves are tried, so one bad event spoils no other.
SPLIT_STATUSES = frozenset({400, 413})
# The key is wrong: nothing will succeed until it is fixed, so sending stops.
HALT_STATUSES = frozenset({401, 403})
MAX_RETRY_AFTER = 300.0
BACKOFF_BASE = 0.5  # seconds: the first retry waits up to this
BACKOFF_CAP = 30.0  # seconds: no retry waits longer (unless Retry-After asks)


@dataclass(frozen=True, slots=True)
class InvalidEvent:
    """An event the service refused, with its reasons; it is never retried."""

    event: Any
    errors: list[str]
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A batch the service refused whole (`halted`: the key was refused; sending stopped)."""

    status: int
    detail: str
    events: int
    halted: bool = False


@dataclass(frozen=True, slots=True)
class Post:
    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back for a Post: a response, or the transport error that stopped it."""

    status: int = 0
    headers: Mapping[str, str] | None = None
    body: bytes = b""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    max_retries: int | None = None  # None: until it works (or the recorder gives up)
    backoff_base: float = BACKOFF_BASE
    backoff_cap: float = BACKOFF_CAP

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Exponential backoff with full jitter, never sooner than the service asked."""
        jitter = rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
        return max(jitter, retry_after or 0.0)


class Sink(Protocol):
    """What a delivery reports to: the recorder's buffer, stats and callbacks."""

    def settle(
        self, entries: Sequence[Entry], accepted: int, duplicates: int, invalid: list[InvalidEvent]
    ) -> None: ...

    def reject(self, entries: Sequence[Entry], rejection: Rejection) -> None: ...

    def retrying(self, reason: str) -> None: ...

    def give_up(self, reason: str) -> None: ...


def encode_body(entries: Sequence[Entry], compress: bool) -> tuple[bytes, dict[str, str]]:
    body = b"[" + b",".join(entry.data for entry in entries) + b"]"
    headers = {"Content-Type": "application/json"}
    if compress:
        # Level 1: event JSON shrinks ~5-10x at a small fraction of level 9's CPU.
        body = gzip.compress(body, compresslevel=1, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), capped; None when absent or bad."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _detail(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(parsed, dict) and isinstance(parsed.get("detail"), str):
        return str(parsed["detail"])
    return json.dumps(parsed)[:200]


def _stored(entries: Sequence[Entry], body: bytes) -> tuple[int, int, list[InvalidEvent]] | None:
    """The ingest answer's counts, or None when it is not one (a proxy's page, say)."""
    try:
        answer = json.loads(body)
        accepted, duplicates = int(answer["accepted"]), int(answer["duplicates"])
        invalid = [
            InvalidEvent(
                json.loads(entries[item["index"]].data),
                [str(error) for error in item["errors"]],
                entries[item["index"]].origin,
            )
            for item in answer["invalid"]
        ]
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    if accepted + duplicates + len(invalid) != len(entries):
        return None
    return accepted, duplicates, invalid


def is_retryable(status: int) -> bool:
    return status in RETRY_STATUSES or (status >= 500 and status not in NEVER_RETRIED_5XX)


def deliver(
    entries: Sequence[Entry], sink: Sink, policy: Policy, rng: random.Random
) -> Generator[Post | Sleep, Answer | bool, bool]:
    """Deliver `entries`; True when every one is settled, False when stopped or gave up.

    A Sleep is answered with True when the recorder wants to stop (closing past its grace).
    """
    parts = [entries]
    while parts:
        part = parts.pop()
        attempt = 0
        while True:
            answer = yield Post(part)
            assert isinstance(answer, Answer)
            status, body = answer.status, answer.body
            if 200 <= status < 300 and (counts := _stored(part, body)) is not None:
                sink.settle(part, *counts)
                break
            if status in SPLIT_STATUSES and len(part) > 1:
                middle = len(part) // 2
                parts += [part[middle:], part[:middle]]  # the first half goes first
                break
            if status in HALT_STATUSES:
                sink.reject(part, Rejection(status, _detail(body), len(part), halted=True))
                return False
            if (400 <= status < 500 and not is_retryable(status)) or status in NEVER_RETRIED_5XX:
                sink.reject(part, Rejection(status, _detail(body), len(part)))
                break
            reason = answer.error or (f"HTTP {status}: {_detail(body)}" if status else "no answer")
            attempt += 1
            if policy.max_retries is not None and attempt > policy.max_retries:
                sink.give_up(f"gave up after {attempt} attempts: {reason}")
                return False
            sink.retrying(reason)
            hint = retry_after((answer.headers or {}).get("retry-after"))
            stop = yield Sleep(policy.delay(attempt, hint, rng))
            if stop:
                return False
    return True


def answer_of(response: httpx.Response) -> Answer:
    return Answer(response.status_code, response.headers, response.content)


def answer_of_error(exc: Exception) -> Answer:
    return Answer(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
