"""Event reading endpoints: the list with its filters, the summary, the timeline, one event (and its
deletion), its thumbnail and its snapshot."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from pathlib import Path

from nvrd import imaging
from nvrd.api.base import BadParameter, BaseHandler, NotFound
from nvrd.events.files import delete_event_files
from nvrd.events.pictures import render_best, timestamp_format
from nvrd.store import EventQuery

log = logging.getLogger(__name__)

TIME_RANGE = re.compile(r"^([01]\d|2[0-4]):[0-5]\d,([01]\d|2[0-4]):[0-5]\d$")
ENDED_THUMBNAIL_CACHE = "private, max-age=2592000"
ENDED_SNAPSHOT_CACHE = "private, max-age=31536000"
MAX_COUNT = 2**31 - 1  # SQLite takes 64-bit integers; nobody needs more rows than this
MAX_HEIGHT = 4320
THUMBNAIL_FORMATS = ("ios", "android")


def _list_arg(handler: BaseHandler, plural: str, singular: str) -> list[str] | None:
    """0.13's comma list (`cameras`), falling back to 0.8's single value (`camera`); `all` = no filter."""
    value = handler.arg_str(plural, "all")
    if value == "all":
        value = handler.arg_str(singular, "all")
    if value == "all":
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


def _zero_one(handler: BaseHandler, name: str) -> int | None:
    return handler.arg_int(name, None, minimum=0, maximum=1)


class EventsHandler(BaseHandler):
    """`GET /api/events` with every filter of both seeds."""

    def get(self) -> None:
        self.write_db_json(self._events)

    def _events(self) -> list[dict]:
        time_range = self.arg_str("time_range", "00:00,24:00")
        if not TIME_RANGE.match(time_range):
            raise BadParameter("time_range", "expected HH:MM,HH:MM")
        query = EventQuery(
            cameras=_list_arg(self, "cameras", "camera"),
            labels=_list_arg(self, "labels", "label"),
            sub_labels=_list_arg(self, "sub_labels", "sub_label"),
            zones=_list_arg(self, "zones", "zone"),
            after=self.arg_float("after"),
            before=self.arg_float("before"),
            time_range=time_range,
            timezone=self.arg_str("timezone", "utc"),
            has_clip=_zero_one(self, "has_clip"),
            has_snapshot=_zero_one(self, "has_snapshot"),
            in_progress=_zero_one(self, "in_progress"),
            include_thumbnails=self.arg_flag("include_thumbnails", True),
            favorites=self.arg_flag("favorites", False),
            min_score=self.arg_float("min_score"),
            max_score=self.arg_float("max_score"),
            is_submitted=self.arg_int("is_submitted", minimum=0, maximum=MAX_COUNT),
            min_length=self.arg_float("min_length"),
            max_length=self.arg_float("max_length"),
            limit=self.arg_int("limit", 100, minimum=-1, maximum=MAX_COUNT),
        )
        try:
            return self.daemon.store.query_events(query)
        except ValueError as exc:  # an unknown time zone, for instance
            raise BadParameter("timezone", str(exc)) from None


class EventsSummaryHandler(BaseHandler):
    """`GET /api/events/summary?has_clip=&has_snapshot=&timezone=`: counts per camera, label, sub label,
    local day and zones (what Home Assistant's media browser lists)."""

    def get(self) -> None:
        self.write_db_json(self._summary)

    def _summary(self) -> list[dict]:
        has_clip = _zero_one(self, "has_clip")
        has_snapshot = _zero_one(self, "has_snapshot")
        zone = self.arg_str("timezone", "utc")
        try:
            return self.daemon.store.events_summary(has_clip, has_snapshot, zone)
        except ValueError as exc:
            raise BadParameter("timezone", str(exc)) from None


class TimelineHandler(BaseHandler):
    """`GET /api/timeline?camera=&source_id=&limit=`: key moments of tracked objects, oldest first."""

    def get(self) -> None:
        self.write_db_json(self._timeline)

    def _timeline(self) -> list[dict]:
        return self.daemon.store.query_timeline(
            camera=self.arg_str("camera", "all"),
            source_id=self.arg_str("source_id"),
            limit=self.arg_int("limit", 100, minimum=-1, maximum=MAX_COUNT),
        )


class EventHandler(BaseHandler):
    """`GET /api/events/<id>`: the full row (a missing event is Frigate's plain-text 404);
    `DELETE /api/events/<id>`: the row, its timeline and its files (recordings expire by retention)."""

    def get(self, event_id: str) -> None:
        event = self.daemon.store.get_event(event_id)
        if event is None:
            raise NotFound("Event not found", text=True)
        self.write_json(event)

    def delete(self, event_id: str) -> None:
        store = self.daemon.store
        event = store.get_event(event_id)
        if event is None:
            raise NotFound(f"Event {event_id} not found")
        try:
            delete_event_files(Path(self.daemon.config.storage.clips), event["camera"], event_id)
        except ValueError as exc:
            log.warning("event %s: files not deleted: %s", event_id, exc)
        except OSError as exc:
            log.error("event %s: deleting its files failed: %s", event_id, exc)
        store.delete_event(event_id)
        store.delete_timeline(event_id)
        self.write_message(True, f"Event {event_id} deleted")


def send_event_thumbnail(
    handler: BaseHandler, event_id: str, *, ended_cache: str = ENDED_THUMBNAIL_CACHE
) -> None:
    """An event's thumbnail (`format=android`: padded to 2:1): the stored one, else the live object's."""
    fmt = handler.arg_str("format", "ios")
    if fmt not in THUMBNAIL_FORMATS:
        raise BadParameter("format", "must be ios or android")
    event = handler.daemon.store.get_event(event_id)
    cache = "no-store"
    jpeg = None
    if event is not None and event.get("thumbnail"):
        try:
            jpeg = base64.b64decode(event["thumbnail"], validate=True)
        except (binascii.Error, ValueError):
            jpeg = None
        if event.get("end_time") is not None:
            cache = ended_cache
    if jpeg is None:
        live = handler.daemon.events.live_object(event_id)
        best = live.best if live is not None else None
        if best is None:
            raise NotFound("Event not found")
        jpeg = imaging.thumbnail_jpeg(best.frame, best.box)
        cache = "no-store"
    if fmt == "android":
        try:
            jpeg = imaging.pad_to_aspect_2_1(jpeg)
        except ValueError:
            raise NotFound("Event not found") from None  # a stored thumbnail that is not a JPEG
    handler.write_image(jpeg, cache=cache)


def send_event_snapshot(handler: BaseHandler, event_id: str) -> None:
    """An event's snapshot: the stored file once the event ended (query options ignored), rendered from
    the live object's best frame with `h`, `bbox`, `timestamp`, `crop`, `quality` while it is tracked."""
    height = handler.arg_int("h", None, minimum=1, maximum=MAX_HEIGHT)
    bbox = handler.arg_flag("bbox")
    crop = handler.arg_flag("crop")
    stamp = handler.arg_flag("timestamp")
    quality = handler.arg_int("quality", 70, minimum=0, maximum=100)
    if handler.arg_present("download"):
        handler.set_header("Content-Disposition", f"attachment; filename=snapshot-{event_id}.jpg")
    daemon = handler.daemon
    event = daemon.store.get_event(event_id)
    if event is not None and event.get("end_time") is not None:
        if not event.get("has_snapshot"):
            raise NotFound("Snapshot not available")
        handler.write_image(_read_snapshot(handler, event), cache=ENDED_SNAPSHOT_CACHE)
        return
    live = daemon.events.live_object(event_id)
    if live is not None and live.best is not None:
        camera = daemon.config.cameras.get(live.camera)
        jpeg = render_best(
            live,
            bounding_box=bbox,
            crop=crop,
            height=height,
            timestamp=stamp,
            quality=quality,
            time_format=timestamp_format(camera),
        )
        handler.write_image(jpeg)
        return
    if event is not None and event.get("has_snapshot"):
        # An open-ended manual event has no tracked object; its picture is already on disk.
        handler.write_image(_read_snapshot(handler, event))
        return
    raise NotFound("Event not found")


def _read_snapshot(handler: BaseHandler, event: dict) -> bytes:
    try:
        return handler.daemon.snapshot_path(event["camera"], event["id"]).read_bytes()
    except (OSError, ValueError):
        raise NotFound("Event not found") from None


class EventThumbnailHandler(BaseHandler):
    """`GET /api/events/<id>/thumbnail.jpg[?format=android]`, stored or live."""

    def get(self, event_id: str) -> None:
        send_event_thumbnail(self, event_id)


class EventSnapshotHandler(BaseHandler):
    """`GET /api/events/<id>/snapshot.jpg[?download=&h=&bbox=&timestamp=&crop=&quality=]`."""

    def get(self, event_id: str) -> None:
        send_event_snapshot(self, event_id)
