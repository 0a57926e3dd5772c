"""nvrd under a real systemd: a frozen nvrd is restarted by the watchdog, a SIGTERM stops it cleanly.

PID 1 is not systemd on every test machine, so where it is not, the test runs its own systemd user
manager: in a private mount namespace (where /run/systemd/system marks "booted with systemd") and
inside fresh cgroups of its own in every hierarchy, so that it can only ever manage its own units.
nvrd runs as a transient service with the scheduling settings of overlay/.../nvrd.service (Type,
NotifyAccess, KillMode, Restart) and a short WatchdogSec; the sandboxing settings (User=,
ProtectSystem=, ...) need the system manager and are checked by systemd-analyze verify instead
(tests/image/test_overlay.py, test_supervise_unit.py). ExecStopPost records systemd's own verdict
($SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS) for every run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nvrd_process import free_port, http
from tests.test_supervise_process import write_config

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "overlay" / "usr" / "lib" / "systemd" / "system" / "nvrd.service"
SYSTEMD = Path("/lib/systemd/systemd")
WATCHDOG_S = 3

pytestmark = pytest.mark.slow


def own_cgroups() -> list[Path]:
    """This process's cgroup folder in every mounted hierarchy (v1 controllers, the v2 tree), cpuset
    left out: the private manager is nested below them, inside whatever confines this test run."""
    mine: dict[str, str] = {}  # controllers ("memory", "name=systemd", "" for v2) -> path
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        mine[controllers] = path
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        dash = fields.index("-", 6)
        fstype, options = fields[dash + 1], fields[dash + 3].split(",")
        if fstype == "cgroup2":
            path = mine.get("")
        elif fstype == "cgroup":
            path = next((p for c, p in mine.items() if c and set(c.split(",")) <= set(options)), None)
        else:
            continue
        if path is not None and "cpuset" not in options:
            found.append(Path(fields[4]) / path.lstrip("/"))
    return found


class UserManager:
    """`systemd --user` of our own, confined to its own cgroups and mount namespace."""

    def __init__(self) -> None:
        self.runtime = Path(tempfile.mkdtemp(prefix="nvrd-sd-"))
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.runtime),
            "XDG_RUNTIME_DIR": str(self.runtime),
        }
        self.log = self.runtime / "manager.log"
        self.proc: subprocess.Popen | None = None
        self.cgroups: list[Path] = []

    def start(self) -> None:
        self.cgroups = own_cgroups()
        hierarchies = " ".join(str(h) for h in self.cgroups)
        script = f"""set -e
for h in {hierarchies}; do mkdir "$h/nvrd-test-$$" && echo $$ > "$h/nvrd-test-$$/cgroup.procs"; done
mount -t tmpfs tmpfs /run/systemd
mkdir /run/systemd/system
exec {SYSTEMD} --user --log-target=console --log-level=notice
"""
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while not (self.runtime / "systemd" / "private").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the user manager did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def systemctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["systemctl", "--user", *args], env=self.env, capture_output=True, text=True, timeout=30
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["systemd-run", "--user", *args], env=self.env, capture_output=True, text=True, timeout=90
        )

    def show(self, unit: str) -> dict[str, str]:
        out = self.systemctl("show", unit, "--no-pager").stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # a user manager stops its units and exits on SIGTERM
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            for hierarchy in self.cgroups:
                group = hierarchy / f"nvrd-test-{self.proc.pid}"
                if group.is_dir():
                    for folder in sorted((p for p in group.rglob("*") if p.is_dir()), reverse=True):
                        folder.rmdir()
                    group.rmdir()
        shutil.rmtree(self.runtime, ignore_errors=True)


@pytest.fixture()
def manager() -> Iterator[UserManager]:
    if os.geteuid() != 0 or not SYSTEMD.exists() or shutil.which("unshare") is None:
        pytest.skip("needs root, unshare and systemd to run a private systemd manager")
    if Path("/run/systemd/system").exists():
        pytest.skip("systemd is PID 1 here: the appliance's QEMU test covers the system manager")
    started = UserManager()
    try:
        started.start()
    except (RuntimeError, OSError) as exc:
        started.stop()
        pytest.skip(f"cannot run a private systemd manager here: {exc}")
    try:
        yield started
    finally:
        started.stop()


def unit_settings() -> dict[str, str]:
    """The [Service] settings of the appliance's nvrd.service that decide supervision."""
    text = UNIT.read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", text.split("[Service]", 1)[1], re.MULTILINE))
    return {key: settings[key] for key in ("Type", "NotifyAccess", "KillMode", "Restart")}


def wait_show(manager: UserManager, unit: str, check, timeout: float, what: str) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = manager.show(unit)
        if check(state):
            return state
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {state}")


def test_frozen_nvrd_is_restarted_by_the_watchdog_and_sigterm_stops_it_cleanly(
    manager: UserManager, tmp_path: Path, model_path: Path, labels_path: Path
) -> None:
    config = write_config(tmp_path, model_path, labels_path)
    port, unit = free_port(), f"nvrd-test-{os.getpid()}.service"
    verdicts, log = tmp_path / "verdicts", tmp_path / "nvrd.log"
    properties = {
        **unit_settings(),
        "WatchdogSec": f"{WATCHDOG_S}s",
        "RestartSec": "1s",
        "TimeoutStartSec": "60s",
        "TimeoutStopSec": "10s",
        "WorkingDirectory": str(ROOT),
        "StandardOutput": f"append:{log}",
        "StandardError": f"append:{log}",
        "ExecStopPost": f"/bin/sh -c 'echo $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS >> {verdicts}'",
    }
    started = manager.run(
        f"--unit={unit}",
        *(f"--property={key}={value}" for key, value in properties.items()),
        "--setenv=PYTHONUNBUFFERED=1",
        sys.executable,
        "-m",
        "nvrd",
        "--config",
        str(config),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
    )
    assert started.returncode == 0, started.stderr + log.read_text() if log.exists() else started.stderr
    try:
        # systemd-run returned once READY=1 came: the API is up.
        assert http("GET", f"http://127.0.0.1:{port}/api/version").status == 200
        state = wait_show(
            manager, unit, lambda s: s["StatusText"].startswith("cameras 1/1 streaming"), 30, "the status"
        )
        assert state["ActiveState"] == "active" and state["NRestarts"] == "0"
        first_pid = int(state["MainPID"])

        time.sleep(3 * WATCHDOG_S)  # healthy: the pings keep the watchdog quiet
        state = manager.show(unit)
        assert state["NRestarts"] == "0" and int(state["MainPID"]) == first_pid, state

        os.kill(first_pid, signal.SIGSTOP)  # wedged
        state = wait_show(
            manager,
            unit,
            lambda s: s["NRestarts"] == "1"
            and s["ActiveState"] == "active"
            and s["MainPID"] not in ("0", str(first_pid)),
            60,
            "the watchdog restart",
        )
        assert verdicts.read_text().split("\n")[0].startswith("watchdog ")
        assert http("GET", f"http://127.0.0.1:{port}/api/version").status == 200

        stopping = time.monotonic()
        stopped = manager.systemctl("stop", unit)
        assert stopped.returncode == 0, stopped.stderr
        assert time.monotonic() - stopping < 10
        assert verdicts.read_text().splitlines()[-1] == "success exited 0"
        assert "stopping" in log.read_text()
    finally:
        manager.systemctl("kill", "--signal=SIGCONT", unit)
        manager.systemctl("stop", unit)
