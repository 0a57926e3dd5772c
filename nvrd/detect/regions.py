"""Where in a frame to look: square regions around motion and tracked objects, and the mapping of
a model's answers (normalised to a region) back to frame pixels.

Running the model on regions sized to its input, instead of on the whole frame shrunk to 300x300,
keeps small and distant objects large enough to be found; a frame with no motion and no tracked
object costs no inference at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nvrd.geometry import Box, box_area, intersection_over_union

REGION_MARGIN = 1.2  # a region is this much larger than the box it was made for
MERGE_OVERLAP = 0.5  # merge two regions when their overlap covers this share of the smaller one


@dataclass(frozen=True, slots=True)
class Detection:
    """One object the model found, in frame pixels; `region` is the area the model looked at."""

    label: str
    score: float
    box: Box
    region: Box


def _even_down(value: float) -> int:
    return math.floor(value / 2.0) * 2


def _even_up(value: float) -> int:
    return math.ceil(value / 2.0) * 2


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _contains(outer: Box, inner: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _overlap(a: Box, b: Box) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


class _Framing:
    """Square regions inside one frame, with even corners so the half-size chroma planes align."""

    def __init__(self, frame_w: int, frame_h: int, model_size: int) -> None:
        self.frame_w, self.frame_h = frame_w, frame_h
        self.max_side = max(2, _even_down(min(frame_w, frame_h)))
        self.min_side = min(_even_up(model_size), self.max_side)

    def clip(self, box: Box) -> Box | None:
        """The part of a box inside the frame, None when nothing of it is."""
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        x2, y2 = min(self.frame_w, int(box[2])), min(self.frame_h, int(box[3]))
        return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None

    def side_for(self, box: Box, margin: float) -> int:
        longest = max(box[2] - box[0], box[3] - box[1])
        return min(max(_even_up(longest * margin), self.min_side), self.max_side)

    def square(self, box: Box, side: int) -> Box:
        """A square of `side` centred on the box, shifted to lie inside the frame."""
        left = (box[0] + box[2] - side) / 2.0
        top = (box[1] + box[3] - side) / 2.0
        # Flooring to even moves a region less than 2 px left/up; callers leave that much slack.
        x1 = _even_down(min(max(left, 0.0), self.frame_w - side))
        y1 = _even_down(min(max(top, 0.0), self.frame_h - side))
        return (x1, y1, x1 + side, y1 + side)

    def around(self, box: Box, margin: float = REGION_MARGIN) -> Box:
        return self.square(box, self.side_for(box, margin))


def select_regions(
    frame_w: int,
    frame_h: int,
    motion_boxes: Iterable[Box],
    object_boxes: Iterable[Box],
    model_size: int,
) -> list[Box]:
    """Square regions to run the model on, each at least `model_size` (or the frame's short side).

    Each tracked object gets a region REGION_MARGIN times its box, centred on it; motion boxes not
    already inside an object's region are clustered and get one region per cluster. Regions that
    overlap heavily are merged. Every region lies inside the frame; when a box is longer than
    the frame's short side, its region is the largest square that fits, centred on the box.
    No motion and no objects give no regions. Raises ValueError for a frame smaller than 2x2.
    """
    if frame_w < 2 or frame_h < 2 or model_size < 1:
        raise ValueError(f"cannot place regions in a {frame_w}x{frame_h} frame for a {model_size} model")
    framing = _Framing(frame_w, frame_h, model_size)
    objects = [b for b in (framing.clip(box) for box in object_boxes) if b is not None]
    regions = [framing.around(box) for box in objects]

    motion = [b for b in (framing.clip(box) for box in motion_boxes) if b is not None]
    motion = [b for b in motion if not any(_contains(r, b) for r in regions)]
    regions.extend(framing.around(cluster) for cluster in _cluster(motion, framing))
    return _merge(regions, framing)


def _cluster(boxes: list[Box], framing: _Framing) -> list[Box]:
    """Group motion boxes that fit together in one region; returns each group's bounding box."""
    clusters: list[Box] = []
    for box in sorted(boxes, key=box_area, reverse=True):
        for i, cluster in enumerate(clusters):
            if _joins(cluster, box, framing):
                clusters[i] = _union(cluster, box)
                break
        else:
            clusters.append(box)
    return clusters


def _joins(cluster: Box, box: Box, framing: _Framing) -> bool:
    """A box joins a cluster when the cluster's region need not grow (beyond the model size) for it."""
    union = _union(cluster, box)
    if max(union[2] - union[0], union[3] - union[1]) * REGION_MARGIN > framing.max_side:
        return False
    return framing.side_for(union, REGION_MARGIN) <= framing.side_for(cluster, REGION_MARGIN)


def _merge(regions: list[Box], framing: _Framing) -> list[Box]:
    """Replace pairs of heavily overlapping regions by one square covering both, until none remain."""
    merged = list(dict.fromkeys(regions))
    while (pair := _mergeable_pair(merged, framing)) is not None:
        i, j, square = pair
        merged = list(dict.fromkeys([*merged[:i], *merged[i + 1 : j], *merged[j + 1 :], square]))
    return merged


def _mergeable_pair(regions: list[Box], framing: _Framing) -> tuple[int, int, Box] | None:
    """The first two regions that overlap heavily and fit in one square, with that square."""
    for i, a in enumerate(regions):
        for j in range(i + 1, len(regions)):
            b = regions[j]
            if _overlap(a, b) < MERGE_OVERLAP * min(box_area(a), box_area(b)):
                continue
            union = _union(a, b)
            side = _even_up(max(union[2] - union[0], union[3] - union[1]) + 2)  # + 2: even flooring
            if side <= framing.max_side:  # else no square inside the frame covers both
                return i, j, framing.square(union, side)
    return None


def to_detections(
    raw: np.ndarray, region: Box, labelmap: Mapping[int, str], min_score: float
) -> list[Detection]:
    """Map model rows (class, score, ymin, xmin, ymax, xmax normalised to `region`) to frame pixels.

    Rows under `min_score`, and boxes that round to nothing, are dropped. Class ids missing from
    the label map are named "unknown".
    """
    x1, y1, x2, y2 = region
    width, height = x2 - x1, y2 - y1
    detections = []
    for class_id, score, ymin, xmin, ymax, xmax in np.asarray(raw, dtype=np.float64).reshape(-1, 6):
        if score < min_score:
            continue
        box = (
            x1 + round(xmin * width),
            y1 + round(ymin * height),
            x1 + round(xmax * width),
            y1 + round(ymax * height),
        )
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        detections.append(Detection(labelmap.get(int(class_id), "unknown"), float(score), box, region))
    return detections


def suppress_duplicates(detections: Sequence[Detection], iou_threshold: float) -> list[Detection]:
    """Non-maximum suppression per label: keep the best-scoring of boxes overlapping beyond the
    threshold (the same object seen through two regions)."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(
            k.label != detection.label or intersection_over_union(k.box, detection.box) <= iou_threshold
            for k in kept
        ):
            kept.append(detection)
    return kept
