"""Recording's producer SDK: record events; they are batched, sent, retried and spooled.

The names below are imported on first use: `clone-recording hook claude-code` runs on every
hook of an agent and must not pay ~0.1 s for httpx, which only the recorders need.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"
# Not typing.TYPE_CHECKING: the hook command's path must not import typing (~5 ms).
TYPE_CHECKING = False

_HOMES = {
    "AsyncRecorder": "recording_client.async_recorder",
    "InvalidEvent": "recording_client.delivery",
    "Recorder": "recording_client.recorder",
    "Rejection": "recording_client.delivery",
    "Stats": "recording_client.stats",
    "event_id": "recording_client.ids",
    "events": "recording_client.events",
    "new_id": "recording_client.ids",
}

if TYPE_CHECKING:
    from typing import Any

    from recording_client import events
    from recording_client.async_recorder import AsyncRecorder
    from recording_client.delivery import InvalidEvent, Rejection
    from recording_client.ids import event_id, new_id
    from recording_client.recorder import Recorder
    from recording_client.stats import Stats


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'recording_client' has no attribute {name!r}")
    module = import_module(_HOMES[name])
    value = module if name == "events" else getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "AsyncRecorder",
    "InvalidEvent",
    "Recorder",
    "Rejection",
    "Stats",
    "__version__",
    "event_id",
    "events",
    "new_id",
]
