"""Signed update bundles with the real RAUC (Debian's, on the host): what `make bundle` builds
from a board's Buildroot output, how the image's RAUC configuration reads it (signature, purpose,
compatible, format), and that a bundle signed by anyone else is refused. Also the per-board RAUC
configuration install-rauc.sh renders, and the signing-key script."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAUC_DIR = ROOT / "board" / "common" / "rauc"
DEV_KEYS = RAUC_DIR / "dev-keys"
LAYOUT = dict(
    line.split("=", 1)
    for line in (ROOT / "board" / "common" / "layout.env").read_text().splitlines()
    if line and not line.startswith("#")
)

needs_rauc = pytest.mark.skipif(shutil.which("rauc") is None, reason="needs rauc (apt install rauc)")
needs_squashfs = pytest.mark.skipif(shutil.which("mksquashfs") is None, reason="needs squashfs-tools")


def run(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def render(tmp: Path, board: str, keyring: Path | None = None) -> Path:
    target = tmp / f"target-{board}"
    env = {"NVR_RAUC_KEYRING": str(keyring)} if keyring else None
    result = run(RAUC_DIR / "install-rauc.sh", target, board, env=env)
    assert result.returncode == 0, result.stderr
    return target


def fake_buildroot_images(tmp: Path, board: str) -> Path:
    """A board's output/images/ as Buildroot leaves it, with a small real squashfs as the root."""
    images = tmp / "images"
    (images / "rootfs").mkdir(parents=True)
    (images / "rootfs" / "hello").write_text("a root filesystem\n")
    # RAUC refuses a bundle whose whole squashfs fits in one 4 KiB block.
    (images / "rootfs" / "noise").write_bytes(os.urandom(64 << 10))
    subprocess.run(
        ["mksquashfs", images / "rootfs", images / "rootfs.squashfs", "-quiet", "-no-progress", "-noappend"],
        check=True,
        timeout=120,
    )
    (images / "Image").write_bytes(b"arm64 kernel")
    if board == "rock5b":
        (images / "rk3588-rock-5b.dtb").write_bytes(b"dtb")
    else:
        (images / "bcm2711-rpi-4-b.dtb").write_bytes(b"dtb")
        (images / "rpi-firmware" / "overlays").mkdir(parents=True)
        (images / "rpi-firmware" / "overlays" / "vc4-kms-v3d.dtbo").write_bytes(b"overlay")
    return images


# ---- install-rauc.sh ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("board", "backend"), [("rpi4", "tryboot"), ("rpi5", "tryboot"), ("rock5b", "uboot")]
)
def test_each_board_gets_its_rauc_configuration(tmp_path: Path, board: str, backend: str) -> None:
    target = render(tmp_path, board)
    system = configparser.ConfigParser(interpolation=None)
    system.read(target / "etc" / "rauc" / "system.conf")
    assert system["system"]["compatible"] == f"nvr-{board}"
    assert system["system"]["bootloader"] == "custom"
    assert system["system"]["bundle-formats"] == "-plain"
    assert system["system"]["mountprefix"].startswith("/run/")  # the root filesystem is read-only
    assert system["keyring"]["check-purpose"] == "codesign"
    assert system["slot.rootfs.0"]["device"] == f"/dev/disk/by-partuuid/{LAYOUT['NVR_PARTUUID_ROOTFS_A']}"
    assert system["slot.rootfs.1"]["device"] == f"/dev/disk/by-partuuid/{LAYOUT['NVR_PARTUUID_ROOTFS_B']}"
    assert (system["slot.rootfs.0"]["bootname"], system["slot.rootfs.1"]["bootname"]) == ("A", "B")
    for handler in system["handlers"].values():
        program = ROOT / "overlay" / handler.lstrip("/")
        assert program.is_file() and os.access(program, os.X_OK), handler
    ota = configparser.ConfigParser(interpolation=None)
    ota.read(target / "usr" / "lib" / "nvr" / "ota.conf")
    assert ota["boot"]["backend"] == backend
    assert ota["slots"]["B"] == LAYOUT["NVR_PARTUUID_ROOTFS_B"]
    assert os.access(target / "usr" / "bin" / "nvr-update", os.X_OK)
    assert (target / "etc" / "rauc" / "keyring.pem").read_bytes() == (
        DEV_KEYS / "DEVELOPMENT-ONLY-ca.cert.pem"
    ).read_bytes()


