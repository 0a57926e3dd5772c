"""Pictures of tracked objects: event thumbnails, snapshot files, MQTT and live snapshots (§8.5).

All are rendered from an object's best frame by nvrd.imaging.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

from nvrd import imaging
from nvrd.track.tracked_object import BestFrame, TrackedObject

DEFAULT_TIMESTAMP_FORMAT = "%m/%d/%Y %H:%M:%S"

# Distinct, saturated colours (RGB) so neighbouring labels are told apart at a glance.
_PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def label_color(label: str) -> tuple[int, int, int]:
    """A stable colour per label (the same on every run and every picture)."""
    return _PALETTE[zlib.crc32(label.encode()) % len(_PALETTE)]


def box_caption(label: str, score: float, area: int) -> str:
    """The text drawn by a bounding box: `<label>: <score%> <area>`."""
    return f"{label}: {int(score * 100)}% {area}"


def timestamp_format(camera_cfg: Any) -> str:
    """The camera's `timestamp_style.format`, or Frigate's default."""
    style = getattr(camera_cfg, "timestamp_style", None)
    return getattr(style, "format", None) or DEFAULT_TIMESTAMP_FORMAT


def render_best(
    obj: TrackedObject,
    *,
    bounding_box: bool = True,
    crop: bool = False,
    height: int | None = None,
    timestamp: bool = False,
    quality: int = 70,
    time_format: str = DEFAULT_TIMESTAMP_FORMAT,
) -> bytes | None:
    """A JPEG of the object's best frame with the given overlays; None when it has no best frame yet.

    This is what the API serves as the live snapshot of an event in progress.
    """
    if obj.best is None:
        return None
    return render_picture(
        obj.best,
        obj.label,
        bounding_box=bounding_box,
        crop=crop,
        height=height,
        timestamp=timestamp,
        quality=quality,
        time_format=time_format,
    )


def render_picture(
    best: BestFrame,
    label: str,
    *,
    bounding_box: bool = True,
    crop: bool = False,
    height: int | None = None,
    timestamp: bool = False,
    quality: int = 70,
    time_format: str = DEFAULT_TIMESTAMP_FORMAT,
) -> bytes:
    """A JPEG of one best frame of a `label` object with the given overlays."""
    frame = best.frame
    boxes = None
    if bounding_box:
        caption = box_caption(label, best.score, best.area)
        boxes = [imaging.DrawBox(box=best.box, color=label_color(label), label=caption)]
    region = imaging.snapshot_crop_region(best.box, frame.width, frame.height) if crop else None
    return imaging.encode_jpeg(
        frame,
        quality=quality,
        height=height,
        crop=region,
        boxes=boxes,
        timestamp=best.time if timestamp else None,
        timestamp_format=time_format,
    )


def render_snapshot_file(obj: TrackedObject, camera_cfg: Any) -> bytes | None:
    """The `<camera>-<id>.jpg` snapshot, per the camera's `snapshots` options."""
    opts = getattr(camera_cfg, "snapshots", None)
    return render_best(
        obj,
        bounding_box=bool(getattr(opts, "bounding_box", True)),
        crop=bool(getattr(opts, "crop", False)),
        height=getattr(opts, "height", None),
        timestamp=bool(getattr(opts, "timestamp", False)),
        quality=int(getattr(opts, "quality", None) or 70),
        time_format=timestamp_format(camera_cfg),
    )


def render_mqtt_snapshot(best: BestFrame, label: str, camera_cfg: Any) -> bytes:
    """The `<camera>/<label>/snapshot` picture of a best frame, per the camera's `mqtt` options."""
    opts = getattr(camera_cfg, "mqtt", None)
    return render_picture(
        best,
        label,
        bounding_box=bool(getattr(opts, "bounding_box", True)),
        crop=bool(getattr(opts, "crop", True)),
        height=getattr(opts, "height", 270),
        timestamp=bool(getattr(opts, "timestamp", True)),
        quality=int(getattr(opts, "quality", None) or 70),
        time_format=timestamp_format(camera_cfg),
    )


def render_clean_png(obj: TrackedObject) -> bytes | None:
    """The best frame as PNG without overlays (`<camera>-<id>-clean.png`)."""
    return imaging.encode_png(obj.best.frame) if obj.best is not None else None


def thumbnail_base64(obj: TrackedObject) -> str | None:
    """The event row's thumbnail: base64 of the 175 px tall JPEG crop of the best frame."""
    best = obj.best
    if best is None:
        return None
    return base64.b64encode(imaging.thumbnail_jpeg(best.frame, best.box)).decode("ascii")
