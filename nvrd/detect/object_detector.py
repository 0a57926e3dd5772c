"""Object detection for one camera: regions -> model inputs -> detections of the tracked labels."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Protocol

import numpy as np

from nvrd.detect.regions import Detection, select_regions, suppress_duplicates, to_detections
from nvrd.detect.yuv import region_tensor
from nvrd.frame import Frame
from nvrd.geometry import Box

DEFAULT_MIN_SCORE = 0.5  # Frigate's objects.filters.<label>.min_score default
DUPLICATE_IOU = 0.4  # boxes of one label overlapping more than this are one object


class Inference(Protocol):
    """What ObjectDetector needs of a detector: DetectorPool and DetectorProcess both fit."""

    def detect(self, tensor: np.ndarray, timeout: float | None = None) -> np.ndarray: ...


class ObjectDetector:
    """Finds the tracked labels in a camera's frames, looking only where something moves or is tracked.

    One per camera processing thread (it reuses one input buffer; not thread-safe). Detector
    failures surface as DetectorError from `detect`; the caller skips detection for that frame.
    """

    def __init__(
        self,
        pool: Inference,
        labelmap: Mapping[int, str],
        model_size: int,
        tracked_labels: Collection[str],
        min_scores: Mapping[str, float],
        *,
        default_min_score: float = DEFAULT_MIN_SCORE,
    ) -> None:
        self.pool = pool
        self.labelmap = dict(labelmap)
        self.model_size = model_size
        self.tracked_labels = frozenset(tracked_labels)
        self.min_scores = {label: min_scores.get(label, default_min_score) for label in self.tracked_labels}
        # Rows below every tracked label's floor are dropped before any Detection is built.
        self._floor = min(self.min_scores.values(), default=1.0)
        self._tensor = np.empty((model_size, model_size, 3), dtype=np.uint8)

    def detect(
        self, frame: Frame, motion_boxes: Iterable[Box], object_boxes: Iterable[Box]
    ) -> tuple[list[Detection], list[Box]]:
        """Detections of tracked labels at or above their min_score, duplicates across overlapping
        regions removed, and the regions the model looked at (none without motion or objects)."""
        regions = select_regions(frame.width, frame.height, motion_boxes, object_boxes, self.model_size)
        found: list[Detection] = []
        for region in regions:
            found.extend(self._detect_region(frame, region))
        return suppress_duplicates(found, DUPLICATE_IOU), regions

    def detect_full_frame(self, frame: Frame) -> list[Detection]:
        """Detections on the whole frame squashed to the model size: a first look at a new camera."""
        found = self._detect_region(frame, (0, 0, frame.width, frame.height))
        return suppress_duplicates(found, DUPLICATE_IOU)

    def _detect_region(self, frame: Frame, region: Box) -> list[Detection]:
        if not self.tracked_labels:
            return []
        tensor = region_tensor(frame, region, self.model_size, out=self._tensor)
        raw = self.pool.detect(tensor)
        return [
            d
            for d in to_detections(raw, region, self.labelmap, self._floor)
            if d.label in self.tracked_labels and d.score >= self.min_scores[d.label]
        ]
