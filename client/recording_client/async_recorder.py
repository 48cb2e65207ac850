"""AsyncRecorder: the Recorder for asyncio programs, its sender a task on their loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
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


class AsyncRecorder:
    """Like Recorder, for one event loop: record() is a plain call from that loop's thread.

    Use it as `async with AsyncRecorder(...) as recorder:` (or call `aclose()`): an event
    loop cannot run at interpreter exit, so only a spool keeps what was not flushed.
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
        on_invalid: OnInvalid | None = None,
        on_error: OnError | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._client = httpx.AsyncClient(
            base_url=self._core.base_url,
            headers=self._core.headers,
            timeout=timeout,
            transport=transport,
        )
        self._interval = flush_interval
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def record(self, event: Mapping[str, Any], *, origin: str | None = None) -> bool:
        """Queue one event; False if it was dropped (closed, or the queue is full)."""
        if self._closed:
            self._core.drop(1, "the recorder is closed")
            return False
        self._start()
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
        self._start()
        queued, full = self._core.put(events, origins)
        if full:
            self._wake.set()
        return queued

    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (as Recorder)
        """Send everything now; True once all is answered, False on timeout or give-up."""
        self._start()
        deadline = None if timeout is None else time.monotonic() + timeout
        give_ups = self._core.give_ups
        self._wake.set()
        while self._core.buffer.pending():
            if self._core.halted or self._core.give_ups != give_ups:
                return False
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._settled.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), min(remaining or 0.05, 0.05))
        return True

    async def aclose(self, timeout: float | None = 10.0) -> bool:  # noqa: ASYNC109 (as Recorder)
        """Flush for up to `timeout`, then stop the sender; True if everything was sent."""
        if self._closed:
            return True
        delivered = await self.flush(timeout)
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()
        self._core.close()
        return delivered

    @property
    def stats(self) -> Stats:
        return self._core.stats()

    @property
    def last_error(self) -> str | None:
        return self._core.last_error

    async def __aenter__(self) -> AsyncRecorder:
        self._start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="recording")

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self._drain()
            except Exception:
                log.exception("recording_client sender failed; retrying in %ss", self._interval)
                await asyncio.sleep(self._interval)
            self._settled.set()

    async def _drain(self) -> None:
        core = self._core
        while not self._stop.is_set() and core.halted is None:
            entries = core.take()
            if not entries or not await self._drive(deliver(entries, core, core.policy, core.rng)):
                return
            self._settled.set()

    async def _drive(self, plan: Generator[Post | Sleep, Answer | bool, bool]) -> bool:
        step = next(plan)
        try:
            while True:
                if isinstance(step, Sleep):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), step.seconds)
                    step = plan.send(self._stop.is_set())
                    continue
                body, headers = encode_body(step.entries, self._core.compress)
                try:
                    response = await self._client.post(INGEST_PATH, content=body, headers=headers)
                    answer = answer_of(response)
                except httpx.HTTPError as exc:
                    answer = answer_of_error(exc)
                step = plan.send(answer)
        except StopIteration as finished:
            return bool(finished.value)
