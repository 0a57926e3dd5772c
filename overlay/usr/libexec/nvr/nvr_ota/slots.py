"""What every bootloader backend answers, in RAUC's terms, and the rules they share.

A slot is named by its RAUC bootname (A or B). The *committed* slot is the one the box boots when
nothing else is asked for. An update arms a *trial* of the other slot: the bootloader starts it on
trial (once for the Raspberry Pi firmware and GRUB, a few times for U-Boot's counters) and every
reset before it is confirmed lands on the committed slot again. Confirming (RAUC's mark-good while
running on trial) makes the trial slot the committed one.

The rules that keep a box from ever losing its last bootable system:
  - the committed slot cannot be marked bad (RAUC marks an install's target bad before writing it,
    so an install while a trial runs, which would overwrite the committed slot, is refused);
  - a slot is confirmed only while it runs on trial, never on someone's word from another slot;
  - a trial is armed only for a slot whose boot folder holds a kernel.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, replace
from pathlib import Path

SLOTS = ("A", "B")


class BootError(Exception):
    """A backend cannot or will not do what was asked; the message says why, for a person."""


def slot_folder(slot: str) -> str:
    """The boot partition's folder of a slot: slot-a/ for A (board/common/stage-boot-rpi.sh)."""
    return f"slot-{slot.lower()}"


def check_slot(slot: str) -> str:
    """`slot` when it is a known bootname, else BootError."""
    if slot not in SLOTS:
        raise BootError(f"unknown slot {slot!r} (expected one of {', '.join(SLOTS)})")
    return slot


def other_slot(slot: str) -> str:
    """The other one of the two slots."""
    return SLOTS[1 - SLOTS.index(check_slot(slot))]


def booted_slot(cmdline: Path) -> str | None:
    """The slot the kernel was started from, by its `rauc.slot=` argument (None when absent)."""
    try:
        text = cmdline.read_text()
    except OSError:
        return None
    match = re.search(r"(?:^|\s)rauc\.slot=(\S+)", text)
    return match.group(1) if match else None


class BootBackend(abc.ABC):
    """One bootloader's A/B state, read and changed through the operations RAUC's custom backend
    interface names (get-primary, set-primary, get-state, set-state) plus the trial's own."""

    def __init__(self, boot_dir: Path, kernel: str) -> None:
        self.boot_dir = boot_dir
        self.kernel = kernel

    @abc.abstractmethod
    def committed(self) -> str:
        """The slot that boots when no trial is armed."""

    @abc.abstractmethod
    def pending(self) -> str | None:
        """The slot under trial (armed, or booted and not yet confirmed); None when there is none."""

    @abc.abstractmethod
    def primary(self) -> str:
        """The slot the next boot starts."""

    @abc.abstractmethod
    def is_good(self, slot: str) -> bool:
        """Whether the bootloader may start `slot` (committed, or armed for its trial)."""

    @abc.abstractmethod
    def set_primary(self, slot: str) -> None:
        """Make `slot` the next boot: arm its trial, or disarm any trial when it is the committed one."""

    @abc.abstractmethod
    def mark(self, slot: str, good: bool, booted: str | None) -> None:
        """RAUC's set-state: good confirms a trial that is running now; bad stops a slot from booting."""

    @abc.abstractmethod
    def trial_evidence(self, booted: str | None) -> bool:
        """The bootloader's own sign that it started this boot as a trial. Read early in boot, so
        it needs no mounted filesystem (the firmware's flag, the kernel command line, U-Boot's
        environment on its raw partition)."""

    def on_trial(self, booted: str | None) -> bool:
        """Whether this boot is the trial of the pending slot."""
        return booted is not None and self.trial_evidence(booted) and booted == self.pending()

    def has_kernel(self, slot: str) -> bool:
        """Whether the slot's boot folder holds a kernel."""
        return (self.boot_dir / slot_folder(slot) / self.kernel).is_file()

    def require_kernel(self, slot: str) -> None:
        if not self.has_kernel(slot):
            raise BootError(
                f"slot {slot} has no kernel ({slot_folder(slot)}/{self.kernel} is missing on "
                f"{self.boot_dir}); refusing to boot it"
            )


@dataclass(frozen=True, slots=True)
class TrialState:
    """The state of a bootloader with a one-shot trial (Raspberry Pi tryboot, our GRUB menu)."""

    committed: str
    pending: str | None = None
    armed: bool = False  # the one-shot flag for the next boot is set


class OneShotTrialBackend(BootBackend):
    """Backends whose bootloader tries a slot once: any reset before confirmation goes back."""

    @abc.abstractmethod
    def load(self) -> TrialState:
        """Read the state from the boot partition (and wherever the one-shot flag lives)."""

    @abc.abstractmethod
    def store(self, state: TrialState) -> None:
        """Write the state back, each file atomically."""

    def committed(self) -> str:
        return self.load().committed

    def pending(self) -> str | None:
        return self.load().pending

    def primary(self) -> str:
        state = self.load()
        return state.pending if state.pending and state.armed else state.committed

    def is_good(self, slot: str) -> bool:
        state = self.load()
        return check_slot(slot) in (state.committed, state.pending)

    def set_primary(self, slot: str) -> None:
        state = self.load()
        if check_slot(slot) == state.committed:
            self.store(replace(state, pending=None, armed=False))
            return
        self.require_kernel(slot)
        self.store(replace(state, pending=slot, armed=True))

    def mark(self, slot: str, good: bool, booted: str | None) -> None:
        state = self.load()
        check_slot(slot)
        if good:
            if slot == state.committed:
                return
            if slot == state.pending and slot == booted and self.on_trial(booted):
                self.store(TrialState(committed=slot))
                return
            if slot == state.pending:
                raise BootError(
                    f"slot {slot} is not running on trial now; it can only be confirmed while it does"
                )
            raise BootError(f"slot {slot} is neither the committed slot nor under trial")
        if slot == state.pending:
            self.store(replace(state, pending=None, armed=False))
            return
        if slot == state.committed:
            raise BootError(
                f"slot {slot} is the committed slot, the one the box falls back to; it cannot be marked bad "
                "(confirm or give up the running trial first)"
            )
