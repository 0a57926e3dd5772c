"""Object tracking: follows detections from frame to frame as tracked objects (Frigate §8).

`ObjectTracker.update(frame, detections)` returns a `TrackUpdate`; nvrd.events turns it into events.
"""

from nvrd.track.tracked_object import BestFrame, Detection, TrackedObject, is_better_picture
from nvrd.track.tracker import ObjectTracker, TrackUpdate

__all__ = ["BestFrame", "Detection", "ObjectTracker", "TrackUpdate", "TrackedObject", "is_better_picture"]
