"""The set of detector processes the cameras share: dispatch, failover, restarts and stats."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nvrd.detect.errors import DetectorError
from nvrd.detect.settings import (
    DetectorSettings,
    ModelSettings,
    detector_settings,
    model_file,
    model_settings,
)
from nvrd.detect.worker import DEFAULT_REQUEST_TIMEOUT, DEFAULT_STARTUP_TIMEOUT, DetectorProcess

log = logging.getLogger(__name__)

RESTARTED_TYPES = frozenset({"cpu"})  # a dead Coral comes back through hot-plug, not by retrying
FIRST_RESTART_DELAY = 1.0  # seconds
MAX_RESTART_DELAY = 60.0  # seconds; also how long a detector must live to reset its backoff
_SUPERVISOR_TICK = 0.5  # seconds between checks for dead detectors


class DetectorPool:
    """Detector processes by name, one per `detectors.<name>` config entry.

    `detect` hands each request to the least busy live detector and, when that one dies during the
    request, retries once on another. Dead CPU detectors are restarted in the background with
    exponential backoff. Thread-safe.
    """

    def __init__(
        self,
        detector_configs: Mapping[str, Any],
        model_config: Any,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        """Validate the settings (DetectorError on bad ones); nothing starts until `start()`."""
        self.model: ModelSettings = model_settings(model_config)
        self.request_timeout = request_timeout
        self.startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._detectors: dict[str, DetectorProcess] = {}
        self._retry_at: dict[str, float] = {}
        self._retry_delay: dict[str, float] = {}
        # Added (hot-plugged) detectors still loading their model: not running yet, but not dead,
        # so the supervisor must neither report nor restart them.
        self._starting: set[str] = set()
        self._hashes: dict[Path, str] = {}
        self.input_size: tuple[int, int] | None = None  # (height, width) every detector must take
        for name, config in detector_configs.items():
            self._detectors[name] = self._new_process(detector_settings(name, config, self.model))
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def _new_process(self, settings: DetectorSettings) -> DetectorProcess:
        return DetectorProcess(
            settings, request_timeout=self.request_timeout, startup_timeout=self.startup_timeout
        )

    @property
    def names(self) -> list[str]:
        """Configured detector names, running or not."""
        with self._lock:
            return list(self._detectors)

    def detector(self, name: str) -> DetectorProcess:
        """The detector process called `name` (KeyError when there is none)."""
        with self._lock:
            return self._detectors[name]

    def start(self) -> dict[str, str]:
        """Start every detector and the restart supervisor.

        Returns {name: reason} for detectors that failed to start (a missing Coral, say); raises
        DetectorError when none runs, with every reason in the message.
        """
        failures: dict[str, str] = {}
        for name in self.names:
            try:
                self._start_one(self.detector(name))
            except DetectorError as exc:
                failures[name] = str(exc)
                self._schedule_restart(name, after_failed_start=True)
        if failures and len(failures) == len(self.names):
            raise DetectorError("no detector could start: " + "; ".join(failures.values()))
        if not self.names:
            raise DetectorError("no detectors are configured")
        self.start_supervisor()
        return failures

    def start_supervisor(self) -> None:
        """Start the thread that restarts dead CPU detectors (for a pool filled by add_detector)."""
        self._stopping.clear()
        if self._supervisor is None or not self._supervisor.is_alive():
            self._supervisor = threading.Thread(
                target=self._supervise, name="detector-supervisor", daemon=True
            )
            self._supervisor.start()

    def _start_one(self, detector: DetectorProcess) -> None:
        """Start a detector and check its model takes the pool's input size."""
        detector.start()
        with self._lock:
            if self.input_size is None:
                self.input_size = detector.input_size
                wanted = (self.model.height, self.model.width)
                if wanted != detector.input_size:
                    log.warning(
                        "model.width/height say %dx%d but the model takes %dx%d; using the model's size",
                        wanted[1],
                        wanted[0],
                        detector.input_size[1],
                        detector.input_size[0],
                    )
            mismatch = self.input_size != detector.input_size
        if mismatch:
            detector.stop()
            raise DetectorError(
                f"detector {detector.name!r}: its model takes {detector.input_size} but the other "
                f"detectors take {self.input_size}; all detectors must share one input size"
            )

    def add_detector(self, name: str, config: Any) -> None:
        """Add and start a detector (hot-plug). DetectorError if the name is taken or it cannot start."""
        detector = self._new_process(detector_settings(name, config, self.model))
        with self._lock:
            if name in self._detectors:
                raise DetectorError(f"a detector called {name!r} already exists")
            self._detectors[name] = detector
            self._starting.add(name)
        try:
            self._start_one(detector)
        except DetectorError:
            with self._lock:
                self._detectors.pop(name, None)
            raise
        finally:
            with self._lock:
                self._starting.discard(name)

    def remove_detector(self, name: str) -> None:
        """Stop and forget a detector (hot-unplug); unknown names are ignored."""
        with self._lock:
            detector = self._detectors.pop(name, None)
            self._retry_at.pop(name, None)
            self._retry_delay.pop(name, None)
        if detector is not None:
            detector.stop()

    def detect(self, tensor: np.ndarray, timeout: float | None = None) -> np.ndarray:
        """Run one inference (see DetectorProcess.detect) on the least busy live detector.

        Raises DetectorError when no detector runs, or when the chosen one fails and no other
        detector is there to retry on (or the retry fails too); ValueError for a malformed tensor.
        """
        tried: set[str] = set()
        error: DetectorError | None = None
        for _attempt in range(2):
            detector = self._pick(tried)
            if detector is None:
                break
            try:
                return detector.detect(tensor, timeout)
            except DetectorError as exc:
                error = exc
                tried.add(detector.name)
                self._wake.set()
        if error is not None:
            raise error
        raise DetectorError("no detector is running: " + self._failures_text())

    def _pick(self, exclude: set[str]) -> DetectorProcess | None:
        with self._lock:
            live = [d for d in self._detectors.values() if d.name not in exclude and d.alive]
        if not live:
            return None
        # Idle first, then the fastest: a Coral beats a CPU detector when both are free.
        return min(live, key=lambda d: (d.load, d.inference_speed))

    def _failures_text(self) -> str:
        with self._lock:
            detectors = list(self._detectors.values())
        reasons = [f"{d.name}: {d.failure or 'not started'}" for d in detectors]
        return "; ".join(reasons) or "none configured"

    def model_info(self) -> dict[str, str | None]:
        """What events record about the model: model_hash (md5 of the model file of the first
        running detector, else the first configured), model_type and detector_type."""
        with self._lock:
            detectors = list(self._detectors.values())
        running = [d for d in detectors if d.alive]
        chosen = (running or detectors or [None])[0]
        if chosen is None:
            return {"model_hash": None, "model_type": None, "detector_type": None}
        path = model_file(chosen.settings)
        if path not in self._hashes:
            try:
                self._hashes[path] = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
            except OSError:
                return {"model_hash": None, "model_type": "ssd", "detector_type": chosen.settings.type}
        return {"model_hash": self._hashes[path], "model_type": "ssd", "detector_type": chosen.settings.type}

    def stats(self) -> dict[str, dict[str, float | int]]:
        """Frigate's /api/stats `detectors` block: {name: {inference_speed, detection_start, pid}}."""
        with self._lock:
            detectors = list(self._detectors.values())
        return {
            d.name: {"inference_speed": d.inference_speed, "detection_start": d.detection_start, "pid": d.pid}
            for d in detectors
        }

    def _schedule_restart(self, name: str, after_failed_start: bool = False) -> None:
        """Set when a dead restartable detector is next tried: 1 s, doubling up to 60 s; a detector
        that had run for 60 s before dying starts over at 1 s."""
        with self._lock:
            detector = self._detectors.get(name)
            if detector is None or detector.settings.type not in RESTARTED_TYPES:
                return
            lived = time.monotonic() - detector.started_at if detector.started_at else 0.0
            previous = self._retry_delay.get(name, 0.0)
            if not previous or (not after_failed_start and lived >= MAX_RESTART_DELAY):
                delay = FIRST_RESTART_DELAY
            else:
                delay = min(previous * 2, MAX_RESTART_DELAY)
            self._retry_delay[name] = delay
            self._retry_at[name] = time.monotonic() + delay
        log.warning("detector %s is down; restarting it in %.0f s", name, delay)

    def _supervise(self) -> None:
        """Background loop: notice dead detectors and restart the restartable ones when due."""
        while not self._stopping.is_set():
            self._wake.wait(_SUPERVISOR_TICK)
            self._wake.clear()
            if self._stopping.is_set():
                return
            with self._lock:
                detectors = list(self._detectors.values())
            for detector in detectors:
                if self._stopping.is_set():
                    return
                try:
                    self._revive(detector)
                except Exception:  # the supervisor must outlive any one detector's trouble
                    log.exception("supervising detector %s failed", detector.name)

    def _revive(self, detector: DetectorProcess) -> None:
        """Restart a dead restartable detector once its backoff has passed."""
        if detector.alive or detector.settings.type not in RESTARTED_TYPES:
            return
        with self._lock:
            if detector.name in self._starting:
                return
        due = self._retry_at.get(detector.name, 0.0)
        if due == 0.0:
            self._schedule_restart(detector.name)
            return
        if time.monotonic() < due:
            return
        try:
            detector.stop(timeout=1.0)
            self._start_one(detector)
        except DetectorError as exc:
            log.error("restart of detector %s failed: %s", detector.name, exc)
            self._schedule_restart(detector.name, after_failed_start=True)
            return
        with self._lock:
            removed = self._detectors.get(detector.name) is not detector
            if not removed:
                self._retry_at[detector.name] = 0.0
        if removed:  # remove_detector ran while this one was starting
            detector.stop()

    def stop(self) -> None:
        """Stop the supervisor and every detector process."""
        self._stopping.set()
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=DEFAULT_STARTUP_TIMEOUT)
            self._supervisor = None
        with self._lock:
            detectors = list(self._detectors.values())
        for detector in detectors:
            detector.stop()

    def __enter__(self) -> DetectorPool:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
