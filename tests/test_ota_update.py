"""scripts/nvr-update on a computer: its command line, the refusal off the box, and the --box path
over SSH with a stand-in for ssh that runs on this machine and answers as a box would (what it
was sent, and the status JSON a box prints). Installing on a real box is the system test's job."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NVR_UPDATE = ROOT / "scripts" / "nvr-update"

# A box's answer to `nvr-update --status --json`, in the shape nvr-boot and nvr-update print it.
BEFORE = {"booted": "A", "committed": "A", "pending": None, "version": "0.1.0", "update": None}
TRYING = {**BEFORE, "booted": "B", "pending": "B", "update": {"state": "trying", "slot": "B"}}
GOOD = {
    **BEFORE,
    "booted": "B",
    "committed": "B",
    "update": {"state": "good", "slot": "B"},
    "update_summary": "update 0.2.0 in slot B: confirmed (nvrd.service ran 120 s without a restart)",
}
FAILED = {
    **BEFORE,
    "update": {"state": "failed", "slot": "B"},
    "update_summary": "update 0.2.0 in slot B: given up, back on slot A (nvrd.service was not healthy)",
}

STAND_IN_SSH = """\
import json, os, sys
host, command = sys.argv[1], sys.argv[2]
log = os.environ["STAND_IN_LOG"]
data = sys.stdin.buffer.read() if command.split()[-1] == "-" else b""
with open(log, "a") as handle:
    handle.write(json.dumps({"host": host, "command": command, "stdin": len(data)}) + "\\n")
if "--status" in command:
    queue = json.load(open(os.environ["STAND_IN_STATUS"]))
    print(json.dumps(queue.pop(0) if len(queue) > 1 else queue[0]))
    json.dump(queue, open(os.environ["STAND_IN_STATUS"], "w"))
    sys.exit(0)
sys.exit(int(os.environ.get("STAND_IN_EXIT", "0")))
"""


def load_module():
    loader = importlib.machinery.SourceFileLoader("nvr_update", str(NVR_UPDATE))
    spec = importlib.util.spec_from_loader("nvr_update", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, NVR_UPDATE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


class StandIn:
    """The ssh stand-in's files: what it received, and the statuses it hands out in turn."""

    def __init__(self, tmp: Path, statuses: list[dict], exit_code: int = 0) -> None:
        script = tmp / "ssh-stand-in.py"
        script.write_text(STAND_IN_SSH)
        self.log = tmp / "ssh.log"
        self.status = tmp / "status.json"
        self.status.write_text(json.dumps(statuses))
        self.env = {
            "NVR_SSH": shlex.join([sys.executable, str(script)]),
            "STAND_IN_LOG": str(self.log),
            "STAND_IN_STATUS": str(self.status),
            "STAND_IN_EXIT": str(exit_code),
        }

    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def test_versions_order_as_people_read_them() -> None:
    module = load_module()
    ordered = ["0.1.0", "0.1.0+ota.2", "0.1.1", "0.2.0", "0.10.0", "1.0.0"]
    assert sorted(ordered, key=module.version_key) == ordered
    assert module.version_key("0.2.0") == module.version_key("0.2.0")


def test_rauc_status_json_gives_each_slots_bundle_version() -> None:
    module = load_module()
    status = {
        "booted": "B",
        "slots": [
            {"rootfs.0": {"bootname": "A", "slot_status": {"bundle": {"version": "0.1.0"}}}},
            {"rootfs.1": {"bootname": "B", "slot_status": {"bundle": {"version": "0.2.0"}}}},
        ],
    }
    assert module.slot_versions(json.dumps(status)) == {"A": "0.1.0", "B": "0.2.0"}
    assert module.slot_versions("not json") == {}


def test_the_command_line_wants_exactly_one_thing_to_do() -> None:
    assert run().returncode == 2
    both = run("bundle.raucb", "--status")
    assert both.returncode == 2 and "give a BUNDLE, --status or --boot-other" in both.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the check for root comes first otherwise")
def test_off_the_box_it_says_to_use_box(tmp_path: Path) -> None:
    result = run(str(tmp_path / "x.raucb"), env={"NVR_OTA_CONFIG": str(tmp_path / "no-ota.conf")})
    assert result.returncode == 1
    assert "this is not an nvrd box" in result.stderr and "--box HOST" in result.stderr


def test_box_sends_a_bundle_file_over_ssh_and_waits_for_the_verdict(tmp_path: Path) -> None:
    bundle = tmp_path / "nvr-rpi4-0.2.0.raucb"
    bundle.write_bytes(os.urandom(3 << 20))
    # The box closes the connection as it reboots: ssh exits 255.
    stand_in = StandIn(tmp_path, [BEFORE, TRYING, GOOD], exit_code=255)
    result = run(
        "--box",
        "root@nvr.local",
        str(bundle),
        "--allow-downgrade",
        "--wait",
        "--wait-timeout",
        "60",
        "--wait-poll",
        "0.1",
        env=stand_in.env,
    )
    assert result.returncode == 0, result.stderr
    calls = stand_in.calls()
    install = next(c for c in calls if "--status" not in c["command"])
    assert install["host"] == "root@nvr.local"
    assert shlex.split(install["command"]) == ["nvr-update", "--allow-downgrade", "-"]
    assert install["stdin"] == bundle.stat().st_size
    assert "update 0.2.0 in slot B: confirmed" in result.stderr


def test_box_reports_a_given_up_trial_as_a_failure(tmp_path: Path) -> None:
    stand_in = StandIn(tmp_path, [BEFORE, FAILED])
    result = run(
        "--box",
        "nvr.local",
        "https://example.invalid/nvr-rpi4-0.2.0.raucb",
        "--wait",
        "--wait-timeout",
        "60",
        "--wait-poll",
        "0.1",
        env=stand_in.env,
    )
    assert result.returncode == 1
    assert "given up, back on slot A" in result.stderr
    install = next(c for c in stand_in.calls() if "--status" not in c["command"])
    assert shlex.split(install["command"]) == ["nvr-update", "https://example.invalid/nvr-rpi4-0.2.0.raucb"]
    assert install["stdin"] == 0


def test_box_passes_a_refusal_through(tmp_path: Path) -> None:
    bundle = tmp_path / "b.raucb"
    bundle.write_bytes(b"x" * 1024)
    stand_in = StandIn(tmp_path, [BEFORE], exit_code=1)
    result = run("--box", "nvr.local", str(bundle), "--wait", env=stand_in.env)
    assert result.returncode == 1
    missing = run("--box", "nvr.local", str(tmp_path / "missing.raucb"), env=stand_in.env)
    assert missing.returncode == 1 and "no bundle at" in missing.stderr


def test_box_status_is_asked_of_the_box(tmp_path: Path) -> None:
    stand_in = StandIn(tmp_path, [GOOD])
    result = run("--box", "nvr.local", "--status", "--json", env=stand_in.env)
    assert result.returncode == 0
    assert json.loads(result.stdout)["update"]["state"] == "good"
    assert shlex.split(stand_in.calls()[0]["command"]) == ["nvr-update", "--status", "--json"]
