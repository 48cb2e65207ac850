"""Recorder: record() returns at once; a background thread sends batches and retries."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Generator, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from recording_client.core import (
    INGEST_PATH,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_QUEUE_EVENTS,
    MAX_SPOOL_BYTES,
    Core,
    Limits,
    OnError,
    OnInvalid,
)
from recording_client.delivery import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    Answer,
    Policy,
    Post,
    Rejection,
    Sleep,
    answer_of,
    answer_of_error,
    deliver,
    encode_body,
)
from recording_client.stats import Stats

if TYPE_CHECKING:
    from recording_client.spool import Sync

log = logging.getLogger("recording_client")


class Recorder:
    """Sends recorded events in the background: batched, gzip-compressed, retried.

    Without `spool_dir` events wait in memory (at most `max_queue_events`; newer ones are
    dropped and counted beyond that). With it they are on disk before record() returns
    and are removed only once a 2xx answer covers them, so a crash loses nothing: the next
    recorder on the same folder sends them, and the service's dedupe by id makes that
    exactly once.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        spool_dir: str | Path | None = None,
        spool_sync: Sync = "full",
        flush_interval: float = 1.0,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        max_queue_events: int = MAX_QUEUE_EVENTS,
        max_spool_bytes: int = MAX_SPOOL_BYTES,
        max_retries: int | None = None,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        compress: bool = True,
        timeout: float = 10.0,
        exit_grace: float = 2.0,
        on_invalid: OnInvalid | None = None,
        on_error: OnError | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._core = Core(
            base_url,
            api_key,
            spool_dir=spool_dir,
            spool_sync=spool_sync,
            limits=Limits(max_batch_events, max_batch_bytes, max_queue_events, max_spool_bytes),
            policy=Policy(max_retries, backoff_base, backoff_cap),
            compress=compress,
            on_invalid=on_invalid,
            on_error=on_error,
        )
        self._client = httpx.Client(
            base_url=self._core.base_url,
            headers=self._core.headers,
            timeout=timeout,
            transport=transport,
        )
        self._interval = flush_interval
        self._wake = threading.Event()
        self._settled = threading.Condition()
        self._stop = threading.Event()  # set: finish the current step and leave
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="recording-client", daemon=True)
        self._thread.start()
        self._exit_hook = _exit_hook(weakref.ref(self), exit_grace)
        atexit.register(self._exit_hook)

    # The caller's side: never blocks on the network, never raises for it.

    def record(self, event: Mapping[str, Any], *, origin: str | None = None) -> bool:
        """Queue one event; False if it was dropped (closed, or the queue is full)."""
        if self._closed:
            self._core.drop(1, "the recorder is closed")
            return False
        queued, full = self._core.put_one(event, origin)
        if full:
            self._wake.set()
        return queued == 1

    def record_many(
        self, events: Iterable[Mapping[str, Any]], *, origins: Iterable[str | None] | None = None
    ) -> int:
        """Queue events (one spool transaction for all); returns how many were queued."""
        if not isinstance(events, list | tuple):
            events = list(events)
        if self._closed:
            self._core.drop(len(events), "the recorder is closed")
            return 0
        queued, full = self._core.put(events, origins)
        if full:
            self._wake.set()
        return queued

    def flush(self, timeout: float | None = None, *, backlog: int = 0) -> bool:
        """Send everything now; True once all is answered, False on timeout or give-up.

        With `backlog`, return as soon as at most that many events wait: a producer
        reading a large input uses it for back-pressure.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        give_ups = self._core.give_ups
        self._wake.set()
        with self._settled:
            while self._core.buffer.pending() > backlog:
                if self._core.halted or self._core.give_ups != give_ups:
                    return False
                if not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._settled.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    def close(self, timeout: float | None = 10.0) -> bool:
        """Flush for up to `timeout`, then stop the sender; True if everything was sent."""
        if self._closed:
            return True
        delivered = self.flush(timeout)
        self._closed = True
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self._client.timeout.read or 10.0)
        self._client.close()
        self._core.close()
        atexit.unregister(self._exit_hook)
        return delivered

    @property
    def stats(self) -> Stats:
        return self._core.stats()

    @property
    def last_error(self) -> str | None:
        """The latest reason a batch was retried, refused or given up on."""
        return self._core.last_error

    @property
    def halted(self) -> Rejection | None:
        """Set once the service refused the key (401/403): nothing is sent any more."""
        return self._core.halted

    @property
    def give_ups(self) -> int:
        """How many times a batch ran out of `max_retries` (it waits for the next try)."""
        return self._core.give_ups

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # The sender's side.

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # a full disk, a bug: log it, keep the thread alive
                log.exception("recording_client sender failed; retrying in %ss", self._interval)
                self._stop.wait(self._interval)
            with self._settled:
                self._settled.notify_all()

    def _drain(self) -> None:
        core = self._core
        while not self._stop.is_set() and core.halted is None:
            entries = core.take()
            if not entries or not self._drive(deliver(entries, core, core.policy, core.rng)):
                return
            with self._settled:
                self._settled.notify_all()

    def _drive(self, plan: Generator[Post | Sleep, Answer | bool, bool]) -> bool:
        step = next(plan)
        try:
            while True:
                if isinstance(step, Sleep):
                    step = plan.send(self._stop.wait(step.seconds))
                    continue
                body, headers = encode_body(step.entries, self._core.compress)
                try:
                    answer = answer_of(
                        self._client.post(INGEST_PATH, content=body, headers=headers)
                    )
                except httpx.HTTPError as exc:
                    answer = answer_of_error(exc)
                step = plan.send(answer)
        except StopIteration as finished:
            return bool(finished.value)


def _exit_hook(recorder: weakref.ref[Recorder], grace: float) -> Any:
    def flush_at_exit() -> None:
        alive = recorder()
        if alive is not None:
            alive.close(timeout=grace)

    return flush_at_exit
