"""The SD card layout: image.cfg built by Debian's genimage from placeholder contents.

The boot partition is filled by the boards' real stage-boot scripts, the disk by the real
scripts/mkdisk.sh; sfdisk -J, mtools and dumpe2fs read the result back. The first-boot grow script
then runs on the image file as it would on a larger card.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from brtree import BOARDS, ROOT

MIB = 1024 * 1024
SECTOR = 512
LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
MS_BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
UBOOT_ENV = "3DE21764-95BD-54BD-A5C3-4ABE786F38A8"
# A "4 GB" SD card really holds a little less: 3.7 GiB is a safe floor.
SMALLEST_4GB_CARD = int(3.7 * 1024 * MIB)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("genimage", "sfdisk", "mcopy", "mkfs.vfat", "mke2fs")),
    reason="needs genimage, fdisk (sfdisk), mtools, dosfstools and e2fsprogs (apt)",
)


def layout() -> dict[str, str]:
    values = {}
    for line in (ROOT / "board" / "common" / "layout.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], check=True, capture_output=True, text=True, timeout=120, **kwargs
    )


def fake_binaries(folder: Path, board: str) -> Path:
    """What Buildroot leaves in images/ for a board, with placeholder bytes."""
    folder.mkdir()
    (folder / "Image").write_bytes(b"kernel" * 100)
    (folder / "rootfs.squashfs").write_bytes(b"hsqs" + bytes(3 * MIB))
    if board == "rock5b":
        (folder / "rk3588-rock-5b.dtb").write_bytes(b"\xd0\x0d\xfe\xed" * 64)
        (folder / "u-boot-rockchip.bin").write_bytes(b"RKNS" + bytes(range(256)) * 4096)
    else:
        dtb = "bcm2711-rpi-4-b.dtb" if board == "rpi4" else "bcm2712-rpi-5-b.dtb"
        (folder / dtb).write_bytes(b"\xd0\x0d\xfe\xed" * 64)
        firmware = folder / "rpi-firmware"
        (firmware / "overlays").mkdir(parents=True)
        (firmware / "overlays" / "pcie-32bit-dma-pi5.dtbo").write_bytes(b"overlay")
        if board == "rpi4":
            (firmware / "start4.elf").write_bytes(b"start4")
            (firmware / "fixup4.dat").write_bytes(b"fixup4")
    return folder


def stage(binaries: Path, staging: Path, board: str) -> None:
    """The boot partition's files, as post-image.sh lays them out."""
    for part in ("boot", "overlay", "data"):
        (staging / part).mkdir(parents=True)
    if board == "rock5b" and shutil.which("mkimage") is None:
        # stage-boot.sh compiles boot.scr with U-Boot's mkimage; test its layout by hand here and the
        # script itself in test_rock5b_boot_script_compiles.
        (staging / "boot" / "slot-a").mkdir()
        shutil.copy(binaries / "Image", staging / "boot" / "slot-a" / "Image")
        (staging / "boot" / "boot.scr").write_bytes(b"script")
        return
    run(ROOT / "board" / board / "stage-boot.sh", binaries, staging / "boot", ROOT / "board" / board)


def build_disk(tmp_path: Path, board: str) -> Path:
    binaries = fake_binaries(tmp_path / "images", board)
    staging = tmp_path / "staging"
    stage(binaries, staging, board)
    out = tmp_path / "out"
    result = run(ROOT / "scripts" / "mkdisk.sh", board, binaries, staging, out)
    image = Path(result.stdout.strip())
    assert image == out / "sdcard.img" and image.is_file()
    return image


def partition_table(image: Path) -> dict:
    return json.loads(run("sfdisk", "-J", image).stdout)["partitiontable"]


@pytest.fixture(scope="module", params=BOARDS)
def disk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    board = request.param
    return board, build_disk(tmp_path_factory.mktemp(board), board)


