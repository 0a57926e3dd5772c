"""Event changing endpoints: retain, sub label, manual events (create and end)."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

from nvrd.api import views
from nvrd.api.base import BadParameter, BaseHandler, NotFound
from nvrd.events.manual import (
    DEFAULT_BOX_COLOR,
    DEFAULT_DURATION,
    ManualEvent,
    MarkedBox,
    create_manual_event,
    end_manual_event,
)

SUB_LABEL_MAX = 100
LABEL_MAX = 100
SOURCE_TYPE_MAX = 50
MAX_BOXES = 100
MAX_DURATION = 7 * 24 * 3600.0  # a week: longer "events" are recordings, not events


class RetainHandler(BaseHandler):
    """`POST /api/events/<id>/retain` keeps the event (and its recordings) forever; `DELETE` undoes it."""

    def post(self, event_id: str) -> None:
        self._set(event_id, True, "retained")

    def delete(self, event_id: str) -> None:
        self._set(event_id, False, "un-retained")

    def _set(self, event_id: str, retain: bool, word: str) -> None:
        if not self.daemon.store.set_event_fields(event_id, retain_indefinitely=retain):
            raise NotFound(f"Event {event_id} not found")
        self.write_message(True, f"Event {event_id} {word}")


def _number(value: Any) -> float | None:
    """A JSON number as float (booleans are not numbers here); None when it is not one or not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class SubLabelHandler(BaseHandler):
    """`POST /api/events/<id>/sub_label` with `{"subLabel": text|null, "subLabelScore": 0..1}`."""

    def post(self, event_id: str) -> None:
        body = self.json_body()
        store = self.daemon.store
        event = store.get_event(event_id)
        if event is None:
            raise NotFound(f"Event {event_id} not found")
        if "subLabel" not in body:
            raise BadParameter("subLabel", "is required (a text, or null to remove the sub label)")
        text = body["subLabel"]
        if text is not None and not isinstance(text, str):
            raise BadParameter("subLabel", "must be a text or null")
        if text is not None and len(text) > SUB_LABEL_MAX:
            self.write_message(
                False, f"{text} exceeds the {SUB_LABEL_MAX} character limit for sub_label", 400
            )
            return
        score = body.get("subLabelScore")
        if score is not None:
            number = _number(score)
            if number is None or not 0.0 <= number <= 1.0:
                self.write_message(
                    False, f"{score} does not fit within the expected bounds 0 <= score <= 1.0", 400
                )
                return
            score = number
        if event.get("end_time") is None:
            self.daemon.events.set_sub_label(event_id, text, score)
        data = dict(event.get("data") or {})
        if text is None:
            data.pop("sub_label_score", None)
        elif score is not None:
            data["sub_label_score"] = score
        store.set_event_fields(event_id, sub_label=text, data=data)
        if text is None:
            self.write_message(True, f"Event {event_id} sub label removed")
        else:
            self.write_message(True, f"Event {event_id} sub label set to {text}")


def parse_manual_event(label: str, body: dict[str, Any]) -> ManualEvent:
    """The create request's body as a ManualEvent; a bad field is a BadParameter naming it."""
    sub_label = body.get("sub_label")
    if sub_label is not None and (not isinstance(sub_label, str) or len(sub_label) > SUB_LABEL_MAX):
        raise BadParameter("sub_label", f"must be a text of at most {SUB_LABEL_MAX} characters, or null")
    duration: float | None = DEFAULT_DURATION
    if "duration" in body:
        duration = None if body["duration"] is None else _number(body["duration"])
        if body["duration"] is not None and (duration is None or not 0 <= duration <= MAX_DURATION):
            raise BadParameter("duration", f"must be seconds from 0 to {int(MAX_DURATION)}, or null")
    include_recording = body.get("include_recording", True)
    if not isinstance(include_recording, bool):
        raise BadParameter("include_recording", "must be true or false")
    source_type = body.get("source_type", "api")
    if not isinstance(source_type, str) or not 0 < len(source_type) <= SOURCE_TYPE_MAX:
        raise BadParameter("source_type", f"must be a text of 1 to {SOURCE_TYPE_MAX} characters")
    score = _number(body.get("score", 0))
    if score is None:
        raise BadParameter("score", "must be a number")
    return ManualEvent(
        label=label,
        sub_label=sub_label,
        duration=duration,
        include_recording=include_recording,
        source_type=source_type,
        score=score,
        boxes=_parse_boxes(body.get("draw")),
    )


