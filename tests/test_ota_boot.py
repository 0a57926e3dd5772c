"""The bootloader backends RAUC drives through nvr-boot, against temporary folders standing in for
/boot, /proc/device-tree and U-Boot's environment partition, and cross-checked with the real tools
(U-Boot's mkenvimage and fw_printenv, GRUB's grub-editenv) where they are installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "overlay" / "usr" / "libexec" / "nvr"))

from nvr_ota import grubenv, ubootenv
from nvr_ota.files import mount_of
from nvr_ota.grub import GrubBackend
from nvr_ota.slots import BootError, booted_slot
from nvr_ota.tryboot import TRYBOOT_PARAM, TrybootBackend
from nvr_ota.uboot import UBootBackend

ROOT = Path(__file__).resolve().parents[1]

# ---- Raspberry Pi tryboot ----------------------------------------------------------------------


class Pi:
    """A Raspberry Pi's boot partition as the image lays it out, its firmware's device tree and
    systemd's reboot-param file, all in a temporary folder."""

    def __init__(self, tmp: Path, board: str) -> None:
        self.boot = tmp / "boot"
        (self.boot / "slot-a" / "overlays").mkdir(parents=True)
        shutil.copy(ROOT / "board" / board / "config.txt", self.boot / "config.txt")
        (self.boot / "slot-a" / "Image").write_bytes(b"kernel A")
        (self.boot / "slot-a" / "overlays" / "README").write_text("")
        self.device_tree = tmp / "device-tree"
        (self.device_tree / "chosen" / "bootloader").mkdir(parents=True)
        self.reboot_param = tmp / "run" / "systemd" / "reboot-param"
        self.backend = TrybootBackend(
            self.boot, "Image", self.device_tree, self.reboot_param, tmp / "no-mounts"
        )

    def install_kernel(self, slot: str) -> None:
        folder = self.boot / f"slot-{slot.lower()}"
        folder.mkdir(exist_ok=True)
        (folder / "Image").write_bytes(f"kernel {slot}".encode())

    def firmware_boot(self, tryboot: bool) -> None:
        """What the firmware leaves behind: its tryboot flag, and the reboot parameter gone (/run)."""
        flag = self.device_tree / "chosen" / "bootloader" / "tryboot"
        flag.write_bytes((1 if tryboot else 0).to_bytes(4, "big"))
        self.reboot_param.unlink(missing_ok=True)

    def os_prefix(self, name: str = "config.txt") -> str:
        lines = (self.boot / name).read_text().splitlines()
        return next(line for line in lines if line.startswith("os_prefix="))


@pytest.fixture(params=["rpi4", "rpi5"])
def pi(tmp_path: Path, request: pytest.FixtureRequest) -> Pi:
    return Pi(tmp_path, request.param)


def test_a_fresh_card_boots_slot_a_and_slot_b_is_not_bootable(pi: Pi) -> None:
    assert pi.backend.committed() == "A"
    assert pi.backend.pending() is None
    assert pi.backend.primary() == "A"
    assert pi.backend.is_good("A") and not pi.backend.is_good("B")
    assert not pi.backend.on_trial("A")


def test_a_trial_is_refused_for_a_slot_without_a_kernel(pi: Pi) -> None:
    with pytest.raises(BootError, match=r"slot B has no kernel \(slot-b/Image"):
        pi.backend.set_primary("B")
    assert not (pi.boot / "tryboot.txt").exists()


def test_arming_writes_tryboot_txt_and_the_reboot_parameter(pi: Pi) -> None:
    pi.install_kernel("B")
    config_before = (pi.boot / "config.txt").read_text()
    pi.backend.set_primary("B")
    tryboot = (pi.boot / "tryboot.txt").read_text()
    assert pi.os_prefix("tryboot.txt") == "os_prefix=slot-b/"
    # Every other setting of config.txt carries over to the trial boot unchanged.
    assert tryboot.replace("os_prefix=slot-b/", "os_prefix=slot-a/") == config_before
    assert (pi.boot / "config.txt").read_text() == config_before
    assert pi.reboot_param.read_text().strip() == TRYBOOT_PARAM
    assert pi.backend.primary() == "B" and pi.backend.pending() == "B"
    assert pi.backend.is_good("B")


