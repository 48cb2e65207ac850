"""Counters of what a recorder did, for logs and metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Stats:
    """Events unless said otherwise; a snapshot, taken with `Recorder.stats`."""

    recorded: int = 0  # taken by record() / record_many()
    spooled: int = 0  # written to the spool
    sent: int = 0  # answered for by the service (2xx): accepted + duplicates + invalid
    accepted: int = 0  # newly stored
    duplicates: int = 0  # already stored (a re-send, or the same id twice)
    invalid: int = 0  # refused by the service's validation; reported, never retried
    rejected: int = 0  # in a batch the service refused whole (4xx); reported, not retried
    retried: int = 0  # requests sent again (network error, 429, 5xx)
    dropped: int = 0  # lost to a bound: queue full, spool over its size, unsent at close
    batches: int = 0  # requests answered 2xx
    pending: int = 0  # waiting to be sent, now
