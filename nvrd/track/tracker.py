"""The object tracker of one camera: filtered detections in, tracked objects (new, updated, ended) out.

Config access (0.13 schema names only): `objects.*` via nvrd.track.filters, `zones[name].*` via
nvrd.track.zones, and `detect.fps`, `detect.max_disappeared`, `detect.min_initialized`,
`detect.stationary.threshold`, `detect.stationary.max_frames.{default, objects}`. The config is read on
every frame, so settings changed at run time apply at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nvrd.frame import Frame
from nvrd.geometry import Box
from nvrd.track.association import associate
from nvrd.track.filters import DetectionFilter, Observed, label_threshold, normalize_detection
from nvrd.track.tracked_object import Detection, TrackedObject
from nvrd.track.zones import update_zones

log = logging.getLogger(__name__)

DEFAULT_FPS = 5


@dataclass(slots=True)
class TrackUpdate:
    """What one frame changed.

    `new`: objects registered on this frame. `updated`: objects tracked before that are still
    tracked (detected on this frame or not; see `disappeared`). `ended`: objects dropped on this
    frame, their `end_time` set to the last frame they were seen on. `active`: new + updated.
    """

    new: list[TrackedObject] = field(default_factory=list)
    updated: list[TrackedObject] = field(default_factory=list)
    ended: list[TrackedObject] = field(default_factory=list)
    active: list[TrackedObject] = field(default_factory=list)
    frame_time: float = 0.0


@dataclass(slots=True)
class _Candidate:
    """A detection seen on consecutive frames but not yet often enough to be registered."""

    label: str
    box: Box
    scores: list[float]

    def predicted_box(self) -> Box:
        return self.box


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """The detect options the tracker uses, with Frigate's defaults filled in."""

    max_disappeared: int
    min_initialized: int
    stationary_threshold: int
    max_frames_default: int | None
    max_frames_objects: dict[str, int]

    @classmethod
    def from_detect_config(cls, detect: Any) -> TrackerSettings:
        """Read `detect.*`; unset values get the defaults that follow from `detect.fps`."""
        fps = getattr(detect, "fps", None) or DEFAULT_FPS
        max_disappeared = getattr(detect, "max_disappeared", None)
        min_initialized = getattr(detect, "min_initialized", None)
        stationary = getattr(detect, "stationary", None)
        threshold = getattr(stationary, "threshold", None)
        max_frames = getattr(stationary, "max_frames", None)
        return cls(
            max_disappeared=int(fps * 5 if max_disappeared is None else max_disappeared),
            min_initialized=max(1, int(fps / 2 if min_initialized is None else min_initialized)),
            stationary_threshold=int(fps * 10 if threshold is None else threshold),
            max_frames_default=getattr(max_frames, "default", None),
            max_frames_objects=dict(getattr(max_frames, "objects", None) or {}),
        )

    def max_stationary_frames(self, label: str) -> int | None:
        """Frames a motionless object is kept before it is dropped (None = kept forever)."""
        return self.max_frames_objects.get(label, self.max_frames_default)


