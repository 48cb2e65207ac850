"""The disk under the database: how long it can stall, whatever runs above it.

A durable commit waits for the device to flush PostgreSQL's WAL. On the 2-core benchmark
host the virtual disk now and then completes nothing at all for 50-950 ms, with one
request in flight and nothing else running (`python bench/disk.py` shows it). At 2,330
1-event requests a second, the slowest 1% of a 10 s run is 233 requests: one freeze of
~100 ms puts more than that past 5 ms, whatever the service does. So each open-loop run
records the device's freezes during it (`DiskWatch`), and this script measures the device
alone: an 8 kB write and an fdatasync at a fixed rate, as a WAL flush does.

    .venv/bin/python bench/disk.py --seconds 120 --rate 300
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import percentiles

FREEZE_MS = 20.0  # shorter waits are a busy device, not a stalled one
DISKSTATS = Path("/proc/diskstats")
# /proc/diskstats' fields after the device's name: completed reads, writes, discards and
# flushes, and the requests in flight (the kernel's Documentation/admin-guide/iostats.rst;
# kernels before 4.18 have no discards, before 5.5 no flushes).
_COMPLETED = (0, 4, 11, 15)
_IN_FLIGHT = 8


def device_of(path: Path) -> tuple[int, int] | None:
    """The (major, minor) of the block device holding `path`, if this host reports it."""
    if not DISKSTATS.exists() or not path.exists():
        return None
    dev = path.stat().st_dev
    return os.major(dev), os.minor(dev)


class _Device:
    """One device's line of /proc/diskstats, read through a file descriptor kept open."""

    def __init__(self, device: tuple[int, int]) -> None:
        self._line = re.compile(rb"^\s*%d\s+%d\s+\S+\s+(.*)$" % device, re.MULTILINE)
        self._fd = os.open(DISKSTATS, os.O_RDONLY)

    def counters(self) -> tuple[int, int] | None:
        """(operations completed so far, requests in flight), or None if it is gone."""
        found = self._line.search(os.pread(self._fd, 65536, 0))
        if found is None:
            return None
        fields = [int(x) for x in found.group(1).split()]
        done = sum(fields[i] for i in _COMPLETED if i < len(fields))
        return done, fields[_IN_FLIGHT]

    def close(self) -> None:
        os.close(self._fd)


class DiskWatch:
    """Samples a device every 2 ms in a thread while a run lasts: its freezes, the spans in
    which it had requests in flight and completed none.

    A sample costs ~20 us, 1% of a core at this interval; the thread runs in the
    benchmark's process, which only waits for its load generator meanwhile.
    """

    def __init__(self, device: tuple[int, int] | None, interval: float = 0.002) -> None:
        self.device, self.interval = device, interval
        self.freezes: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DiskWatch:
        if self.device is not None:
            device = _Device(self.device)
            if device.counters() is None:
                device.close()
            else:
                self._thread = threading.Thread(target=self._watch, args=(device,), daemon=True)
                self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self, device: _Device) -> None:
        last_done, since = -1, None  # since: when the span without a completion began
        try:
            while not self._stop.is_set():
                sample = device.counters()
                now = time.monotonic()
                if sample is None:
                    return
                done, in_flight = sample
                if done != last_done or not in_flight:
                    self._end_span(since, now)
                    since = now if in_flight else None
                    last_done = done
                elif since is None:  # a request began, and none has completed since
                    since = now
                self._stop.wait(self.interval)
            self._end_span(since, time.monotonic())
        finally:
            device.close()

    def _end_span(self, since: float | None, now: float) -> None:
        if since is not None and (now - since) * 1000 >= FREEZE_MS:
            self.freezes.append(round((now - since) * 1000, 1))

    def report(self) -> dict[str, Any]:
        """Empty where the host has no /proc/diskstats or the device was not found."""
        if self._thread is None:
            return {}
        return {
            "disk_freezes": len(self.freezes),
            "disk_freeze_max_ms": max(self.freezes, default=0.0),
            "disk_frozen_ms": round(sum(self.freezes), 1),
        }


def probe(folder: Path, seconds: float, rate: float) -> dict[str, Any]:
    """8 kB written and fdatasync'ed at `rate` a second into a preallocated file, as WAL is:
    each flush's latency, and the device's freezes meanwhile."""
    path = folder / f"recording-disk-probe-{os.getpid()}.bin"
    block = os.urandom(8192)
    latencies: list[float] = []
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, 2048 * len(block))
        os.fsync(fd)
        with DiskWatch(device_of(folder)) as watch:
            start = time.monotonic()
            for i in range(int(seconds * rate)):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                began = time.monotonic()
                os.pwrite(fd, block, (i % 2048) * len(block))
                os.fdatasync(fd)
                latencies.append((time.monotonic() - began) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    slow = {f"over_{ms}_ms": sum(1 for x in latencies if x > ms) for ms in (10, 50, 200)}
    return {
        "seconds": seconds,
        "rate": rate,
        "flushes": len(latencies),
        **percentiles(latencies),
        **slow,
        **watch.report(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=300.0, help="flushes a second")
    parser.add_argument(
        "--folder", type=Path, default=Path(__file__).parent, help="a folder on the disk"
    )
    parser.add_argument("--output", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    result = probe(args.folder, args.seconds, args.rate)
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
