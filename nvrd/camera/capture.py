"""One camera's capture thread: keeps a frame source running and hands the newest frame to a consumer.

The thread reads each frame into a free buffer of the camera's FramePool while the consumer still
works on the previous one. The consumer always gets the newest frame; frames it had no time for are
dropped and counted as skipped. On end of stream, an error, or a stall (no frame for
`ffmpeg.retry_interval` seconds; 10 s more for the first one) the source is stopped and started
again after a back-off of 1 s doubling up to 30 s (back to 1 s after a good stretch of streaming).
Nothing raises out of the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from nvrd.camera.factory import detect_size, source_for_camera
from nvrd.camera.ffmpeg_args import masked_command_line
from nvrd.camera.pool import FramePool
from nvrd.camera.source import CaptureError, FrameSource
from nvrd.frame import Frame, i420_size
from nvrd.stats import EventRate

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
GOOD_STRETCH_S = 30.0  # streaming this long resets the back-off to its minimum
# Extra wait for the first frame: ffmpeg probes a network stream for a few seconds before decoding.
STARTUP_GRACE_S = 10.0
POOL_SIZE = 6  # writing + ready + processing + pinned view (+ the pipeline's hand-over) + slack

State = Literal["starting", "streaming", "backoff", "stopped"]


class Capture:
    """Capture for one camera; start() once, then next_frame()/release() from one consumer thread.

    Public state for status views: `state`, `backoff_until` (epoch s or None), `last_frame_time`
    (epoch s or None), `capture_pid`, `last_error` (the most recent failure, kept after recovery),
    `command` (the decoder command line), camera_fps() and skipped_fps().
    """

    def __init__(
        self,
        name: str,
        config: Any,
        *,
        source_factory: Callable[[], FrameSource] | None = None,
        pool_size: int = POOL_SIZE,
    ) -> None:
        self.name = name
        self.width, self.height = detect_size(config)
        self.fps = config.detect.fps
        self.retry_interval = float(config.ffmpeg.retry_interval)
        self._make_source = source_factory or (lambda: source_for_camera(name, config))
        self.pool = FramePool(self.width, self.height, pool_size)
        # Where a frame goes when every pool buffer is held: read (to keep the pipe moving) and dropped.
        self._scratch = np.empty(i420_size(self.width, self.height), dtype=np.uint8)

        self.state: State = "stopped"
        self.backoff_until: float | None = None
        self.last_frame_time: float | None = None
        self.last_error: str | None = None
        self.command: list[str] = []
        try:
            self.command = self._make_source().command
        except (CaptureError, ValueError) as exc:
            self.last_error = str(exc)  # the thread reports it again on every attempt

        self._camera_rate = EventRate()
        self._skipped_rate = EventRate()
        self._frames_read = 0
        self._ready: tuple[np.ndarray, int, float] | None = None
        self._handed_out = threading.Condition()
        self._stopping = threading.Event()
        self._source: FrameSource | None = None
        self._source_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the capture thread."""
        if self._thread is not None:
            raise RuntimeError(f"capture of {self.name} was already started")
        self.state = "starting"
        self._thread = threading.Thread(target=self._run, name=f"capture:{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the source (kills ffmpeg) and the thread; wakes a waiting next_frame(). Safe twice."""
        self._stopping.set()
        with self._source_lock:
            source = self._source
        if source is not None:
            source.stop()
        with self._handed_out:
            self._handed_out.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s: capture thread did not stop within %.1f s", self.name, timeout)
        with self._handed_out:  # a frame nobody took goes back to the pool
            if self._ready is not None:
                self.pool.drop(self._ready[0])
                self._ready = None
        self.state = "stopped"
        self.backoff_until = None

    # --- consumer side ---------------------------------------------------------------------------

    def next_frame(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet handed out, waiting up to `timeout` s; None if none came or stopped.

        The frame's buffer is the consumer's until release(frame).
        """
        with self._handed_out:
            self._handed_out.wait_for(lambda: self._ready is not None or self._stopping.is_set(), timeout)
            if self._ready is None or self._stopping.is_set():
                return None
            buffer, index, read_at = self._ready
            self._ready = None
        return Frame(self.name, index, read_at, self.width, self.height, buffer)

    def release(self, frame: Frame) -> None:
        """The consumer is done with a frame from next_frame(); its buffer is reused once unpinned."""
        self.pool.drop(frame.data)

    def pin(self, frame: Frame) -> None:
        """Keep a frame's buffer from reuse (e.g. the latest processed frame the API shows)."""
        self.pool.hold(frame.data)

    def unpin(self, frame: Frame) -> None:
        """Undo one pin()."""
        self.pool.drop(frame.data)

    # --- status ----------------------------------------------------------------------------------

    @property
    def capture_pid(self) -> int | None:
        """The decoder process id (ffmpeg) while it runs, else None."""
        with self._source_lock:
            source = self._source
        return source.pid if source is not None else None

    @property
    def frames_read(self) -> int:
        """Frames read from the source since start (handed out or skipped)."""
        return self._frames_read

    def camera_fps(self) -> float:
        """Frames read from the source per second (sliding window, 2 decimals)."""
        return self._camera_rate.rate()

    def skipped_fps(self) -> float:
        """Frames dropped per second because the consumer was busy (sliding window, 2 decimals)."""
        return self._skipped_rate.rate()

    def masked_command(self) -> str:
        """The decoder command line with credentials replaced by `*:*`, for the API."""
        return masked_command_line(self.command)

    # --- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = BACKOFF_MIN_S
        while not self._stopping.is_set():
            self.state, self.backoff_until = "starting", None
            streamed = 0.0
            try:
                streamed = self._run_source()
            except Exception as exc:  # never let the thread die: the camera just backs off
                if not isinstance(exc, CaptureError):
                    log.exception("%s: capture failed unexpectedly", self.name)
                if not self._stopping.is_set():
                    self.last_error = str(exc) or type(exc).__name__
                    log.warning("%s: capture: %s", self.name, self.last_error)
            if self._stopping.is_set():
                break
            if streamed >= GOOD_STRETCH_S:
                delay = BACKOFF_MIN_S
            self.state, self.backoff_until = "backoff", time.time() + delay
            log.info("%s: retrying capture in %.0f s", self.name, delay)
            self._stopping.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
        self.state, self.backoff_until = "stopped", None

    def _run_source(self) -> float:
        """Run one source until it fails or we stop; returns how long it streamed (s)."""
        source = self._make_source()
        with self._source_lock:
            if self._stopping.is_set():
                return 0.0
            self._source = source
        first_frame: float | None = None
        try:
            self.command = source.command
            source.start()
            timeout = self.retry_interval + STARTUP_GRACE_S
            while not self._stopping.is_set():
                self._read_one(source, timeout)
                timeout = self.retry_interval
                if first_frame is None:
                    first_frame = time.monotonic()
                    self.state = "streaming"
        finally:
            with self._source_lock:
                self._source = None
            source.stop()
        return 0.0 if first_frame is None else time.monotonic() - first_frame

    def _read_one(self, source: FrameSource, timeout: float) -> None:
        """Read the next frame into a free buffer and make it the one next_frame() hands out."""
        buffer = self.pool.acquire()
        if buffer is None:
            # Everything is held: reclaim the frame nobody took yet, else read into scratch and drop.
            with self._handed_out:
                if self._ready is not None:
                    buffer, self._ready = self._ready[0], None
                    self._skipped_rate.add()
        if buffer is None:
            source.read_into(self._scratch, timeout)
            self._frames_read += 1
            self._camera_rate.add()
            self._skipped_rate.add()
            self.last_frame_time = time.time()
            return
        try:
            source.read_into(buffer, timeout)
        except BaseException:
            self.pool.drop(buffer)
            raise
        read_at = time.time()
        index = self._frames_read
        self._frames_read += 1
        self._camera_rate.add()
        self.last_frame_time = read_at
        with self._handed_out:
            if self._ready is not None:  # the consumer never took it: newest wins
                self.pool.drop(self._ready[0])
                self._skipped_rate.add()
            self._ready = (buffer, index, read_at)
            self._handed_out.notify_all()
