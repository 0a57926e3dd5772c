"""Camera endpoints: the newest processed frame as JPEG (`latest.jpg`) and as an MJPEG stream, and the
per-label pictures (`best.jpg` of 0.8; `thumbnail.jpg` and `snapshot.jpg` of the newest event)."""

from __future__ import annotations

import asyncio
import time

import tornado.iostream

from nvrd import imaging
from nvrd.api import views
from nvrd.api.base import BaseHandler, NotFound
from nvrd.api.events import send_event_snapshot, send_event_thumbnail

MAX_HEIGHT = 4320  # 8K rows: anything taller is a mistake, not a viewer
MJPEG_DEFAULT_FPS = 3
MJPEG_DEFAULT_HEIGHT = 360
MJPEG_MAX_FPS = 30
MJPEG_QUALITY = 70
LABEL_THUMBNAIL_CACHE = "private, max-age=60"
ANY_LABEL = "any"
_PART_HEAD = b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"
_PART_TAIL = b"\r\n\r\n"


def overlays_from(handler: BaseHandler) -> views.Overlays:
    """The overlay flags of a latest.jpg or MJPEG request."""
    return views.Overlays(
        bbox=handler.arg_flag("bbox"),
        timestamp=handler.arg_flag("timestamp"),
        zones=handler.arg_flag("zones"),
        mask=handler.arg_flag("mask"),
        motion=handler.arg_flag("motion"),
        regions=handler.arg_flag("regions"),
    )


class LatestRenderer:
    """The newest frame of a camera as JPEG, from the shared per-frame cache."""

    def __init__(self, cache: views.FrameJpegCache) -> None:
        self.cache = cache

    async def jpeg(
        self, name: str, pipeline, *, height: int | None, quality: int, overlays: views.Overlays
    ) -> tuple[bytes, bool]:
        """(JPEG, served from cache); the camera-error picture when the camera has no recent frame."""
        view = views.held_latest(pipeline)
        if view is None:
            return views.camera_error_jpeg(height), False
        try:
            if views.is_stale(view, pipeline.config.ffmpeg.retry_interval):
                return views.camera_error_jpeg(height), False
            key = ((view.frame.index, view.frame.time), height, quality, overlays)
            config = pipeline.config
            return await self.cache.get(
                name,
                key,
                lambda: views.render_view(view, config, overlays, quality=quality, height=height),
            )
        finally:
            views.release_view(pipeline, view)


class CameraHandler(BaseHandler):
    """A handler that renders camera frames through the shared renderer."""

    def initialize(self, daemon, renderer: LatestRenderer) -> None:
        super().initialize(daemon)
        self.renderer = renderer


class LatestJpegHandler(CameraHandler):
    """`GET /api/<camera>/latest.jpg?h=&quality=&bbox=&timestamp=&zones=&mask=&motion=&regions=`."""

    async def get(self, camera_name: str) -> None:
        pipeline = self.camera_or_404(camera_name)
        height = self.arg_int("h", None)
        quality = self.arg_int("quality", 70, minimum=0, maximum=100)
        overlays = overlays_from(self)
        if height is not None:
            view = pipeline.latest()
            if views.is_stale(view, pipeline.config.ffmpeg.retry_interval):
                width, full_height = views.CAMERA_ERROR_SIZE
            else:
                width, full_height = view.frame.width, view.frame.height
            out_width = int(width * height / full_height)
            if height < 1 or out_width < 1 or height > MAX_HEIGHT:
                # Frigate's one plain-text 400.
                self.write_text(f"Invalid height / width requested :: {height} / {out_width}", 400)
                return
        jpeg, hit = await self.renderer.jpeg(
            camera_name, pipeline, height=height, quality=quality, overlays=overlays
        )
        self.set_header("X-Cache-Status", "HIT" if hit else "MISS")
        self.write_image(jpeg)


