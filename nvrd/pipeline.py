"""One camera's way through the core: capture -> frame -> motion -> detect -> track -> events.

Each camera runs this loop on its own thread. Capture (ffmpeg) and inference (the detector process)
run outside the GIL; this thread does the numpy motion pass, builds detection inputs, tracks and hands
changes to the event manager. The newest processed frame stays pinned for the API to render.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

from nvrd.bus import Bus, MotionChanged
from nvrd.camera import Capture
from nvrd.detect import DetectorError, ObjectDetector
from nvrd.events import EventManager
from nvrd.frame import Frame
from nvrd.geometry import Box, box_area
from nvrd.motion import MotionDetector
from nvrd.record.activity import ActivitySink
from nvrd.stats import EventRate
from nvrd.track import ObjectTracker, TrackedObject

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FrameView:
    """What the API may show of a processed frame: pixels plus what the pipeline found in it."""

    frame: Frame
    motion_boxes: list[Box] = field(default_factory=list)
    regions: list[Box] = field(default_factory=list)
    objects: list[TrackedObject] = field(default_factory=list)


class CameraPipeline:
    """Runs one camera end to end; start() once, stop() once."""

    def __init__(
        self,
        name: str,
        config,
        *,
        ffmpeg_config=None,
        detector: ObjectDetector,
        events: EventManager,
        bus: Bus,
        activity: ActivitySink | None = None,
    ) -> None:
        self.name = name
        self.config = config
        width, height = config.detect.width, config.detect.height
        self.capture = Capture(name, config)
        self.motion = MotionDetector(width, height, config.motion)
        self.tracker = ObjectTracker(name, config, width, height)
        self.detector = detector
        self.events = events
        self.bus = bus
        self.activity = activity  # the recorder's view of motion and objects, per frame
        self.process_rate = EventRate()
        self.detection_rate = EventRate()
        self._view: FrameView | None = None
        self._view_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._motion_active = False
        self._last_motion = 0.0
        self._detection_error: str | None = None
        self.last_processed = 0.0  # monotonic time of the last processed frame (health checks)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start capturing and processing."""
        self.capture.start()
        self._thread = threading.Thread(target=self._run, name=f"camera:{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop processing and capture; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.capture.stop(timeout)

    @property
    def alive(self) -> bool:
        """True while the processing thread runs."""
        return self._thread is not None and self._thread.is_alive()

    # --- what the API reads ----------------------------------------------------------------------

    def latest(self) -> FrameView | None:
        """The newest processed frame and what was found in it, or None before the first frame."""
        with self._view_lock:
            return self._view

    def stats(self) -> dict:
        """This camera's entry in /api/stats."""
        capture_pid = self.capture.capture_pid or 0
        return {
            "camera_fps": self.capture.camera_fps(),
            "process_fps": self.process_rate.rate(),
            "skipped_fps": self.capture.skipped_fps(),
            "detection_fps": self.detection_rate.rate(),
            "detection_enabled": 1 if self.config.detect.enabled else 0,
            "pid": os.getpid(),
            "capture_pid": capture_pid,
            "ffmpeg_pid": capture_pid,
            "audio_rms": 0.0,
            "audio_dBFS": 0.0,
            "last_frame_time": self.capture.last_frame_time or 0.0,
        }

    # --- the loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.capture.next_frame(timeout=0.5)
            if frame is None:
                continue
            try:
                view = self.process(frame)
            except Exception:
                # One bad frame must never stop the camera.
                log.exception("%s: processing frame %d failed", self.name, frame.index)
                self.capture.release(frame)
                continue
            self._publish_view(view)

    def process(self, frame: Frame) -> FrameView:
        """Run one frame through motion, detection, tracking and events."""
        motion_boxes = self.motion.detect(frame.y) if self.config.motion.enabled else []
        self._update_motion_state(bool(motion_boxes), frame.time)
        detections, regions = [], []
        if self.config.detect.enabled:
            tracked_boxes = [obj.box for obj in self.tracker.active_objects()]
            try:
                detections, regions = self.detector.detect(frame, motion_boxes, tracked_boxes)
                self._detection_error = None
            except DetectorError as exc:
                # Said once per change of reason, not once per frame.
                if str(exc) != self._detection_error:
                    log.warning("%s: detection skipped: %s", self.name, exc)
                    self._detection_error = str(exc)
            if regions:
                self.detection_rate.add(len(regions))
        update = self.tracker.update(frame, detections)
        self.events.handle(self.name, update)
        if self.activity is not None:
            moving = sum(1 for obj in update.active if obj.true_positive and obj.motionless_count == 0)
            motion_area = sum(box_area(box) for box in motion_boxes)
            self.activity.frame_processed(self.name, frame.time, motion_area, moving)
        self.process_rate.add()
        self.last_processed = time.monotonic()
        return FrameView(frame, motion_boxes, regions, list(update.active))

    def _publish_view(self, view: FrameView) -> None:
        self.capture.pin(view.frame)
        with self._view_lock:
            previous, self._view = self._view, view
        if previous is not None:
            self.capture.unpin(previous.frame)
            self.capture.release(previous.frame)

    def _update_motion_state(self, moving: bool, now: float) -> None:
        """Motion ON at once, OFF after `motion.mqtt_off_delay` seconds without motion (as Frigate)."""
        if moving:
            self._last_motion = now
            if not self._motion_active:
                self._motion_active = True
                self.bus.publish(MotionChanged(self.name, True))
        elif self._motion_active and now - self._last_motion >= self.config.motion.mqtt_off_delay:
            self._motion_active = False
            self.bus.publish(MotionChanged(self.name, False))

    @property
    def motion_active(self) -> bool:
        """The camera's motion state as last published."""
        return self._motion_active
