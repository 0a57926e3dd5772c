"""The Radxa ROCK 5B through U-Boot's boot counters (board/rock5b/boot.cmd).

U-Boot's environment on the bootstate partition holds BOOT_ORDER ("A B" when unset) and
BOOT_x_LEFT (3 when unset); every boot spends one attempt of the first slot in BOOT_ORDER that has
any, and saves that before starting the kernel. These are the variables RAUC's own U-Boot backend
uses, with its meaning: mark-good restores a slot's attempts, mark-bad empties them and drops the
slot from BOOT_ORDER, set-primary puts a slot first with full attempts.

Counters alone cannot tell a trial from the committed system, so set-primary also records the slot
under trial in NVR_TRIAL (boot.cmd ignores it); confirming clears it. A trial slot that fails gets
its attempts (a crash, the watchdog, a hang each cost one), then U-Boot boots the other slot.
"""

from __future__ import annotations

from pathlib import Path

from nvr_ota import ubootenv
from nvr_ota.slots import SLOTS, BootBackend, BootError, check_slot, other_slot

DEFAULT_ORDER = "A B"


class UBootBackend(BootBackend):
    """State: BOOT_ORDER, BOOT_A_LEFT, BOOT_B_LEFT (boot.cmd's) and NVR_TRIAL (ours)."""

    def __init__(
        self,
        boot_dir: Path,
        location: ubootenv.EnvLocation,
        kernel: str = "Image",
        attempts: int = 3,
    ) -> None:
        super().__init__(boot_dir, kernel)
        self.location = location
        self.attempts = attempts

    def _env(self) -> dict[str, str]:
        try:
            return ubootenv.read(self.location)
        except ubootenv.EnvError as exc:
            raise BootError(f"{exc}; U-Boot saves it on every boot through boot.scr") from exc

    def _store(self, env: dict[str, str]) -> None:
        try:
            ubootenv.write(self.location, env)
        except ubootenv.EnvError as exc:
            raise BootError(str(exc)) from exc

    @staticmethod
    def _order(env: dict[str, str]) -> list[str]:
        return [slot for slot in (env.get("BOOT_ORDER") or DEFAULT_ORDER).split() if slot in SLOTS]

    def _left(self, env: dict[str, str], slot: str) -> int:
        try:
            return int(env.get(f"BOOT_{slot}_LEFT", str(self.attempts)))
        except ValueError:
            return 0

    def committed(self) -> str:
        env = self._env()
        trial = env.get("NVR_TRIAL") or None
        order = self._order(env)
        for slot in order:
            if slot != trial and self._left(env, slot) > 0:
                return slot
        for slot in order:
            if slot != trial:
                return slot
        return other_slot(trial) if trial in SLOTS else SLOTS[0]

    def pending(self) -> str | None:
        trial = self._env().get("NVR_TRIAL") or None
        return trial if trial in SLOTS else None

    def primary(self) -> str:
        env = self._env()
        for slot in self._order(env):
            if self._left(env, slot) > 0:
                return slot
        return SLOTS[0]  # boot.cmd resets both counters and starts over

    def is_good(self, slot: str) -> bool:
        env = self._env()
        return check_slot(slot) in self._order(env) and self._left(env, slot) > 0

    def set_primary(self, slot: str) -> None:
        check_slot(slot)
        committed = self.committed()
        if slot != committed:
            self.require_kernel(slot)
        env = self._env()
        env["BOOT_ORDER"] = " ".join([slot, *(s for s in self._order(env) if s != slot)])
        env[f"BOOT_{slot}_LEFT"] = str(self.attempts)
        env["NVR_TRIAL"] = "" if slot == committed else slot
        self._store(env)

    def mark(self, slot: str, good: bool, booted: str | None) -> None:
        check_slot(slot)
        env = self._env()
        trial = env.get("NVR_TRIAL") or None
        committed = self.committed()
        order = self._order(env)
        if good:
            if slot == trial and slot != booted:
                raise BootError(
                    f"slot {slot} is not running on trial now; it can only be confirmed while it does"
                )
            if slot != trial and slot != committed:
                raise BootError(f"slot {slot} is neither the committed slot nor under trial")
            env[f"BOOT_{slot}_LEFT"] = str(self.attempts)
            if slot not in order:
                env["BOOT_ORDER"] = " ".join([*order, slot])
            if slot == trial:
                env["NVR_TRIAL"] = ""
            self._store(env)
            return
        if slot == committed and slot != trial:
            raise BootError(
                f"slot {slot} is the committed slot, the one the box falls back to; it cannot be marked bad "
                "(confirm or give up the running trial first)"
            )
        env[f"BOOT_{slot}_LEFT"] = "0"
        env["BOOT_ORDER"] = " ".join(s for s in order if s != slot)
        if slot == trial:
            env["NVR_TRIAL"] = ""
        self._store(env)

    def trial_evidence(self, booted: str | None) -> bool:
        """NVR_TRIAL names the booted slot (U-Boot itself leaves no other trace)."""
        return booted is not None and booted == self.pending()
