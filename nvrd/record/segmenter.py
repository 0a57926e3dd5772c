"""One camera's recording ffmpeg: started, watched, restarted with back-off, paused on request.

Each start is a new *run* with its own file names in the cache (see nvrd.record.command), so the
files of a run that died are never overwritten and are told apart from the run being written.
A run that writes nothing for `stall_s` seconds is killed and started again. Nothing raises out of
the thread; the reason of the last failure is kept for the status.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from nvrd.camera.ffmpeg_args import mask_credentials
from nvrd.camera.ffmpeg_source import StderrDrain
from nvrd.camera.source import CaptureError
from nvrd.record.children import child_setup

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
GOOD_RUN_S = 30.0  # recording this long resets the back-off
STOP_GRACE_S = 5.0  # ffmpeg finishes the segment it writes when asked to quit; this long at most

State = Literal["stopped", "starting", "recording", "paused", "backoff"]
CommandFactory = Callable[[int], list[str]]  # run number -> ffmpeg command


class Segmenter:
    """Runs the recording ffmpeg of one camera; start() once, pause()/resume() any time, stop() once."""

    def __init__(
        self,
        camera: str,
        command_for_run: CommandFactory,
        cache_dir: Path,
        *,
        segment_time: float,
        stall_s: float | None = None,
    ) -> None:
        self.camera = camera
        self._command_for_run = command_for_run
        self._cache_dir = Path(cache_dir)
        self._stall_s = stall_s if stall_s is not None else max(30.0, 3.0 * segment_time)
        self.state: State = "stopped"
        self.last_error: str | None = None
        self.paused_reason: str | None = None
        self.command: list[str] = []
        self._run: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._paused = False
        self._thread: threading.Thread | None = None

    # --- control ---------------------------------------------------------------------------------

    def start(self, *, paused: str | None = None) -> None:
        """Start the thread; with `paused` (a reason) it waits for resume() before recording."""
        if self._thread is not None:
            raise RuntimeError(f"recorder of {self.camera} was already started")
        if paused:
            self._paused, self.paused_reason, self.state = True, paused, "paused"
        self._thread = threading.Thread(target=self._loop, name=f"record:{self.camera}", daemon=True)
        self._thread.start()

    def pause(self, reason: str) -> None:
        """Stop ffmpeg (the segment in progress is closed properly) until resume(); returns at once."""
        with self._lock:
            self._paused, self.paused_reason = True, reason
        self._wake.set()

    def resume(self) -> None:
        """Record again after pause()."""
        with self._lock:
            self._paused, self.paused_reason = False, None
        self._wake.set()

    def request_stop(self) -> None:
        """Start stopping without waiting (to stop several cameras at once); stop() waits."""
        with self._lock:
            self._stopping = True
        self._wake.set()

    def stop(self, timeout: float = STOP_GRACE_S + 2) -> None:
        """Stop ffmpeg (letting it close its segment) and the thread; safe twice."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self._end_process(grace=0)  # only if the thread could not (a second signal cuts ffmpeg short)
        self.state = "stopped"

    # --- status ----------------------------------------------------------------------------------

    @property
    def active_run(self) -> int | None:
        """The run whose ffmpeg is alive now (its newest file is being written), else None."""
        with self._lock:
            process = self._process
            run = self._run
        if process is None or process.poll() is not None:
            return None
        return run

    @property
    def pid(self) -> int | None:
        """The ffmpeg process id while it runs."""
        with self._lock:
            process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def paused(self) -> bool:
        """True between pause() and resume()."""
        return self._paused

    # --- the thread ------------------------------------------------------------------------------

    def _loop(self) -> None:
        delay = BACKOFF_MIN_S
        while not self._stopping:
            if self._paused:
                self.state = "paused"
                self._wake.wait()
                self._wake.clear()
                continue
            self.state = "starting"
            recorded = 0.0
            try:
                recorded = self._run_once()
            except Exception as exc:  # the thread must survive anything: the camera just backs off
                if not isinstance(exc, CaptureError | OSError):
                    log.exception("%s: recording failed unexpectedly", self.camera)
                self.last_error = str(exc) or type(exc).__name__
            if self._stopping:
                break
            if self._paused:
                continue
            log.warning("%s: recording stopped (%s); retrying in %.0f s", self.camera, self.last_error, delay)
            if recorded >= GOOD_RUN_S:
                delay = BACKOFF_MIN_S
            self.state = "backoff"
            self._wake.wait(delay)
            self._wake.clear()
            delay = min(delay * 2, BACKOFF_MAX_S)
        self.state = "stopped"

    def _run_once(self) -> float:
        """One ffmpeg run until it exits, stalls, or is ended; returns how long it recorded (s)."""
        run = int(time.time() * 1000)
        command = self._command_for_run(run)
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._stopping or self._paused:
                return 0.0
            self.command = command
            # TZ=UTC: nothing ffmpeg prints or names then depends on the box's zone.
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                close_fds=True,
                env={**os.environ, "TZ": "UTC"},
                preexec_fn=child_setup(),  # ffmpeg must die with nvrd
            )
            self._process, self._run = process, run
        assert process.stderr is not None
        stderr = io.TextIOWrapper(process.stderr, encoding="utf-8", errors="replace")
        drain = StderrDrain(stderr, f"{self.camera} (record)")
        log.info(
            "%s: recording started (pid %d): %s",
            self.camera,
            process.pid,
            mask_credentials(" ".join(command)),
        )
        started = time.monotonic()
        last_growth, last_size = started, -1
        stalled = False
        try:
            while process.poll() is None:
                if self._wake.wait(1.0):
                    self._wake.clear()
                if self._stopping or self._paused:
                    break
                size = self._bytes_written(run)
                now = time.monotonic()
                if size > 0 and self.state != "recording":
                    self.state = "recording"
                if size != last_size:
                    last_growth, last_size = now, size
                elif now - last_growth > self._stall_s:
                    stalled = True
                    break
        finally:
            self._end_process()
            drain.join(timeout=2)
        if not (self._stopping or self._paused):
            said = drain.last_line()
            if stalled:
                self.last_error = f"no data written for {self._stall_s:.0f} s"
            else:
                self.last_error = f"ffmpeg exited with status {process.returncode}" + (
                    f": {said}" if said else ""
                )
        return time.monotonic() - started

    def _bytes_written(self, run: int) -> int:
        """Bytes in the cache files of this run (how a stall is noticed)."""
        prefix = f"{self.camera}@{run}-"
        total = 0
        with contextlib.suppress(OSError):
            for entry in os.scandir(self._cache_dir):
                if entry.name.startswith(prefix):
                    with contextlib.suppress(OSError):
                        total += entry.stat().st_size
        return total

    def _end_process(self, grace: float = STOP_GRACE_S) -> None:
        """Ask ffmpeg once to finish (it closes the segment and lists it); kill it after `grace` s.

        Called by the segmenter's own thread: one signal only, as a second makes ffmpeg quit at once.
        """
        with self._lock:
            process = self._process
        if process is None or process.poll() is not None:
            return
        if grace <= 0:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(5)
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(5)
