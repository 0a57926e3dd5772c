"""The Tornado application: every route of the API, in one table."""

from __future__ import annotations

import tornado.web

from nvrd.api import cameras, events, system
from nvrd.api.base import BaseHandler, NotFound

CAMERA = r"(?P<camera_name>[A-Za-z0-9_-]+)"
EVENT_ID = r"(?P<event_id>[A-Za-z0-9._-]{1,64})"


class NotFoundHandler(BaseHandler):
    """Anything no route matches."""

    def prepare(self) -> None:
        raise NotFound("Not found")


def make_app(daemon) -> tornado.web.Application:
    """Build the application for a running daemon."""
    d = {"daemon": daemon}
    jpeg_cache = cameras.LatestJpegCache()
    routes = [
        (r"/api/?", system.RootHandler, d),
        (r"/api/version", system.VersionHandler, d),
        (r"/api/config", system.ConfigHandler, d),
        (r"/api/stats", system.StatsHandler, d),
        (r"/api/events", events.EventsHandler, d),
        (rf"/api/events/{EVENT_ID}", events.EventHandler, d),
        (rf"/api/events/{EVENT_ID}/thumbnail\.jpg", events.EventThumbnailHandler, d),
        (rf"/api/events/{EVENT_ID}/snapshot\.jpg", events.EventSnapshotHandler, d),
        (rf"/api/{CAMERA}/latest\.jpg", cameras.LatestJpegHandler, {**d, "cache": jpeg_cache}),
    ]
    return tornado.web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=d,
        compress_response=True,
        serve_traceback=False,
    )
