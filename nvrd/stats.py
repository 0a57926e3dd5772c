"""Rates and timings the daemon reports in /api/stats (and MQTT `<prefix>/stats`)."""

from __future__ import annotations

import collections
import os
import shutil
import threading
import time
from pathlib import Path


class EventRate:
    """Events per second over a sliding window (Frigate reports fps this way, 2 decimals)."""

    def __init__(self, window: float = 10.0, clock=time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def add(self, count: int = 1) -> None:
        """Record `count` events now."""
        now = self._clock()
        with self._lock:
            for _ in range(count):
                self._times.append(now)
            self._trim(now)

    def rate(self) -> float:
        """Events per second over the window, rounded to 2 decimals."""
        now = self._clock()
        with self._lock:
            self._trim(now)
            return round(len(self._times) / self._window, 2)

    def _trim(self, now: float) -> None:
        horizon = now - self._window
        while self._times and self._times[0] < horizon:
            self._times.popleft()


def mount_type(path: Path) -> str:
    """File-system type of the mount holding `path` (from /proc/mounts), '' when unknown."""
    try:
        target = os.path.realpath(path)
        best, best_type = "", ""
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount_point = fields[1].replace("\\040", " ")
                inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) > len(best):
                    best, best_type = mount_point, fields[2]
        return best_type
    except OSError:
        return ""


def storage_usage(path: Path) -> dict[str, float | str]:
    """Total/used/free MiB (1 decimal) and mount type of the file system holding `path`.

    Frigate 0.13 reports MiB under `mount_type`; its docs show `mnt_type`, so both keys are given.
    A missing path gives {} as Frigate does.
    """
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return {}
    mib = 1024 * 1024
    kind = mount_type(path)
    return {
        "total": round(usage.total / mib, 1),
        "used": round(usage.used / mib, 1),
        "free": round(usage.free / mib, 1),
        "mount_type": kind,
        "mnt_type": kind,
    }