def test_partitions_names_order_types_and_sizes(disk: tuple[str, Path]) -> None:
    board, image = disk
    table = partition_table(image)
    assert table["label"] == "gpt"
    ids = layout()
    assert table["id"].lower() == ids["NVR_DISK_UUID"]
    parts = table["partitions"]
    expected = [
        ("boot", MS_BASIC_DATA, 128 * MIB, ids["NVR_PARTUUID_BOOT"]),
        ("rootfs-a", LINUX_FS, 512 * MIB, ids["NVR_PARTUUID_ROOTFS_A"]),
        ("rootfs-b", LINUX_FS, 512 * MIB, ids["NVR_PARTUUID_ROOTFS_B"]),
        *([("bootstate", UBOOT_ENV, 64 * 1024, ids["NVR_PARTUUID_BOOTSTATE"])] if board == "rock5b" else []),
        ("overlay", LINUX_FS, 128 * MIB, ids["NVR_PARTUUID_OVERLAY"]),
        ("data", LINUX_FS, 512 * MIB, ids["NVR_PARTUUID_DATA"]),
    ]
    assert [p["name"] for p in parts] == [name for name, *_ in expected]
    for part, (name, kind, size, uuid) in zip(parts, expected, strict=True):
        assert part["type"] == kind, name
        assert part["size"] * SECTOR == size, name
        assert part["uuid"].lower() == uuid, name
        assert (part["start"] * SECTOR) % MIB == 0, f"{name} does not start on a 1 MiB boundary"
    starts = [p["start"] for p in parts]
    assert starts == sorted(starts), "partitions must lie on the card in table order"
    assert parts[0]["start"] * SECTOR == 16 * MIB
    assert parts[0].get("attrs") == "LegacyBIOSBootable"


def test_image_fits_a_4gb_card_with_room_to_grow(disk: tuple[str, Path]) -> None:
    _, image = disk
    size = image.stat().st_size
    assert size <= 2 * 1024 * MIB
    assert SMALLEST_4GB_CARD - size >= 1024 * MIB, "the data partition should be able to grow by 1 GiB+"


def test_rootfs_a_holds_the_squashfs_and_b_is_left_for_updates(disk: tuple[str, Path]) -> None:
    _, image = disk
    parts = partition_table(image)["partitions"]
    with image.open("rb") as disk_file:
        disk_file.seek(parts[1]["start"] * SECTOR)
        assert disk_file.read(4) == b"hsqs"


def test_only_the_rock5b_has_a_raw_bootloader_before_the_partitions(disk: tuple[str, Path]) -> None:
    board, image = disk
    with image.open("rb") as disk_file:
        disk_file.seek(32 * 1024)
        head = disk_file.read(4)
    assert head == (b"RKNS" if board == "rock5b" else bytes(4))


def mdir(image: Path, offset: int, path: str) -> str:
    return run(
        "mdir",
        "-i",
        f"{image}@@{offset}",
        "-b",
        f"::{path}",
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).stdout


def mtype(image: Path, offset: int, path: str) -> str:
    return run(
        "mtype",
        "-i",
        f"{image}@@{offset}",
        f"::{path}",
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).stdout


def test_boot_partition_holds_the_slot_a_files(disk: tuple[str, Path]) -> None:
    board, image = disk
    offset = partition_table(image)["partitions"][0]["start"] * SECTOR
    listing = mdir(image, offset, "/slot-a")
    assert "::/slot-a/Image" in listing
    if board == "rock5b":
        assert "::/boot.scr" in mdir(image, offset, "/")
        return
    top = mdir(image, offset, "/")
    assert "::/config.txt" in top
    assert ("::/start4.elf" in top) == (board == "rpi4")
    assert "::/slot-a/overlays/README" in mdir(image, offset, "/slot-a/overlays")
    config = mtype(image, offset, "/config.txt")
    assert "os_prefix=slot-a/" in config.splitlines()
    assert "kernel=Image" in config.splitlines()
    cmdline = mtype(image, offset, "/slot-a/cmdline.txt")
    assert len(cmdline.strip().splitlines()) == 1, "cmdline.txt must be a single line"
    words = cmdline.split()
    assert f"root=PARTUUID={layout()['NVR_PARTUUID_ROOTFS_A']}" in words
    assert {"ro", "rootwait", "rootfstype=squashfs", "rauc.slot=A"} <= set(words)


