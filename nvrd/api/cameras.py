"""Camera endpoints: the latest processed frame as JPEG, encoded once per frame and size."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from nvrd.api import views
from nvrd.api.base import BaseHandler

# A few distinct renderings per camera (sizes, qualities, overlay sets) of the same frame are kept;
# every viewer of an unchanged frame gets the cached bytes.
CACHE_ENTRIES = 8


class LatestJpegCache:
    """JPEG renderings of each camera's latest frame, keyed by (frame index, rendering options)."""

    def __init__(self) -> None:
        self._entries: dict[str, OrderedDict[tuple, bytes]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, camera: str, key: tuple, render) -> bytes:
        """The cached rendering for `key`, or render it once and keep it."""
        with self._lock:
            entries = self._entries.setdefault(camera, OrderedDict())
            if key in entries:
                entries.move_to_end(key)
                self.hits += 1
                return entries[key]
        data = render()
        with self._lock:
            self.misses += 1
            entries[key] = data
            # Renderings of older frames are never asked for again.
            for old in [k for k in entries if k[0] != key[0]]:
                del entries[old]
            while len(entries) > CACHE_ENTRIES:
                entries.popitem(last=False)
        return data


class LatestJpegHandler(BaseHandler):
    """`GET /api/<camera>/latest.jpg?h=&quality=&bbox=&timestamp=&zones=&mask=&motion=&regions=`."""

    def initialize(self, daemon, cache: LatestJpegCache) -> None:
        super().initialize(daemon)
        self.cache = cache

    def get(self, camera_name: str) -> None:
        camera = self.camera_or_404(camera_name)
        height_arg = self.arg_int("h", None)
        quality = self.arg_int("quality", 70, minimum=0, maximum=100)
        overlays = views.Overlays(
            bbox=self.arg_flag("bbox"),
            timestamp=self.arg_flag("timestamp"),
            zones=self.arg_flag("zones"),
            mask=self.arg_flag("mask"),
            motion=self.arg_flag("motion"),
            regions=self.arg_flag("regions"),
        )
        view = camera.latest()
        retry_interval = camera.config.ffmpeg.retry_interval
        if view is None or time.time() - view.frame.time > retry_interval:
            width, height = 1280, 720
        else:
            width, height = view.frame.width, view.frame.height
        if height_arg is not None:
            out_w = int(width * height_arg / height)
            if height_arg < 1 or out_w < 1 or height_arg > 4320:
                self.write_text(f"Invalid height / width requested :: {height_arg} / {out_w}", 400)
                return
        if view is None or time.time() - view.frame.time > retry_interval:
            self.write_image(views.camera_error_jpeg(height_arg or 720))
            return
        key = (view.frame.index, height_arg, quality, overlays)
        jpeg = self.cache.get(
            camera_name,
            key,
            lambda: views.render_view(view, camera.config, overlays, quality=quality, height=height_arg),
        )
        self.write_image(jpeg)
