"""Object counts as the `<prefix>/<camera|zone>/<label>` topics carry them.

Cameras report their own counts (nvrd.bus.ObjectCounts); a zone's count is summed over every camera
that has a zone of that name, and `all` is the sum over labels. Only changed values are published.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nvrd.bus import ObjectCounts

ALL = "all"

# (camera or zone name, label or "all") -> count
CountKey = tuple[str, str]


class CountBook:
    """The counts last published; not thread-safe (the caller serialises updates)."""

    def __init__(self, cameras: Mapping[str, Any]) -> None:
        """`cameras`: the active cameras' configs; their tracked labels and zones start at 0."""
        self._cameras: dict[str, dict[str, int]] = {}
        self._zones: dict[str, dict[str, dict[str, int]]] = {}  # zone -> camera -> label -> count
        self._published: dict[CountKey, int] = {}
        for name, camera in cameras.items():
            tracked = list(camera.objects.track)
            self._cameras[name] = dict.fromkeys(tracked, 0)
            for zone_name, zone in camera.zones.items():
                labels = list(zone.objects) or tracked
                self._zones.setdefault(zone_name, {})[name] = dict.fromkeys(labels, 0)
        self._published = self._totals()

    def current(self) -> dict[CountKey, int]:
        """Every count as last published (the starting zeros included)."""
        return dict(self._published)

    def update(self, counts: ObjectCounts) -> dict[CountKey, int]:
        """Take one camera's new counts; returns the counts whose value changed."""
        own = self._cameras.setdefault(counts.camera, {})
        for label in own:
            own[label] = 0
        own.update(counts.labels)
        for zone_name, per_camera in self._zones.items():
            if counts.camera in per_camera:
                labels = per_camera[counts.camera]
                for label in labels:
                    labels[label] = 0
                labels.update(counts.zones.get(zone_name, {}))
        for zone_name, labels in counts.zones.items():
            if counts.camera not in self._zones.get(zone_name, {}):
                self._zones.setdefault(zone_name, {})[counts.camera] = dict(labels)
        totals = self._totals()
        changed = {key: value for key, value in totals.items() if self._published.get(key) != value}
        self._published = totals
        return changed

    def _totals(self) -> dict[CountKey, int]:
        totals: dict[CountKey, int] = {}
        for camera, labels in self._cameras.items():
            _add_counts(totals, camera, labels)
        for zone_name, per_camera in self._zones.items():
            summed: dict[str, int] = {}
            for labels in per_camera.values():
                for label, count in labels.items():
                    summed[label] = summed.get(label, 0) + count
            _add_counts(totals, zone_name, summed)
        return totals


def _add_counts(totals: dict[CountKey, int], name: str, labels: Mapping[str, int]) -> None:
    for label, count in labels.items():
        totals[(name, label)] = count
    totals[(name, ALL)] = sum(labels.values())
