"""The last update's story, kept on the overlay partition so that it survives reboots and both
slots read it: what was installed where, and whether it was kept or given up, and why.

States, in order: installed (RAUC wrote the slot; not booted yet), trying (booted on trial),
then good (confirmed) or failed (the box went back to the committed slot).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from nvr_ota.files import atomic_write

STATES = ("installed", "trying", "good", "failed")


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    state: str
    slot: str  # the slot the update went to
    version: str = ""  # the bundle's version
    from_slot: str = ""
    from_version: str = ""
    installed_at: str = ""
    changed_at: str = ""
    reason: str = ""

    def moved_to(self, state: str, reason: str = "") -> UpdateRecord:
        """This record in a later state, stamped now."""
        if state not in STATES:
            raise ValueError(f"unknown update state {state!r}")
        return replace(self, state=state, changed_at=now(), reason=reason or self.reason)

    def summary(self) -> str:
        """One line for a person."""
        what = f"update {self.version or '(unknown version)'} in slot {self.slot}"
        text = {
            "installed": f"{what}: installed, not booted yet",
            "trying": f"{what}: running on trial",
            "good": f"{what}: confirmed",
            "failed": f"{what}: given up, back on slot {self.from_slot or '?'}",
        }[self.state]
        return f"{text} ({self.reason})" if self.reason else text


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def load(path: Path) -> UpdateRecord | None:
    """The record at `path`; None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    known = {field.name for field in fields(UpdateRecord)}
    if not isinstance(data, dict) or data.get("state") not in STATES or not data.get("slot"):
        return None
    return UpdateRecord(**{key: str(value) for key, value in data.items() if key in known})


def save(path: Path, record: UpdateRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(asdict(record), indent=2, sort_keys=True) + "\n", mode=0o644)