def test_the_development_keyring_is_called_out_and_an_unknown_board_refused(tmp_path: Path) -> None:
    result = run(RAUC_DIR / "install-rauc.sh", tmp_path / "t", "rpi4")
    assert "WARNING: the image trusts the DEVELOPMENT-ONLY key" in result.stderr
    unknown = run(RAUC_DIR / "install-rauc.sh", tmp_path / "u", "pdp11")
    assert unknown.returncode == 1 and "no OTA settings for board 'pdp11'" in unknown.stderr


def test_the_rock5b_backend_reads_the_boards_fw_env_config() -> None:
    # The ROCK 5B's U-Boot environment location comes from the board's own fw_env.config.
    text = (ROOT / "board" / "rock5b" / "overlay" / "etc" / "fw_env.config").read_text()
    assert LAYOUT["NVR_PARTUUID_BOOTSTATE"] in text


# ---- make bundle -------------------------------------------------------------------------------


@needs_rauc
@needs_squashfs
@pytest.mark.parametrize("board", ["rpi4", "rock5b"])
def test_make_bundle_builds_a_signed_verity_bundle_next_to_the_image(tmp_path: Path, board: str) -> None:
    images = fake_buildroot_images(tmp_path, board)
    if board == "rock5b" and shutil.which("mkimage") is None:
        pytest.skip("the ROCK 5B's boot.scr needs mkimage (u-boot-tools)")
    env = {"MKIMAGE": shutil.which("mkimage") or "mkimage"}
    result = run("make", "-s", "bundle", f"BOARD={board}", f"NVR_IMAGE_OUT={tmp_path}", cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    bundles = list(images.glob(f"nvr-{board}-*.raucb"))
    assert len(bundles) == 1
    target = render(tmp_path, board)
    info = run(
        "rauc",
        f"--conf={target / 'etc' / 'rauc' / 'system.conf'}",
        f"--keyring={DEV_KEYS / 'DEVELOPMENT-ONLY-ca.cert.pem'}",
        "info",
        "--output-format=json",
        bundles[0],
    )
    assert info.returncode == 0, info.stderr
    assert '"compatible":"nvr-' + board + '"' in info.stdout.replace(" ", "")
    assert "Verified inline signature" in info.stderr
    # The payload: the root filesystem, the boot folder the slot hook installs, and the hook.
    extracted = tmp_path / "extracted"
    # (--conf: the image's check-purpose=codesign; RAUC's default purpose is S/MIME signing.)
    extract = run(
        "rauc",
        f"--conf={target / 'etc' / 'rauc' / 'system.conf'}",
        f"--keyring={DEV_KEYS / 'DEVELOPMENT-ONLY-ca.cert.pem'}",
        "extract",
        bundles[0],
        extracted,
    )
    assert extract.returncode == 0, extract.stderr
    assert (extracted / "rootfs.squashfs").read_bytes() == (images / "rootfs.squashfs").read_bytes()
    assert (extracted / "boot" / "Image").read_bytes() == b"arm64 kernel"
    manifest = configparser.ConfigParser(interpolation=None)
    manifest.read(extracted / "manifest.raucm")
    assert manifest["bundle"]["format"] == "verity"
    assert manifest["image.rootfs"]["hooks"].strip(";") == "post-install"
    assert os.access(extracted / manifest["hooks"]["filename"], os.X_OK)
    if board == "rpi4":
        assert "rauc.slot=A" in (extracted / "boot" / "cmdline.txt").read_text()  # retargeted on install
        assert (extracted / "boot" / "overlays" / "README").exists()


def test_make_bundle_without_a_built_image_says_what_to_do(tmp_path: Path) -> None:
    result = run("make", "-s", "bundle", "BOARD=rpi5", f"NVR_IMAGE_OUT={tmp_path}", cwd=ROOT)
    assert result.returncode != 0
    assert "build the image first (make image BOARD=rpi5)" in result.stderr


@needs_rauc
@needs_squashfs
def test_a_bundle_signed_by_someone_else_or_for_another_board_is_refused(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.squashfs"
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "x").write_bytes(os.urandom(64 << 10))
    subprocess.run(
        ["mksquashfs", tmp_path / "tree", rootfs, "-quiet", "-no-progress"], check=True, timeout=60
    )
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "Image").write_bytes(b"k")
    keys = tmp_path / "keys"
    made = run(RAUC_DIR / "make-signing-keys.sh", keys, "a stranger")
    assert made.returncode == 0, made.stderr
    again = run(RAUC_DIR / "make-signing-keys.sh", keys)
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr

    def bundle(name: str, compatible: str, key_dir: Path | None) -> Path:
        env = {}
        if key_dir:
            env = {
                "NVR_SIGNING_KEY": str(key_dir / "signing.key.pem"),
                "NVR_SIGNING_CERT": str(key_dir / "signing.cert.pem"),
            }
        out = tmp_path / name
        result = run(
            RAUC_DIR / "make-bundle.sh",
            "--compatible",
            compatible,
            "--version",
            "9.9.9",
            "--rootfs",
            rootfs,
            "--boot",
            tmp_path / "boot",
            "--output",
            out,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        return out

    target = render(tmp_path, "rpi4")
    conf = f"--conf={target / 'etc' / 'rauc' / 'system.conf'}"
    keyring = f"--keyring={target / 'etc' / 'rauc' / 'keyring.pem'}"
    ours = run("rauc", conf, keyring, "info", bundle("ours.raucb", "nvr-rpi4", None))
    assert ours.returncode == 0, ours.stderr
    theirs = run("rauc", conf, keyring, "info", bundle("theirs.raucb", "nvr-rpi4", keys))
    assert theirs.returncode != 0 and "signature verification failed" in theirs.stderr
    # A box built with the stranger's CA as its keyring takes their bundles, not ours.
    stranger_box = render(tmp_path / "s", "rpi4", keyring=keys / "ca.cert.pem")
    assert (
        run(
            "rauc",
            f"--conf={stranger_box / 'etc' / 'rauc' / 'system.conf'}",
            f"--keyring={stranger_box / 'etc' / 'rauc' / 'keyring.pem'}",
            "info",
            tmp_path / "theirs.raucb",
        ).returncode
        == 0
    )
    # A certificate without the code-signing purpose is refused by check-purpose=codesign.
    (tmp_path / "plain").mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=no purpose",
            "-keyout",
            tmp_path / "plain" / "signing.key.pem",
            "-out",
            tmp_path / "plain" / "signing.cert.pem",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    self_signed = bundle("purpose.raucb", "nvr-rpi4", tmp_path / "plain")
    purpose = run("rauc", conf, f"--keyring={tmp_path / 'plain' / 'signing.cert.pem'}", "info", self_signed)
    assert purpose.returncode != 0 and "purpose" in purpose.stderr.lower()


def test_make_bundle_rejects_a_version_that_would_break_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "r").write_bytes(b"")
    result = run(
        RAUC_DIR / "make-bundle.sh",
        "--compatible",
        "nvr-rpi4",
        "--version",
        "1.0\n[x]",
        "--rootfs",
        tmp_path / "r",
        "--boot",
        tmp_path / "boot",
        "--output",
        tmp_path / "o.raucb",
    )
    assert result.returncode == 1 and "may only hold" in result.stderr
