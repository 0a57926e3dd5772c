"""Per-label filters applied to detections before tracking (§14.2 `objects.filters`, object masks).

Config access is limited to the attributes of Frigate's 0.13 schema so the real config drops in:
`objects.track`, `objects.mask_polygons`, `objects.filters[label].{min_score, threshold, min_area,
max_area, min_ratio, max_ratio, mask_polygons}`. A label without a filter entry gets Frigate's defaults.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nvrd.geometry import Box, Polygon, bottom_centre, box_area, point_in_polygon
from nvrd.track.tracked_object import Detection, as_box, box_ratio

DEFAULT_MIN_SCORE = 0.5
DEFAULT_THRESHOLD = 0.7


def label_filter(objects_cfg: Any, label: str) -> Any | None:
    """The `objects.filters[label]` entry, or None when the config has none for the label."""
    filters = getattr(objects_cfg, "filters", None) or {}
    return filters.get(label)


def label_threshold(objects_cfg: Any, label: str) -> float:
    """The median score at which an object of this label becomes a true positive."""
    flt = label_filter(objects_cfg, label)
    value = getattr(flt, "threshold", None) if flt is not None else None
    return DEFAULT_THRESHOLD if value is None else float(value)


def clamped_bottom_centre(box: Box, frame_w: int, frame_h: int) -> tuple[float, float]:
    """The box's bottom-centre kept inside the frame (boxes end one past the last pixel)."""
    x, y = bottom_centre(box)
    return (min(max(x, 0.0), frame_w - 1.0), min(max(y, 0.0), frame_h - 1.0))


def in_any_polygon(point: tuple[float, float], polygons: Iterable[Polygon]) -> bool:
    """True when the point lies inside (or on the edge of) one of the polygons."""
    return any(point_in_polygon(point, polygon) for polygon in polygons)


def passes_size_filters(flt: Any, box: Box) -> bool:
    """min/max area and min/max ratio of one filter entry (zone or label); None limits are open."""
    area = box_area(box)
    ratio = box_ratio(box)
    checks = (
        ("min_area", lambda v: area >= v),
        ("max_area", lambda v: area <= v),
        ("min_ratio", lambda v: ratio >= v),
        ("max_ratio", lambda v: ratio <= v),
    )
    for name, ok in checks:
        limit = getattr(flt, name, None)
        if limit is not None and not ok(limit):
            return False
    return True


@dataclass(frozen=True, slots=True)
class Observed:
    """A detection as the tracker keeps it: integer boxes clipped to the frame."""

    label: str
    score: float
    box: Box
    region: Box


def _clip(box: Box, frame_w: int, frame_h: int) -> Box:
    return (max(0, box[0]), max(0, box[1]), min(frame_w, box[2]), min(frame_h, box[3]))


def normalize_detection(detection: Detection, frame_w: int, frame_h: int) -> Observed | None:
    """The detection with its boxes clipped to the frame; None when it is malformed.

    Malformed: a score that is not a number in [0, 1], or a box with no area inside the frame.
    """
    try:
        score = float(detection.score)
        box = _clip(as_box(detection.box), frame_w, frame_h)
        region = _clip(as_box(detection.region), frame_w, frame_h)
        label = str(detection.label)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        return None
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    return Observed(label, score, box, region)


class DetectionFilter:
    """Decides which detections of one camera are worth tracking."""

    def __init__(self, objects_cfg: Any, frame_w: int, frame_h: int) -> None:
        self._objects = objects_cfg
        self._frame_w = frame_w
        self._frame_h = frame_h
        # Masks are parsed once per filter (the config parses its polygon text on each access).
        self._object_mask: list[Polygon] = list(getattr(objects_cfg, "mask_polygons", None) or [])
        self._label_masks: dict[str, list[Polygon]] = {}

    def _masks(self, label: str, flt: Any | None) -> list[Polygon]:
        masks = self._label_masks.get(label)
        if masks is None:
            own = getattr(flt, "mask_polygons", None) if flt is not None else None
            masks = self._object_mask + list(own or [])
            self._label_masks[label] = masks
        return masks

    def tracked_labels(self) -> Sequence[str] | None:
        """Labels the camera tracks (None means every label is accepted)."""
        track = getattr(self._objects, "track", None)
        return list(track) if track else None

    def accepts(self, detection: Observed) -> bool:
        """True when the (normalized) detection passes the label list, its filter and the masks."""
        labels = self.tracked_labels()
        if labels is not None and detection.label not in labels:
            return False
        flt = label_filter(self._objects, detection.label)
        min_score = getattr(flt, "min_score", None) if flt is not None else None
        if detection.score < (DEFAULT_MIN_SCORE if min_score is None else min_score):
            return False
        if flt is not None and not passes_size_filters(flt, detection.box):
            return False
        point = clamped_bottom_centre(detection.box, self._frame_w, self._frame_h)
        return not in_any_polygon(point, self._masks(detection.label, flt))
