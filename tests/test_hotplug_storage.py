"""Storage hot-plug: real kernel device events (pyudev netlink), a real ext4 disk on a loop device
labelled NVR-DATA, real mounts and unmounts as systemd-mount would make them, the real recorder.

A loop device cannot be unplugged, so its removal is the kernel's own synthetic "remove" uevent
(written to its sysfs `uevent` file): the same netlink message a pulled USB disk produces. There is
no udevd here, so the monitors listen to the kernel directly (hotplug.events: kernel). These tests
need root (losetup, mount); they are skipped without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nvrd.config import config_from_text
from nvrd.hotplug import PRESENT, DeviceEvent, StorageMonitor, UdevWatcher, read_mounts, write_label_file
from nvrd.record import Recorder
from nvrd.store import Store

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / "overlay" / "usr" / "libexec" / "nvr" / "recordings-disk"
MEDIA_RULE = ROOT / "overlay" / "usr" / "lib" / "udev" / "rules.d" / "80-nvr-media.rules"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("losetup") is None or shutil.which("mkfs.ext4") is None,
    reason="needs root, losetup and mkfs.ext4 to attach and mount a loop device",
)


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, **kwargs)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class LoopDisk:
    """An ext4 filesystem labelled NVR-DATA on a loop device; mount/unmount/uevent like the real thing."""

    def __init__(self, image: Path, where: Path) -> None:
        self.where = where
        run("truncate", "-s", "32M", image, check=True)
        run("mkfs.ext4", "-q", "-F", "-L", "NVR-DATA", image, check=True)
        self.node = run("losetup", "--find", "--show", image, check=True).stdout.strip()
        self.name = Path(self.node).name

    def mount(self) -> None:
        run("mount", "-o", "noatime", self.node, self.where, check=True)

    def unmount(self) -> None:
        run("umount", self.where, check=True)

    def uevent(self, action: str) -> None:
        """Have the kernel send `action` for this device (the netlink message of a real event)."""
        Path(f"/sys/class/block/{self.name}/uevent").write_text(action)

    def detach(self) -> None:
        if os.path.ismount(self.where):
            run("umount", "-l", self.where)
        run("losetup", "-d", self.node)


@contextlib.contextmanager
def attached_disk(folder: Path) -> Iterator[LoopDisk]:
    """A LoopDisk with its image in `folder` and its mount point at `folder`/media; detached after."""
    where = folder / "media"
    where.mkdir()
    loop = LoopDisk(folder / "disk.img", where)
    try:
        yield loop
    finally:
        loop.detach()


@pytest.fixture()
def disk(tmp_path: Path) -> Iterator[LoopDisk]:
    with attached_disk(tmp_path) as loop:
        yield loop


class EventLog:
    """Collects what a UdevWatcher delivers."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.snapshots: dict[str, list[DeviceEvent]] = {}
        self.lock = threading.Lock()

    def event(self, event: DeviceEvent) -> None:
        with self.lock:
            self.events.append(event)

    def snapshot(self, subsystem: str, events: list[DeviceEvent]) -> None:
        self.snapshots[subsystem] = events

    def find(self, action: str, node: str) -> DeviceEvent | None:
        with self.lock:
            return next((e for e in self.events if e.action == action and e.devnode == node), None)


@pytest.fixture()
def watchers() -> Iterator[list[UdevWatcher]]:
    started: list[UdevWatcher] = []
    yield started
    for watcher in started:
        watcher.stop()


def watch_block(watchers: list[UdevWatcher], on_event, on_snapshot=None) -> UdevWatcher:
    watcher = UdevWatcher(["block"], on_event, on_snapshot=on_snapshot, source="kernel")
    watcher.start()
    watchers.append(watcher)
    return watcher


# --- the pieces without a disk -------------------------------------------------------------------


def test_mount_table_is_read_with_escapes_and_stacked_mounts(tmp_path: Path) -> None:
    real = read_mounts()
    assert "/" in real and real["/"].fstype
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n"
        "40 22 8:17 / /media/my\\040disk rw,noatime shared:9 - exfat /dev/sdb1 rw,uid=900\n"
        "41 22 8:33 / /media/nvr rw - ext4 /dev/sdc1 rw\n"
        "42 41 8:49 / /media/nvr rw master:3 - xfs /dev/sdd1 rw\n"
        "garbage line\n"
    )
    mounts = read_mounts(table)
    assert mounts["/media/my disk"].source == "/dev/sdb1" and mounts["/media/my disk"].fstype == "exfat"
    assert mounts["/media/nvr"].source == "/dev/sdd1" and mounts["/media/nvr"].device == "8:49"
    assert mounts["/media/nvr"].mount_id == 42  # the topmost of the two stacked mounts
    assert read_mounts(tmp_path / "missing") == {}


