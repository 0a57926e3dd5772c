"""GRUB under UEFI (the x86-64 system-test image), with a menu that keeps tryboot's rules.

The GRUB environment block on the boot partition holds three variables:
  NVR_SLOT   the committed slot (A when unset)
  NVR_TRY    a one-shot request: GRUB clears it and saves that before it boots the slot named
  NVR_TRIAL  the slot under trial, until it is confirmed or given up (GRUB only reads it)
and GRUB tells the kernel it started a trial with `nvr.trial=1` on the command line. Any reset
during the trial finds NVR_TRY empty and boots NVR_SLOT, as the Pi firmware falls back to
config.txt. tests/system/image/grub.cfg is the menu that reads them.
"""

from __future__ import annotations

import re
from pathlib import Path

from nvr_ota import grubenv
from nvr_ota.files import writable
from nvr_ota.slots import SLOTS, BootError, OneShotTrialBackend, TrialState


class GrubBackend(OneShotTrialBackend):
    """State: NVR_SLOT (committed), NVR_TRIAL (pending), NVR_TRY (armed), nvr.trial=1 (on trial)."""

    def __init__(
        self,
        boot_dir: Path,
        kernel: str = "vmlinuz",
        env_file: Path | None = None,
        cmdline: Path = Path("/proc/cmdline"),
        mounts: Path = Path("/proc/self/mounts"),
    ) -> None:
        super().__init__(boot_dir, kernel)
        self.env_file = env_file or boot_dir / "EFI" / "BOOT" / "grubenv"
        self.cmdline = cmdline
        self.mounts = mounts

    def _env(self) -> dict[str, str]:
        try:
            return grubenv.read(self.env_file)
        except grubenv.GrubEnvError as exc:
            raise BootError(str(exc)) from exc

    def load(self) -> TrialState:
        env = self._env()
        committed = env.get("NVR_SLOT") or "A"
        pending = env.get("NVR_TRIAL") or None
        armed = bool(env.get("NVR_TRY"))
        for name, value in (("NVR_SLOT", committed), ("NVR_TRIAL", pending)):
            if value is not None and value not in SLOTS:
                raise BootError(f"{self.env_file}: {name}={value} names no slot")
        if pending == committed:
            pending, armed = None, False
        return TrialState(committed=committed, pending=pending, armed=armed and pending is not None)

    def store(self, state: TrialState) -> None:
        env = self._env()
        env["NVR_SLOT"] = state.committed
        env["NVR_TRIAL"] = state.pending or ""
        env["NVR_TRY"] = state.pending if state.pending and state.armed else ""
        with writable(self.boot_dir, self.mounts):
            try:
                grubenv.write(self.env_file, env)
            except (grubenv.GrubEnvError, OSError) as exc:
                raise BootError(f"cannot write {self.env_file}: {exc}") from exc

    def trial_evidence(self, booted: str | None) -> bool:
        """GRUB's `nvr.trial=1` on the kernel command line."""
        try:
            return re.search(r"(?:^|\s)nvr\.trial=1(?:\s|$)", self.cmdline.read_text()) is not None
        except OSError:
            return False
