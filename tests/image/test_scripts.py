"""The image's shell scripts and make targets: shellcheck on every script, and the scripts that can
run on a development machine run for real (flash.sh against a fake sysfs, buildroot-fetch.sh
against a local tarball, the make fragment through make itself)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from brtree import ROOT, buildroot_version


def shell_scripts() -> list[Path]:
    """Every shell script of the image side: by #! line, wherever it lives."""
    found = []
    for folder in ("scripts", "board", "overlay"):
        for path in sorted((ROOT / folder).rglob("*")):
            if (
                path.is_file()
                and not path.is_symlink()
                and path.read_bytes().startswith((b"#!/bin/sh", b"#!/bin/bash"))
            ):
                found.append(path)
    return found


def test_there_are_scripts_to_check() -> None:
    names = {path.name for path in shell_scripts()}
    assert {
        "mkdisk.sh",
        "flash.sh",
        "buildroot-fetch.sh",
        "post-build.sh",
        "post-image.sh",
        "grow-data-partition",
        "overlay-setup",
        "media-owner",
        "ssh-host-key",
    } <= names


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (apt)")
@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck(script: Path) -> None:
    result = subprocess.run(
        ["shellcheck", "-x", "-P", "SCRIPTDIR", script.name],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout
    assert os.access(script, os.X_OK), f"{script.relative_to(ROOT)} is not executable"


# --- flash.sh --------------------------------------------------------------------------------


def fake_disk(
    sysfs: Path, name: str, *, removable: str = "1", sectors: int = 8_000_000, usb: bool = False
) -> None:
    """/sys/class/block/NAME as the kernel shows a whole disk."""
    device = sysfs / "devices" / ("usb1/1-1/host0/block" if usb else "pci0/ata1/block") / name
    device.mkdir(parents=True)
    (device / "removable").write_text(removable + "\n")
    (device / "size").write_text(f"{sectors}\n")
    (sysfs / "class" / "block").mkdir(parents=True, exist_ok=True)
    (sysfs / "class" / "block" / name).symlink_to(device)
    partition = device / f"{name}1"
    partition.mkdir()
    (partition / "partition").write_text("1\n")
    (sysfs / "class" / "block" / f"{name}1").symlink_to(partition)


@pytest.fixture
def flash_env(tmp_path: Path) -> dict[str, str]:
    sysfs = tmp_path / "sys"
    fake_disk(sysfs, "sdb")
    fake_disk(sysfs, "sda", removable="0")
    fake_disk(sysfs, "sdc", removable="0", usb=True)
    fake_disk(sysfs, "sdd", sectors=2048)
    fake_disk(sysfs, "mmcblk0", removable="0")
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda2 / ext4 rw 0 0\n/dev/sde1 /media/usb vfat rw 0 0\n")
    image = tmp_path / "nvr-rpi4.img"
    with image.open("wb") as file:
        file.truncate(64 * 1024 * 1024)
    return {
        **os.environ,
        "NVR_SYSFS": str(sysfs),
        "NVR_PROC_MOUNTS": str(mounts),
        "NVR_FLASH_DRY_RUN": "1",
        "IMAGE": str(image),
    }


def flash(env: dict[str, str], device: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROOT / "scripts" / "flash.sh", env["IMAGE"], device],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("device", ["/dev/sdb", "/dev/sdc", "/dev/mmcblk0"])
def test_flash_accepts_a_removable_unmounted_disk(flash_env: dict[str, str], device: str) -> None:
    result = flash(flash_env, device)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"bmaptool copy {flash_env['IMAGE']} {device}"


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        ("/dev/sda", "not removable"),
        ("/dev/sdb1", "is a partition"),
        ("/dev/sdz", "not a block device"),
        ("sdb", "must be a /dev path"),
        ("/dev/sdd", "the image needs"),
    ],
)
def test_flash_refuses(flash_env: dict[str, str], device: str, reason: str) -> None:
    result = flash(flash_env, device)
    assert result.returncode == 1
    assert reason in result.stderr
    assert result.stdout == ""


def test_flash_refuses_a_disk_with_a_mounted_partition(flash_env: dict[str, str], tmp_path: Path) -> None:
    Path(flash_env["NVR_PROC_MOUNTS"]).write_text("/dev/sdb1 /media/card vfat rw 0 0\n")
    result = flash(flash_env, "/dev/sdb")
    assert result.returncode == 1
    assert "/dev/sdb1 is mounted on /media/card" in result.stderr


