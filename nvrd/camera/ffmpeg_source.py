"""ffmpeg as a child process decoding a camera into raw I420 frames on its stdout.

Frames are read straight from the pipe into the caller's buffer (the kernel's copy is the only one).
ffmpeg's stderr is drained on a thread into the log, rate-limited, and its last lines explain a failure.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import io
import logging
import os
import select
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from nvrd.camera.ffmpeg_args import Args, InputKind, detect_command, input_kind, mask_credentials
from nvrd.camera.source import CaptureError, FrameSource, StreamEnded, StreamStalled
from nvrd.frame import i420_size

log = logging.getLogger(__name__)

STDERR_LINES_PER_WINDOW = 10  # ffmpeg lines logged per window; the rest are counted
STDERR_WINDOW_S = 60.0
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_PIPE_MAX = 1 << 20  # the unprivileged default of /proc/sys/fs/pipe-max-size


class StderrDrain:
    """Reads a child's stderr until EOF: logs lines (rate-limited) and keeps the last few."""

    def __init__(self, stream, label: str) -> None:
        self._stream = stream
        self._label = label
        self.last_lines: collections.deque[str] = collections.deque(maxlen=5)
        self._window_start = 0.0
        self._logged = 0
        self._suppressed = 0
        self._thread = threading.Thread(target=self._run, name=f"ffmpeg-stderr:{label}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for raw in self._stream:
                line = raw.rstrip()
                if line:
                    self.last_lines.append(line)
                    self._log(line)
        except (OSError, ValueError):
            pass  # the pipe was closed under us: the child is gone
        finally:
            with contextlib.suppress(OSError):
                self._stream.close()
            if self._suppressed:
                log.warning("%s: %d more ffmpeg lines not logged", self._label, self._suppressed)

    def _log(self, line: str) -> None:
        now = time.monotonic()
        if now - self._window_start >= STDERR_WINDOW_S:
            if self._suppressed:
                log.warning("%s: %d more ffmpeg lines not logged", self._label, self._suppressed)
            self._window_start, self._logged, self._suppressed = now, 0, 0
        if self._logged < STDERR_LINES_PER_WINDOW:
            self._logged += 1
            log.warning("%s: ffmpeg: %s", self._label, mask_credentials(line))
        else:
            self._suppressed += 1

    def join(self, timeout: float) -> None:
        """Wait for EOF (the child has exited)."""
        self._thread.join(timeout)

    def last_line(self) -> str:
        """The last thing ffmpeg said, credentials masked ("" if nothing)."""
        return mask_credentials(self.last_lines[-1]) if self.last_lines else ""


class FfmpegSource(FrameSource):
    """One camera input decoded by an ffmpeg child process (see nvrd.camera.ffmpeg_args)."""

    def __init__(
        self,
        path: str,
        width: int,
        height: int,
        fps: float,
        *,
        global_args: Args = None,
        hwaccel_args: Args = None,
        input_args: Args = "preset-rtsp-generic",
        output_args: Args = None,
        label: str = "camera",
    ) -> None:
        super().__init__(width, height, fps)
        self.path = path
        self.label = label
        self._command = detect_command(
            path, width, height, fps, global_args=global_args, hwaccel_args=hwaccel_args,
            input_args=input_args, output_args=output_args,
        )  # fmt: skip
        self._frame_size = i420_size(width, height)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: StderrDrain | None = None
        self._poll = select.poll()
        self._lock = threading.Lock()
        self._readers = 0
        self._stopped = False

    @property
    def command(self) -> list[str]:
        """The exact ffmpeg command line (with credentials: mask before showing it)."""
        return list(self._command)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def start(self) -> None:
        """Start ffmpeg; raises CaptureError when it cannot run or the local file is missing."""
        if input_kind(self.path) is InputKind.FILE and not Path(self.path).is_file():
            raise CaptureError(f"no such file: {self.path}")
        with self._lock:
            if self._process is not None or self._stopped:
                raise CaptureError("an ffmpeg source is started once; make a new one")
            try:
                self._process = subprocess.Popen(
                    self._command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    bufsize=0, close_fds=True,
                )  # fmt: skip
            except OSError as exc:
                raise CaptureError(f"cannot run ffmpeg: {exc}") from exc
            stdout = self._process.stdout
            assert stdout is not None and self._process.stderr is not None
            fd = stdout.fileno()
            os.set_blocking(fd, False)
            with contextlib.suppress(OSError):
                # Fewer, larger reads per frame; the kernel may refuse, which only costs syscalls.
                fcntl.fcntl(fd, _F_SETPIPE_SZ, min(self._frame_size, _PIPE_MAX))
            self._poll.register(fd, select.POLLIN)
            # The drain owns stderr and closes it at EOF.
            stderr = io.TextIOWrapper(self._process.stderr, encoding="utf-8", errors="replace")
            self._stderr = StderrDrain(stderr, self.label)
        log.info("%s: started ffmpeg (pid %d): %s", self.label, self._process.pid,
                 mask_credentials(" ".join(self._command)))  # fmt: skip

    def read_into(self, out: np.ndarray, timeout: float) -> None:
        """Fill `out` with the next frame straight from the pipe (no intermediate buffer)."""
        if out.nbytes != self._frame_size or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError(f"need a contiguous uint8 buffer of {self._frame_size} bytes")
        with self._lock:
            process = self._process
            if process is None or self._stopped:
                raise StreamEnded("the ffmpeg source is not running")
            self._readers += 1
        try:
            self._read_frame(process, memoryview(out).cast("B"), timeout)
        finally:
            with self._lock:
                self._readers -= 1
                if self._stopped and self._readers == 0:
                    self._close_pipes()

    def _read_frame(self, process: subprocess.Popen[bytes], view: memoryview, timeout: float) -> None:
        pipe = process.stdout
        assert pipe is not None
        got = 0
        deadline = time.monotonic() + timeout
        while got < self._frame_size:
            try:
                count = pipe.readinto(view[got:])
            except (OSError, ValueError) as exc:  # closed by stop()
                raise StreamEnded(self._exit_reason(process)) from exc
            if count is None:  # nothing buffered yet
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._poll.poll(remaining * 1000):
                    raise StreamStalled(f"no frame from ffmpeg for {timeout:g} s")
            elif count == 0:
                raise StreamEnded(self._exit_reason(process))
            else:
                got += count

    def _exit_reason(self, process: subprocess.Popen[bytes]) -> str:
        """Why ffmpeg stopped: its exit status and last words."""
        try:
            status = process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            status = None
        if self._stderr is not None:
            self._stderr.join(timeout=1)
        said = self._stderr.last_line() if self._stderr is not None else ""
        if self._stopped:
            return "ffmpeg was stopped"
        head = "ffmpeg closed its output" if status is None else f"ffmpeg exited with status {status}"
        return f"{head}: {said}" if said else head

    def stop(self) -> None:
        """Kill ffmpeg and reap it; pipes close once no read is in progress."""
        with self._lock:
            self._stopped = True
            process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=5)
        if self._stderr is not None:
            self._stderr.join(timeout=1)
        with self._lock:
            if self._readers == 0:
                self._close_pipes()

    def _close_pipes(self) -> None:
        """Close stdout (lock held; no reader active, so its fd cannot be reused under a read)."""
        process = self._process
        if process is None or process.stdout is None or process.stdout.closed:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._poll.unregister(process.stdout.fileno())
        with contextlib.suppress(OSError):
            process.stdout.close()
