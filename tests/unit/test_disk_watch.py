"""The benchmark's disk watch (bench/disk.py) tells a frozen device from an idle one.

A scripted device stands in for /proc/diskstats: a real disk freezes when it will, not
when a test asks.
"""

from __future__ import annotations

import time

import pytest

from bench import disk


class ScriptedDevice:
    """Completes operations all the time, except in [0.05 s, 0.15 s) of its life, where it
    completes nothing, with a request in flight (frozen) or with none (idle)."""

    in_flight_while_stalled = 1

    def __init__(self, device: tuple[int, int]) -> None:
        self.started = time.monotonic()

    def counters(self) -> tuple[int, int]:
        elapsed = time.monotonic() - self.started
        if 0.05 <= elapsed < 0.15:
            return 50, self.in_flight_while_stalled
        return int(elapsed * 10_000), 1

    def close(self) -> None:
        pass


class IdleDevice(ScriptedDevice):
    in_flight_while_stalled = 0


def watch(monkeypatch: pytest.MonkeyPatch, device: type[ScriptedDevice]) -> dict[str, float]:
    monkeypatch.setattr(disk, "_Device", device)
    with disk.DiskWatch((0, 0)) as watcher:
        time.sleep(0.25)
    return watcher.report()


def test_requests_in_flight_with_none_completed_are_a_freeze(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = watch(monkeypatch, ScriptedDevice)
    assert report["disk_freezes"] == 1
    assert 90 <= report["disk_freeze_max_ms"] <= 200  # 100 ms, give or take the sampling


def test_a_device_with_nothing_to_do_is_not_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert watch(monkeypatch, IdleDevice)["disk_freezes"] == 0


def test_without_a_device_the_watch_reports_nothing() -> None:
    with disk.DiskWatch(None) as watcher:
        pass
    assert watcher.report() == {}
