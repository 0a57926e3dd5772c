"""The Tornado application: every route of the API, in one table."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import tornado.web

from nvrd import web
from nvrd.api import (
    cameras,
    config_file,
    event_actions,
    events,
    exports,
    ffprobe,
    plus,
    ptz,
    recordings,
    system,
    views,
    vod,
)
from nvrd.api.base import BaseHandler, NotFound, log_request
from nvrd.api.media import MediaFolderHandler
from nvrd.api.plus_client import PlusClient
from nvrd.api.response_cache import ResponseCache

CAMERA = r"(?P<camera_name>[A-Za-z0-9_-]+)"
EVENT_ID = r"(?P<event_id>[A-Za-z0-9._-]{1,64})"
TIME = r"-?\d+(?:\.\d+)?"  # epoch seconds, int or float
RANGE = rf"start/(?P<start>{TIME})/end/(?P<end>{TIME})"
EXPORT_NAME = r"[A-Za-z0-9_:.@-]{1,200}"
HOUR = r"(?P<year_month>\d{4}-\d{1,2})/(?P<day>\d{1,2})/(?P<hour>\d{1,2})"
FRAME_TIME = rf"(?P<frame_time>{TIME})"
FOLDER_PATH = r"(?:/(?P<relative>.*))?"
ZONE = r"(?:/(?P<tz>[A-Za-z0-9_+,-]+))?"  # an IANA zone with '/' written ','
LABEL = r"(?P<label>[^/]{1,100})"  # URL-unquoted by Tornado
# Threads that encode pictures (JPEG/PNG) off the event loop; libjpeg-turbo and Pillow release the GIL.
RENDER_THREADS = 2


class NotFoundHandler(BaseHandler):
    """Anything no route matches."""

    def prepare(self) -> None:
        raise NotFound("Not found")


def make_app(daemon) -> tornado.web.Application:
    """Build the application for a running daemon."""
    d = {"daemon": daemon}
    render_pool = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="api-render")
    renderer = {**d, "renderer": cameras.LatestRenderer(views.FrameJpegCache(render_pool))}
    plus_client = PlusClient.from_environment()
    plus_args = {**d, "plus": plus_client, "executor": render_pool}
    html = {"listing": "html"}
    routes = [
        (r"/api/?", system.RootHandler, d),
        (r"/api/version", system.VersionHandler, d),
        (r"/api/config", system.ConfigHandler, {**d, "plus_enabled": plus_client is not None}),
        (r"/api/config/raw", config_file.ConfigRawHandler, d),
        (r"/api/config/save", config_file.ConfigSaveHandler, d),
        (r"/api/stats", system.StatsHandler, {**d, "snapshot": system.StatsSnapshot()}),
        (r"/api/labels", system.LabelsHandler, d),
        (r"/api/sub_labels", system.SubLabelsHandler, d),
        (r"/api/restart", system.RestartHandler, d),
        (r"/api/openapi\.json", system.OpenApiHandler, d),
        (r"/api/ffprobe", ffprobe.FfprobeHandler, d),
        (r"/api/timeline", events.TimelineHandler, d),
        (r"/api/events", events.EventsHandler, d),
        (r"/api/events/summary", events.EventsSummaryHandler, d),
        (
            rf"/api/events/{CAMERA}/{LABEL}/create",
            event_actions.CreateEventHandler,
            {**d, "executor": render_pool},
        ),
        (rf"/api/events/{EVENT_ID}", events.EventHandler, d),
        (rf"/api/events/{EVENT_ID}/thumbnail\.jpg", events.EventThumbnailHandler, d),
        (rf"/api/events/{EVENT_ID}/snapshot\.jpg", events.EventSnapshotHandler, d),
        (rf"/api/events/{EVENT_ID}/retain", event_actions.RetainHandler, d),
        (rf"/api/events/{EVENT_ID}/sub_label", event_actions.SubLabelHandler, d),
        (rf"/api/events/{EVENT_ID}/end", event_actions.EndEventHandler, d),
        (rf"/api/events/{EVENT_ID}/plus", plus.SubmitHandler, plus_args),
        (rf"/api/events/{EVENT_ID}/false_positive", plus.FalsePositiveHandler, plus_args),
        (rf"/api/{CAMERA}/latest\.jpg", cameras.LatestJpegHandler, renderer),
        (rf"/api/{CAMERA}/ptz/info", ptz.PtzInfoHandler, {**d, "answers": {}}),
        # recordings, clips, HLS and exports
        (rf"/api/events/{EVENT_ID}/clip\.mp4", recordings.EventClipHandler, d),
        (r"/api/recordings/storage", recordings.RecordingsStorageHandler, d),
        (rf"/api/{CAMERA}/recordings/summary", recordings.RecordingsSummaryHandler, d),
        (rf"/api/{CAMERA}/recordings", recordings.RecordingsHandler, d),
        (rf"/api/{CAMERA}/recordings/{FRAME_TIME}/snapshot\.png", recordings.RecordingSnapshotHandler, d),
        (rf"/api/{CAMERA}/{RANGE}/clip\.mp4", recordings.RangeClipHandler, d),
        (rf"/api/export/{CAMERA}/{RANGE}", exports.ExportStartHandler, d),
        (rf"/api/export/(?P<current>{EXPORT_NAME})/(?P<new>{EXPORT_NAME})", exports.ExportRenameHandler, d),
        (rf"/api/export/(?P<name>{EXPORT_NAME})", exports.ExportDeleteHandler, d),
        (rf"/vod/event/{EVENT_ID}/{vod.VOD_FILE}", vod.EventVodHandler, d),
        (rf"/vod/{CAMERA}/{RANGE}/{vod.VOD_FILE}", vod.RangeVodHandler, d),
        (rf"/vod/{HOUR}/{CAMERA}{ZONE}/{vod.VOD_FILE}", vod.HourVodHandler, d),
        # the media folders nginx served for Frigate
        (rf"/clips{FOLDER_PATH}", recordings.ClipsFolderHandler, {**d, "folder_attr": "clips", **html}),
        (rf"/recordings{FOLDER_PATH}", MediaFolderHandler, {**d, "folder_attr": "recordings"}),
        (rf"/exports{FOLDER_PATH}", MediaFolderHandler, {**d, "folder_attr": "exports"}),
        # per-label pictures, then any other single word under /api/ is a camera's MJPEG stream
        (rf"/api/{CAMERA}/{LABEL}/best\.jpg", cameras.BestJpegHandler, d),
        (rf"/api/{CAMERA}/{LABEL}/thumbnail\.jpg", cameras.LabelThumbnailHandler, d),
        (rf"/api/{CAMERA}/{LABEL}/snapshot\.jpg", cameras.LabelSnapshotHandler, d),
        (rf"/api/{CAMERA}", cameras.MjpegHandler, renderer),
        # the web page: exactly `/` and `/ui/...`
        *web.routes(),
    ]
    return tornado.web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=d,
        compress_response=True,
        serve_traceback=False,
        log_function=log_request,
        response_cache=ResponseCache(),
    )