class ObjectTracker:
    """Follows the objects of one camera from frame to frame."""

    def __init__(self, camera_name: str, camera_config: Any, frame_w: int, frame_h: int) -> None:
        if frame_w <= 0 or frame_h <= 0:
            raise ValueError(f"frame size must be positive, got {frame_w}x{frame_h}")
        self.camera = camera_name
        self.config = camera_config
        self.frame_w = frame_w
        self.frame_h = frame_h
        self._objects: dict[str, TrackedObject] = {}
        self._candidates: list[_Candidate] = []

    @property
    def objects(self) -> list[TrackedObject]:
        """The objects tracked now, oldest first."""
        return list(self._objects.values())

    def active_objects(self) -> list[TrackedObject]:
        """The objects tracked now (same as `objects`; the detector looks again where they are)."""
        return list(self._objects.values())

    def get(self, object_id: str) -> TrackedObject | None:
        """A tracked object by id, None when it is not (or no longer) tracked."""
        return self._objects.get(object_id)

    def update(self, frame: Frame, detections: Iterable[Detection]) -> TrackUpdate:
        """Take one frame's detections and move every tracked object on by one frame.

        Raises ValueError when the frame is not of the size the tracker was made for.
        """
        if frame.width != self.frame_w or frame.height != self.frame_h:
            raise ValueError(
                f"camera {self.camera}: frame is {frame.width}x{frame.height}, "
                f"the tracker expects {self.frame_w}x{self.frame_h}"
            )
        settings = TrackerSettings.from_detect_config(getattr(self.config, "detect", None))
        objects_cfg = getattr(self.config, "objects", None)
        accept = DetectionFilter(objects_cfg, self.frame_w, self.frame_h).accepts
        observed = (normalize_detection(d, self.frame_w, self.frame_h) for d in detections)
        kept = [d for d in observed if d is not None and accept(d)]

        tracked = list(self._objects.values())
        matching = associate(
            [(o.label, o.predicted_box()) for o in tracked], [(d.label, d.box) for d in kept]
        )
        for oi, di in matching.pairs:
            tracked[oi].observe_detection(kept[di], frame, settings.stationary_threshold)
        for oi in matching.unmatched_objects:
            tracked[oi].observe_miss()

        leftovers = [kept[di] for di in matching.unmatched_detections]
        new = self._grow_candidates(frame, leftovers, settings, objects_cfg)

        zones = getattr(self.config, "zones", None) or {}
        for obj in self._objects.values():
            # A missed frame says nothing new about where the object is: zones wait for a sighting.
            if obj.disappeared == 0:
                update_zones(obj, zones)

        ended = [obj for obj in tracked if self._has_ended(obj, settings)]
        for obj in ended:
            obj.end_time = obj.frame_time
            del self._objects[obj.id]
        ended_ids = {obj.id for obj in ended}
        updated = [obj for obj in tracked if obj.id not in ended_ids]
        return TrackUpdate(new=new, updated=updated, ended=ended, active=updated + new, frame_time=frame.time)

    def _grow_candidates(
        self, frame: Frame, detections: list[Observed], settings: TrackerSettings, objects_cfg: Any
    ) -> list[TrackedObject]:
        """Extend candidates with matching detections; register those seen often enough."""
        matching = associate(
            [(c.label, c.predicted_box()) for c in self._candidates], [(d.label, d.box) for d in detections]
        )
        grown: list[tuple[_Candidate, Observed]] = []
        for ci, di in matching.pairs:
            candidate = self._candidates[ci]
            candidate.box = detections[di].box
            candidate.scores.append(detections[di].score)
            grown.append((candidate, detections[di]))
        for di in matching.unmatched_detections:
            detection = detections[di]
            grown.append((_Candidate(detection.label, detection.box, [detection.score]), detection))

        new: list[TrackedObject] = []
        # Candidates missing on this frame are dropped: initialisation needs consecutive hits.
        self._candidates = []
        for candidate, detection in grown:
            if len(candidate.scores) >= settings.min_initialized:
                obj = TrackedObject.register(
                    self.camera,
                    detection,
                    frame,
                    threshold=label_threshold(objects_cfg, candidate.label),
                    seed_scores=candidate.scores,
                )
                self._objects[obj.id] = obj
                new.append(obj)
                log.debug("camera %s: tracking %s %s", self.camera, obj.label, obj.id)
            else:
                self._candidates.append(candidate)
        return new

    @staticmethod
    def _has_ended(obj: TrackedObject, settings: TrackerSettings) -> bool:
        if obj.disappeared > settings.max_disappeared:
            return True
        max_frames = settings.max_stationary_frames(obj.label)
        return obj.stationary and max_frames is not None and obj.motionless_count > max_frames