def test_confirming_the_trial_commits_it_and_keeps_the_users_settings(pi: Pi) -> None:
    pi.install_kernel("B")
    pi.backend.set_primary("B")
    with (pi.boot / "config.txt").open("a") as config:
        config.write("dtoverlay=my-own-hat\n")  # the user edits config.txt during the trial
    pi.firmware_boot(tryboot=True)
    assert pi.backend.on_trial("B")
    pi.backend.mark("B", good=True, booted="B")
    assert pi.os_prefix() == "os_prefix=slot-b/"
    assert "dtoverlay=my-own-hat" in (pi.boot / "config.txt").read_text()
    assert not (pi.boot / "tryboot.txt").exists()
    assert pi.backend.committed() == "B" and pi.backend.pending() is None
    assert not pi.backend.on_trial("B")


def test_a_reset_during_the_trial_boots_the_committed_slot_which_cannot_confirm_the_other(pi: Pi) -> None:
    pi.install_kernel("B")
    pi.backend.set_primary("B")
    pi.firmware_boot(tryboot=False)  # any reset: the firmware cleared its one-shot flag
    assert not pi.backend.on_trial("A")
    assert pi.backend.pending() == "B" and pi.backend.primary() == "A"
    with pytest.raises(BootError, match="not running on trial"):
        pi.backend.mark("B", good=True, booted="A")
    pi.backend.mark("B", good=False, booted="A")  # what settle does
    assert not (pi.boot / "tryboot.txt").exists() and pi.backend.pending() is None
    assert pi.os_prefix() == "os_prefix=slot-a/"


def test_the_committed_slot_cannot_be_marked_bad(pi: Pi) -> None:
    pi.install_kernel("B")
    pi.backend.set_primary("B")
    pi.firmware_boot(tryboot=True)
    # RAUC marks an install's target bad first: during the trial that target is the committed A.
    with pytest.raises(BootError, match="slot A is the committed slot"):
        pi.backend.mark("A", good=False, booted="B")
    assert pi.os_prefix() == "os_prefix=slot-a/"


def test_giving_up_a_running_trial_disarms_it(pi: Pi) -> None:
    pi.install_kernel("B")
    pi.backend.set_primary("B")
    pi.firmware_boot(tryboot=True)
    pi.backend.mark("B", good=False, booted="B")
    assert not (pi.boot / "tryboot.txt").exists()
    assert pi.backend.primary() == "A" and pi.backend.committed() == "A"


def test_set_primary_of_the_committed_slot_disarms_only_our_own_reboot_parameter(pi: Pi) -> None:
    pi.install_kernel("B")
    pi.backend.set_primary("B")
    pi.backend.set_primary("A")
    assert not (pi.boot / "tryboot.txt").exists() and not pi.reboot_param.exists()
    pi.reboot_param.write_text("0\n")  # someone else's reboot argument
    pi.backend.set_primary("A")
    assert pi.reboot_param.read_text() == "0\n"


def test_a_commit_cut_short_by_a_power_cut_counts_as_committed(pi: Pi) -> None:
    pi.install_kernel("B")
    pi.backend.set_primary("B")
    # config.txt was rewritten, then the power went before tryboot.txt was removed.
    text = (pi.boot / "config.txt").read_text().replace("os_prefix=slot-a/", "os_prefix=slot-b/")
    (pi.boot / "config.txt").write_text(text)
    assert pi.backend.committed() == "B" and pi.backend.pending() is None


def test_a_config_txt_without_os_prefix_is_refused_with_the_reason(tmp_path: Path) -> None:
    pi = Pi(tmp_path, "rpi4")
    text = (pi.boot / "config.txt").read_text().replace("os_prefix=slot-a/\n", "")
    (pi.boot / "config.txt").write_text(text)
    with pytest.raises(BootError, match="has no os_prefix= line"):
        pi.backend.committed()


# ---- U-Boot's counters (ROCK 5B) ---------------------------------------------------------------


