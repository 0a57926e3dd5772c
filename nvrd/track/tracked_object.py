"""One object followed across frames: its box, scores, zones, stillness and best picture.

The tracker (nvrd.track.tracker) decides which detection belongs to which object and calls the
`observe_*` methods here; the events layer reads the state and renders `to_event_dict()` for MQTT.
"""

from __future__ import annotations

import random
import statistics
import string
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from nvrd.frame import Frame
from nvrd.geometry import Box, box_area, intersection_over_union

SCORE_HISTORY_LENGTH = 10
# Below this IoU with its resting place an object counts as having moved (Frigate's number).
MOVED_IOU = 0.6
# How many boxes of a still object are summarised into its resting place.
RESTING_SAMPLES = 10
# Best-frame rules (§8.4): a better score must win by this margin, a bigger box by this factor.
BETTER_SCORE_MARGIN = 0.05
BETTER_AREA_FACTOR = 1.1

_ID_ALPHABET = string.ascii_lowercase + string.digits


class Detection(Protocol):
    """What the tracker needs of a detection (nvrd.detect.regions.Detection fits)."""

    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def box(self) -> Box: ...
    @property
    def region(self) -> Box: ...


def new_object_id(frame_time: float) -> str:
    """Frigate's tracked-object id: `<frame time repr>-<6 random [a-z0-9]>`, at most 30 characters."""
    suffix = "".join(random.choices(_ID_ALPHABET, k=6))
    return f"{round(frame_time, 6)!r}-{suffix}"


def as_box(values: Any) -> Box:
    """Four numbers as an integer box."""
    x1, y1, x2, y2 = (int(v) for v in values)
    return (x1, y1, x2, y2)


def box_ratio(box: Box) -> float:
    """Width over height of a box (1.0 for a degenerate box)."""
    height = box[3] - box[1]
    return (box[2] - box[0]) / height if height > 0 else 1.0


def touches_edge(box: Box, frame_w: int, frame_h: int) -> bool:
    """True when the box reaches any border of the frame (a cut-off object makes a poor picture)."""
    return box[0] <= 0 or box[1] <= 0 or box[2] >= frame_w - 1 or box[3] >= frame_h - 1


@dataclass(slots=True)
class BestFrame:
    """The best picture of an object so far: an owned copy of the frame and the detection on it."""

    frame: Frame
    box: Box
    region: Box
    score: float
    time: float

    @property
    def area(self) -> int:
        """Box area in pixels."""
        return box_area(self.box)

    def to_dict(self) -> dict[str, Any]:
        """The `snapshot` member of the 0.13 MQTT object state."""
        return {
            "frame_time": self.time,
            "box": list(self.box),
            "area": self.area,
            "region": list(self.region),
            "score": self.score,
            "attributes": [],
        }


def is_better_picture(current: BestFrame | None, box: Box, score: float, frame_w: int, frame_h: int) -> bool:
    """Whether a detection (box, score) makes a better picture than `current` (§8.4 rules 2-5)."""
    if current is None:
        return True
    if touches_edge(box, frame_w, frame_h) and not touches_edge(current.box, frame_w, frame_h):
        return False
    if score > current.score + BETTER_SCORE_MARGIN:
        return True
    return box_area(box) > BETTER_AREA_FACTOR * current.area


class RestingPlace:
    """Where a still object sits: a median box over its latest boxes since it last moved.

    Summarising several boxes keeps detector jitter from looking like movement.
    """

    __slots__ = ("_boxes", "box")

    def __init__(self, box: Box) -> None:
        self._boxes: list[Box] = [box]
        self.box: Box = box

    def stayed(self, box: Box) -> bool:
        """Record a new box; True when it is still at the resting place, False when it moved away.

        A move restarts the resting place at the new box.
        """
        if intersection_over_union(self.box, box) < MOVED_IOU:
            self._boxes = [box]
            self.box = box
            return False
        if len(self._boxes) < RESTING_SAMPLES:
            self._boxes.append(box)
            self.box = as_box(statistics.median(c) for c in zip(*self._boxes, strict=True))
        return True


