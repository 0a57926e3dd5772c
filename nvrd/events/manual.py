"""Events made on request rather than by tracking (Frigate 0.13's `POST /api/events/<camera>/<label>/create`):
a doorbell press, an alarm, anything a user or automation wants kept with its picture and recording.

The camera's current frame becomes the event's pictures: a clean PNG (when `snapshots.clean_copy`), a
JPEG snapshot with the requested boxes drawn, and the 175 px thumbnail of the whole frame. The row's
times include the camera's pre/post capture; an open-ended event (no duration) has no end time until
`end_manual_event`. Manual events produce no timeline entries and no MQTT notices (as in Frigate).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nvrd import imaging
from nvrd.events.files import write_atomic
from nvrd.frame import Frame
from nvrd.track.tracked_object import new_object_id

RGB = tuple[int, int, int]
DEFAULT_BOX_COLOR: RGB = (255, 0, 0)  # red
DEFAULT_DURATION = 30.0


@dataclass(frozen=True, slots=True)
class MarkedBox:
    """A box to draw on the snapshot: relative (x, y, width, height) fractions of the frame."""

    box: tuple[float, float, float, float]
    color: RGB = DEFAULT_BOX_COLOR
    score: float | None = None  # shown as a percentage beside the label


@dataclass(frozen=True, slots=True)
class ManualEvent:
    """What a manual event is made of (the request body of the create endpoint, validated)."""

    label: str
    sub_label: str | None = None
    duration: float | None = DEFAULT_DURATION  # seconds; None = until ended
    include_recording: bool = True
    source_type: str = "api"
    score: float = 0.0
    boxes: tuple[MarkedBox, ...] = field(default_factory=tuple)


def _pixel_box(marked: MarkedBox, width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = marked.box
    x1, y1 = int(x * width), int(y * height)
    return x1, y1, x1 + int(w * width), y1 + int(h * height)


def _caption(label: str, marked: MarkedBox, box: tuple[int, int, int, int]) -> str:
    area = (box[2] - box[0]) * (box[3] - box[1])
    score = "-" if marked.score is None else f"{marked.score:g}"
    return f"{label}: {score}% {area}"


def snapshot_jpeg(frame: Frame, label: str, boxes: tuple[MarkedBox, ...], quality: int) -> bytes:
    """The manual event's snapshot: the whole frame with the requested boxes and their captions."""
    draw = []
    for marked in boxes:
        box = _pixel_box(marked, frame.width, frame.height)
        draw.append(imaging.DrawBox(box=box, color=marked.color, label=_caption(label, marked, box)))
    return imaging.encode_jpeg(frame, quality=quality, boxes=draw or None)


def create_manual_event(
    store: Any,
    clips_dir: Path,
    camera: str,
    camera_cfg: Any,
    frame: Frame,
    event: ManualEvent,
    *,
    now: float | None = None,
) -> str:
    """Write the pictures and the row of a new manual event on `camera`; returns its id.

    Raises OSError when a picture cannot be written (the row is then not written either).
    """
    now = time.time() if now is None else now
    event_id = new_object_id(now)
    clips_dir = Path(clips_dir)
    snapshots = camera_cfg.snapshots
    if snapshots.clean_copy:
        write_atomic(clips_dir / f"{camera}-{event_id}-clean.png", imaging.encode_png(frame))
    jpeg = snapshot_jpeg(frame, event.label, event.boxes, snapshots.quality)
    write_atomic(clips_dir / f"{camera}-{event_id}.jpg", jpeg)
    thumbnail = imaging.encode_jpeg(frame, quality=imaging.THUMBNAIL_QUALITY, height=imaging.THUMBNAIL_HEIGHT)
    capture = camera_cfg.record.events
    end_time = None if event.duration is None else now + event.duration + capture.post_capture
    store.upsert_event(
        {
            "id": event_id,
            "label": event.label,
            "sub_label": event.sub_label,
            "camera": camera,
            "start_time": now - capture.pre_capture,
            "end_time": end_time,
            "top_score": None,
            "score": None,
            "false_positive": False,
            "zones": [],
            "thumbnail": base64.b64encode(thumbnail).decode("ascii"),
            "has_clip": bool(camera_cfg.record.enabled and event.include_recording),
            "has_snapshot": True,
            "region": None,
            "box": None,
            "area": None,
            "ratio": 1.0,
            "retain_indefinitely": False,
            "plus_id": None,
            "data": {"type": event.source_type, "score": event.score, "top_score": event.score},
        }
    )
    return event_id


def end_manual_event(store: Any, event_id: str, end_time: float) -> bool:
    """Give an event its end time exactly (no post capture added); False when there is no such event."""
    return bool(store.set_event_fields(event_id, end_time=end_time))
