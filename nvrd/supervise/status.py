"""The one line `systemctl status nvrd` shows: cameras, detectors and storage at a glance.

cameras 2/3 streaming (garage: reconnecting); detectors coral_usb0 (Coral);
storage /media/nvr on /dev/sda1, 812.4 GB free          (all on one line)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_CAPTURE_WORDS = {"starting": "connecting", "backoff": "reconnecting", "stopped": "stopped"}
_DETECTOR_WORDS = {"edgetpu": "Coral", "cpu": "CPU"}


def cameras_text(cameras: Mapping[str, Any]) -> str:
    """'cameras N/M streaming', naming the ones that are not and what they are doing."""
    if not cameras:
        return "no cameras enabled"
    waiting = {
        name: _CAPTURE_WORDS.get(p.capture.state, p.capture.state)
        for name, p in cameras.items()
        if p.capture.state != "streaming"
    }
    text = f"cameras {len(cameras) - len(waiting)}/{len(cameras)} streaming"
    if waiting:
        text += " (" + ", ".join(f"{name}: {doing}" for name, doing in sorted(waiting.items())) + ")"
    return text


def detectors_text(detectors: Mapping[str, str]) -> str:
    """'detectors a (Coral), b (CPU)' from {name: type}; says so when none runs."""
    if not detectors:
        return "no object detector running"
    named = [f"{name} ({_DETECTOR_WORDS.get(kind, kind)})" for name, kind in sorted(detectors.items())]
    return "detectors " + ", ".join(named)


def status_line(cameras: Mapping[str, Any], detectors: Mapping[str, str], storage: str | None) -> str:
    """The whole status line; `storage` is the storage monitor's description, None to leave it out."""
    parts = [cameras_text(cameras), detectors_text(detectors)]
    if storage:
        parts.append(f"storage {storage}")
    return "; ".join(parts)
