"""Database rows built from tracked objects: the 0.13 event row (§2.4) and timeline rows (§4.12)."""

from __future__ import annotations

from typing import Any

from nvrd.geometry import Box
from nvrd.track.tracked_object import TrackedObject

# Columns nvrd writes on every change of an event; the others (false_positive, retain_indefinitely,
# plus_id) belong to the API once the row exists and are only set when the row is first written.
OWNED_COLUMNS = (
    "id",
    "label",
    "camera",
    "start_time",
    "end_time",
    "zones",
    "thumbnail",
    "has_clip",
    "has_snapshot",
    "model_hash",
    "model_type",
    "detector_type",
    "data",
)


def relative_box(box: Box, frame_w: int, frame_h: int) -> list[float]:
    """An absolute (x1, y1, x2, y2) box as Frigate's relative [x, y, w, h] fractions of the frame."""
    x1, y1, x2, y2 = box
    return [
        round(x1 / frame_w, 4),
        round(y1 / frame_h, 4),
        round((x2 - x1) / frame_w, 4),
        round((y2 - y1) / frame_h, 4),
    ]


def event_data(obj: TrackedObject) -> dict[str, Any]:
    """The `data` column of a tracked-object event, from its best (snapshot) frame."""
    picture = obj.best
    if picture is not None:
        box, region, score = picture.box, picture.region, picture.score
    else:
        box, region, score = obj.box, obj.region, obj.score
    return {
        "type": "object",
        "box": relative_box(box, obj.frame_w, obj.frame_h),
        "region": relative_box(region, obj.frame_w, obj.frame_h),
        "score": score,
        "top_score": obj.top_score,
        "attributes": [],
    }


def event_row(
    obj: TrackedObject,
    *,
    start_time: float,
    end_time: float | None,
    thumbnail: str | None,
    model_hash: str | None = None,
    model_type: str | None = None,
    detector_type: str | None = None,
    first: bool,
) -> dict[str, Any]:
    """The event row of a tracked object.

    `start_time`/`end_time` are the stored times (pre/post capture already applied). With
    `first` the row has every 0.13 column (defaults for the API-owned ones and nulls for the legacy
    ones); otherwise only the columns nvrd owns, plus `sub_label` when one is set, so an upsert
    does not undo what a user changed through the API.
    """
    row: dict[str, Any] = {
        "id": obj.id,
        "label": obj.label,
        "camera": obj.camera,
        "start_time": start_time,
        "end_time": end_time,
        "zones": list(obj.entered_zones),
        "thumbnail": thumbnail,
        "has_clip": obj.has_clip,
        "has_snapshot": obj.has_snapshot,
        "model_hash": model_hash,
        "model_type": model_type,
        "detector_type": detector_type,
        "data": event_data(obj),
    }
    if obj.sub_label is not None:
        row["sub_label"] = obj.sub_label
        row["data"]["sub_label_score"] = obj.sub_label_score
    if first:
        row.setdefault("sub_label", None)
        row.update(
            {
                "false_positive": False,
                "retain_indefinitely": False,
                "plus_id": None,
                "top_score": None,
                "score": None,
                "region": None,
                "box": None,
                "area": None,
                "ratio": 1.0,
            }
        )
    return row


def timeline_row(obj: TrackedObject, class_type: str, timestamp: float, **extra: Any) -> dict[str, Any]:
    """One timeline entry for a tracked object (`extra` adds to `data`, e.g. `zones=[...]`)."""
    data: dict[str, Any] = {
        "box": relative_box(obj.box, obj.frame_w, obj.frame_h),
        "region": relative_box(obj.region, obj.frame_w, obj.frame_h),
        "label": obj.label,
        "attribute": "",
    }
    data.update(extra)
    return {
        "timestamp": timestamp,
        "camera": obj.camera,
        "source": "tracked_object",
        "source_id": obj.id,
        "class_type": class_type,
        "data": data,
    }
