"""Matching this frame's detections to the objects already tracked.

Greedy on descending IoU between each object's predicted box and the detections of the same label;
what is left is matched by centre distance, for small or fast objects whose boxes no longer overlap
from one frame to the next.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from nvrd.geometry import Box, box_area, intersection_over_union

# Lowest IoU that links a detection to an object in the first pass.
MIN_IOU = 0.2
# Second pass: the centres may be this many times the object's longer box side apart ...
CENTRE_REACH = 1.5
# ... and the areas may differ by at most this factor.
MAX_AREA_CHANGE = 3.0


@dataclass(slots=True)
class Matching:
    """Result of one association: index pairs (object, detection) and what was left over."""

    pairs: list[tuple[int, int]] = field(default_factory=list)
    unmatched_objects: list[int] = field(default_factory=list)
    unmatched_detections: list[int] = field(default_factory=list)


def _centre(box: Box) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)


def _near_enough(obj_box: Box, det_box: Box) -> float | None:
    """Centre distance when the detection is within reach of the object and of similar size."""
    obj_area, det_area = box_area(obj_box), box_area(det_box)
    if obj_area == 0 or det_area == 0:
        return None
    if max(obj_area, det_area) > MAX_AREA_CHANGE * min(obj_area, det_area):
        return None
    (ox, oy), (dx, dy) = _centre(obj_box), _centre(det_box)
    distance = math.hypot(ox - dx, oy - dy)
    reach = CENTRE_REACH * max(obj_box[2] - obj_box[0], obj_box[3] - obj_box[1])
    return distance if distance <= reach else None


def associate(objects: Sequence[tuple[str, Box]], detections: Sequence[tuple[str, Box]]) -> Matching:
    """Match (label, predicted box) objects to (label, box) detections; labels must be equal."""
    free_objects = set(range(len(objects)))
    free_detections = set(range(len(detections)))
    matching = Matching()

    overlaps = [
        (intersection_over_union(obox, dbox), oi, di)
        for oi, (olabel, obox) in enumerate(objects)
        for di, (dlabel, dbox) in enumerate(detections)
        if olabel == dlabel
    ]
    # Ties broken by index so the result does not depend on set ordering.
    overlaps.sort(key=lambda t: (-t[0], t[1], t[2]))
    for iou, oi, di in overlaps:
        if iou < MIN_IOU:
            break
        if oi in free_objects and di in free_detections:
            matching.pairs.append((oi, di))
            free_objects.discard(oi)
            free_detections.discard(di)

    distances = []
    for oi in free_objects:
        olabel, obox = objects[oi]
        for di in free_detections:
            dlabel, dbox = detections[di]
            if olabel != dlabel:
                continue
            distance = _near_enough(obox, dbox)
            if distance is not None:
                distances.append((distance, oi, di))
    distances.sort()
    for _, oi, di in distances:
        if oi in free_objects and di in free_detections:
            matching.pairs.append((oi, di))
            free_objects.discard(oi)
            free_detections.discard(di)

    matching.unmatched_objects = sorted(free_objects)
    matching.unmatched_detections = sorted(free_detections)
    return matching