def uboot_boot(location: ubootenv.EnvLocation) -> str:
    """One boot as board/rock5b/boot.cmd does it: spend an attempt of the first slot in BOOT_ORDER
    that has any (defaults "A B", 3), save, and return the slot it boots."""
    env = ubootenv.read(location)
    order = (env.get("BOOT_ORDER") or "A B").split()
    for slot in order:
        left = int(env.get(f"BOOT_{slot}_LEFT") or 3)
        if left > 0:
            env[f"BOOT_{slot}_LEFT"] = str(left - 1)
            ubootenv.write(location, env)
            return slot
    env["BOOT_A_LEFT"] = env["BOOT_B_LEFT"] = "3"
    ubootenv.write(location, env)
    return uboot_boot(location)


class Rock:
    """The ROCK 5B: its boot partition folder and U-Boot's environment as boot.cmd first saves it."""

    def __init__(self, tmp: Path) -> None:
        self.boot = tmp / "boot"
        (self.boot / "slot-a").mkdir(parents=True)
        (self.boot / "slot-a" / "Image").write_bytes(b"kernel A")
        self.env_file = tmp / "bootstate.bin"
        self.env_file.write_bytes(bytes(0x10000))  # the partition
        self.config = tmp / "fw_env.config"
        self.config.write_text(f"# as board/rock5b/overlay/etc/fw_env.config\n{self.env_file} 0x0 0x10000\n")
        self.location = ubootenv.EnvLocation.from_fw_env_config(self.config)
        # U-Boot's defaults plus what boot.scr saved on the first boot.
        ubootenv.write(self.location, {"bootcmd": "run distro_bootcmd", "bootdelay": "2"})
        self.backend = UBootBackend(self.boot, self.location, "Image", attempts=3)

    def env(self) -> dict[str, str]:
        return ubootenv.read(self.location)


@pytest.fixture
def rock(tmp_path: Path) -> Rock:
    return Rock(tmp_path)


def test_uboot_first_boot_and_slot_b_without_a_system(rock: Rock) -> None:
    assert uboot_boot(rock.location) == "A"
    assert rock.backend.committed() == "A" and rock.backend.pending() is None
    # boot.cmd's defaults would try the empty slot B after A's attempts; settle marks it bad.
    assert rock.backend.is_good("B") and not rock.backend.has_kernel("B")
    rock.backend.mark("B", good=False, booted="A")
    assert rock.env()["BOOT_ORDER"] == "A" and rock.env()["BOOT_B_LEFT"] == "0"
    rock.backend.mark("A", good=True, booted="A")  # the committed boot is confirmed
    assert rock.env()["BOOT_A_LEFT"] == "3"
    assert rock.env()["bootcmd"] == "run distro_bootcmd"  # U-Boot's own variables stay


def test_uboot_trial_then_confirmation(rock: Rock) -> None:
    uboot_boot(rock.location)
    rock.backend.mark("B", good=False, booted="A")  # what RAUC does to an install's target first
    (rock.boot / "slot-b").mkdir()
    (rock.boot / "slot-b" / "Image").write_bytes(b"kernel B")
    rock.backend.set_primary("B")
    env = rock.env()
    assert env["BOOT_ORDER"] == "B A" and env["BOOT_B_LEFT"] == "3" and env["NVR_TRIAL"] == "B"
    assert rock.backend.primary() == "B" and rock.backend.committed() == "A"
    assert uboot_boot(rock.location) == "B"
    assert rock.backend.on_trial("B")
    rock.backend.mark("B", good=True, booted="B")
    env = rock.env()
    assert env["BOOT_B_LEFT"] == "3" and env["NVR_TRIAL"] == ""
    assert rock.backend.committed() == "B" and not rock.backend.on_trial("B")


