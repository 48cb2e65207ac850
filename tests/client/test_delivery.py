"""The delivery plan without I/O: which answers settle, split, halt, refuse or retry."""

from __future__ import annotations

import json
import random
from collections.abc import Generator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from recording_client.buffer import Entry, take_within
from recording_client.delivery import (
    Answer,
    InvalidEvent,
    Policy,
    Post,
    Rejection,
    Sleep,
    deliver,
    retry_after,
)


class Log:
    """A Sink that writes down what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def settle(
        self, entries: Sequence[Entry], accepted: int, duplicates: int, invalid: list[InvalidEvent]
    ) -> None:
        self.calls.append(("settle", [e.seq for e in entries], accepted, duplicates, invalid))

    def reject(self, entries: Sequence[Entry], rejection: Rejection) -> None:
        self.calls.append(("reject", [e.seq for e in entries], rejection))

    def retrying(self, reason: str) -> None:
        self.calls.append(("retrying", reason))

    def give_up(self, reason: str) -> None:
        self.calls.append(("give_up", reason))


def entries(count: int) -> list[Entry]:
    return [Entry(n, json.dumps({"id": f"e{n}"}).encode(), f"line {n + 1}") for n in range(count)]


def stored(accepted: int, duplicates: int = 0, invalid: Any = ()) -> Answer:
    body = {"accepted": accepted, "duplicates": duplicates, "invalid": list(invalid)}
    return Answer(201, {}, json.dumps(body).encode())


def run(
    plan: Generator[Post | Sleep, Answer | bool, bool], answers: list[Answer]
) -> tuple[bool, list[Post | Sleep]]:
    """Drive a plan with canned answers (Sleeps are answered 'keep going')."""
    steps: list[Post | Sleep] = []
    step = next(plan)
    try:
        while True:
            steps.append(step)
            step = plan.send(False if isinstance(step, Sleep) else answers.pop(0))
    except StopIteration as done:
        return bool(done.value), steps


POLICY = Policy(max_retries=3, backoff_base=1.0, backoff_cap=8.0)


def test_a_2xx_ingest_answer_settles_the_batch_with_its_invalid_items() -> None:
    log = Log()
    answer = stored(2, 0, [{"index": 1, "errors": ["'source' is a required property"]}])
    ok, steps = run(deliver(entries(3), log, POLICY, random.Random(1)), [answer])
    assert ok and len(steps) == 1
    invalid = [InvalidEvent({"id": "e1"}, ["'source' is a required property"], "line 2")]
    assert log.calls == [("settle", [0, 1, 2], 2, 0, invalid)]


@pytest.mark.parametrize("status", [200, 201, 202], ids=str)
def test_a_2xx_that_is_not_an_ingest_answer_is_retried(status: int) -> None:
    log = Log()
    answers = [Answer(status, {}, b"<html>proxy</html>"), stored(1)]
    ok, steps = run(deliver(entries(1), log, POLICY, random.Random(1)), answers)
    assert ok and [type(s).__name__ for s in steps] == ["Post", "Sleep", "Post"]
    assert log.calls[-1] == ("settle", [0], 1, 0, [])


def test_counts_that_do_not_add_up_are_not_trusted() -> None:
    log = Log()
    ok, _ = run(deliver(entries(3), log, POLICY, random.Random(1)), [stored(1), stored(3)])
    assert ok and [c[0] for c in log.calls] == ["retrying", "settle"]


@pytest.mark.parametrize("status", [400, 413], ids=str)
def test_a_refused_body_is_halved_first_half_first(status: int) -> None:
    log = Log()
    answers = [Answer(status, {}, b"{}"), stored(2), stored(2)]
    ok, steps = run(deliver(entries(4), log, POLICY, random.Random(1)), answers)
    assert ok
    assert [[e.seq for e in s.entries] for s in steps if isinstance(s, Post)] == [
        [0, 1, 2, 3],
        [0, 1],
        [2, 3],
    ]
    assert [c[1] for c in log.calls] == [[0, 1], [2, 3]]


@pytest.mark.parametrize("status", [401, 403], ids=str)
def test_a_refused_key_halts_and_keeps_the_events(status: int) -> None:
    log = Log()
    body = b'{"detail": "missing or invalid API key"}'
    ok, steps = run(deliver(entries(4), log, POLICY, random.Random(1)), [Answer(status, {}, body)])
    assert not ok and len(steps) == 1
    assert log.calls == [
        ("reject", [0, 1, 2, 3], Rejection(status, "missing or invalid API key", 4, halted=True))
    ]


@pytest.mark.parametrize("status", [404, 415, 422, 501, 505], ids=str)
def test_other_refusals_are_reported_once_and_not_retried(status: int) -> None:
    log = Log()
    ok, steps = run(deliver(entries(1), log, POLICY, random.Random(1)), [Answer(status, {}, b"")])
    assert ok and len(steps) == 1
    assert log.calls == [("reject", [0], Rejection(status, "", 1))]


@pytest.mark.parametrize("status", [0, 408, 425, 429, 500, 502, 503, 504, 520], ids=str)
def test_retryable_answers_back_off_then_give_up_after_max_retries(status: int) -> None:
    log = Log()
    failing = Answer(status, {}, b"") if status else Answer(error="ConnectError: refused")
    ok, steps = run(deliver(entries(2), log, POLICY, random.Random(7)), [failing] * 4)
    assert not ok
    sleeps = [s.seconds for s in steps if isinstance(s, Sleep)]
    assert len(sleeps) == 3  # max_retries
    assert all(0 <= s <= bound for s, bound in zip(sleeps, [1.0, 2.0, 4.0], strict=True))
    assert [c[0] for c in log.calls] == ["retrying"] * 3 + ["give_up"]


def test_full_jitter_spreads_the_delays_and_the_cap_holds() -> None:
    rng = random.Random(3)
    delays = [POLICY.delay(10, None, rng) for _ in range(1000)]
    assert max(delays) <= 8.0 and min(delays) < 1.0 and len(set(delays)) == 1000


def test_retry_after_is_a_floor_under_the_jitter() -> None:
    log = Log()
    answers = [Answer(503, {"retry-after": "5"}, b""), stored(1)]
    _, steps = run(deliver(entries(1), log, POLICY, random.Random(1)), answers)
    assert [s.seconds for s in steps if isinstance(s, Sleep)] == [5.0]


def test_a_stop_during_a_sleep_ends_the_delivery() -> None:
    plan = deliver(entries(1), Log(), POLICY, random.Random(1))
    assert isinstance(next(plan), Post)
    assert isinstance(plan.send(Answer(503, {}, b"")), Sleep)
    with pytest.raises(StopIteration) as done:
        plan.send(True)
    assert done.value.value is False


def test_retry_after_parses_seconds_and_http_dates_and_caps_them() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=30)
    assert retry_after("7") == 7.0
    assert retry_after("1.5") == 1.5
    assert 28 <= (retry_after(format_datetime(soon, usegmt=True)) or 0) <= 30
    assert retry_after("-3") == 0.0
    assert retry_after("86400") == 300.0
    assert retry_after("soon") is None
    assert retry_after(None) is None


def test_take_within_keeps_both_limits_but_never_returns_nothing() -> None:
    sized = [Entry(n, b"x" * 10) for n in range(10)]
    assert len(take_within(sized, 4, 10_000)) == 4
    assert len(take_within(sized, 100, 2 + 11 * 3)) == 3  # brackets, and a comma or so each
    assert [e.seq for e in take_within([Entry(0, b"x" * 500)], 10, 100)] == [0]
