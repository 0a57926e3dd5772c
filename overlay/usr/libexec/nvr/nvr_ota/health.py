"""Is nvrd healthy enough to keep a new slot? Asked of systemd and of nvrd's own API.

nvrd is a Type=notify service whose watchdog ping is gated on its own health checks
(nvrd/supervise/): it is "active" only after it sent READY=1, and a wedge, a crash or a watchdog
timeout restarts it, which gives it a new invocation id and bumps NRestarts. So "healthy for N
seconds" is: the same invocation stayed active for N seconds without a restart, and at the end the
HTTP API answers. A unit that systemd gives up on (failed, no restart coming) ends the wait at once.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ServiceState:
    """The few properties of a systemd service the verdict needs."""

    active: str  # ActiveState: active, activating, deactivating, failed, inactive
    sub: str  # SubState: running, start, auto-restart, ...
    invocation: str  # InvocationID: new for every start
    restarts: int  # NRestarts
    result: str = ""  # Result: success, exit-code, watchdog, start-limit-hit, ...


class ServiceProbe(Protocol):
    def state(self, unit: str) -> ServiceState: ...


class SystemctlProbe:
    """Reads a unit's state with `systemctl show`."""

    PROPERTIES = ("ActiveState", "SubState", "InvocationID", "NRestarts", "Result")

    def state(self, unit: str) -> ServiceState:
        args = ["systemctl", "show", unit, *(f"--property={name}" for name in self.PROPERTIES)]
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return ServiceState("unknown", "unknown", "", 0)
        values = dict(line.partition("=")[::2] for line in result.stdout.splitlines())
        try:
            restarts = int(values.get("NRestarts") or 0)
        except ValueError:
            restarts = 0
        return ServiceState(
            values.get("ActiveState", "unknown"),
            values.get("SubState", "unknown"),
            values.get("InvocationID", ""),
            restarts,
            values.get("Result", ""),
        )


def api_answers(url: str, timeout: float = 5.0) -> bool:
    """True when a GET of `url` returns 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class Verdict:
    healthy: bool
    reason: str


def watch(
    unit: str,
    probe: ServiceProbe,
    api_check: Callable[[], bool],
    healthy_seconds: float,
    deadline_seconds: float,
    poll_seconds: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    """Wait until `unit` has been healthy for `healthy_seconds`, or give up at `deadline_seconds`."""
    start = clock()
    streak_since: float | None = None
    streak_key: tuple[str, int] | None = None
    first_restarts: int | None = None
    api_failed = False
    state = ServiceState("unknown", "unknown", "", 0)
    while True:
        now = clock()
        state = probe.state(unit)
        if first_restarts is None:
            first_restarts = state.restarts
        if state.active == "failed":
            return Verdict(False, f"{unit} failed ({state.result or 'no result'}) and will not be restarted")
        if state.active == "active":
            key = (state.invocation, state.restarts)
            if streak_key != key:
                streak_since, streak_key = now, key
            elif streak_since is not None and now - streak_since >= healthy_seconds:
                if api_check():
                    restarts = state.restarts - first_restarts
                    return Verdict(
                        True,
                        f"{unit} ran {healthy_seconds:g} s without a restart and its API answers"
                        + (f" (after {restarts} restarts)" if restarts else ""),
                    )
                api_failed = True
        else:
            streak_since, streak_key = None, None
        if now - start >= deadline_seconds:
            restarts = state.restarts - (first_restarts or 0)
            detail = f"last seen {state.active}/{state.sub}, {restarts} restarts"
            if api_failed:
                detail += ", its API did not answer"
            return Verdict(
                False,
                f"{unit} was not healthy for {healthy_seconds:g} s within {deadline_seconds:g} s ({detail})",
            )
        sleep(poll_seconds)
