"""nvrd as a real process talking to a NOTIFY_SOCKET the test listens on, as systemd would give it:
READY once the API answers, readable STATUS lines, WATCHDOG every half WATCHDOG_USEC while healthy,
none while the process is frozen, and STOPPING plus a clean exit on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvrd.supervise import STOP_BUDGET_S
from tests.support.configs import supervised_config
from tests.support.nvrd_process import NvrdProcess
from tests.test_supervise import NotifySocket, largest_gap


def write_config(folder: Path, model: Path, labels: Path) -> Path:
    config = folder / "config.yml"
    config.write_text(supervised_config(folder, model, labels, retry_interval=3))
    return config


@pytest.fixture()
def nvrd(tmp_path: Path, model_path: Path, labels_path: Path) -> Iterator[tuple[NvrdProcess, NotifySocket]]:
    listener = NotifySocket()
    env = {"NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "2000000"}  # ping every second
    process = NvrdProcess(write_config(tmp_path, model_path, labels_path), env=env)
    try:
        yield process, listener
    finally:
        if process.proc is not None and process.proc.poll() is None:
            os.kill(process.proc.pid, signal.SIGCONT)
        process.stop()
        listener.close()


def test_ready_status_and_pings_then_stopping_on_sigterm(nvrd) -> None:
    process, notify = nvrd
    process.start()
    notify.wait("READY", timeout=5)
    assert notify.messages[0][1]["STATUS"].startswith("starting:")
    status = notify.wait("STATUS", lambda s: s.startswith("cameras 1/1 streaming"), timeout=20)
    assert "detectors cpu (CPU)" in status and f"storage {process.config.parent}/media" in status
    start = time.monotonic()
    time.sleep(4.2)
    pings = [t for t, _ in notify.values("WATCHDOG", start)]
    assert 3 <= len(pings) <= 6, pings  # every WATCHDOG_USEC / 2
    assert largest_gap(pings, start, time.monotonic()) < 1.8

    stopping = time.monotonic()
    assert process.stop(timeout=STOP_BUDGET_S + 5) == 0
    assert time.monotonic() - stopping < STOP_BUDGET_S
    notify.wait("STOPPING", timeout=1)
    assert not notify.values("WATCHDOG", notify.values("STOPPING")[0][0] + 0.01)


def test_a_frozen_nvrd_stops_pinging_and_a_frozen_detector_heals_without_a_restart(nvrd) -> None:
    process, notify = nvrd
    process.start()
    notify.wait("STATUS", lambda s: s.startswith("cameras 1/1 streaming"), timeout=20)

    os.kill(process.proc.pid, signal.SIGSTOP)  # the whole daemon wedged
    frozen = time.monotonic()
    time.sleep(3.0)
    os.kill(process.proc.pid, signal.SIGCONT)
    assert notify.values("WATCHDOG", frozen + 0.2) == []  # systemd would now restart it
    resumed = time.monotonic()
    time.sleep(2.5)
    assert len(notify.values("WATCHDOG", resumed)) >= 2

    # A detector process stopped in its tracks: the pool's request timeout kills and replaces it,
    # so nvrd needs no restart and the pings go on.
    stats = process.get("/api/stats").json()
    detector_pid = stats["detectors"]["cpu"]["pid"]
    os.kill(detector_pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        process.wait_for(
            lambda: process.get("/api/stats").json()["detectors"]["cpu"]["pid"] not in (0, detector_pid),
            timeout=20,
            what="a new detector process",
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(detector_pid, signal.SIGCONT)
    pings = [t for t, _ in notify.values("WATCHDOG", stopped)]
    assert largest_gap(pings, stopped, time.monotonic()) < 2.5
    assert not any("UNHEALTHY" in s for t, s in notify.values("STATUS", stopped))
    assert process.stop() == 0