def test_boot_partition_label(disk: tuple[str, Path]) -> None:
    _, image = disk
    offset = partition_table(image)["partitions"][0]["start"] * SECTOR
    info = run(
        "minfo", "-i", f"{image}@@{offset}", "::", env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}
    )
    assert "NVR-BOOT" in info.stdout


@pytest.mark.skipif(shutil.which("blkid") is None, reason="needs util-linux (blkid)")
def test_overlay_and_data_are_labelled_ext4(disk: tuple[str, Path]) -> None:
    _, image = disk
    parts = {p["name"]: p for p in partition_table(image)["partitions"]}
    for name, label in (("overlay", "nvr-overlay"), ("data", "nvr-state")):
        probe = run("blkid", "-p", "-O", str(parts[name]["start"] * SECTOR), image).stdout
        assert f'LABEL="{label}"' in probe and 'TYPE="ext4"' in probe, probe
    # The recordings disk is found by its label NVR-DATA; no filesystem on the card may carry it.
    labels = re.findall(r'^\s*label = "([^"]+)"', (ROOT / "image.cfg").read_text(), re.MULTILINE)
    assert sorted(labels) == ["NVR-BOOT", "nvr-overlay", "nvr-state"]


def test_grow_data_partition_fills_a_bigger_card(tmp_path: Path) -> None:
    image = build_disk(tmp_path, "rpi4")
    card = tmp_path / "card.img"
    # A sparse copy: the image is mostly holes, and a dense one would write 1.8 GB.
    run("cp", "--sparse=always", image, card)
    with card.open("r+b") as card_file:
        card_file.truncate(4000 * MIB)
    grow = ROOT / "overlay" / "usr" / "libexec" / "nvr" / "grow-data-partition"
    before = partition_table(card)["partitions"]
    result = run(grow, "--image", card, str(len(before)))
    assert f"growing partition {len(before)} of" in result.stdout
    table = partition_table(card)
    after = table["partitions"]
    assert [p["start"] for p in after] == [p["start"] for p in before]
    assert after[:-1] == before[:-1]
    assert after[-1]["start"] + after[-1]["size"] - 1 == table["lastlba"]
    assert table["lastlba"] * SECTOR > 3990 * MIB
    run("sfdisk", "--verify", card)
    # A second run (every later boot) finds nothing to do and writes nothing.
    written = card.stat().st_mtime_ns
    again = run(grow, "--image", card, str(len(after)))
    assert again.stdout == ""
    assert partition_table(card)["partitions"] == after
    assert card.stat().st_mtime_ns == written


@pytest.mark.skipif(
    shutil.which("mkimage") is None, reason="needs U-Boot's mkimage (apt install u-boot-tools)"
)
def test_rock5b_boot_script_compiles(tmp_path: Path) -> None:
    binaries = fake_binaries(tmp_path / "images", "rock5b")
    boot = tmp_path / "boot"
    boot.mkdir()
    run(ROOT / "board" / "rock5b" / "stage-boot.sh", binaries, boot, ROOT / "board" / "rock5b")
    script = (boot / "boot.cmd").read_text()
    assert "@ROOTFS_" not in script
    assert layout()["NVR_PARTUUID_ROOTFS_A"] in script and layout()["NVR_PARTUUID_ROOTFS_B"] in script
    assert (boot / "boot.scr").stat().st_size > len(script)
    assert (boot / "slot-a" / "rk3588-rock-5b.dtb").is_file()