def test_uboot_a_failing_trial_uses_its_attempts_then_boots_the_committed_slot(rock: Rock) -> None:
    uboot_boot(rock.location)
    rock.backend.mark("B", good=False, booted="A")
    (rock.boot / "slot-b").mkdir()
    (rock.boot / "slot-b" / "Image").write_bytes(b"kernel B")
    rock.backend.set_primary("B")
    assert [uboot_boot(rock.location) for _ in range(4)] == ["B", "B", "B", "A"]
    assert rock.backend.pending() == "B" and not rock.backend.on_trial("A")
    with pytest.raises(BootError, match="not running on trial"):
        rock.backend.mark("B", good=True, booted="A")
    rock.backend.mark("B", good=False, booted="A")
    assert rock.env()["BOOT_ORDER"] == "A" and rock.backend.pending() is None
    with pytest.raises(BootError, match="slot A is the committed slot"):
        rock.backend.mark("A", good=False, booted="A")


def test_uboot_environment_that_u_boot_never_saved_is_refused(tmp_path: Path) -> None:
    device = tmp_path / "bootstate.bin"
    device.write_bytes(bytes(0x10000))  # the empty partition of a freshly flashed card
    location = ubootenv.EnvLocation(device, 0, 0x10000)
    backend = UBootBackend(tmp_path, location)
    with pytest.raises(BootError, match=r"CRC mismatch.*U-Boot saves it on every boot"):
        backend.committed()
    assert device.read_bytes() == bytes(0x10000)  # never written from scratch


def test_fw_env_config_with_a_redundant_copy_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "fw_env.config"
    config.write_text("/dev/mmcblk0 0x3f8000 0x8000\n/dev/mmcblk0 0x3f0000 0x8000\n")
    with pytest.raises(ubootenv.EnvError, match="exactly one environment"):
        ubootenv.EnvLocation.from_fw_env_config(config)


def test_our_board_fw_env_config_is_readable() -> None:
    location = ubootenv.EnvLocation.from_fw_env_config(
        ROOT / "board" / "rock5b" / "overlay" / "etc" / "fw_env.config"
    )
    assert location.offset == 0 and location.size == 0x10000
    assert str(location.device).startswith("/dev/disk/by-partuuid/")