def test_flash_needs_an_image(flash_env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [ROOT / "scripts" / "flash.sh", str(tmp_path / "missing.img"), "/dev/sdb"],
        env=flash_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "make image" in result.stderr


# --- buildroot-fetch.sh --------------------------------------------------------------------------


def local_release(tmp_path: Path, version: str) -> tuple[Path, str]:
    """A stand-in release tarball (a Makefile in a buildroot-VERSION/ folder) and its SHA-256."""
    source = tmp_path / "src" / f"buildroot-{version}"
    source.mkdir(parents=True)
    (source / "Makefile").write_text("# stand-in\n")
    (source / "Config.in").write_text("# stand-in\n")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    tarball = downloads / f"buildroot-{version}.tar.xz"
    with tarfile.open(tarball, "w:xz") as archive:
        archive.add(source, arcname=source.name)
    return downloads, hashlib.sha256(tarball.read_bytes()).hexdigest()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_buildroot_fetch_checks_the_checksum_and_unpacks(tmp_path: Path) -> None:
    version = buildroot_version()
    downloads, digest = local_release(tmp_path, version)
    env = {**os.environ, "NVR_BUILDROOT_URL": downloads.as_uri()}
    build = tmp_path / "build"
    script = ROOT / "scripts" / "buildroot-fetch.sh"
    result = subprocess.run(
        [script, version, digest, build], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (build / f"buildroot-{version}" / "Makefile").read_text() == "# stand-in\n"
    assert (build / "dl" / f"buildroot-{version}.tar.xz").is_file()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_buildroot_fetch_rejects_a_wrong_checksum(tmp_path: Path) -> None:
    version = buildroot_version()
    downloads, _ = local_release(tmp_path, version)
    env = {**os.environ, "NVR_BUILDROOT_URL": downloads.as_uri()}
    build = tmp_path / "build"
    result = subprocess.run(
        [ROOT / "scripts" / "buildroot-fetch.sh", version, "0" * 64, build],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "expected 0000" in result.stderr
    assert not (build / f"buildroot-{version}").exists()
    assert not (build / "dl" / f"buildroot-{version}.tar.xz").exists(), "a bad download must not be kept"


# --- board/image.mk ----------------------------------------------------------------------------


def make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """make with a stand-in top-level Makefile that includes board/image.mk like the real one."""
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"include {ROOT}/board/image.mk\n.PHONY: run\nrun:\n\t@echo daemon\n")
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(makefile), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_fragment_leaves_other_targets_alone(tmp_path: Path) -> None:
    result = make(tmp_path, "run")
    assert result.returncode == 0 and result.stdout == "daemon\n"


@pytest.mark.parametrize("board", ["rpi4", "rpi5", "rock5b"])
def test_make_image_drives_buildroot_with_our_tree(tmp_path: Path, board: str) -> None:
    result = make(tmp_path, "-n", "image", f"BOARD={board}")
    assert result.returncode == 0, result.stderr
    commands = result.stdout
    version = buildroot_version()
    assert f"scripts/buildroot-fetch.sh {version} " in commands
    brmake = f"make -C {ROOT}/build/buildroot-{version} O={ROOT}/output/{board} BR2_EXTERNAL={ROOT}/buildroot"
    assert f"{brmake} nvr_{board}_defconfig" in commands
    assert commands.rstrip().splitlines()[-2].endswith(brmake)


def test_make_rejects_an_unknown_board(tmp_path: Path) -> None:
    result = make(tmp_path, "image", "BOARD=pi3")
    assert result.returncode != 0
    assert "BOARD must be one of: rpi4 rpi5 rock5b" in result.stderr


def test_make_flash_needs_a_device(tmp_path: Path) -> None:
    result = make(tmp_path, "flash", "BOARD=rpi4")
    assert result.returncode != 0
    assert "DEVICE=/dev/sdX" in result.stderr
    dry = make(tmp_path, "-n", "flash", "BOARD=rpi5", "DEVICE=/dev/sdb")
    assert f"{ROOT}/scripts/flash.sh {ROOT}/output/rpi5/images/nvr-rpi5.img /dev/sdb" in dry.stdout


@pytest.mark.parametrize("target", ["menuconfig", "savedefconfig", "check-package"])
def test_make_configuration_targets(tmp_path: Path, target: str) -> None:
    result = make(tmp_path, "-n", target, "BOARD=rock5b")
    assert result.returncode == 0, result.stderr
    if target == "check-package":
        assert "utils/check-package -b buildroot/package/*/*" in result.stdout
    else:
        assert f"O={ROOT}/output/rock5b BR2_EXTERNAL={ROOT}/buildroot {target}" in result.stdout
    if target == "savedefconfig":
        assert f"BR2_DEFCONFIG={ROOT}/buildroot/configs/nvr_rock5b_defconfig" in result.stdout
