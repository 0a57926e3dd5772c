"""The camera features a home hub may switch at run time, and the rules for switching them.

A feature is a field of a camera's live config (`detect.enabled`, `motion.threshold`, ...); the camera
pipeline, the event manager and the recorder read those fields for every frame, so a change takes
effect at once and lasts until the next start (as in Frigate, nothing is written back to the file).
Nothing here knows about MQTT: it maps Frigate's feature names and payload words to the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

ON, OFF = "ON", "OFF"


@dataclass(frozen=True)
class Feature:
    """One switchable feature: its config section and field, and whether it is ON/OFF or a number."""

    section: str  # attribute of the camera config, e.g. "motion"
    field: str  # attribute of that section, e.g. "threshold"
    numeric: bool = False


# Frigate 0.12/0.13's feature names, in the order their states are announced.
FEATURES: dict[str, Feature] = {
    "detect": Feature("detect", "enabled"),
    "recordings": Feature("record", "enabled"),
    "snapshots": Feature("snapshots", "enabled"),
    "motion": Feature("motion", "enabled"),
    "improve_contrast": Feature("motion", "improve_contrast"),
    "motion_threshold": Feature("motion", "threshold", numeric=True),
    "motion_contour_area": Feature("motion", "contour_area", numeric=True),
}


class CommandError(ValueError):
    """A command that cannot be applied: unknown feature, bad payload, or refused in this state."""


def state_payload(value: bool | int) -> str:
    """How a feature's value is written on its `/state` topic: `ON`/`OFF`, or the number."""
    if isinstance(value, bool):
        return ON if value else OFF
    return str(value)


def feature_value(camera: Any, name: str) -> bool | int:
    """A feature's current value on a camera config."""
    feature = _feature(name)
    return getattr(getattr(camera, feature.section), feature.field)


def feature_states(camera: Any) -> dict[str, str]:
    """Every feature's current state as its `/state` payload."""
    return {name: state_payload(feature_value(camera, name)) for name in FEATURES}


def parse_payload(name: str, payload: bytes) -> bool | int:
    """A command payload as the feature's value: exactly `ON`/`OFF`, or a whole number."""
    feature = _feature(name)
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError(f"{name}: payload is not text") from None
    if not feature.numeric:
        if text not in (ON, OFF):
            raise CommandError(f"{name}: payload must be ON or OFF, got {_shown(text)}")
        return text == ON
    try:
        number = float(text)
    except ValueError:
        raise CommandError(f"{name}: payload must be a whole number, got {_shown(text)}") from None
    # Home Assistant's number entities may send "30.0" for 30.
    if not number.is_integer():
        raise CommandError(f"{name}: payload must be a whole number, got {_shown(text)}")
    return int(number)


def apply_feature(camera: Any, name: str, value: bool | int) -> dict[str, str]:
    """Set a feature on a camera config; returns the `/state` payloads of every feature it changed.

    Frigate's rules hold: motion detection cannot be switched off while object detection is on (it
    finds the regions detection looks at), switching detection on switches motion on, and
    recording can only be switched on when the config file enabled it (its ffmpeg output exists
    only then). Raises CommandError when refused or when the value is out of range.
    """
    feature = _feature(name)
    echo: dict[str, str] = {}
    if name == "motion" and value is False and camera.detect.enabled:
        raise CommandError("motion: cannot switch motion detection off while object detection is on")
    if name == "recordings" and value is True and not camera.record.enabled_in_config:
        raise CommandError("recordings: cannot switch recording on: it is not enabled in the config file")
    section = getattr(camera, feature.section)
    try:
        setattr(section, feature.field, value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"] if exc.errors() else str(exc)
        raise CommandError(f"{name}: {reason}, got {value}") from None
    echo[name] = state_payload(value)
    if name == "detect" and value is True and not camera.motion.enabled:
        camera.motion.enabled = True
        echo["motion"] = ON
    return echo


def _feature(name: str) -> Feature:
    try:
        return FEATURES[name]
    except KeyError:
        raise CommandError(f"unknown feature {name!r}") from None


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")
