"""Recording's producer SDK: record events; they are batched, sent, retried and spooled."""

from __future__ import annotations

__version__ = "0.1.0"

from recording_client import events
from recording_client.async_recorder import AsyncRecorder
from recording_client.delivery import InvalidEvent, Rejection
from recording_client.ids import event_id, new_id
from recording_client.recorder import Recorder
from recording_client.stats import Stats

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
