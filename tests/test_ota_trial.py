"""An update's life around RAUC, on a Raspberry Pi boot partition in a temporary folder: the hooks
RAUC runs, the boot-time settle step, the health-tied confirmation with its deadline, and nvrd's
database across a given-up trial (real SQLite files). The nvr-boot program runs as a real process
wherever RAUC or systemd would run it; systemd itself is stood in for by scripted unit states."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "overlay" / "usr" / "libexec" / "nvr"))

from nvr_ota import config as ota_config
from nvr_ota import record, trial
from nvr_ota.health import ServiceState, watch
from nvr_ota.slots import BootError

ROOT = Path(__file__).resolve().parents[1]
NVR_BOOT = ROOT / "overlay" / "usr" / "libexec" / "nvr" / "nvr-boot"
LAYOUT = dict(
    line.split("=", 1)
    for line in (ROOT / "board" / "common" / "layout.env").read_text().splitlines()
    if line and not line.startswith("#")
)


class Box:
    """A Raspberry Pi 4's boot partition, firmware flag, kernel command line, overlay and data
    partitions, with the ota.conf install-rauc.sh renders for it pointed at them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.boot = tmp / "boot"
        (self.boot / "slot-a").mkdir(parents=True)
        shutil.copy(ROOT / "board" / "rpi4" / "config.txt", self.boot / "config.txt")
        (self.boot / "slot-a" / "Image").write_bytes(b"kernel A")
        self.flag = tmp / "device-tree" / "chosen" / "bootloader" / "tryboot"
        self.flag.parent.mkdir(parents=True)
        self.cmdline = tmp / "cmdline"
        self.data = tmp / "data"
        self.data.mkdir()
        self.state = tmp / "overlay" / "rauc"
        rendered = tmp / "target"
        result = subprocess.run(
            [ROOT / "board" / "common" / "rauc" / "install-rauc.sh", rendered, "rpi4"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        text = (rendered / "usr" / "lib" / "nvr" / "ota.conf").read_text()
        for old, new in (
            ("boot-dir = /boot", f"boot-dir = {self.boot}\ncmdline = {self.cmdline}\nmounts = {tmp}/none"),
            ("state-dir = /mnt/overlay/rauc", f"state-dir = {self.state}"),
            ("database = /var/lib/nvr/nvr.db", f"database = {self.data}/nvr.db"),
            (
                "snapshot = /var/lib/nvr/update/nvr.db.before-update",
                f"snapshot = {self.data}/update/nvr.db.before-update",
            ),
            ("healthy-seconds = 120", "healthy-seconds = 30"),
            ("deadline-seconds = 600", "deadline-seconds = 300"),
        ):
            assert old in text
            text = text.replace(old, new)
        # RAUC's mark-good and mark-bad become the nvr-boot calls RAUC makes for them; the reboot
        # is only recorded.
        commands = [
            f"mark-good = {sys.executable} {NVR_BOOT} set-state @booted good",
            f"mark-bad = {sys.executable} {NVR_BOOT} set-state @booted bad",
            "reboot = systemctl reboot",
        ]
        text = text.replace("[health]\n", "[health]\n" + "\n".join(commands) + "\n", 1)
        text += f"\n[tryboot]\ndevice-tree = {tmp}/device-tree\nreboot-param = {tmp}/reboot-param\n"
        self.conf = tmp / "ota.conf"
        self.conf.write_text(text)
        self.config = ota_config.load(self.conf)
        self.backend = self.config.make_backend()
        self.boot_as("A", tryboot=False)

    def boot_as(self, slot: str, tryboot: bool) -> None:
        self.flag.write_bytes((1 if tryboot else 0).to_bytes(4, "big"))
        self.cmdline.write_text(f"root=PARTUUID=x rootfstype=squashfs ro rauc.slot={slot}\n")
        self.booted = slot
        (self.tmp / "reboot-param").unlink(missing_ok=True)  # /run does not survive a boot

    def nvr_boot(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, NVR_BOOT, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NVR_OTA_CONFIG": str(self.conf), **(env or {})},
        )

    def runner(self, calls: list[list[str]]):
        """Runs nvr-boot commands for real (with @booted filled in) and records everything."""

        def run(args: Sequence[str]) -> int:
            args = [self.booted if a == "@booted" else a for a in args]
            calls.append(args)
            if args[0] == sys.executable:
                result = self.nvr_boot(*args[2:])
                return result.returncode
            return 0

        return run

    def install_update(self, slot: str = "B", version: str = "0.2.0") -> None:
        """What `rauc install` does: mark the target bad, write it, run the hooks, set it primary."""
        assert self.nvr_boot("set-state", slot, "bad").returncode == 0
        bundle = self.tmp / "bundle"
        (bundle / "boot" / "overlays").mkdir(parents=True, exist_ok=True)
        (bundle / "boot" / "Image").write_bytes(b"kernel " + version.encode())
        (bundle / "boot" / "overlays" / "README").write_text("")
        root_a = LAYOUT["NVR_PARTUUID_ROOTFS_A"]
        (bundle / "boot" / "cmdline.txt").write_text(
            f"root=PARTUUID={root_a} rootfstype=squashfs ro rootwait rauc.slot=A quiet\n"
        )
        (bundle / "manifest.raucm").write_text(f"[update]\ncompatible=nvr-rpi4\nversion={version}\n")
        rauc_env = {
            "RAUC_CURRENT_BOOTNAME": self.booted,
            "RAUC_BUNDLE_MOUNT_POINT": str(bundle),
            "RAUC_TARGET_SLOTS": "2",
            "RAUC_SLOT_BOOTNAME_1": "A",
            "RAUC_SLOT_BOOTNAME_2": slot,
        }
        pre = self.nvr_boot("pre-install", env=rauc_env)
        assert pre.returncode == 0, pre.stderr
        files = self.nvr_boot("install-boot-files", str(bundle / "boot"), slot)
        assert files.returncode == 0, files.stderr
        assert self.nvr_boot("set-primary", slot).returncode == 0
        post = self.nvr_boot("post-install", env=rauc_env)
        assert post.returncode == 0, post.stderr

    def record(self) -> record.UpdateRecord | None:
        return record.load(self.config.record_file)


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


class ScriptedUnit:
    """systemd's answers about nvrd.service over time (one per poll), and a clock that the waits
    advance instead of sleeping."""

    def __init__(self, states: list[ServiceState]) -> None:
        self.states = itertools.chain(states, itertools.repeat(states[-1]))
        self.now = 0.0

    def state(self, unit: str) -> ServiceState:
        return next(self.states)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def active(invocation: str = "i1", restarts: int = 0) -> ServiceState:
    return ServiceState("active", "running", invocation, restarts, "success")


def starting(restarts: int = 0) -> ServiceState:
    return ServiceState("activating", "start", "i0", restarts, "success")


def make_database(path: Path, version: int, rows: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS event (id TEXT)")
        db.executemany("INSERT INTO event VALUES (?)", [(str(i),) for i in range(rows)])
        db.execute(f"PRAGMA user_version = {version}")


# ---- the install -------------------------------------------------------------------------------


def test_an_install_puts_the_kernel_folder_in_place_and_arms_the_trial(box: Box) -> None:
    make_database(box.data / "nvr.db", version=3, rows=5)
    box.install_update()
    cmdline = (box.boot / "slot-b" / "cmdline.txt").read_text()
    assert f"root=PARTUUID={LAYOUT['NVR_PARTUUID_ROOTFS_B']} " in cmdline and cmdline.strip().endswith(
        "rauc.slot=B"
    )
    assert "rootwait" in cmdline and LAYOUT["NVR_PARTUUID_ROOTFS_A"] not in cmdline
    assert (box.boot / "slot-b" / "overlays" / "README").exists()
    assert not (box.boot / "slot-b.new").exists()
    assert "os_prefix=slot-b/" in (box.boot / "tryboot.txt").read_text()
    assert (box.tmp / "reboot-param").read_text().strip() == "0 tryboot"
    entry = box.record()
    assert entry is not None and (entry.state, entry.slot, entry.version, entry.from_slot) == (
        "installed",
        "B",
        "0.2.0",
        "A",
    )
    saved = box.data / "update" / "nvr.db.before-update"
    with sqlite3.connect(saved) as db:
        assert db.execute("SELECT count(*) FROM event").fetchone()[0] == 5
    status = json.loads(box.nvr_boot("status", "--json").stdout)
    assert status["pending"] == "B" and status["primary"] == "B" and status["committed"] == "A"


def test_boot_files_never_replace_the_running_or_committed_slot(box: Box) -> None:
    source = box.tmp / "new-boot"
    source.mkdir()
    (source / "Image").write_bytes(b"k")
    result = box.nvr_boot("install-boot-files", str(source), "A")
    assert result.returncode == 1 and "running or committed" in result.stderr
    assert (box.boot / "slot-a" / "Image").read_bytes() == b"kernel A"


def test_an_install_during_a_trial_is_refused_before_anything_is_written(box: Box) -> None:
    box.install_update()
    box.boot_as("B", tryboot=True)
    pre = box.nvr_boot("pre-install", env={"RAUC_CURRENT_BOOTNAME": "B"})
    assert pre.returncode == 1 and "running on trial" in pre.stderr
    # RAUC's own first step (marking the target, the committed A, bad) is refused as well.
    mark = box.nvr_boot("set-state", "A", "bad")
    assert mark.returncode == 1 and "committed slot" in mark.stderr


# ---- settle (every boot) -----------------------------------------------------------------------


def test_settle_marks_a_trial_that_never_started_failed_and_disarms_it(box: Box) -> None:
    box.install_update()
    box.boot_as("A", tryboot=False)  # a power cut before the reboot: the tryboot flag was lost
    assert box.nvr_boot("settle").returncode == 0
    entry = box.record()
    assert entry is not None and entry.state == "failed" and "never started" in entry.reason
    assert not (box.boot / "tryboot.txt").exists()


def test_settle_on_the_trial_boot_records_it_running(box: Box) -> None:
    box.install_update()
    box.boot_as("B", tryboot=True)
    assert box.nvr_boot("settle").returncode == 0
    entry = box.record()
    assert entry is not None and entry.state == "trying"
    assert (box.boot / "tryboot.txt").exists()  # the trial is still pending


def test_a_given_up_trial_that_migrated_the_database_gets_the_saved_copy_back(box: Box) -> None:
    db = box.data / "nvr.db"
    make_database(db, version=3, rows=5)
    box.install_update()
    box.boot_as("B", tryboot=True)
    box.nvr_boot("settle")
    # The new nvrd migrated the schema and wrote, then crashed: its WAL holds unmerged pages.
    keeper = sqlite3.connect(db)
    keeper.execute("PRAGMA wal_autocheckpoint=0")
    keeper.execute("INSERT INTO event VALUES ('during-trial')")
    keeper.execute("PRAGMA user_version = 4")
    keeper.commit()
    assert (box.data / "nvr.db-wal").stat().st_size > 0
    shutil.copy(db, box.tmp / "crashed.db")
    shutil.copy(box.data / "nvr.db-wal", box.tmp / "crashed.db-wal")
    keeper.close()
    shutil.copy(box.tmp / "crashed.db", db)
    shutil.copy(box.tmp / "crashed.db-wal", box.data / "nvr.db-wal")

    box.boot_as("A", tryboot=False)  # the watchdog reset the box: the firmware went back to A
    result = box.nvr_boot("settle")
    assert result.returncode == 0, result.stderr
    assert "put back the copy" in result.stderr
    assert not (box.data / "nvr.db-wal").exists()
    with sqlite3.connect(db) as restored:
        assert restored.execute("PRAGMA user_version").fetchone()[0] == 3
        assert restored.execute("SELECT count(*) FROM event").fetchone()[0] == 5
    entry = box.record()
    assert entry is not None and entry.state == "failed" and "went back to slot A" in entry.reason
    # Settling again (the next boot) leaves the restored database alone.
    make_database(db, version=3, rows=1)
    assert box.nvr_boot("settle").returncode == 0
    with sqlite3.connect(db) as again:
        assert again.execute("SELECT count(*) FROM event").fetchone()[0] == 6


def test_a_given_up_trial_that_kept_the_schema_keeps_its_events(box: Box) -> None:
    db = box.data / "nvr.db"
    make_database(db, version=3, rows=5)
    box.install_update()
    box.boot_as("B", tryboot=True)
    box.nvr_boot("settle")
    make_database(db, version=3, rows=2)  # events recorded during the trial, same schema
    box.boot_as("A", tryboot=False)
    assert box.nvr_boot("settle").returncode == 0
    with sqlite3.connect(db) as kept:
        assert kept.execute("SELECT count(*) FROM event").fetchone()[0] == 7


# ---- confirm (the health-tied mark-good) -------------------------------------------------------


def confirm(box: Box, unit: ScriptedUnit, calls: list[list[str]], api: bool = True) -> bool:
    return trial.confirm(
        ota_config.load(box.conf),
        box.backend,
        box.booted,
        unit,
        log=lambda message: calls.append(["log", message]),
        run=box.runner(calls),
        api_check=lambda: api,
        clock=unit.clock,
        sleep=unit.sleep,
    )


def test_a_trial_is_kept_once_nvrd_stayed_up_for_the_healthy_window(box: Box) -> None:
    box.install_update()
    box.boot_as("B", tryboot=True)
    box.nvr_boot("settle")
    unit = ScriptedUnit([starting()] * 5 + [active()])
    calls: list[list[str]] = []
    assert confirm(box, unit, calls)
    assert unit.now >= 30 + 10  # not before nvrd was active for the whole window
    assert [sys.executable, str(NVR_BOOT), "set-state", "B", "good"] in calls
    assert ["systemctl", "reboot"] not in calls
    assert "os_prefix=slot-b/" in (box.boot / "config.txt").read_text()
    assert not (box.boot / "tryboot.txt").exists()
    entry = box.record()
    assert entry is not None and entry.state == "good" and "ran 30 s without a restart" in entry.reason


def test_a_restart_inside_the_window_starts_the_window_again(box: Box) -> None:
    box.install_update()
    box.boot_as("B", tryboot=True)
    # Up for 20 s, a watchdog restart (new invocation), then up for good.
    unit = ScriptedUnit([active("i1")] * 10 + [starting(1)] * 3 + [active("i2", 1)])
    calls: list[list[str]] = []
    assert confirm(box, unit, calls)
    assert unit.now >= 20 + 6 + 30
    entry = box.record()
    assert entry is not None and entry.state == "good" and "after 1 restarts" in entry.reason


def test_a_trial_whose_nvrd_never_becomes_ready_is_given_up_at_the_deadline(box: Box) -> None:
    box.install_update()
    box.boot_as("B", tryboot=True)
    box.nvr_boot("settle")
    unit = ScriptedUnit([starting()])
    calls: list[list[str]] = []
    assert not confirm(box, unit, calls)
    assert 300 <= unit.now < 310
    assert [sys.executable, str(NVR_BOOT), "set-state", "B", "bad"] in calls
    assert calls[-1] == ["systemctl", "reboot"]
    assert not (box.boot / "tryboot.txt").exists()
    assert "os_prefix=slot-a/" in (box.boot / "config.txt").read_text()
    entry = box.record()
    assert entry is not None and entry.state == "failed"
    assert "not healthy for 30 s within 300 s (last seen activating/start" in entry.reason
    # The next boot (the committed slot) finds nothing left to undo.
    box.boot_as("A", tryboot=False)
    assert box.nvr_boot("settle").returncode == 0
    assert box.record().state == "failed"


def test_a_trial_whose_api_does_not_answer_is_given_up(box: Box) -> None:
    box.install_update()
    box.boot_as("B", tryboot=True)
    calls: list[list[str]] = []
    assert not confirm(box, ScriptedUnit([active()]), calls, api=False)
    assert "its API did not answer" in box.record().reason


def test_a_unit_that_systemd_gave_up_on_ends_the_trial_at_once(box: Box) -> None:
    box.install_update()
    box.boot_as("B", tryboot=True)
    unit = ScriptedUnit([starting(), ServiceState("failed", "failed", "i0", 0, "exit-code")])
    calls: list[list[str]] = []
    assert not confirm(box, unit, calls)
    assert unit.now < 10
    assert "failed (exit-code) and will not be restarted" in box.record().reason


def test_a_committed_boot_is_confirmed_once_the_boot_has_finished(box: Box) -> None:
    calls: list[list[str]] = []
    assert confirm(box, ScriptedUnit([starting()]), calls)
    assert calls[0] == ["systemctl", "is-system-running", "--wait"]
    assert calls[1] == [sys.executable, str(NVR_BOOT), "set-state", "A", "good"]
    assert box.record() is None


def test_the_watch_needs_the_same_invocation_for_the_whole_window() -> None:
    states = [active("a")] * 3 + [active("b", 1)] * 3 + [active("c", 2)] * 20
    unit = ScriptedUnit(states)
    verdict = watch("nvrd.service", unit, lambda: True, 10, 100, 2, unit.clock, unit.sleep)
    assert verdict.healthy and unit.now >= 12 + 10


# ---- nvr-boot as RAUC calls it -----------------------------------------------------------------


def test_rauc_custom_backend_interface(box: Box) -> None:
    assert box.nvr_boot("get-primary").stdout == "A\n"
    assert box.nvr_boot("get-current").stdout == "A\n"
    assert box.nvr_boot("get-state", "A").stdout == "good\n"
    assert box.nvr_boot("get-state", "B").stdout == "bad\n"
    refused = box.nvr_boot("set-primary", "B")
    assert refused.returncode == 1 and "has no kernel" in refused.stderr
    bad = box.nvr_boot("get-state", "C")
    assert bad.returncode == 1 and "unknown slot 'C'" in bad.stderr


def test_a_missing_or_broken_ota_conf_is_one_clear_line(box: Box, tmp_path: Path) -> None:
    missing = box.nvr_boot("get-primary", env={"NVR_OTA_CONFIG": str(tmp_path / "nope.conf")})
    assert missing.returncode == 1 and missing.stderr.startswith("nvr-boot: cannot read")
    broken = tmp_path / "broken.conf"
    broken.write_text("[boot]\nbackend = floppy\n")
    result = box.nvr_boot("get-primary", env={"NVR_OTA_CONFIG": str(broken)})
    assert result.returncode == 1 and "unknown boot backend 'floppy'" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_record_summary_reads_well() -> None:
    entry = record.UpdateRecord(state="failed", slot="B", version="0.2.0", from_slot="A", reason="it hung")
    assert entry.summary() == "update 0.2.0 in slot B: given up, back on slot A (it hung)"
    with pytest.raises(ValueError):
        entry.moved_to("exploded")


def test_boot_error_is_the_only_failure_nvr_boot_reports(box: Box) -> None:
    with pytest.raises(BootError):
        box.backend.mark("B", good=True, booted="A")