@dataclass(eq=False)
class TrackedObject:
    """One tracked object of one camera. Mutated only by the camera's processing thread."""

    id: str
    camera: str
    label: str
    box: Box
    region: Box
    score: float
    start_time: float
    frame_time: float
    frame_w: int
    frame_h: int
    threshold: float
    score_history: deque[float] = field(default_factory=lambda: deque(maxlen=SCORE_HISTORY_LENGTH))
    computed_score: float = 0.0
    top_score: float = 0.0
    true_positive: bool = False
    end_time: float | None = None
    disappeared: int = 0
    motionless_count: int = 0
    position_changes: int = 0
    stationary: bool = False
    entered_zones: list[str] = field(default_factory=list)
    current_zones: list[str] = field(default_factory=list)
    zone_presence: dict[str, int] = field(default_factory=dict)
    best: BestFrame | None = None
    sub_label: str | None = None
    sub_label_score: float | None = None
    # Set by the events layer (they depend on camera options the tracker does not read).
    has_clip: bool = False
    has_snapshot: bool = False
    resting: RestingPlace | None = None
    # Pixels moved per frame by the box centre at the last two sightings, for association.
    velocity: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def register(
        cls,
        camera: str,
        detection: Detection,
        frame: Frame,
        *,
        threshold: float,
        seed_scores: list[float] | None = None,
    ) -> TrackedObject:
        """A new object from its first (or initialising) detection on `frame`.

        `seed_scores` are the scores of the detections that initialised it (0.13 seeds the history).
        """
        obj = cls(
            id=new_object_id(frame.time),
            camera=camera,
            label=detection.label,
            box=as_box(detection.box),
            region=as_box(detection.region),
            score=float(detection.score),
            start_time=frame.time,
            frame_time=frame.time,
            frame_w=frame.width,
            frame_h=frame.height,
            threshold=threshold,
        )
        obj.resting = RestingPlace(obj.box)
        obj.score_history.extend(seed_scores if seed_scores else [obj.score])
        obj._rescore()
        obj._consider_picture(frame)
        return obj

    @property
    def area(self) -> int:
        """Current box area in pixels."""
        return box_area(self.box)

    @property
    def ratio(self) -> float:
        """Current box width over height."""
        return box_ratio(self.box)

    @property
    def false_positive(self) -> bool:
        """Frigate's flag: not (yet) a true positive."""
        return not self.true_positive

    def observe_detection(self, detection: Detection, frame: Frame, stationary_threshold: int) -> None:
        """Take this frame's matching detection: box, score, stillness and maybe a new best picture."""
        box = as_box(detection.box)
        frames = self.disappeared + 1
        old_cx, old_cy = (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2
        new_cx, new_cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        self.velocity = ((new_cx - old_cx) / frames, (new_cy - old_cy) / frames)
        self.box = box
        self.region = as_box(detection.region)
        self.score = float(detection.score)
        self.frame_time = frame.time
        self.disappeared = 0
        self.score_history.append(self.score)
        self._rescore()
        self._observe_position(stationary_threshold)
        self._consider_picture(frame)

    def observe_miss(self) -> None:
        """This frame had no detection for the object: it scores 0.0 and keeps its last box."""
        self.disappeared += 1
        self.score_history.append(0.0)
        self._rescore()

    def predicted_box(self) -> Box:
        """Where the box should be on the next frame if the object keeps its pace."""
        frames = self.disappeared + 1
        dx, dy = round(self.velocity[0] * frames), round(self.velocity[1] * frames)
        return (self.box[0] + dx, self.box[1] + dy, self.box[2] + dx, self.box[3] + dy)

    def _rescore(self) -> None:
        self.computed_score = float(statistics.median(self.score_history))
        self.top_score = max(self.top_score, self.computed_score)
        # Once a true positive, always one.
        if not self.true_positive and self.computed_score >= self.threshold:
            self.true_positive = True

    def _observe_position(self, stationary_threshold: int) -> None:
        if self.resting is None:
            self.resting = RestingPlace(self.box)
        if self.resting.stayed(self.box):
            self.motionless_count += 1
        else:
            # The first move counts, later ones only when they end a stationary spell.
            if self.position_changes == 0 or self.motionless_count >= stationary_threshold:
                self.position_changes += 1
            self.motionless_count = 0
        self.stationary = self.motionless_count > stationary_threshold

    def _consider_picture(self, frame: Frame) -> None:
        if not self.true_positive:
            return
        if is_better_picture(self.best, self.box, self.score, self.frame_w, self.frame_h):
            self.best = BestFrame(frame.copy(), self.box, self.region, self.score, frame.time)

    def to_event_dict(self) -> dict[str, Any]:
        """The object state of Frigate 0.13's `<prefix>/events` payload (absolute pixel boxes, raw times)."""
        return {
            "id": self.id,
            "camera": self.camera,
            "frame_time": self.frame_time,
            "snapshot": self.best.to_dict() if self.best is not None else None,
            "label": self.label,
            "sub_label": [self.sub_label, self.sub_label_score] if self.sub_label is not None else None,
            "top_score": self.top_score,
            "false_positive": self.false_positive,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "score": self.score,
            "box": list(self.box),
            "area": self.area,
            "ratio": self.ratio,
            "region": list(self.region),
            "stationary": self.stationary,
            "motionless_count": self.motionless_count,
            "position_changes": self.position_changes,
            "current_zones": list(self.current_zones),
            "entered_zones": list(self.entered_zones),
            "has_clip": self.has_clip,
            "has_snapshot": self.has_snapshot,
            "attributes": {},
            "current_attributes": [],
            "thumbnail": None,
        }