def test_root_bound_onto_the_mount_point_is_not_a_disk(tmp_path: Path) -> None:
    # systemd's ReadWritePaths=/media/nvr binds the (read-only) root's folder onto itself in nvrd's
    # namespace: with the disk gone, that bind must read as "no disk", not as a squashfs disk.
    table = tmp_path / "mountinfo"
    root = tmp_path / "media-nvr"
    root.mkdir()
    bind = (
        "22 1 254:2 / / ro shared:1 - squashfs /dev/vda2 ro\n"
        f"61 22 254:2 /media/nvr {root} rw - squashfs /dev/vda2 ro\n"
    )
    told: list[str] = []

    class Recording:
        def storage_attached(self) -> None:
            told.append("attached")

        def storage_detached(self, reason: str) -> None:
            told.append("detached")

    recorder = Recording()
    monitor = StorageMonitor(root, "NVR-DATA", recording=lambda: recorder, mountinfo=table)
    table.write_text(bind + f"70 61 8:17 / {root} rw - ext4 /dev/sdb1 rw\n")
    assert monitor.check().mounted
    table.write_text(bind)
    assert not monitor.check().mounted
    assert told == ["attached", "detached"]


def test_label_file_is_written_only_when_it_changes_and_only_where_its_folder_is(tmp_path: Path) -> None:
    label_file = tmp_path / "etc-nvr" / "storage-label"
    assert write_label_file(label_file, "CAMS") is False  # no /etc/nvr: a dev machine
    label_file.parent.mkdir()
    assert write_label_file(label_file, "CAMS") is True
    assert label_file.read_text() == "CAMS\n"
    assert write_label_file(label_file, "CAMS") is False
    assert write_label_file(label_file, "NVR-DATA") is True
    assert label_file.read_text() == "NVR-DATA\n"
    assert not (tmp_path / "etc-nvr" / "storage-label.new").exists()


def test_udev_helper_matches_the_configured_label(tmp_path: Path) -> None:
    label_file = tmp_path / "storage-label"

    def matches(label: str | None) -> bool:
        env = {"PATH": os.environ["PATH"], **({"ID_FS_LABEL": label} if label is not None else {})}
        return run(HELPER, "match", label_file, env=env).returncode == 0

    # Before nvrd wrote the file: the factory label.
    assert matches("NVR-DATA") and not matches("CAMS") and not matches("") and not matches(None)
    label_file.write_text("CAMS\n")
    assert matches("CAMS") and not matches("NVR-DATA") and not matches("cams")
    assert run(HELPER, "bogus").returncode == 2


def test_udev_helper_retriggers_only_without_a_mounted_disk(tmp_path: Path) -> None:
    # udevadm is the system's; a stand-in records what it would have been asked.
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    (bin_dir / "udevadm").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "udevadm").chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 /media/nvr ext4 rw 0 0\n")
    assert run(HELPER, "trigger", "/media/nvr", mounts, env=env).returncode == 0
    assert not calls.exists()
    mounts.write_text("/dev/root / squashfs ro 0 0\n")
    assert run(HELPER, "trigger", "/media/nvr", mounts, env=env).returncode == 0
    assert calls.read_text().split() == [
        "trigger",
        "--action=add",
        "--subsystem-match=block",
        "--property-match=ID_FS_USAGE=filesystem",
    ]


def test_media_rule_takes_the_label_from_the_helper_and_mounts_through_systemd() -> None:
    rule = MEDIA_RULE.read_text()
    assert 'PROGRAM!="/usr/libexec/nvr/recordings-disk match", GOTO="nvr_media_end"' in rule
    assert "NVR-DATA" not in "".join(line for line in rule.splitlines() if not line.startswith("#"))
    assert rule.index('ACTION!="add"') < rule.index("PROGRAM!=") < rule.index("RUN+=")
    assert HELPER.is_file() and os.access(HELPER, os.X_OK)
    assert rule.count("--property=LazyUnmount=yes") == 2
    if shutil.which("shellcheck"):
        assert run("shellcheck", HELPER).returncode == 0


