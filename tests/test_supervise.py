"""systemd supervision in-process: sd_notify to a real NOTIFY_SOCKET the test listens on, and the
health checks that gate WATCHDOG=1 against a real daemon core (lavfi camera through ffmpeg, the
CPU detector in its own process, SQLite) with a real asyncio loop.

Wedges are made for real: the event loop is blocked by a callback that sleeps, a camera thread by a
bus subscriber that never returns (the bus calls subscribers on the camera's thread), a detector by
SIGSTOP while it is inside an inference, a camera stream by SIGSTOP of its ffmpeg.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from nvrd.app import Daemon
from nvrd.bus import MotionChanged
from nvrd.config import config_from_text
from nvrd.detect import DetectorPool
from nvrd.supervise import HealthCheck, HealthLimits, Supervisor, SystemdNotifier, watchdog_timeout
from nvrd.supervise.notify import MAX_STATUS_CHARS, _datagram_sender
from tests.support.configs import supervised_config


class NotifySocket:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET; collects what arrives."""

    def __init__(self, address: str | None = None) -> None:
        self.folder = tempfile.mkdtemp(prefix="nvrd-notify-")  # socket paths must stay short
        self.path = address or os.path.join(self.folder, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.path[1:] if self.path.startswith("@") else self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, OSError):
                continue
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def values(self, key: str, since: float = 0.0) -> list[tuple[float, str]]:
        """(arrival, value) of every message carrying `key` that arrived after `since`."""
        with self._lock:
            return [(t, m[key]) for t, m in self.messages if key in m and t >= since]

    def wait(self, key: str, match: Callable[[str], bool] = lambda v: True, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, value in self.values(key):
                if match(value):
                    return value
            time.sleep(0.05)
        raise AssertionError(f"no {key}= matching within {timeout} s; got {self.messages[-10:]}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        if not self.path.startswith("@"):
            with_suppressed_unlink(self.path)
        os.rmdir(self.folder)


def with_suppressed_unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@pytest.fixture()
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    listener = NotifySocket()
    monkeypatch.setenv("NOTIFY_SOCKET", listener.path)
    yield listener
    listener.close()


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def largest_gap(times: list[float], start: float, end: float) -> float:
    """The longest stretch in [start, end] without an event at `times`."""
    points = [start, *sorted(t for t in times if start <= t <= end), end]
    return max(b - a for a, b in itertools.pairwise(points))


# --- sd_notify -----------------------------------------------------------------------------------


def test_notifier_speaks_to_the_notify_socket(notify_socket: NotifySocket) -> None:
    notifier = SystemdNotifier()
    assert notifier.enabled
    assert notifier.ready("cameras 1/1 streaming")
    assert notifier.status("line one\nline two")
    assert notifier.watchdog()
    assert notifier.status("x" * 1000)
    assert notifier.stopping()
    notify_socket.wait("STOPPING")
    fields = [m for _, m in notify_socket.messages]
    assert fields[0] == {"READY": "1", "STATUS": "cameras 1/1 streaming"}
    assert fields[1] == {"STATUS": "line one line two"}
    assert fields[2] == {"WATCHDOG": "1"}
    assert len(fields[3]["STATUS"]) == MAX_STATUS_CHARS and fields[3]["STATUS"].endswith("...")
    assert fields[4]["STOPPING"] == "1" and fields[4]["STATUS"].startswith("stopping")


def test_without_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    listener = NotifySocket()
    try:
        monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
        notifier = SystemdNotifier()
        assert not notifier.enabled
        assert not notifier.ready("up") and not notifier.watchdog() and not notifier.stopping()
        time.sleep(0.3)
        assert listener.messages == []
    finally:
        listener.close()


def test_the_socket_fallback_speaks_the_same_datagrams(monkeypatch: pytest.MonkeyPatch) -> None:
    for address in (None, f"@nvrd-test-{os.getpid()}"):
        listener = NotifySocket(address)
        try:
            monkeypatch.setenv("NOTIFY_SOCKET", listener.path)
            assert _datagram_sender("READY=1\nSTATUS=up")
            listener.wait("READY")
            assert listener.messages[0][1] == {"READY": "1", "STATUS": "up"}
        finally:
            listener.close()
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock")
    assert not _datagram_sender("WATCHDOG=1")


def test_watchdog_timeout_comes_from_systemds_variables() -> None:
    assert watchdog_timeout({}) is None
    assert watchdog_timeout({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_timeout({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_timeout({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None  # not us
    assert watchdog_timeout({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_timeout({"WATCHDOG_USEC": "soon"}) is None


# --- the health checks against a real daemon core ------------------------------------------------


class RunningDaemon:
    """A Daemon's core (cameras, detectors, DB) plus an asyncio loop on its own thread."""

    def __init__(self, folder: Path, model: Path, labels: Path) -> None:
        config = config_from_text(supervised_config(folder, model, labels, retry_interval=2))
        self.daemon = Daemon(config)
        self.daemon.start_core()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def supervisor(self, limits: HealthLimits) -> Supervisor:
        return Supervisor.for_daemon(self.daemon, self.loop, limits=limits)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.daemon.stop_core()


@pytest.fixture()
def running(tmp_path: Path, model_path: Path, labels_path: Path, monkeypatch) -> Iterator[RunningDaemon]:
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # ping every 0.5 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    core = RunningDaemon(tmp_path, model_path, labels_path)
    try:
        yield core
    finally:
        core.stop()


FAST = HealthLimits(loop_answer=0.5, capture_slack=2.0, processing_stall=2.0, detector_stuck=2.0)


def test_healthy_daemon_pings_and_a_frozen_event_loop_stops_the_pings(
    running: RunningDaemon, notify_socket: NotifySocket
) -> None:
    supervisor = running.supervisor(FAST)
    supervisor.ready()
    try:
        notify_socket.wait("READY")
        notify_socket.wait("STATUS", lambda s: s.startswith("cameras 1/1 streaming; detectors cpu (CPU)"))
        start = time.monotonic()
        time.sleep(2.5)
        assert len(notify_socket.values("WATCHDOG", start)) >= 4

        running.loop.call_soon_threadsafe(time.sleep, 4.0)  # the HTTP API's loop is wedged
        frozen = time.monotonic()
        notify_socket.wait("STATUS", lambda s: "UNHEALTHY: the event loop did not answer" in s)
        time.sleep(4.0 - (time.monotonic() - frozen) - 0.5)
        pings = [t for t, _ in notify_socket.values("WATCHDOG", frozen + 0.6)]
        assert pings == [] or min(pings) > frozen + 3.5, "pinged while the loop was frozen"

        notify_socket.wait("STATUS", lambda s: s.startswith("cameras 1/1 streaming"), timeout=5)
        after = time.monotonic()
        time.sleep(1.5)
        assert len(notify_socket.values("WATCHDOG", after)) >= 2
    finally:
        supervisor.stopping()
    notify_socket.wait("STOPPING")


def test_a_wedged_camera_thread_stops_the_pings_until_it_moves_again(
    running: RunningDaemon, notify_socket: NotifySocket
) -> None:
    release = threading.Event()

    def stuck_subscriber(message: object) -> None:
        if isinstance(message, MotionChanged):
            release.wait(30)  # blocks the camera thread that published it

    running.daemon.bus.subscribe(stuck_subscriber)
    supervisor = running.supervisor(FAST)
    supervisor.ready()
    try:
        status = notify_socket.wait(
            "STATUS", lambda s: "camera cam: frames arrive but none was processed" in s, timeout=15
        )
        assert status.startswith("UNHEALTHY:")
        wedged = time.monotonic()
        time.sleep(1.5)
        assert notify_socket.values("WATCHDOG", wedged + 0.1) == []
        assert running.daemon.cameras["cam"].capture.camera_fps() > 0  # frames still arrive
        release.set()
        notify_socket.wait("STATUS", lambda s: s.startswith("cameras 1/1 streaming"), timeout=5)
        moved = time.monotonic()
        time.sleep(1.5)
        assert len(notify_socket.values("WATCHDOG", moved)) >= 2
    finally:
        release.set()
        supervisor.stopping()


def test_a_stalled_stream_is_a_reconnect_and_keeps_the_pings(
    running: RunningDaemon, notify_socket: NotifySocket
) -> None:
    capture = running.daemon.cameras["cam"].capture
    wait_for(lambda: capture.state == "streaming", 15, "the camera to stream")
    supervisor = running.supervisor(FAST)
    supervisor.ready()
    try:
        ffmpeg = capture.capture_pid
        os.kill(ffmpeg, signal.SIGSTOP)  # the stream stops delivering; ffmpeg is not dead
        stalled = time.monotonic()
        wait_for(lambda: capture.state == "backoff" or capture.capture_pid != ffmpeg, 10, "the reconnect")
        wait_for(
            lambda: capture.state == "streaming" and capture.capture_pid != ffmpeg, 15, "streaming again"
        )
        pings = [t for t, _ in notify_socket.values("WATCHDOG")]
        assert largest_gap(pings, stalled, time.monotonic()) < 1.5
        assert not any("UNHEALTHY" in s for _, s in notify_socket.values("STATUS"))
    finally:
        supervisor.stopping()


@pytest.fixture()
def slow_pool(model_path: Path) -> Iterator[DetectorPool]:
    """A CPU detector whose request timeout is far off, so only the health check can notice."""
    pool = DetectorPool(
        {"cpu": {"type": "cpu", "num_threads": 1}}, {"path": str(model_path)}, request_timeout=60
    )
    pool.start()
    try:
        yield pool
    finally:
        for pid in (pool.detector("cpu").pid,):
            if pid:
                os.kill(pid, signal.SIGCONT)
        pool.stop()


def test_a_detector_stopped_inside_an_inference_is_reported_past_the_limit(slow_pool: DetectorPool) -> None:
    health = HealthCheck(cameras=dict, detectors=slow_pool.stats, limits=FAST)
    detector = slow_pool.detector("cpu")
    tensor = np.zeros((300, 300, 3), np.uint8)
    for _attempt in range(50):  # catch the child between "inference started" and "done"
        caller = threading.Thread(target=slow_pool.detect, args=(tensor,))
        caller.start()
        while caller.is_alive() and detector.detection_start == 0.0:
            pass
        os.kill(detector.pid, signal.SIGSTOP)
        if detector.detection_start > 0.0:
            break
        os.kill(detector.pid, signal.SIGCONT)
        caller.join(10)
    else:
        pytest.fail("never caught the detector inside an inference")
    try:
        assert health.problems() == []  # just started: within the limit
        time.sleep(FAST.detector_stuck + 0.5)
        problems = health.problems()
        assert len(problems) == 1 and problems[0].startswith("detector cpu: one inference has run for")
    finally:
        os.kill(detector.pid, signal.SIGCONT)
        caller.join(10)
    assert health.problems() == []