class MjpegHandler(CameraHandler):
    """`GET /api/<camera>?fps=&h=&bbox=&...`: an endless multipart/x-mixed-replace stream of JPEGs.

    Every viewer wakes on the same wall-clock ticks (multiples of 1/fps), so viewers with the same
    options ask for the same frame at the same moment and share one encoding.
    """

    def initialize(self, daemon, renderer: LatestRenderer) -> None:
        super().initialize(daemon, renderer)
        self._gone = False

    def on_connection_close(self) -> None:
        self._gone = True

    async def get(self, camera_name: str) -> None:
        pipeline = self.camera_or_404(camera_name)
        fps = self.arg_int("fps", MJPEG_DEFAULT_FPS, minimum=1, maximum=MJPEG_MAX_FPS)
        height = self.arg_int("h", MJPEG_DEFAULT_HEIGHT, minimum=2, maximum=MAX_HEIGHT)
        overlays = overlays_from(self)
        self.set_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        if self.request.method == "HEAD":
            self.finish()
            return
        period = 1.0 / fps
        try:
            while not self._gone:
                jpeg, _ = await self.renderer.jpeg(
                    camera_name, pipeline, height=height, quality=MJPEG_QUALITY, overlays=overlays
                )
                self.write(_PART_HEAD + jpeg + _PART_TAIL)
                await self.flush()
                await asyncio.sleep(period - time.time() % period)
        except tornado.iostream.StreamClosedError:
            return  # the viewer left


class BestJpegHandler(BaseHandler):
    """`GET /api/<camera>/<label>/best.jpg?h=&crop=` (0.8): the best recent picture of that label,
    kept in memory; a black 1280x720 picture (still 200) while there is none."""

    def get(self, camera_name: str, label: str) -> None:
        pipeline = self.camera_or_404(camera_name)
        crop = self.arg_flag("crop")
        height = self.arg_int("h", None, minimum=2, maximum=MAX_HEIGHT)
        labels = list(pipeline.config.objects.track) if label == ANY_LABEL else [label]
        pictures = [
            obj.best
            for obj in (self.daemon.events.best_object(camera_name, name) for name in labels)
            if obj is not None and obj.best is not None
        ]
        if not pictures:
            width, full_height = views.CAMERA_ERROR_SIZE
            if height is None:
                self.write_image(imaging.black_jpeg(width, full_height))
            else:
                self.write_image(imaging.black_jpeg(max(2, round(width * height / full_height)), height))
            return
        best = max(pictures, key=lambda picture: picture.time)
        region = imaging.snapshot_crop_region(best.box, best.frame.width, best.frame.height) if crop else None
        self.write_image(imaging.encode_jpeg(best.frame, quality=70, height=height, crop=region))


class LabelThumbnailHandler(BaseHandler):
    """`GET /api/<camera>/<label>/thumbnail.jpg[?format=android]`: the thumbnail of the newest event of
    that camera and label (`any`: every label). No such event is a 404."""

    def get(self, camera_name: str, label: str) -> None:
        event = self.daemon.store.newest_event(camera_name, None if label == ANY_LABEL else label, by="id")
        if event is None:
            raise NotFound("Event not found")
        send_event_thumbnail(self, event["id"], ended_cache=LABEL_THUMBNAIL_CACHE)


class LabelSnapshotHandler(BaseHandler):
    """`GET /api/<camera>/<label>/snapshot.jpg`: the snapshot of the newest event with one, served as
    the event's own; a black 1280x720 picture (still 200) when there is none."""

    def get(self, camera_name: str, label: str) -> None:
        event = self.daemon.store.newest_event(
            camera_name, None if label == ANY_LABEL else label, by="start_time", has_snapshot=True
        )
        if event is None:
            width, height = views.CAMERA_ERROR_SIZE
            self.set_header("Content-Type", "image/jpeg")
            self.clear_header("Cache-Control")
            self.finish(imaging.black_jpeg(width, height))
            return
        send_event_snapshot(self, event["id"])
