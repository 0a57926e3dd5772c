"""CPU and memory use of nvrd's processes, read from /proc, for `cpu_usages` in /api/stats.

Frigate 0.13 keys the entries by pid (as text) and gives each `cpu` (percent of one core since the
previous sample), `cpu_average` (over the process's life), `mem` (percent of RAM) and `cmdline` (with
credentials masked), the numbers as text; Home Assistant's per-camera CPU sensors read them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from nvrd.config.api_view import mask_credentials

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _mem_total_bytes() -> int:
    try:
        for line in (PROC / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _uptime_s() -> float:
    try:
        return float((PROC / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def _cpu_ticks_and_start(pid: int) -> tuple[int, int] | None:
    """utime + stime, and the start time, in clock ticks (None when the process is gone)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[11]) + int(fields[12]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _rss_bytes(pid: int) -> int:
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return mask_credentials(raw.replace(b"\0", b" ").decode("utf-8", "replace").strip())


class ProcessUsage:
    """Samples processes; each sample's `cpu` covers the time since the previous sample of that pid."""

    def __init__(self) -> None:
        self._previous: dict[int, tuple[int, float]] = {}  # pid -> (ticks, monotonic time)
        self._mem_total = _mem_total_bytes()

    def sample(self, pids: Iterable[int]) -> dict[str, dict[str, str]]:
        """`cpu_usages` for these pids (gone or invalid ones are left out)."""
        now = time.monotonic()
        uptime = _uptime_s()
        usages: dict[str, dict[str, str]] = {}
        seen: dict[int, tuple[int, float]] = {}
        for pid in sorted({p for p in pids if isinstance(p, int) and p > 0}):
            found = _cpu_ticks_and_start(pid)
            if found is None:
                continue
            ticks, start = found
            life_s = max(1e-6, uptime - start / TICKS_PER_SECOND)
            average = 100.0 * ticks / TICKS_PER_SECOND / life_s
            previous = self._previous.get(pid)
            if previous is not None and now > previous[1] and ticks >= previous[0]:
                current = 100.0 * (ticks - previous[0]) / TICKS_PER_SECOND / (now - previous[1])
            else:
                current = average
            seen[pid] = (ticks, now)
            mem = 100.0 * _rss_bytes(pid) / self._mem_total if self._mem_total else 0.0
            usages[str(pid)] = {
                "cpu": f"{current:.1f}",
                "cpu_average": f"{average:.1f}",
                "mem": f"{mem:.1f}",
                "cmdline": _cmdline(pid),
            }
        self._previous = seen
        return usages
