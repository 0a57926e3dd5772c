"""The supervision side of the firmware overlay: nvrd.service, the Coral rule, the hardware watchdog.

`systemd-analyze verify` exits 0 even on unknown keys, so everything it prints counts as a failure,
except that /usr/bin/nvrd (installed by the nvrd package) is missing on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nvrd.detect.worker import DEFAULT_REQUEST_TIMEOUT
from nvrd.supervise import STOP_BUDGET_S, HealthLimits

ROOT = Path(__file__).resolve().parents[1]
OVERLAY = ROOT / "overlay"
UNIT = OVERLAY / "usr" / "lib" / "systemd" / "system" / "nvrd.service"
CORAL_RULE = OVERLAY / "usr" / "lib" / "udev" / "rules.d" / "70-nvr-coral.rules"
WATCHDOG_CONF = OVERLAY / "etc" / "systemd" / "system.conf.d" / "watchdog.conf"


def settings(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in re.findall(r"^(\w+)=(.*)$", path.read_text(), re.MULTILINE):
        found.setdefault(key, []).append(value)
    return found


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verify_says_nothing_but_the_missing_package_binary() -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert lines == ["nvrd.service: Command /usr/bin/nvrd is not executable: No such file or directory"]


def test_nvrd_unit_supervises_with_a_health_gated_watchdog_and_a_clean_stop() -> None:
    unit = settings(UNIT)
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["Restart"] == ["always"]
    # Long enough that a wedge the parts cure themselves (a detector's request timeout, a camera's
    # reconnect) is not a restart; short enough that a cupboard box is back within a minute.
    watchdog = seconds(unit["WatchdogSec"][0])
    limits = HealthLimits()
    assert 2 * DEFAULT_REQUEST_TIMEOUT < watchdog <= 60
    assert limits.loop_answer < watchdog / 2  # a probe of the loop fits between two pings
    # SIGTERM to nvrd alone; it stops its children itself, within its budget, inside the timeout.
    assert unit["KillMode"] == ["mixed"]
    assert seconds(unit["TimeoutStopSec"][0]) >= STOP_BUDGET_S + 3
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= set(unit)
    assert unit["RestartPreventExitStatus"] == ["2"]


def test_start_post_helper_retriggers_the_disk_as_root_and_may_fail() -> None:
    unit = settings(UNIT)
    (post,) = unit["ExecStartPost"]
    prefix, program, args = re.fullmatch(r"([-+@:!]*)(\S+)(.*)", post).groups()
    assert set(prefix) == {"-", "+"}
    assert program == "/usr/libexec/nvr/recordings-disk" and args.split() == ["trigger", "/media/nvr"]
    helper = OVERLAY / program.lstrip("/")
    assert helper.is_file() and os.access(helper, os.X_OK)


def test_hardening_leaves_what_hot_plug_needs() -> None:
    unit = settings(UNIT)
    assert "AF_NETLINK" in unit["RestrictAddressFamilies"][0].split()  # udev's device events
    devices = {value.split()[0] for value in unit["DeviceAllow"]}
    assert {"char-usb_device", "char-apex"} <= devices  # USB and PCIe Corals, also plugged in later
    assert "-/media/nvr" in unit["ReadWritePaths"][0].split()
    groups = set(unit["SupplementaryGroups"][0].split())
    rule = CORAL_RULE.read_text()
    assert set(re.findall(r'GROUP="(\w+)"', rule)) <= groups


def test_coral_rule_opens_both_usb_ids_and_pcie_to_nvrd() -> None:
    lines = [line for line in CORAL_RULE.read_text().splitlines() if line and not line.startswith("#")]
    assert len(lines) == 3
    for vendor, product in (("1a6e", "089a"), ("18d1", "9302")):
        (line,) = [line for line in lines if f'ATTRS{{idVendor}}=="{vendor}"' in line]
        assert f'ATTRS{{idProduct}}=="{product}"' in line
        assert 'ENV{DEVTYPE}=="usb_device"' in line and 'MODE="0660"' in line and 'GROUP="plugdev"' in line
    assert 'SUBSYSTEM=="apex", GROUP="apex", MODE="0660"' in lines[2]


def test_hardware_watchdog_fits_the_pi() -> None:
    manager = settings(WATCHDOG_CONF)
    assert 0 < seconds(manager["RuntimeWatchdogSec"][0]) <= 15
    assert seconds(manager["RebootWatchdogSec"][0]) >= 60
