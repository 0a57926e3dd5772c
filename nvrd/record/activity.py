"""What the camera pipelines saw, per frame, for the recorder: motion area and moving objects.

The pipeline (core) calls `frame_processed()` on an ActivitySink; the recorder reads the sums over
each segment's time span (the `motion` and `objects` columns, and the retention modes) and how far
processing has got (a segment's fate waits until the frames after it have been looked at).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

HORIZON_S = 900.0  # frames older than this (behind the newest) are forgotten


class ActivitySink(Protocol):
    """The recorder-facing interface the pipeline calls once per processed frame."""

    def frame_processed(self, camera: str, frame_time: float, motion_area: int, active_objects: int) -> None:
        """`motion_area`: summed area of the motion boxes (px²); `active_objects`: true-positive
        objects not stationary in this frame."""


@dataclass(frozen=True, slots=True)
class Activity:
    """Sums over a time span; None when no frame of the span was processed."""

    motion: int | None
    objects: int | None


class ActivityLog:
    """Per-camera ring of recent frames; thread-safe, O(1) per frame."""

    def __init__(self, horizon_s: float = HORIZON_S) -> None:
        self._horizon = horizon_s
        self._frames: dict[str, deque[tuple[float, int, int]]] = {}
        self._lock = threading.Lock()

    def frame_processed(self, camera: str, frame_time: float, motion_area: int, active_objects: int) -> None:
        """Note one processed frame of `camera`."""
        with self._lock:
            frames = self._frames.setdefault(camera, deque())
            frames.append((frame_time, int(motion_area), int(active_objects)))
            horizon = frame_time - self._horizon
            while frames and frames[0][0] < horizon:
                frames.popleft()

    def processed_until(self, camera: str) -> float | None:
        """The time of the newest processed frame of `camera`, or None if none was seen."""
        with self._lock:
            frames = self._frames.get(camera)
            return frames[-1][0] if frames else None

    def between(self, camera: str, start: float, end: float) -> Activity:
        """Motion and object sums over the frames with start <= time < end."""
        with self._lock:
            frames = list(self._frames.get(camera, ()))
        motion = objects = 0
        seen = False
        for moment, area, count in frames:
            if start <= moment < end:
                seen = True
                motion += area
                objects += count
        return Activity(motion, objects) if seen else Activity(None, None)
