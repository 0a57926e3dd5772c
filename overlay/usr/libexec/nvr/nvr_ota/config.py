"""The box's OTA settings (/usr/lib/nvr/ota.conf, written for each board when the image is built)
and the bootloader backend they describe. NVR_OTA_CONFIG names another file (tests, the VM)."""

from __future__ import annotations

import configparser
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from nvr_ota import ubootenv
from nvr_ota.grub import GrubBackend
from nvr_ota.slots import SLOTS, BootBackend, BootError
from nvr_ota.tryboot import TrybootBackend
from nvr_ota.uboot import UBootBackend

DEFAULT_PATH = Path("/usr/lib/nvr/ota.conf")


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """What "nvrd is healthy" means for confirming a trial, and what to run to act on it."""

    unit: str = "nvrd.service"
    api: str = "http://127.0.0.1:5000/api/version"
    healthy_seconds: float = 120.0  # nvrd must stay up (one invocation, READY) this long
    deadline_seconds: float = 600.0  # after this, a trial that has not proved healthy is given up
    poll_seconds: float = 2.0
    mark_good: tuple[str, ...] = ("rauc", "status", "mark-good")
    mark_bad: tuple[str, ...] = ("rauc", "status", "mark-bad")
    reboot: tuple[str, ...] = ("systemctl", "reboot")


@dataclass(frozen=True, slots=True)
class OtaConfig:
    """Everything the OTA tools read from ota.conf."""

    backend: str
    boot_dir: Path
    kernel: str
    cmdline: Path
    mounts: Path
    root_partuuids: dict[str, str]
    device_tree: Path
    reboot_param: Path
    fw_env_config: Path
    attempts: int
    grubenv: Path
    state_dir: Path
    database: Path
    snapshot: Path
    download_dir: Path
    health: HealthSettings

    @property
    def record_file(self) -> Path:
        return self.state_dir / "nvr-update.json"

    def make_backend(self) -> BootBackend:
        """The bootloader backend this box uses."""
        if self.backend == "tryboot":
            return TrybootBackend(
                self.boot_dir, self.kernel, self.device_tree, self.reboot_param, self.mounts
            )
        if self.backend == "uboot":
            try:
                location = ubootenv.EnvLocation.from_fw_env_config(self.fw_env_config)
            except ubootenv.EnvError as exc:
                raise BootError(str(exc)) from exc
            return UBootBackend(self.boot_dir, location, self.kernel, self.attempts)
        if self.backend == "grub":
            return GrubBackend(self.boot_dir, self.kernel, self.grubenv, self.cmdline, self.mounts)
        raise BootError(f"unknown boot backend {self.backend!r} (tryboot, uboot or grub)")


def load(path: Path | None = None) -> OtaConfig:
    """Read ota.conf (`path`, else $NVR_OTA_CONFIG, else /usr/lib/nvr/ota.conf)."""
    path = path or Path(os.environ.get("NVR_OTA_CONFIG") or DEFAULT_PATH)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path) as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise BootError(f"cannot read {path}: {exc.strerror}") from exc
    except configparser.Error as exc:
        raise BootError(f"{path}: {exc}") from exc

    def get(section: str, key: str, default: str) -> str:
        return parser.get(section, key, fallback=default).strip()

    def number(section: str, key: str, default: float) -> float:
        text = get(section, key, str(default))
        try:
            return float(text)
        except ValueError as exc:
            raise BootError(f"{path}: [{section}] {key} = {text!r} is not a number") from exc

    boot_dir = Path(get("boot", "boot-dir", "/boot"))
    partuuids = {slot: get("slots", slot, "") for slot in SLOTS}
    defaults = HealthSettings()
    health = HealthSettings(
        unit=get("health", "unit", defaults.unit),
        api=get("health", "api", defaults.api),
        healthy_seconds=number("health", "healthy-seconds", defaults.healthy_seconds),
        deadline_seconds=number("health", "deadline-seconds", defaults.deadline_seconds),
        poll_seconds=number("health", "poll-seconds", defaults.poll_seconds),
        mark_good=tuple(shlex.split(get("health", "mark-good", shlex.join(defaults.mark_good)))),
        mark_bad=tuple(shlex.split(get("health", "mark-bad", shlex.join(defaults.mark_bad)))),
        reboot=tuple(shlex.split(get("health", "reboot", shlex.join(defaults.reboot)))),
    )
    return OtaConfig(
        backend=get("boot", "backend", ""),
        boot_dir=boot_dir,
        kernel=get("boot", "kernel", "Image"),
        cmdline=Path(get("boot", "cmdline", "/proc/cmdline")),
        mounts=Path(get("boot", "mounts", "/proc/self/mounts")),
        root_partuuids=partuuids,
        device_tree=Path(get("tryboot", "device-tree", "/proc/device-tree")),
        reboot_param=Path(get("tryboot", "reboot-param", "/run/systemd/reboot-param")),
        fw_env_config=Path(get("uboot", "fw-env-config", "/etc/fw_env.config")),
        attempts=int(number("uboot", "attempts", 3)),
        grubenv=Path(get("grub", "env-file", str(boot_dir / "EFI" / "BOOT" / "grubenv"))),
        state_dir=Path(get("update", "state-dir", "/mnt/overlay/rauc")),
        database=Path(get("update", "database", "/var/lib/nvr/nvr.db")),
        snapshot=Path(get("update", "snapshot", "/var/lib/nvr/update/nvr.db.before-update")),
        download_dir=Path(get("update", "download-dir", "/var/lib/nvr/update")),
        health=health,
    )
