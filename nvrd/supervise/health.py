"""Is nvrd really working? The checks that gate the systemd watchdog ping.

Healthy means: the asyncio event loop (HTTP API) runs a callback when asked; every camera either
delivers and processes frames, or is in a reconnect back-off the capture thread itself set; and no
detector has been inside one inference for longer than the pool's own timeout could explain. Each
check returns what is wrong in words a person can act on; an empty list means healthy.

The limits leave room for the recovery the parts do themselves (a camera's reconnect, the detector
pool's request timeout), so a ping stops only when something is wedged that a restart must cure.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nvrd.camera.capture import STARTUP_GRACE_S
from nvrd.detect.worker import DEFAULT_REQUEST_TIMEOUT


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """How long each part may look stuck before nvrd counts as unhealthy (seconds)."""

    loop_answer: float = 5.0  # the event loop must run a callback within this
    # Beyond the capture's own timeouts (retry_interval, the startup grace) and back-off end.
    capture_slack: float = 5.0
    # Frames arrive but none is processed: a camera thread is wedged. A frame may legitimately wait
    # for a stuck detector's timeout and the pool's retry on another detector.
    processing_stall: float = 30.0
    # One inference running this long means the pool's request timeout did not fire.
    detector_stuck: float = 2 * DEFAULT_REQUEST_TIMEOUT + 5.0


class LoopProbe:
    """Asks an asyncio loop, from another thread, whether it still runs callbacks."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def answers(self, timeout: float) -> bool:
        """True when the loop ran a callback posted now within `timeout` seconds."""
        answered = threading.Event()
        try:
            self.loop.call_soon_threadsafe(answered.set)
        except RuntimeError:  # the loop is closed
            return False
        return answered.wait(timeout)


class HealthCheck:
    """Runs every check; call `problems()` from one thread (the watchdog's)."""

    def __init__(
        self,
        *,
        cameras: Callable[[], Mapping[str, Any]],
        detectors: Callable[[], Mapping[str, Mapping[str, float]]],
        loop: LoopProbe | None = None,
        limits: HealthLimits | None = None,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`cameras` returns the running CameraPipelines by name; `detectors` the pool's stats()."""
        self.cameras = cameras
        self.detectors = detectors
        self.loop = loop
        self.limits = limits or HealthLimits()
        self._wall = wall_clock
        self._clock = clock
        # Per camera: the capture's (state, decoder pid, back-off end) as last seen, and since when.
        self._capture_seen: dict[str, tuple[tuple[Any, ...], float]] = {}
        self._first_seen: dict[str, float] = {}

    def problems(self) -> list[str]:
        """What is wrong now, one short sentence each; [] when healthy."""
        found: list[str] = []
        if self.loop is not None and not self.loop.answers(self.limits.loop_answer):
            found.append(f"the event loop did not answer within {self.limits.loop_answer:g} s")
        cameras = dict(self.cameras())
        for name in list(self._capture_seen):
            if name not in cameras:
                self._capture_seen.pop(name, None)
                self._first_seen.pop(name, None)
        for name, pipeline in cameras.items():
            problem = self.camera_problem(name, pipeline)
            if problem:
                found.append(problem)
        found.extend(self.detector_problems())
        return found

    def camera_problem(self, name: str, pipeline: Any) -> str | None:
        """Why one camera looks wedged, or None while it works or is visibly reconnecting."""
        now, wall = self._clock(), self._wall()
        self._first_seen.setdefault(name, now)
        if not pipeline.alive:
            return f"camera {name}: its processing thread has stopped"
        capture = pipeline.capture
        state = capture.state
        # Each reconnect attempt has its own decoder pid and each back-off its own end: a new key
        # means the capture thread moved on, so the clock for "stuck in this state" restarts.
        key = (state, capture.capture_pid, capture.backoff_until)
        seen = self._capture_seen.get(name)
        if seen is None or seen[0] != key:
            self._capture_seen[name] = (key, now)
            since = now
        else:
            since = seen[1]
        slack = self.limits.capture_slack
        if state == "backoff":
            until = capture.backoff_until
            if until is not None and wall > until + slack:
                return f"camera {name}: reconnect is {wall - until:.0f} s overdue (capture thread stuck)"
            return None
        if state == "starting":
            allowed = capture.retry_interval + STARTUP_GRACE_S + slack
            if now - since > allowed:
                return f"camera {name}: still connecting after {now - since:.0f} s (capture thread stuck)"
            return None
        if state != "streaming":
            return f"camera {name}: capture is {state}"
        last_frame = capture.last_frame_time
        frame_age = wall - last_frame if last_frame else now - since
        if frame_age > capture.retry_interval + slack:
            return f"camera {name}: no frame for {frame_age:.0f} s (capture thread stuck)"
        # A wedged camera thread leaves frames unprocessed while newer ones keep arriving; a stream
        # that merely stalled delivers nothing newer than what was processed last.
        processed_age = now - (pipeline.last_processed or self._first_seen[name])
        if processed_age - frame_age > self.limits.processing_stall:
            return f"camera {name}: frames arrive but none was processed for {processed_age:.0f} s"
        return None

    def detector_problems(self) -> list[str]:
        """Detectors stuck inside one inference past the limit (Frigate's `detection_start`)."""
        wall = self._wall()
        found = []
        for name, stats in self.detectors().items():
            started = float(stats.get("detection_start") or 0.0)
            if started > 0.0 and wall - started > self.limits.detector_stuck:
                found.append(f"detector {name}: one inference has run for {wall - started:.0f} s")
        return found
