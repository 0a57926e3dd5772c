"""Zone presence of tracked objects (§8.2, 0.13 semantics with inertia).

A zone config offers `polygon`, `objects` (labels allowed; empty = all), `inertia` and `filters[label]`
(`min_area`, `max_area`, `min_ratio`, `max_ratio`, `threshold`).
"""

from __future__ import annotations

from typing import Any

from nvrd.geometry import point_in_polygon
from nvrd.track.filters import clamped_bottom_centre, passes_size_filters
from nvrd.track.tracked_object import TrackedObject

DEFAULT_INERTIA = 3


def _zone_filter_passes(zone: Any, obj: TrackedObject) -> bool:
    filters = getattr(zone, "filters", None) or {}
    flt = filters.get(obj.label)
    if flt is None:
        return True
    threshold = getattr(flt, "threshold", None)
    if threshold is not None and obj.computed_score < threshold:
        return False
    return passes_size_filters(flt, obj.box)


def update_zones(obj: TrackedObject, zones: dict[str, Any]) -> None:
    """Refresh the object's zone presence counters, `current_zones` and `entered_zones`.

    Inside a zone the counter rises by one per frame; the object is in the zone once the counter
    reaches the zone's inertia. Outside, a counter that has not reached the inertia falls back by
    one; one that has stays, so a brief exit and return is counted at once. The zone's filters are
    tested until the object is in the zone, not after.
    """
    point = clamped_bottom_centre(obj.box, obj.frame_w, obj.frame_h)
    previous = set(obj.current_zones)
    current: list[str] = []
    for name, zone in zones.items():
        allowed = getattr(zone, "objects", None)
        if allowed and obj.label not in allowed:
            continue
        inertia = getattr(zone, "inertia", None)
        inertia = DEFAULT_INERTIA if inertia is None else max(1, int(inertia))
        presence = obj.zone_presence.get(name, 0)
        if _point_in_zone(point, zone):
            if name in previous or _zone_filter_passes(zone, obj):
                presence += 1
                obj.zone_presence[name] = presence
                if presence >= inertia:
                    current.append(name)
                    if name not in obj.entered_zones:
                        obj.entered_zones.append(name)
        elif 0 < presence < inertia:
            obj.zone_presence[name] = presence - 1
    obj.current_zones = current


def _point_in_zone(point: tuple[float, float], zone: Any) -> bool:
    polygon = getattr(zone, "polygon", None)
    return bool(polygon) and point_in_polygon(point, polygon)
