"""One detector in its own process, so that a crashing runtime (libedgetpu aborts its process on
a USB fault) or a stuck inference never takes the daemon with it.

The parent and the child share two shared-memory blocks, the input image (H x W x 3 uint8) and
the result rows (N x 6 float32: class, score, ymin, xmin, ymax, xmax), and talk over a pipe with
tiny tuples; no array is pickled per request. Statistics live in a shared array of doubles that
the child writes and the parent reads without asking.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import sys
import threading
import time
from multiprocessing import shared_memory
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from nvrd.detect.errors import DetectorError
from nvrd.detect.interpreter import RESULT_COLUMNS
from nvrd.detect.settings import DetectorSettings

log = logging.getLogger(__name__)

DEFAULT_REQUEST_TIMEOUT = 5.0  # seconds; a CPU inference takes tens of ms, a stuck Coral forever
DEFAULT_STARTUP_TIMEOUT = 30.0  # seconds; a cold Pi imports numpy and LiteRT in a few seconds
_SPEED_WEIGHT = 0.1  # weight of the newest sample in the moving average of inference time

# Slots of the shared statistics array.
_SPEED, _START = 0, 1


def _child_main(settings: DetectorSettings, conn: Connection, stats: Any) -> None:
    """Entry point of the detector process: load the model, then answer requests until told to stop."""
    # Ctrl-C reaches the whole process group; the parent decides when its detectors stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s detector.{settings.name} %(levelname)s %(message)s",
        force=True,
    )
    from nvrd.detect.interpreter import open_model  # the runtime is imported in the child only

    try:
        model = open_model(settings)
    except DetectorError as exc:
        conn.send(("error", str(exc)))
        sys.exit(1)
    except Exception as exc:  # any failure must reach the parent as a message, not a silent exit
        conn.send(("error", f"unexpected error loading the model: {exc!r}"))
        sys.exit(1)
    conn.send(("ready", model.input_height, model.input_width, model.max_detections))

    try:
        message = conn.recv()
    except EOFError:
        return
    if message[0] != "attach":
        return
    input_block = shared_memory.SharedMemory(name=message[1])
    result_block = shared_memory.SharedMemory(name=message[2])
    image = np.ndarray((model.input_height, model.input_width, 3), np.uint8, input_block.buf)
    rows = np.ndarray((model.max_detections, RESULT_COLUMNS), np.float32, result_block.buf)
    conn.send(("attached",))
    try:
        _serve(model, conn, stats, image, rows)
    finally:
        del image, rows
        input_block.close()
        result_block.close()


def _serve(model: Any, conn: Connection, stats: Any, image: np.ndarray, rows: np.ndarray) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent is gone
            return
        if message[0] != "detect":
            return
        stats[_START] = time.time()
        started = time.perf_counter()
        try:
            count = model.run(image, rows)
        except DetectorError as exc:
            stats[_START] = 0.0
            conn.send(("error", str(exc)))
            sys.exit(1)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        previous = stats[_SPEED]
        stats[_SPEED] = elapsed_ms if previous == 0.0 else previous + _SPEED_WEIGHT * (elapsed_ms - previous)
        stats[_START] = 0.0
        conn.send(("done", message[1], count))


class DetectorProcess:
    """A detector worker process seen from the daemon.

    `detect` is thread-safe: callers serialise on a lock, one request in flight at a time. A
    timeout, a crash or an error in the child marks the detector dead (the child is killed); the
    owner (DetectorPool) decides whether to `restart()`.
    """

    def __init__(
        self,
        settings: DetectorSettings,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        start_method: str = "spawn",
    ) -> None:
        self.settings = settings
        self.request_timeout = request_timeout
        self.startup_timeout = startup_timeout
        self._context = multiprocessing.get_context(start_method)
        self._stats = self._context.RawArray("d", 2)
        self._request_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._load = 0
        self._process: Any = None
        self._conn: Connection | None = None
        self._blocks: list[shared_memory.SharedMemory] = []
        self._input: np.ndarray | None = None
        self._result: np.ndarray | None = None
        self._running = False
        self._failure: str | None = None
        self._sequence = 0
        self.input_size: tuple[int, int] = (0, 0)  # (height, width) the model takes, known once started
        self.max_detections = 0
        self.started_at = 0.0
        self.last_exitcode: int | None = None  # of the previous child, once it has been reaped

    @property
    def name(self) -> str:
        """The detector's name in the config and in /api/stats."""
        return self.settings.name

    def _live_process(self) -> Any:
        """The child's Process while it runs, else None (safe against a concurrent release)."""
        process = self._process
        if not self._running or process is None:
            return None
        try:
            return process if process.is_alive() else None
        except ValueError:  # closed by a release on another thread
            return None

    @property
    def alive(self) -> bool:
        """True while the child runs and answers."""
        return self._live_process() is not None

    @property
    def failure(self) -> str | None:
        """Why the detector is not running (None while it runs or before the first start)."""
        process = self._process
        if self._running and process is not None and self._live_process() is None:
            with contextlib.suppress(ValueError):
                return f"detector process exited with code {process.exitcode}"
        return self._failure

    @property
    def pid(self) -> int:
        """The child's process id, 0 when it does not run."""
        process = self._live_process()
        return process.pid if process is not None else 0

    @property
    def inference_speed(self) -> float:
        """Moving average of inference time in ms, 2 decimals (Frigate's stats field)."""
        return round(self._stats[_SPEED], 2)

    @property
    def detection_start(self) -> float:
        """Epoch seconds at which the current inference began, 0.0 when idle."""
        return self._stats[_START] if self.alive else 0.0

    @property
    def load(self) -> int:
        """Callers in `detect` right now (running or waiting for the lock)."""
        return self._load

    def start(self) -> None:
        """Start the child and wait until its model is loaded.

        Raises DetectorError with the child's own message (model missing, no Coral, ...) when it
        cannot start, or when it does not report within `startup_timeout`.
        """
        with self._state_lock:
            if self._live_process() is not None:
                return
            self._release(kill=True)  # whatever is left of a previous child
            self._failure = None
            parent_conn, child_conn = self._context.Pipe(duplex=True)
            process = self._context.Process(
                target=_child_main,
                args=(self.settings, child_conn, self._stats),
                name=f"nvrd-detector-{self.name}",
                daemon=True,
            )
            process.start()
            child_conn.close()
            self._process, self._conn = process, parent_conn
            self._stats[_START] = 0.0
            try:
                self._handshake(process, parent_conn)
            except DetectorError as exc:
                self._failure = str(exc)
                self._release(kill=True)
                raise
            self._running = True
            self.started_at = time.monotonic()
        log.info("detector %s started (pid %d)", self.name, process.pid)

    def _handshake(self, process: Any, conn: Connection) -> None:
        message = self._receive(process, conn, self.startup_timeout, "start")
        if message[0] == "error":
            raise DetectorError(f"detector {self.name!r} failed to start: {message[1]}")
        _, height, width, rows = message
        self.input_size, self.max_detections = (height, width), rows
        input_block = shared_memory.SharedMemory(create=True, size=height * width * 3)
        result_block = shared_memory.SharedMemory(create=True, size=rows * RESULT_COLUMNS * 4)
        self._blocks = [input_block, result_block]
        self._input = np.ndarray((height, width, 3), np.uint8, input_block.buf)
        self._result = np.ndarray((rows, RESULT_COLUMNS), np.float32, result_block.buf)
        conn.send(("attach", input_block.name, result_block.name))
        self._receive(process, conn, self.startup_timeout, "start")

    def _receive(self, process: Any, conn: Connection, timeout: float, doing: str) -> tuple[Any, ...]:
        """The child's next message; DetectorError if it dies or stays silent for `timeout` s."""
        ready = wait([conn, process.sentinel], timeout)
        if conn in ready:
            try:
                return conn.recv()
            except (EOFError, OSError):
                pass
        elif not ready:
            raise DetectorError(f"detector {self.name!r} did not answer within {timeout:g} s ({doing})")
        code: int | None = None
        with contextlib.suppress(ValueError):  # the process object may already be released
            process.join(1.0)
            code = process.exitcode
        raise DetectorError(f"detector {self.name!r} process exited with code {code} ({doing})")

    def detect(self, tensor: np.ndarray, timeout: float | None = None) -> np.ndarray:
        """Run the model on one (height, width, 3) uint8 RGB image; rows of class, score, ymin,
        xmin, ymax, xmax (boxes normalised to [0, 1]), only the valid ones.

        Raises ValueError for a tensor of the wrong shape or type, and DetectorError when the
        detector is not running, dies, fails or does not answer within `timeout` seconds (it is
        then marked dead).
        """
        timeout = self.request_timeout if timeout is None else timeout
        with self._load_lock:
            self._load += 1
        try:
            # A caller queued behind a stuck request waits for that request's timeout, then finds
            # the detector dead.
            if not self._request_lock.acquire(timeout=2 * timeout + 1.0):
                raise DetectorError(f"detector {self.name!r} is busy")
            try:
                return self._request(tensor, timeout)
            finally:
                self._request_lock.release()
        finally:
            with self._load_lock:
                self._load -= 1

    def _request(self, tensor: np.ndarray, timeout: float) -> np.ndarray:
        process, conn, image, result = self._process, self._conn, self._input, self._result
        if self._running and not self.alive:  # died between requests
            self._fail(self.failure or "detector process exited")
        if not self.alive or conn is None or image is None or result is None:
            raise DetectorError(f"detector {self.name!r} is not running ({self.failure or 'not started'})")
        if tensor.shape != image.shape or tensor.dtype != np.uint8:
            raise ValueError(
                f"detector {self.name!r} takes a {image.shape} uint8 image, got {tensor.shape} {tensor.dtype}"
            )
        np.copyto(image, tensor)
        self._sequence += 1
        try:
            conn.send(("detect", self._sequence))
            message = self._receive(process, conn, timeout, "detect")
        except (DetectorError, OSError) as exc:
            self._fail(str(exc))
            raise DetectorError(str(exc)) from None
        if message[0] != "done" or message[1] != self._sequence:
            reason = message[1] if message[0] == "error" else f"unexpected answer {message!r}"
            self._fail(f"detector {self.name!r}: {reason}")
            raise DetectorError(f"detector {self.name!r}: {reason}")
        return result[: message[2]].copy()

    def _fail(self, reason: str) -> None:
        log.error("%s; the detector is marked dead", reason)
        with self._state_lock:
            if self._running:
                self._failure = reason
                self._release(kill=True)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the child to exit and wait for it; kill it if it does not go within `timeout` s."""
        idle = self._request_lock.acquire(timeout=timeout)
        if not idle:
            # A request is stuck in the child: killing it makes that request fail at once.
            with self._state_lock:
                if self._process is not None and self._process.is_alive():
                    self._process.kill()
            idle = self._request_lock.acquire(timeout=timeout)
        try:
            with self._state_lock:
                if self._process is None:
                    return
                if idle and self.alive and self._conn is not None:
                    with contextlib.suppress(OSError):
                        self._conn.send(("stop",))
                    self._process.join(timeout)
                if self._running:
                    self._failure = "stopped"
                self._release(kill=True)
        finally:
            if idle:
                self._request_lock.release()
        log.info("detector %s stopped", self.name)

    def restart(self) -> None:
        """Stop (or clean up after) the child and start a fresh one."""
        self.stop()
        self.start()

    def _release(self, kill: bool) -> None:
        """Free the child and the shared memory; called with the state lock held, idempotent."""
        self._running = False
        self._stats[_START] = 0.0
        process, self._process = self._process, None
        if process is not None:
            if kill and process.is_alive():
                process.kill()
            process.join(2.0)
            self.last_exitcode = process.exitcode
            with contextlib.suppress(ValueError):
                process.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._input = self._result = None
        for block in self._blocks:
            # A caller that still holds a view keeps the mapping alive; unlinking frees the name.
            with contextlib.suppress(BufferError):
                block.close()
            with contextlib.suppress(FileNotFoundError):
                block.unlink()
        self._blocks = []