def _parse_boxes(draw: Any) -> tuple[MarkedBox, ...]:
    if draw is None:
        return ()
    if not isinstance(draw, dict):
        raise BadParameter("draw", 'must be an object such as {"boxes": [...]}')
    boxes = draw.get("boxes") or []
    if not isinstance(boxes, list) or len(boxes) > MAX_BOXES:
        raise BadParameter("draw.boxes", f"must be a list of at most {MAX_BOXES} boxes")
    parsed = []
    for index, item in enumerate(boxes):
        name = f"draw.boxes[{index}]"
        if not isinstance(item, dict):
            raise BadParameter(name, "must be an object with box, color and score")
        box = item.get("box")
        numbers = [_number(v) for v in box] if isinstance(box, list) and len(box) == 4 else None
        if numbers is None or any(n is None or not 0.0 <= n <= 1.0 for n in numbers):
            raise BadParameter(f"{name}.box", "must be [x, y, width, height], each a fraction from 0 to 1")
        color = item.get("color", list(DEFAULT_BOX_COLOR))
        if not (
            isinstance(color, list)
            and len(color) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
        ):
            raise BadParameter(f"{name}.color", "must be [red, green, blue], each 0 to 255")
        score = item.get("score")
        if score is not None and _number(score) is None:
            raise BadParameter(f"{name}.score", "must be a number")
        parsed.append(
            MarkedBox(
                box=tuple(numbers),  # type: ignore[arg-type]
                color=(color[0], color[1], color[2]),
                score=None if score is None else _number(score),
            )
        )
    return tuple(parsed)


def _check_label(label: str) -> None:
    if not 0 < len(label) <= LABEL_MAX or not label.isprintable() or "/" in label:
        raise BadParameter("label", f"must be 1 to {LABEL_MAX} printable characters, without '/'")


class CreateEventHandler(BaseHandler):
    """`POST /api/events/<camera>/<label>/create`: a manual event from the camera's current frame."""

    def initialize(self, daemon, executor) -> None:
        super().initialize(daemon)
        self.executor = executor

    async def post(self, camera_name: str, label: str) -> None:
        pipeline = self.daemon.cameras.get(camera_name)
        if pipeline is None:
            raise NotFound(f"{camera_name} is not a valid camera.")
        _check_label(label)
        event = parse_manual_event(label, self.json_body())
        view = views.held_latest(pipeline)
        if view is None:
            self.write_message(False, f"{camera_name} has no frame yet; try again once it streams", 503)
            return
        try:
            frame = view.frame.copy()
        finally:
            views.release_view(pipeline, view)
        daemon = self.daemon
        clips = Path(daemon.config.storage.clips)
        try:
            event_id = await asyncio.get_running_loop().run_in_executor(
                self.executor,
                lambda: create_manual_event(daemon.store, clips, camera_name, pipeline.config, frame, event),
            )
        except OSError as exc:
            self.write_message(
                False, f"The event's pictures could not be written: {exc.strerror or exc}", 503
            )
            return
        self.write_message(True, "Successfully created event.", event_id=event_id)


class EndEventHandler(BaseHandler):
    """`PUT /api/events/<id>/end` with an optional `{"end_time": <epoch s>}` (default now); unknown ids
    are ignored, as Frigate does."""

    def put(self, event_id: str) -> None:
        body = self.json_body()
        end_time = time.time()
        if body.get("end_time") is not None:
            number = _number(body["end_time"])
            if number is None or number < 0:
                raise BadParameter("end_time", "must be epoch seconds")
            end_time = number
        end_manual_event(self.daemon.store, event_id, end_time)
        self.write_message(True, "Event successfully ended.")
