"""Builds the system test's x86-64 appliance from Debian's packages, cached by its inputs.

No Buildroot build runs here, so the system test boots the next best thing: Debian 12 with the
same overlay/ (units, udev rules, fstab), nvrd, RAUC configuration and OTA tools, laid out on a
disk by the same image.cfg (A/B root partitions, boot, overlay and data partitions, the same
partition GUIDs), booted by GRUB under UEFI, which RAUC drives through nvr-boot's grub backend.

Two cached layers, each in a folder named by a hash of what it is built from:
  build/system-test/base-<hash>/    rootfs/: Debian (tests/system/image/packages.txt), nvrd's Python
                                    dependencies (requirements.txt) and the kernel's initramfs;
                                    minutes to build, rebuilt only when those lists change
  build/system-test/image-<hash>/   disk.img, and the bundles the OTA test installs (a newer
                                    version, and one whose nvrd refuses to start), signed
                                    with the development key; about a minute, rebuilt when
                                    nvrd, overlay/, board/ or these files change

    python tests/system/build_image.py          # prints the image folder
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ASSETS = HERE / "image"
SHARED = Path(os.environ.get("NVR_SHARED", ROOT.parent / "shared")).resolve()
OUT = Path(os.environ.get("NVR_SYSTEM_TEST_CACHE", ROOT / "build" / "system-test"))
RAUC_DIR = ROOT / "board" / "common" / "rauc"
DEV_KEYS = RAUC_DIR / "dev-keys"
BOARD = "qemu-x86_64"
SUITE = "bookworm"
MIRRORS = ("http://deb.debian.org/debian", "http://deb.debian.org/debian-security")
MODEL_FILES = ("mobilenet_ssd_v2_coco_quant_postprocess.tflite", "coco_labels.txt")
# The kernel modules the VM needs are kept; the rest (GPUs, sound, radios, ...) only fill the slot.
KEPT_MODULE_DIRS = (
    "kernel/arch",
    "kernel/crypto",
    "kernel/lib",
    "kernel/fs",
    "kernel/block",
    "kernel/drivers/block",
    "kernel/drivers/md",
    "kernel/drivers/scsi",
    "kernel/drivers/usb",
    "kernel/drivers/virtio",
    "kernel/drivers/watchdog",
    "kernel/drivers/char",
    "kernel/drivers/net/virtio_net.ko",
    "kernel/drivers/net/net_failover.ko",
    "kernel/net/core",
    "kernel/net/ipv4",
    "kernel/net/ipv6",
    "kernel/net/unix",
    "kernel/net/packet",
    "kernel/net/core/failover.ko",
    "kernel/drivers/nvme",
    "kernel/drivers/ata",
)
# How long nvrd must stay healthy before a trial slot is kept, and when a trial is given up, in
# the VM (the box's defaults, 120 s and 600 s, would make the OTA test take half an hour).
TRIAL_HEALTHY_SECONDS = 20
TRIAL_DEADLINE_SECONDS = 150
INITRAMFS_MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "squashfs", "vfat", "ext4")


def log(message: str) -> None:
    print(f"build_image: {message}", file=sys.stderr, flush=True)


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a build step; its stdout. A failure raises with the step's output."""
    command = [str(a) for a in args]
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def digest(*parts: Path | str) -> str:
    """A short hash of files, folders (every file below, by relative path) and strings."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            hasher.update(b"s" + part.encode() + b"\0")
            continue
        files = (
            [part] if part.is_file() else sorted(p for p in part.rglob("*") if p.is_file() or p.is_symlink())
        )
        for path in files:
            if "__pycache__" in path.parts:
                continue
            hasher.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).encode() + b"\0")
            hasher.update(os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
            hasher.update(b"\1" if os.access(path, os.X_OK) else b"\0")
    return hasher.hexdigest()[:16]


def remove_stale(prefix: str, keep: Path) -> None:
    """Delete the cache's older layers of one kind: each holds a GB or so."""
    for old in OUT.glob(f"{prefix}*"):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def packages() -> list[str]:
    lines = (ASSETS / "packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def missing_tools() -> list[str]:
    """Host programs the build needs that are not installed."""
    tools = (
        "mmdebstrap",
        "mksquashfs",
        "grub-mkimage",
        "genimage",
        "rauc",
        "ssh-keygen",
        "mkfs.ext4",
        "mcopy",
    )
    return [tool for tool in tools if shutil.which(tool) is None]


# ---- layer 1: Debian and nvrd's dependencies ---------------------------------------------------


def mmdebstrap_args(wheels: Path, target: Path) -> list[str]:
    """The whole recipe of the base layer, as one mmdebstrap command line."""
    modules = "\n".join(INITRAMFS_MODULES) + "\n"
    kept = " ".join(KEPT_MODULE_DIRS)
    hooks = [
        f'mkdir -p "$1/tmp/wheels" && cp -a {wheels}/. "$1/tmp/wheels/"',
        'chroot "$1" python3 -m venv /opt/nvrd',
        'chroot "$1" /opt/nvrd/bin/pip install --quiet --no-index --find-links /tmp/wheels '
        "-r /tmp/wheels/requirements.txt",
        'rm -rf "$1/tmp/wheels"',
        'chroot "$1" groupadd --system apex',
        'chroot "$1" groupadd --gid 900 nvr',
        'chroot "$1" useradd --uid 900 --gid nvr --groups video,plugdev,apex --home-dir /var/lib/nvr '
        "--no-create-home --shell /usr/sbin/nologin nvr",
        # Only the modules the VM uses, so that the root filesystem fits its 512M slot.
        'cd "$1"/lib/modules/* && mkdir ../kept && for d in ' + kept + "; do "
        '[ -e "$d" ] && mkdir -p "../kept/$(dirname "$d")" && mv "$d" "../kept/$d"; done; '
        'rm -rf kernel && mv ../kept/kernel . && rmdir ../kept && chroot "$1" depmod -a "$(basename "$PWD")"',
        f"printf '{modules}' > \"$1/etc/initramfs-tools/modules\"",
        "sed -i 's/^MODULES=.*/MODULES=list/; s/^COMPRESS=.*/COMPRESS=zstd/' "
        '"$1/etc/initramfs-tools/initramfs.conf"',
        'chroot "$1" update-initramfs -u -k all',
        f'{ASSETS / "prune-rootfs"} "$1"',
    ]
    excluded = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")
    return [
        "mmdebstrap",
        "--mode=root",
        "--variant=minbase",
        "--include=" + ",".join(packages()),
        "--aptopt=Acquire::Retries 3",
        *(f"--dpkgopt=path-exclude={pattern}" for pattern in excluded),
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        *(f"--customize-hook={hook}" for hook in hooks),
        SUITE,
        str(target),
        f"deb {MIRRORS[0]} {SUITE} main",
        f"deb {MIRRORS[0]} {SUITE}-updates main",
        f"deb {MIRRORS[1]} {SUITE}-security main",
    ]


def base_key() -> str:
    """What the base layer is made of: the package list, requirements.txt and the recipe."""
    recipe = " ".join(mmdebstrap_args(Path("WHEELS"), Path("TARGET")))
    return digest(ASSETS / "packages.txt", ASSETS / "prune-rootfs", ROOT / "requirements.txt", recipe)


def build_base() -> Path:
    """base-<hash>/rootfs/, built when missing."""
    folder = OUT / f"base-{base_key()}"
    tree = folder / "rootfs"
    if tree.is_dir():
        return tree
    partial = folder / "rootfs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    wheels = folder / "wheels"
    log("building wheels for requirements.txt")
    run(ROOT / ".venv" / "bin" / "pip", "wheel", "--quiet", "-r", ROOT / "requirements.txt", "-w", wheels)
    shutil.copy(ROOT / "requirements.txt", wheels / "requirements.txt")
    log(f"mmdebstrap {SUITE} with {len(packages())} packages (a few minutes)")
    run(*mmdebstrap_args(wheels, partial))
    os.replace(partial, tree)
    shutil.rmtree(wheels, ignore_errors=True)
    remove_stale("base-", keep=folder)
    log(f"base layer ready in {time.monotonic() - started:.0f} s: {tree}")
    return tree


# ---- layer 2: the appliance --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Image:
    """What the system test boots and installs."""

    folder: Path
    disk: Path  # raw, image.cfg's layout
    version: str  # nvrd's version in the disk's slot A
    good_bundle: Path  # the same system with a newer version
    good_version: str
    broken_bundle: Path  # a newer version whose nvrd refuses to start
    broken_version: str
    # A small signed bundle for the refusal tests (tampered copy, re-signed by a stranger): what
    # is checked does not depend on its size, and it never gets as far as being installed.
    refusal_bundle: Path
    ssh_key: Path  # private key whose public half is on the boot partition
    signing_key: Path
    signing_cert: Path


def nvrd_version() -> str:
    for line in (ROOT / "nvrd" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__ = "):
            return line.split('"')[1]
    raise RuntimeError("nvrd/__init__.py has no __version__")


def image_key(base: Path) -> str:
    return digest(
        base.parent.name,
        ROOT / "nvrd",
        ROOT / "overlay",
        ROOT / "image.cfg",
        ROOT / "board" / "common",
        ROOT / "buildroot" / "package" / "nvrd" / "config.yml",
        ROOT / "scripts" / "nvr-update",
        ASSETS,
        Path(__file__),
        *(SHARED / "models" / name for name in MODEL_FILES),
    )


def load_image(folder: Path) -> Image:
    version = nvrd_version()
    return Image(
        folder=folder,
        disk=folder / "disk.img",
        version=version,
        good_bundle=folder / "good.raucb",
        good_version=f"{version}+ota.2",
        broken_bundle=folder / "broken.raucb",
        broken_version=f"{version}+ota.3",
        refusal_bundle=folder / "small.raucb",
        ssh_key=folder / "id_ed25519",
        signing_key=DEV_KEYS / "DEVELOPMENT-ONLY-signing.key.pem",
        signing_cert=DEV_KEYS / "DEVELOPMENT-ONLY-signing.cert.pem",
    )


def build_image() -> Image:
    """image-<hash>/, built when missing (and the base layer under it)."""
    base = build_base()
    folder = OUT / f"image-{image_key(base)}"
    if (folder / "done").exists():
        return load_image(folder)
    started = time.monotonic()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    image = load_image(folder)
    with tempfile.TemporaryDirectory(dir=OUT, prefix="staging-") as scratch:
        work = Path(scratch)
        rootfs, bootfiles = work / "rootfs", work / "bootfiles"
        rootfs.mkdir()
        rootfs.chmod(0o755)
        log("copying the base layer")
        run("cp", "-a", f"{base}/.", f"{rootfs}/")
        take_kernel(rootfs, bootfiles)
        install_appliance(rootfs, image)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nvr system test", "-f", image.ssh_key)

        log("squashfs of slot A")
        squashfs(rootfs, work / "rootfs.squashfs")
        make_disk(work, bootfiles, image)

        log("bundle with a newer version")
        set_release_version(rootfs, image.good_version)
        squashfs(rootfs, work / "good.squashfs")
        make_bundle(work / "good.squashfs", bootfiles, image.good_version, image.good_bundle, image)

        log("bundle whose nvrd refuses to start")
        set_release_version(rootfs, image.broken_version)
        broken = rootfs / "usr" / "bin" / "nvrd"
        broken.write_text((ASSETS / "broken-nvrd").read_text())
        broken.chmod(0o755)
        # Its nvrd never gets as far as Python: without the environment the bundle is a quarter
        # smaller, which the OTA test pays for three times (download, check, install).
        shutil.rmtree(rootfs / "opt" / "nvrd")
        squashfs(rootfs, work / "broken.squashfs")
        make_bundle(work / "broken.squashfs", bootfiles, image.broken_version, image.broken_bundle, image)

        small = work / "small"
        small.mkdir()
        (small / "noise").write_bytes(os.urandom(1 << 20))
        squashfs(small, work / "small.squashfs")
        small_boot = work / "small-boot"
        small_boot.mkdir()
        (small_boot / "vmlinuz").write_bytes(b"not a kernel")
        make_bundle(
            work / "small.squashfs", small_boot, f"{image.version}+ota.9", image.refusal_bundle, image
        )
    remove_stale("image-", keep=folder)
    (folder / "done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    log(f"image ready in {time.monotonic() - started:.0f} s: {folder}")
    return image


def take_kernel(rootfs: Path, bootfiles: Path) -> None:
    """Move the kernel and initramfs out of the root filesystem into the slot's boot folder, as the
    Buildroot image keeps them on the boot partition (the root's /boot is that partition's mount)."""
    bootfiles.mkdir()
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise RuntimeError(f"expected one kernel in the base layer, found {kernels}")
    release = kernels[0].name.removeprefix("vmlinuz-")
    shutil.move(kernels[0], bootfiles / "vmlinuz")
    shutil.move(rootfs / "boot" / f"initrd.img-{release}", bootfiles / "initrd.img")
    for leftover in (rootfs / "boot").iterdir():
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    for link in ("vmlinuz", "vmlinuz.old", "initrd.img", "initrd.img.old"):
        (rootfs / link).unlink(missing_ok=True)


def install_appliance(rootfs: Path, image: Image) -> None:
    """What Buildroot's packages, overlay and post-build scripts put into the image."""
    log("overlay, nvrd, model, RAUC configuration")
    run("cp", "-a", f"{ROOT / 'overlay'}/.", f"{rootfs}/")
    site = next((rootfs / "opt" / "nvrd" / "lib").glob("python3*/site-packages"))
    shutil.copytree(ROOT / "nvrd", site / "nvrd", ignore=shutil.ignore_patterns("__pycache__"))
    launcher = rootfs / "usr" / "bin" / "nvrd"
    # The guard matters: the detector's worker process is spawned, and spawn runs the parent's
    # main script again (as pip's console-script launchers are written, with the guard).
    launcher.write_text(
        "#!/opt/nvrd/bin/python3\nimport sys\n\nfrom nvrd.cli import main\n\n"
        'if __name__ == "__main__":\n    sys.exit(main())\n'
    )
    launcher.chmod(0o755)
    run(
        "chroot",
        rootfs,
        "/opt/nvrd/bin/python3",
        "-m",
        "compileall",
        "-q",
        f"/{site.relative_to(rootfs)}/nvrd",
    )
    run("chroot", rootfs, "python3", "-m", "compileall", "-q", "/usr/libexec/nvr/nvr_ota")
    share = rootfs / "usr" / "share" / "nvr"
    (share / "models").mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        shutil.copy(SHARED / "models" / name, share / "models" / name)
    shutil.copy(ROOT / "buildroot" / "package" / "nvrd" / "config.yml", share / "config.yml")

    # The folders Buildroot's device table and packages create on the read-only root.
    for folder in ("mnt/overlay", "media/nvr", "etc/nvr", "var/lib/nvr", "root/.ssh"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    (rootfs / "root" / ".ssh").chmod(0o700)
    (rootfs / "etc" / "hostname").write_text("nvr\n")
    (rootfs / "etc" / "machine-id").write_text("")  # systemd makes one per boot on a read-only root

    env = {"BR2_EXTERNAL_NVR_PATH": str(ROOT / "buildroot")}
    run(ROOT / "board" / "common" / "post-build.sh", rootfs, BOARD, env=env)
    run(
        RAUC_DIR / "install-rauc.sh",
        rootfs,
        BOARD,
        env={"NVR_RAUC_KEYRING": str(DEV_KEYS / "DEVELOPMENT-ONLY-ca.cert.pem")},
    )
    shorten_trial(rootfs / "usr" / "lib" / "nvr" / "ota.conf")

    # What differs from the Buildroot image: /var on an overlay as BR2_INIT_SYSTEMD_VAR_OVERLAYFS
    # makes it, DHCP by systemd-networkd (Buildroot enables it with the package), and shorter
    # trial times so that the OTA test fits in CI.
    run("cp", "-a", f"{ASSETS / 'rootfs'}/.", f"{rootfs}/")
    wants = rootfs / "etc" / "systemd" / "system" / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit in ("systemd-networkd.service",):
        link = wants / unit
        link.unlink(missing_ok=True)
        link.symlink_to(f"/lib/systemd/system/{unit}")
    local_fs = rootfs / "etc" / "systemd" / "system" / "local-fs.target.wants"
    local_fs.mkdir(parents=True, exist_ok=True)
    (local_fs / "var.mount").unlink(missing_ok=True)
    (local_fs / "var.mount").symlink_to("/etc/systemd/system/var.mount")
    set_release_version(rootfs, image.version)


def shorten_trial(ota_conf: Path) -> None:
    """The trial's times of ota.conf, shortened so that the OTA test fits in CI."""
    text = ota_conf.read_text()
    for key, value in (
        ("healthy-seconds", TRIAL_HEALTHY_SECONDS),
        ("deadline-seconds", TRIAL_DEADLINE_SECONDS),
    ):
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.MULTILINE)
        if count != 1:
            raise RuntimeError(f"{ota_conf} has no single {key} line")
    ota_conf.write_text(text)


def set_release_version(rootfs: Path, version: str) -> None:
    release = rootfs / "usr" / "lib" / "nvr-release"
    lines = [line for line in release.read_text().splitlines() if not line.startswith("NVR_VERSION=")]
    release.write_text("\n".join([*lines, f"NVR_VERSION={version}"]) + "\n")


def squashfs(rootfs: Path, output: Path) -> None:
    output.unlink(missing_ok=True)
    run(
        "mksquashfs",
        rootfs,
        output,
        "-comp",
        "zstd",
        "-Xcompression-level",
        "6",
        "-noappend",
        "-quiet",
        "-no-progress",
    )


def layout() -> dict[str, str]:
    values = {}
    for line in (ROOT / "board" / "common" / "layout.env").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
    return values


def make_disk(work: Path, bootfiles: Path, image: Image) -> None:
    """disk.img from image.cfg, with the boot, overlay and data partitions' first contents."""
    log("disk image (genimage, image.cfg)")
    staging = work / "partitions"
    boot = staging / "boot"
    efi = boot / "EFI" / "BOOT"
    efi.mkdir(parents=True)
    shutil.copytree(bootfiles, boot / "slot-a")
    grub_modules = (
        "part_gpt fat normal linux echo test loadenv configfile serial terminal reboot halt"
        " search search_fs_uuid"
    )
    run(
        "grub-mkimage",
        "-O",
        "x86_64-efi",
        "-p",
        "/EFI/BOOT",
        "-o",
        efi / "BOOTX64.EFI",
        *grub_modules.split(),
    )
    ids = layout()
    grub_cfg = (ASSETS / "grub.cfg.in").read_text()
    grub_cfg = grub_cfg.replace("@ROOTFS_A_PARTUUID@", ids["NVR_PARTUUID_ROOTFS_A"])
    grub_cfg = grub_cfg.replace("@ROOTFS_B_PARTUUID@", ids["NVR_PARTUUID_ROOTFS_B"])
    (efi / "grub.cfg").write_text(grub_cfg)
    sys.path.insert(0, str(ROOT / "overlay" / "usr" / "libexec" / "nvr"))
    from nvr_ota import grubenv

    grubenv.write(efi / "grubenv", {"NVR_SLOT": "A", "NVR_TRY": "", "NVR_TRIAL": ""})
    shutil.copy(image.ssh_key.with_suffix(".pub"), boot / "authorized_keys")

    overlay = staging / "overlay"
    (overlay / "etc" / "nvr").mkdir(parents=True)
    shutil.copy(ASSETS / "config.yml", overlay / "etc" / "nvr" / "config.yml")
    (staging / "data").mkdir()

    board = work / "board"
    board.mkdir()
    (board / "bootloader.cfg").write_text("# GRUB is a file on the boot partition (UEFI)\n")
    (board / "bootstate.cfg").write_text("# GRUB keeps its state in a file on the boot partition\n")
    output = work / "genimage-out"
    env = {key: value for key, value in ids.items()}
    run(
        "genimage",
        "--config",
        "image.cfg",
        "--includepath",
        board,
        "--rootpath",
        staging,
        "--tmppath",
        work / "genimage-tmp",
        "--inputpath",
        work,
        "--outputpath",
        output,
        cwd=ROOT,
        env=env,
    )
    shutil.move(output / "sdcard.img", image.disk)


def make_bundle(rootfs_image: Path, bootfiles: Path, version: str, output: Path, image: Image) -> None:
    run(
        RAUC_DIR / "make-bundle.sh",
        "--compatible",
        f"nvr-{BOARD}",
        "--version",
        version,
        "--rootfs",
        rootfs_image,
        "--boot",
        bootfiles,
        "--output",
        output,
        env={"NVR_SIGNING_KEY": str(image.signing_key), "NVR_SIGNING_CERT": str(image.signing_cert)},
    )


def main() -> int:
    missing = missing_tools()
    if missing:
        print(f"build_image: missing host tools: {' '.join(missing)}", file=sys.stderr)
        return 1
    image = build_image()
    print(image.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
