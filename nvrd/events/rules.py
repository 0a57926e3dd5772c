"""Which tracked objects earn a snapshot, a clip, or an MQTT snapshot (§2.5, §11.2).

Config access (0.13 schema names): `snapshots.{enabled, required_zones}`,
`record.{enabled, events.required_zones, events.objects}`, `mqtt.{enabled, required_zones}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nvrd.track.tracked_object import TrackedObject


def required_zones_met(required: Iterable[str] | None, entered: Iterable[str]) -> bool:
    """True when no zones are required or the object entered one of them."""
    required = list(required or [])
    return not required or bool(set(required) & set(entered))


def _moved_true_positive(obj: TrackedObject) -> bool:
    # An object that never changed position (stationary since first seen) is never saved.
    return obj.true_positive and obj.position_changes > 0


def qualifies_for_snapshot(obj: TrackedObject, camera_cfg: Any) -> bool:
    """`has_snapshot`: snapshots enabled, a moved true positive, and the required zones entered."""
    snapshots = getattr(camera_cfg, "snapshots", None)
    if snapshots is None or not getattr(snapshots, "enabled", False):
        return False
    return _moved_true_positive(obj) and required_zones_met(
        getattr(snapshots, "required_zones", None), obj.entered_zones
    )


def qualifies_for_clip(obj: TrackedObject, camera_cfg: Any) -> bool:
    """`has_clip`: recording enabled, a moved true positive of a recorded label in the required zones."""
    record = getattr(camera_cfg, "record", None)
    if record is None or not getattr(record, "enabled", False):
        return False
    if not _moved_true_positive(obj):
        return False
    events = getattr(record, "events", None)
    labels = getattr(events, "objects", None)
    if labels is not None and obj.label not in labels:
        return False
    return required_zones_met(getattr(events, "required_zones", None), obj.entered_zones)


def qualifies_for_mqtt_snapshot(obj: TrackedObject, camera_cfg: Any) -> bool:
    """Whether the best picture of this object may go out on `<camera>/<label>/snapshot`."""
    mqtt = getattr(camera_cfg, "mqtt", None)
    if mqtt is None or not getattr(mqtt, "enabled", True):
        return False
    required = getattr(mqtt, "required_zones", None)
    return _moved_true_positive(obj) and required_zones_met(required, obj.entered_zones)
