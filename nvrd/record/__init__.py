"""Recording to attached storage: segments, retention, the storage watch, clips, HLS and exports.

The core feeds it through nvrd.record.activity.ActivitySink (per-frame motion and objects); the
daemon starts a Recorder; the API reads recordings through it and the store.
"""

from nvrd.record.activity import ActivityLog, ActivitySink
from nvrd.record.clips import ClipError
from nvrd.record.frames import FrameError
from nvrd.record.recorder import Recorder

__all__ = ["ActivityLog", "ActivitySink", "ClipError", "FrameError", "Recorder"]
