"""Event endpoints: the list with its filters, one event, its thumbnail and snapshot."""

from __future__ import annotations

import base64
import binascii
import re

from nvrd import imaging
from nvrd.api.base import BadParameter, BaseHandler, NotFound
from nvrd.events.pictures import render_best, timestamp_format
from nvrd.store import EventQuery

TIME_RANGE = re.compile(r"^([01]\d|2[0-4]):[0-5]\d,([01]\d|2[0-4]):[0-5]\d$")
ENDED_THUMBNAIL_CACHE = "private, max-age=2592000"
ENDED_SNAPSHOT_CACHE = "private, max-age=31536000"


def _list_arg(handler: BaseHandler, plural: str, singular: str) -> list[str] | None:
    """0.13's comma list (`cameras`), falling back to 0.8's single value (`camera`); `all` = no filter."""
    value = handler.arg_str(plural, "all")
    if value == "all":
        value = handler.arg_str(singular, "all")
    if value == "all":
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


class EventsHandler(BaseHandler):
    """`GET /api/events` with every filter of both seeds."""

    def get(self) -> None:
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
            has_clip=self.arg_int("has_clip", minimum=0, maximum=1),
            has_snapshot=self.arg_int("has_snapshot", minimum=0, maximum=1),
            in_progress=self.arg_int("in_progress", minimum=0, maximum=1),
            include_thumbnails=self.arg_flag("include_thumbnails", True),
            favorites=self.arg_flag("favorites", False),
            min_score=self.arg_float("min_score"),
            max_score=self.arg_float("max_score"),
            is_submitted=self.arg_int("is_submitted", minimum=0),
            min_length=self.arg_float("min_length"),
            max_length=self.arg_float("max_length"),
            limit=self.arg_int("limit", 100, minimum=-1),
        )
        try:
            events = self.daemon.store.query_events(query)
        except ValueError as exc:  # an unknown time zone, for instance
            raise BadParameter("timezone", str(exc)) from None
        self.write_json(events)


class EventHandler(BaseHandler):
    """`GET /api/events/<id>`: the full row; a missing event is Frigate's plain-text 404."""

    def get(self, event_id: str) -> None:
        event = self.daemon.store.get_event(event_id)
        if event is None:
            raise NotFound("Event not found", text=True)
        self.write_json(event)


class EventThumbnailHandler(BaseHandler):
    """`GET /api/events/<id>/thumbnail.jpg[?format=android]`, stored or live."""

    def get(self, event_id: str) -> None:
        fmt = self.arg_str("format", "ios")
        if fmt not in ("ios", "android"):
            raise BadParameter("format", "must be ios or android")
        event = self.daemon.store.get_event(event_id)
        cache = "no-store"
        jpeg = None
        if event is not None and event.get("thumbnail"):
            try:
                jpeg = base64.b64decode(event["thumbnail"], validate=True)
            except (binascii.Error, ValueError):
                jpeg = None
            if event.get("end_time") is not None:
                cache = ENDED_THUMBNAIL_CACHE
        if jpeg is None:
            live = self.daemon.events.live_object(event_id)
            if live is None or live.best is None:
                raise NotFound("Event not found")
            jpeg = imaging.thumbnail_jpeg(live.best.frame, live.best.box)
            cache = "no-store"
        if fmt == "android":
            jpeg = imaging.pad_to_aspect_2_1(jpeg)
        self.write_image(jpeg, cache=cache)


class EventSnapshotHandler(BaseHandler):
    """`GET /api/events/<id>/snapshot.jpg`: the stored file once ended, rendered live before."""

    def get(self, event_id: str) -> None:
        download = bool(self.get_query_argument("download", ""))
        event = self.daemon.store.get_event(event_id)
        if event is not None and event.get("end_time") is not None:
            if not event.get("has_snapshot"):
                raise NotFound("Snapshot not available")
            path = self.daemon.snapshot_path(event["camera"], event_id)
            try:
                data = path.read_bytes()
            except OSError:
                raise NotFound("Event not found") from None
            self._attachment(download, event_id)
            self.write_image(data, cache=ENDED_SNAPSHOT_CACHE)
            return
        live = self.daemon.events.live_object(event_id)
        if live is None or live.best is None:
            raise NotFound("Event not found")
        camera = self.daemon.config.cameras.get(live.camera)
        jpeg = render_best(
            live,
            bounding_box=self.arg_flag("bbox"),
            crop=self.arg_flag("crop"),
            height=self.arg_int("h", None, minimum=1, maximum=4320),
            timestamp=self.arg_flag("timestamp"),
            quality=self.arg_int("quality", 70, minimum=0, maximum=100),
            time_format=timestamp_format(camera),
        )
        self._attachment(download, event_id)
        self.write_image(jpeg)

    def _attachment(self, download: bool, event_id: str) -> None:
        if download:
            self.set_header("Content-Disposition", f"attachment; filename=snapshot-{event_id}.jpg")
