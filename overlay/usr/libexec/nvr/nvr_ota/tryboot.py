"""The Raspberry Pi 4 and 5 through the firmware's tryboot, with both slots on one boot partition.

config.txt names the committed slot's folder (`os_prefix=slot-a/`); the firmware loads the kernel,
device trees, overlays and cmdline.txt from there (board/common/stage-boot-rpi.sh lays it out).
Arming a trial writes tryboot.txt, a copy of config.txt naming the other folder, and puts
`0 tryboot` in /run/systemd/reboot-param, so the next `systemctl reboot` asks the firmware for a
tryboot: it reads tryboot.txt instead of config.txt for that one boot, and clears the flag before
starting. The running kernel sees the flag in /proc/device-tree/chosen/bootloader/tryboot.
Confirming rewrites config.txt's os_prefix (keeping the user's other settings) and removes
tryboot.txt. Any reset before that boots config.txt, i.e. the committed slot.
"""

from __future__ import annotations

import re
from pathlib import Path

from nvr_ota.files import atomic_write, remove, writable
from nvr_ota.slots import SLOTS, BootError, OneShotTrialBackend, TrialState, slot_folder

_PREFIX = re.compile(r"^(\s*os_prefix\s*=\s*)(\S*)\s*$", re.MULTILINE)
TRYBOOT_PARAM = "0 tryboot"


def prefix_slot(config_text: str, where: Path) -> str:
    """The slot named by the os_prefix line of a config.txt's text."""
    match = _PREFIX.search(_global_part(config_text))
    if match is None:
        raise BootError(f"{where} has no os_prefix= line before its first [section]; not an A/B layout")
    value = match.group(2).rstrip("/").lower()
    for slot in SLOTS:
        if value == slot_folder(slot):
            return slot
    raise BootError(f"{where}: os_prefix={match.group(2)} names no slot folder (slot-a/ or slot-b/)")


def with_prefix(config_text: str, slot: str, where: Path) -> str:
    """`config_text` with its os_prefix line naming `slot`'s folder; every other line kept."""
    prefix_slot(config_text, where)  # refuses a config.txt without one
    return _PREFIX.sub(lambda m: f"{m.group(1)}{slot_folder(slot)}/", config_text, count=1)


def _global_part(config_text: str) -> str:
    """The lines before the first conditional section ([pi4], [all], ...), which apply to every boot."""
    match = re.search(r"^\s*\[", config_text, re.MULTILINE)
    return config_text if match is None else config_text[: match.start()]


class TrybootBackend(OneShotTrialBackend):
    """State: config.txt (committed), tryboot.txt (pending), reboot-param (armed), the firmware flag."""

    def __init__(
        self,
        boot_dir: Path,
        kernel: str = "Image",
        device_tree: Path = Path("/proc/device-tree"),
        reboot_param: Path = Path("/run/systemd/reboot-param"),
        mounts: Path = Path("/proc/self/mounts"),
    ) -> None:
        super().__init__(boot_dir, kernel)
        self.config = boot_dir / "config.txt"
        self.tryboot = boot_dir / "tryboot.txt"
        self.device_tree = device_tree
        self.reboot_param = reboot_param
        self.mounts = mounts

    def load(self) -> TrialState:
        committed = prefix_slot(self._read(self.config), self.config)
        pending = prefix_slot(self._read(self.tryboot), self.tryboot) if self.tryboot.exists() else None
        armed = pending is not None and TRYBOOT_PARAM in self._read_optional(self.reboot_param)
        if pending == committed:  # a confirmation cut short by a power cut: it had already committed
            pending, armed = None, False
        return TrialState(committed=committed, pending=pending, armed=armed)

    def store(self, state: TrialState) -> None:
        current = self._read(self.config)
        with writable(self.boot_dir, self.mounts):
            if prefix_slot(current, self.config) != state.committed:
                current = with_prefix(current, state.committed, self.config)
                atomic_write(self.config, current)
            if state.pending is None:
                self._disarm()
                remove(self.tryboot)
            else:
                atomic_write(self.tryboot, with_prefix(current, state.pending, self.config))
        if state.pending is not None and state.armed:
            self.reboot_param.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.reboot_param, TRYBOOT_PARAM + "\n")
        elif state.pending is not None:
            self._disarm()

    def trial_evidence(self, booted: str | None) -> bool:
        """The firmware's word that it started this boot from tryboot.txt (a big-endian u32)."""
        try:
            raw = (self.device_tree / "chosen" / "bootloader" / "tryboot").read_bytes()
        except OSError:
            return False
        return int.from_bytes(raw[:4], "big") != 0

    def _disarm(self) -> None:
        # Only our own request: someone else's reboot argument is not ours to drop.
        if TRYBOOT_PARAM in self._read_optional(self.reboot_param):
            remove(self.reboot_param)

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text()
        except OSError as exc:
            raise BootError(f"cannot read {path}: {exc.strerror}") from exc

    @staticmethod
    def _read_optional(path: Path) -> str:
        try:
            return path.read_text()
        except OSError:
            return ""