# --- real kernel events and a real disk ----------------------------------------------------------


@needs_root
def test_watcher_delivers_real_kernel_events_and_enumerates(disk: LoopDisk, watchers) -> None:
    log = EventLog()
    watch_block(watchers, log.event, log.snapshot)
    present = {e.devnode for e in log.snapshots["block"]}
    assert disk.node in present and all(e.action == PRESENT for e in log.snapshots["block"])
    disk.uevent("change")
    wait_for(lambda: log.find("change", disk.node), 5, f"the change event of {disk.node}")
    event = log.find("change", disk.node)
    assert event.subsystem == "block" and event.devtype == "disk" and event.sysname == disk.name


class RecorderLog:
    """What the monitor told the recording side (RecordingStorage), in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def storage_attached(self) -> None:
        self.calls.append("attached")

    def storage_detached(self, reason: str) -> None:
        self.calls.append(f"detached: {reason}")


@needs_root
def test_monitor_follows_mounts_and_releases_a_removed_disk_before_its_unmount(
    disk: LoopDisk, watchers
) -> None:
    told = RecorderLog()
    monitor = StorageMonitor(disk.where, "NVR-DATA", recording=lambda: told)
    monitor.start()
    try:
        watch_block(watchers, monitor.device_event, monitor.device_snapshot)
        assert not monitor.state.mounted and "no separate disk" in monitor.describe()

        disk.mount()
        took = wait_for(lambda: told.calls == ["attached"], 3, "the mount to be noticed")
        assert took < 1.5  # the mount table wakes the monitor; no polling delay
        assert monitor.state.source == disk.node and monitor.state.fstype == "ext4"
        assert f"{disk.where} on {disk.node}," in monitor.describe() and "GB free" in monitor.describe()

        disk.uevent("remove")  # the disk is pulled: the kernel says so before anything unmounts it
        wait_for(lambda: len(told.calls) == 2, 3, "the release")
        assert told.calls[1] == f"detached: disk {disk.node} was removed"
        assert monitor.state.mounted and monitor.state.removed
        assert "recording paused" in monitor.describe()

        disk.unmount()  # systemd's unmount follows
        wait_for(lambda: not monitor.state.mounted, 3, "the unmount to be noticed")
        time.sleep(0.3)
        assert len(told.calls) == 2  # released once, not twice

        disk.mount()  # plugged in again
        wait_for(lambda: told.calls[-1] == "attached", 3, "the disk to be taken back")
        disk.unmount()  # an eject without a remove event
        wait_for(lambda: told.calls[-1] == f"detached: {disk.where} was unmounted", 3, "the unmount")
    finally:
        monitor.stop()


@needs_root
def test_the_recorder_pauses_when_the_disk_goes_and_resumes_when_it_is_back(
    disk: LoopDisk, watchers, tmp_path: Path
) -> None:
    config = config_from_text(f"""
mqtt: {{enabled: false}}
storage: {{root: {disk.where}, cache: {tmp_path}/cache}}
cameras:
  cam:
    ffmpeg: {{inputs: [{{path: "lavfi:testsrc2", roles: [detect]}}]}}
""")
    store = Store(tmp_path / "nvr.db")
    recorder = Recorder(config, store)
    disk.mount()
    recorder.start()
    monitor = StorageMonitor(disk.where, "NVR-DATA", recording=lambda: recorder)
    monitor.start()
    try:
        watch_block(watchers, monitor.device_event)
        wait_for(lambda: recorder.status()["storage_available"], 5, "the recorder to use the disk")
        assert (disk.where / "recordings").is_dir()

        disk.uevent("remove")  # pulled: the filesystem is still mounted (and here even writable)
        took = wait_for(lambda: not recorder.status()["storage_available"], 3, "recording to pause")
        assert took < 1.0
        assert f"disk {disk.node} was removed" in recorder.status()["storage_reason"]
        time.sleep(2.5)  # past the recorder's own probes: a removed disk stays released
        assert not recorder.status()["storage_available"]
        disk.unmount()  # systemd's unmount follows
        time.sleep(1.5)
        assert not recorder.status()["storage_available"]

        disk.mount()
        wait_for(lambda: recorder.status()["storage_available"], 5, "recording to resume")
    finally:
        monitor.stop()
        recorder.stop()
        store.close()
