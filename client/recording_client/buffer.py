"""The in-memory queue of events waiting to be sent: bounded, oldest first."""

from __future__ import annotations

import itertools
import threading
from collections import deque, namedtuple
from collections.abc import Sequence

# Not typing.TYPE_CHECKING: the hook command's path must not import typing (~5 ms).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import NamedTuple, Protocol

    class Entry(NamedTuple):
        """An event waiting to be sent: its JSON, its place in the buffer, its origin.

        A named tuple, not a frozen dataclass: one is made per record(), 3x cheaper.
        """

        seq: int
        data: bytes
        origin: str | None = None

    class Buffer(Protocol):
        """Where recorded events wait; the spool is the durable one."""

        def put(self, items: Sequence[tuple[bytes, str | None]]) -> int:
            """Add events (JSON, origin); returns how many were dropped to stay bounded."""
            ...

        def take(self, max_events: int, max_bytes: int) -> list[Entry]:
            """The oldest events, up to both limits (always at least one if any wait)."""
            ...

        def done(self, entries: Sequence[Entry]) -> None:
            """Forget events the service has answered for."""
            ...

        def pending(self) -> int: ...

        def close(self) -> None: ...

else:  # the same class at run time, without importing typing
    Entry = namedtuple("Entry", ["seq", "data", "origin"], defaults=[None])


def take_within(entries: Sequence[Entry], max_events: int, max_bytes: int) -> list[Entry]:
    """The longest prefix within both limits, but never empty: a huge event goes alone."""
    taken: list[Entry] = []
    size = 2  # the brackets
    for entry in entries:
        if len(taken) == max_events or (taken and size + len(entry.data) + 1 > max_bytes):
            break
        taken.append(entry)
        size += len(entry.data) + 1
    return taken


class MemoryBuffer:
    """A bounded deque. When full, new events are dropped (and counted), never old ones.

    Dropping the newest keeps what is queued in order and lets record() stay O(1) without
    blocking the caller; a producer that must never drop uses a spool.
    """

    def __init__(self, max_events: int) -> None:
        self._max_events = max_events
        self._queue: deque[Entry] = deque()
        self._lock = threading.Lock()
        self._seq = itertools.count()

    def put(self, items: Sequence[tuple[bytes, str | None]]) -> int:
        seq = self._seq
        with self._lock:
            room = max(0, self._max_events - len(self._queue))
            self._queue.extend([Entry(next(seq), data, origin) for data, origin in items[:room]])
        return max(0, len(items) - room)

    def take(self, max_events: int, max_bytes: int) -> list[Entry]:
        with self._lock:
            return take_within(
                list(itertools.islice(self._queue, max_events)), max_events, max_bytes
            )

    def done(self, entries: Sequence[Entry]) -> None:
        # Only the sender removes, and always the oldest first (parts settle in order).
        last = entries[-1].seq
        with self._lock:
            while self._queue and self._queue[0].seq <= last:
                self._queue.popleft()

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        pass
