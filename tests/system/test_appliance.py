"""The appliance booted, not imagined: the x86-64 test image (tests/system/build_image.py) under
QEMU, checked from the host through nvrd's API, SSH and the QEMU monitor. One VM runs the whole
module, in order: first boot on a card larger than the image, nvrd under systemd, the watchdog, a
hot-plugged recordings disk, refused update bundles, a good update that is kept, a power cut on the
updated slot, and a broken update that rolls back.

It takes many minutes (the image build the first time, then each boot), so it runs only when
asked: `make system-test` (NVR_SYSTEM_TEST=1). Without QEMU, OVMF or the image tools it skips and
says which are missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import build_image
import nvr_vm
import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT = 600  # under TCG (no usable KVM) a boot takes a minute or two
CAMERA = "pattern"
# The card the image is flashed to: larger than the image, so first boot grows the data partition.
CARD_BYTES = 3 << 30
DATA_PARTITION = f"/dev/disk/by-partuuid/{build_image.layout()['NVR_PARTUUID_DATA']}"

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("NVR_SYSTEM_TEST") != "1", reason="boots a VM for many minutes: run `make system-test`"
    ),
    pytest.mark.timeout(3600),
]


@pytest.fixture(scope="module")
def image() -> build_image.Image:
    missing = build_image.missing_tools() + nvr_vm.missing_host_tools()
    # CI sets NVR_SYSTEM_TEST_STRICT=1: there a machine that cannot run the test is a failure.
    give_up = pytest.fail if os.environ.get("NVR_SYSTEM_TEST_STRICT") == "1" else pytest.skip
    if missing:
        give_up(f"missing host tools: {' '.join(missing)}")
    if os.geteuid() != 0:
        give_up("building the image (mmdebstrap, chroot) needs root")
    return build_image.build_image()


@pytest.fixture(scope="module")
def bundles(image: build_image.Image, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the host serves the guest: the image's bundles, a tampered copy, and one signed by a
    key the box does not trust."""
    folder = tmp_path_factory.mktemp("bundles")
    for name in (image.good_bundle, image.broken_bundle):
        os.link(name, folder / name.name)
    tampered = folder / "tampered.raucb"
    shutil.copy(image.refusal_bundle, tampered)
    with open(tampered, "r+b") as handle:
        handle.seek(tampered.stat().st_size // 8)  # inside the root filesystem image
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    stranger = tmp_path_factory.mktemp("stranger-key")
    subprocess.run(
        [ROOT / "board" / "common" / "rauc" / "make-signing-keys.sh", stranger / "keys", "somebody else"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    rendered = tmp_path_factory.mktemp("rauc-conf")
    subprocess.run(
        [ROOT / "board" / "common" / "rauc" / "install-rauc.sh", rendered, build_image.BOARD],
        check=True,
        capture_output=True,
        timeout=60,
    )
    # resign checks the old signature and the new one against the keyring: it must hold both CAs.
    both = stranger / "both-cas.pem"
    both.write_bytes(
        (build_image.DEV_KEYS / "DEVELOPMENT-ONLY-ca.cert.pem").read_bytes()
        + (stranger / "keys" / "ca.cert.pem").read_bytes()
    )
    subprocess.run(
        [
            "rauc",
            f"--conf={rendered / 'etc' / 'rauc' / 'system.conf'}",
            "resign",
            f"--cert={stranger / 'keys' / 'signing.cert.pem'}",
            f"--key={stranger / 'keys' / 'signing.key.pem'}",
            f"--keyring={both}",
            image.refusal_bundle,
            folder / "unsigned.raucb",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return folder


@pytest.fixture(scope="module")
def vm(
    image: build_image.Image, bundles: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[nvr_vm.Vm]:
    workdir = tmp_path_factory.mktemp("vm")
    accel = nvr_vm.working_accel(image.disk, workdir)
    with nvr_vm.bundle_server(bundles) as port:
        machine = nvr_vm.Vm(image.disk, image.ssh_key, workdir, accel, port, card_bytes=CARD_BYTES)
        started = time.monotonic()
        try:
            machine.start(BOOT_TIMEOUT)
            print(f"\nsystem test: VM up under {accel} in {time.monotonic() - started:.0f} s")
            yield machine
        finally:
            machine.stop()
            keep = build_image.OUT / "last-run"
            shutil.rmtree(keep, ignore_errors=True)
            keep.mkdir(parents=True)
            for log in (machine.serial_log, machine.qemu_log):
                if log.exists():
                    shutil.copy(log, keep / log.name)


@pytest.fixture(scope="module")
def usb_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 512 MB recordings disk, formatted as a user would: ext4 labelled NVR-DATA."""
    path = tmp_path_factory.mktemp("usb") / "nvr-data.img"
    with open(path, "wb") as handle:
        handle.truncate(512 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "NVR-DATA", path], check=True, timeout=60)
    return path


def nvrd_ready(vm: nvr_vm.Vm) -> bool:
    status, body = vm.api("/api/version")
    return status == 200 and body.startswith(b"0.13")


def segments(vm: nvr_vm.Vm) -> list[str]:
    found = vm.ssh("find /media/nvr/recordings -name '*.ts' -newermt '-10 minutes' 2>/dev/null", check=False)
    return found.stdout.split()


def mounted(vm: nvr_vm.Vm) -> str:
    return vm.ssh("findmnt -n -o SOURCE /media/nvr", check=False).stdout.strip()


def update_state(vm: nvr_vm.Vm) -> dict:
    return json.loads(vm.ssh("nvr-update --status --json").stdout)


def nvr_update_from_host(
    vm: nvr_vm.Vm, *args: str, timeout: float = 2400
) -> subprocess.CompletedProcess[str]:
    """scripts/nvr-update on the host, reaching the box over SSH as a user's computer would."""
    ssh = " ".join([*vm.ssh_command()])
    return subprocess.run(
        [str(ROOT / "scripts" / "nvr-update"), "--box", "root@127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NVR_SSH": ssh},
        check=False,
    )


# ---- 1. nvrd under systemd ---------------------------------------------------------------------


def test_nvrd_comes_up_under_systemd_and_answers_on_port_5000(vm: nvr_vm.Vm) -> None:
    nvr_vm.wait_for(lambda: nvrd_ready(vm), BOOT_TIMEOUT, "answer from nvrd on port 5000")
    status, body = vm.api("/api/")
    assert status == 200 and b"Frigate is running" in body
    unit = vm.unit("nvrd.service")
    assert unit["ActiveState"] == "active" and unit["SubState"] == "running"  # Type=notify: READY came
    assert vm.ssh("findmnt -n -o FSTYPE,OPTIONS /").stdout.startswith("squashfs ro")
    slot = vm.ssh("cat /proc/cmdline").stdout
    assert "rauc.slot=A" in slot and "nvr.trial=0" in slot
    # The committed boot is confirmed once it has finished.
    nvr_vm.wait_for(
        lambda: vm.unit("nvr-mark-good.service")["ActiveState"] == "inactive"
        and vm.unit("nvr-mark-good.service")["Result"] == "success",
        BOOT_TIMEOUT,
        "boot confirmation",
    )
    rauc = json.loads(vm.ssh("rauc status --output-format=json").stdout)
    assert rauc["booted"] == "A" and rauc["compatible"] == "nvr-qemu-x86_64"
    failed = vm.ssh("systemctl --failed --no-legend --plain").stdout.strip()
    assert failed == "", f"failed units on the appliance:\n{failed}"


def test_first_boot_gives_the_rest_of_the_card_to_the_data_partition(
    vm: nvr_vm.Vm, image: build_image.Image
) -> None:
    partition = int(vm.ssh(f"lsblk -b -n -d -o SIZE {DATA_PARTITION}").stdout)
    filesystem = int(vm.ssh("df -B1 --output=size /var/lib/nvr | tail -1").stdout)
    image_size = image.disk.stat().st_size
    # image.cfg's 512M data partition plus what the card has beyond the image (the GPT's backup
    # copy takes the last 16 KiB).
    assert partition >= (512 << 20) + CARD_BYTES - image_size - (1 << 20), partition
    assert filesystem > partition * 0.9, (filesystem, partition)
    assert vm.unit("var-lib-nvr.mount")["ActiveState"] == "active"
    journal = vm.journal("nvr-grow-data.service")
    assert "growing partition" in journal, journal


# ---- 2. the watchdog ---------------------------------------------------------------------------


def test_a_stopped_nvrd_is_restarted_by_the_watchdog_and_the_journal_says_why(vm: nvr_vm.Vm) -> None:
    nvr_vm.wait_for(lambda: nvrd_ready(vm), BOOT_TIMEOUT, "nvrd")
    before = vm.unit("nvrd.service")
    vm.ssh(f"kill -STOP {before['MainPID']}")
    after = nvr_vm.wait_for(
        lambda: (u := vm.unit("nvrd.service"))["NRestarts"] != before["NRestarts"] and u,
        180,
        "restart of the stopped nvrd",
        every=5,
    )
    assert after["MainPID"] != before["MainPID"]
    journal = vm.journal("nvrd.service")
    assert "Watchdog timeout" in journal, journal[-2000:]
    nvr_vm.wait_for(lambda: nvrd_ready(vm), BOOT_TIMEOUT, "nvrd after its restart")
    assert vm.unit("nvrd.service")["ActiveState"] == "active"


# ---- 3. the recordings disk, hot-plugged -------------------------------------------------------


def test_a_labelled_usb_disk_is_mounted_recorded_to_and_can_come_and_go(
    vm: nvr_vm.Vm, usb_disk: Path
) -> None:
    nvr_vm.wait_for(lambda: nvrd_ready(vm), BOOT_TIMEOUT, "nvrd")
    vm.plug_usb_disk(usb_disk)
    source = nvr_vm.wait_for(lambda: mounted(vm), 120, "mount of the NVR-DATA disk at /media/nvr")
    assert source.startswith("/dev/sd")
    nvr_vm.wait_for(lambda: segments(vm), 240, "recordings on the USB disk", every=5)
    pid = vm.unit("nvrd.service")["MainPID"]

    vm.unplug_usb_disk()
    nvr_vm.wait_for(lambda: not mounted(vm), 120, "unmount after the disk was pulled")
    time.sleep(20)  # nvrd notices and pauses; it must not crash or restart
    unit = vm.unit("nvrd.service")
    assert unit["ActiveState"] == "active" and unit["MainPID"] == pid
    assert nvrd_ready(vm)

    vm.ssh("touch /run/replugged")
    vm.plug_usb_disk(usb_disk)
    nvr_vm.wait_for(lambda: mounted(vm), 120, "mount after the disk came back")

    def new_segments() -> list[str]:
        found = vm.ssh("find /media/nvr/recordings -name '*.ts' -newer /run/replugged", check=False)
        return found.stdout.split()

    nvr_vm.wait_for(new_segments, 240, "recordings after the disk came back", every=5)
    assert vm.unit("nvrd.service")["MainPID"] == pid


# ---- 4. over-the-air updates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason", "how"),
    [
        # downloaded by the box from a URL
        ("tampered.raucb", "damaged or was altered", "url"),
        # sent from the user's computer: the file goes over SSH into nvr-update on the box
        ("unsigned.raucb", "signature does not check out", "file"),
    ],
)
def test_a_tampered_or_unsigned_bundle_is_refused_and_nothing_changes(
    vm: nvr_vm.Vm, bundles: Path, name: str, reason: str, how: str
) -> None:
    before = update_state(vm)
    boot = vm.boot_id()
    if how == "url":
        result = vm.ssh(f"nvr-update http://{nvr_vm.BUNDLE_HOST}/{name}", timeout=1200, check=False)
    else:
        result = nvr_update_from_host(vm, str(bundles / name))
    assert result.returncode == 1 and reason in result.stderr, result.stderr
    after = update_state(vm)
    for key in ("booted", "committed", "pending", "primary", "slots", "update"):
        assert after[key] == before[key], key
    assert vm.boot_id() == boot
    assert vm.ssh("ls /boot").stdout.split().count("slot-b") == 0
    assert not vm.ssh("ls /var/lib/nvr/update 2>/dev/null", check=False).stdout.strip()


def test_a_newer_bundle_installs_boots_the_other_slot_and_is_kept(
    vm: nvr_vm.Vm, image: build_image.Image
) -> None:
    boot = vm.boot_id()
    result = nvr_update_from_host(vm, f"http://{nvr_vm.BUNDLE_HOST}/good.raucb", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "confirmed" in result.stderr
    vm.wait_until_up(BOOT_TIMEOUT)
    assert vm.boot_id() != boot
    state = update_state(vm)
    assert state["booted"] == "B" and state["committed"] == "B" and state["pending"] is None
    assert state["version"] == image.good_version
    assert state["update"]["state"] == "good" and state["update"]["from_version"] == image.version
    rauc = json.loads(vm.ssh("rauc status --output-format=json").stdout)
    assert rauc["booted"] == "B" and rauc["boot_primary"] == "rootfs.1"
    assert "rauc.slot=B nvr.trial=0" not in vm.ssh("cat /proc/cmdline").stdout  # this boot was the trial
    # The database was copied aside before the install, for a trial that would need it back, and
    # the data outside the slots came through the switch.
    assert vm.ssh("test -s /var/lib/nvr/update/nvr.db.before-update", check=False).returncode == 0
    assert vm.ssh("test -s /var/lib/nvr/nvr.db && test -s /etc/nvr/config.yml", check=False).returncode == 0
    nvr_vm.wait_for(lambda: nvrd_ready(vm), BOOT_TIMEOUT, "nvrd on the new slot")


# ---- 5. a power cut while recording ------------------------------------------------------------


def test_after_a_power_cut_mid_recording_the_box_keeps_its_slot_and_recordings_play(
    vm: nvr_vm.Vm, usb_disk: Path, tmp_path: Path
) -> None:
    if "recordings" not in vm.usb_disks:
        vm.plug_usb_disk(usb_disk)
    nvr_vm.wait_for(lambda: mounted(vm), 120, "mount of the recordings disk")
    before = update_state(vm)
    rows = nvr_vm.wait_for(
        lambda: vm.api_json(f"/api/{CAMERA}/recordings"), 240, "indexed recordings before the cut", every=5
    )
    time.sleep(5)  # mid-segment
    vm.power_cut()
    # Power comes back with the USB disk still plugged in: it is mounted while the box boots.
    vm.start(BOOT_TIMEOUT)
    after_cut = update_state(vm)
    for key in ("booted", "committed", "pending", "version"):
        assert after_cut[key] == before[key], key
    assert "nvr.trial=0" in vm.ssh("cat /proc/cmdline").stdout
    nvr_vm.wait_for(lambda: nvrd_ready(vm), BOOT_TIMEOUT, "nvrd after the power cut")
    integrity = (
        "import sqlite3; "
        "print(sqlite3.connect('/var/lib/nvr/nvr.db').execute('PRAGMA integrity_check').fetchone()[0])"
    )
    check = vm.ssh(f'python3 -c "{integrity}"')
    assert check.stdout.strip() == "ok"
    nvr_vm.wait_for(lambda: mounted(vm), 120, "mount of the recordings disk at boot")
    after = nvr_vm.wait_for(
        lambda: vm.api_json(f"/api/{CAMERA}/recordings"), 240, "indexed recordings after the cut", every=5
    )
    assert {r["id"] for r in rows} <= {r["id"] for r in after}
    segment = rows[0]
    start, end = int(segment["start_time"]), int(segment["end_time"]) + 1
    status, clip = vm.api(f"/api/{CAMERA}/start/{start}/end/{end}/clip.mp4", timeout=120)
    assert status == 200 and clip[4:8] == b"ftyp"
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert float(probe.stdout) > 0.5


# ---- 4. over-the-air updates, continued --------------------------------------------------------


def test_a_bundle_whose_nvrd_cannot_start_is_given_up_and_the_box_goes_back(
    vm: nvr_vm.Vm, image: build_image.Image
) -> None:
    result = nvr_update_from_host(vm, f"http://{nvr_vm.BUNDLE_HOST}/broken.raucb", "--wait")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "given up, back on slot B" in result.stderr
    state = update_state(vm)
    assert state["booted"] == "B" and state["committed"] == "B" and state["pending"] is None
    assert state["version"] == image.good_version
    assert state["update"]["state"] == "failed" and state["update"]["version"] == image.broken_version
    assert "nvrd.service failed (exit-code)" in state["update"]["reason"], state["update"]
    assert not state["slots"]["A"]["bootable"]
    nvr_vm.wait_for(lambda: nvrd_ready(vm), BOOT_TIMEOUT, "nvrd back on slot B")