@pytest.mark.skipif(shutil.which("mkenvimage") is None, reason="needs u-boot-tools (mkenvimage)")
def test_environment_made_by_u_boots_mkenvimage_reads_and_ours_reads_back_in_fw_printenv(
    tmp_path: Path,
) -> None:
    text = tmp_path / "env.txt"
    text.write_text("bootcmd=run distro_bootcmd\nBOOT_ORDER=A B\nBOOT_A_LEFT=2\n")
    image = tmp_path / "env.bin"
    subprocess.run(["mkenvimage", "-s", "0x10000", "-o", image, text], check=True, timeout=30)
    location = ubootenv.EnvLocation(image, 0, 0x10000)
    values = ubootenv.read(location)
    assert values == {"bootcmd": "run distro_bootcmd", "BOOT_ORDER": "A B", "BOOT_A_LEFT": "2"}
    values["NVR_TRIAL"] = "B"
    ubootenv.write(location, values)
    if shutil.which("fw_printenv") is None:
        pytest.skip("needs fw_printenv (u-boot-tools) for the second half")
    config = tmp_path / "fw_env.config"
    config.write_text(f"{image} 0x0 0x10000\n")
    printed = subprocess.run(
        ["fw_printenv", "-c", config], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert set(printed.splitlines()) == {
        "bootcmd=run distro_bootcmd",
        "BOOT_ORDER=A B",
        "BOOT_A_LEFT=2",
        "NVR_TRIAL=B",
    }


# ---- GRUB (the x86-64 system-test image) -------------------------------------------------------


class Grub:
    def __init__(self, tmp: Path) -> None:
        self.boot = tmp / "boot"
        (self.boot / "EFI" / "BOOT").mkdir(parents=True)
        (self.boot / "slot-a").mkdir()
        (self.boot / "slot-a" / "vmlinuz").write_bytes(b"kernel A")
        self.env = self.boot / "EFI" / "BOOT" / "grubenv"
        grubenv.write(self.env, {"NVR_SLOT": "A", "NVR_TRY": "", "NVR_TRIAL": ""})
        self.cmdline = tmp / "cmdline"
        self.backend = GrubBackend(self.boot, "vmlinuz", self.env, self.cmdline, tmp / "no-mounts")

    def grub_boot(self) -> str:
        """What tests/system/image/grub.cfg does: NVR_TRY once (cleared first), else NVR_SLOT."""
        values = grubenv.read(self.env)
        trial = bool(values.get("NVR_TRY"))
        slot = values["NVR_TRY"] if trial else values.get("NVR_SLOT") or "A"
        values["NVR_TRY"] = ""
        grubenv.write(self.env, values)
        self.cmdline.write_text(f"root=PARTUUID=x rauc.slot={slot} nvr.trial={int(trial)} ro\n")
        return slot


def test_grub_trial_is_one_shot_and_confirmation_commits(tmp_path: Path) -> None:
    grub = Grub(tmp_path)
    assert grub.grub_boot() == "A" and grub.backend.committed() == "A"
    (grub.boot / "slot-b").mkdir()
    (grub.boot / "slot-b" / "vmlinuz").write_bytes(b"kernel B")
    grub.backend.set_primary("B")
    assert grubenv.read(grub.env) == {"NVR_SLOT": "A", "NVR_TRY": "B", "NVR_TRIAL": "B"}
    assert grub.grub_boot() == "B" and grub.backend.on_trial(booted_slot(grub.cmdline))
    assert grub.grub_boot() == "A"  # a reset during the trial
    assert grub.backend.pending() == "B" and not grub.backend.on_trial("A")
    grub.backend.set_primary("B")
    assert grub.grub_boot() == "B"
    grub.backend.mark("B", good=True, booted="B")
    assert grubenv.read(grub.env) == {"NVR_SLOT": "B", "NVR_TRY": "", "NVR_TRIAL": ""}
    assert grub.grub_boot() == "B" and not grub.backend.on_trial("B")


@pytest.mark.skipif(shutil.which("grub-editenv") is None, reason="needs grub-common (grub-editenv)")
def test_grubenv_agrees_with_grub_editenv(tmp_path: Path) -> None:
    path = tmp_path / "grubenv"
    subprocess.run(["grub-editenv", path, "create"], check=True, timeout=30)
    subprocess.run(["grub-editenv", path, "set", "NVR_SLOT=B", "NVR_TRY="], check=True, timeout=30)
    assert grubenv.read(path) == {"NVR_SLOT": "B", "NVR_TRY": ""}
    grubenv.write(path, {"NVR_SLOT": "A", "NVR_TRIAL": "B", "NVR_TRY": "B"})
    listed = subprocess.run(
        ["grub-editenv", path, "list"], capture_output=True, text=True, timeout=30, check=True
    )
    assert set(listed.stdout.splitlines()) == {"NVR_SLOT=A", "NVR_TRIAL=B", "NVR_TRY=B"}
    assert path.stat().st_size == grubenv.SIZE


def test_grubenv_refuses_values_grub_would_need_escaped(tmp_path: Path) -> None:
    with pytest.raises(grubenv.GrubEnvError, match="only letters"):
        grubenv.write(tmp_path / "grubenv", {"NVR_SLOT": "A\nB"})


# ---- shared pieces -----------------------------------------------------------------------------


def test_booted_slot_from_the_kernel_command_line(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("root=PARTUUID=e17f ro rootwait rauc.slot=B console=tty1\n")
    assert booted_slot(cmdline) == "B"
    cmdline.write_text("root=/dev/sda1 ro\n")
    assert booted_slot(cmdline) is None
    assert booted_slot(tmp_path / "missing") is None


def test_the_mount_holding_a_path_comes_from_the_mounts_table(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/root / squashfs ro,relatime 0 0\n"
        "/dev/mmcblk0p1 /boot vfat ro,noatime,umask=0077 0 0\n"
        "/dev/sda1 /media/my\\040disk ext4 rw 0 0\n"
    )
    assert mount_of(Path("/boot/slot-a/Image"), mounts) == ("/boot", ["ro", "noatime", "umask=0077"])
    assert mount_of(Path("/media/my disk/x"), mounts)[0] == "/media/my disk"
    assert mount_of(Path("/bootstrap"), mounts)[0] == "/"
