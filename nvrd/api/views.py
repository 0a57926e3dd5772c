"""Renderings of a camera's latest processed frame for latest.jpg and the MJPEG stream: the frame with
the overlays a viewer asked for, drawn by nvrd.imaging on the YUV planes.

Each distinct rendering (frame, height, quality, overlays) is encoded once, off the event loop, and the
same bytes go to every viewer asking for it while that frame is the newest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from nvrd import imaging
from nvrd.events.pictures import box_caption, label_color, timestamp_format
from nvrd.geometry import rasterize_polygons

MOTION_COLOR = (0, 0, 255)  # blue, as Frigate's debug view
REGION_COLOR = (0, 255, 0)  # green
ZONE_COLOR = (255, 200, 0)
ZONE_ACTIVE_COLOR = (255, 0, 0)
CAMERA_ERROR_SIZE = (1280, 720)
# Distinct renderings kept per camera for its newest frame (sizes x qualities x overlay sets).
RENDERINGS_PER_FRAME = 8
# How often a reader retries taking a hold on the newest frame while the camera replaces it.
PIN_ATTEMPTS = 3

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Overlays:
    """Which overlays a viewer asked for (the `bbox`, `timestamp`, ... query flags)."""

    bbox: bool = False
    timestamp: bool = False
    zones: bool = False
    mask: bool = False
    motion: bool = False
    regions: bool = False


class MaskCache:
    """Camera motion masks rasterised once per camera and frame size (they only change with the config)."""

    def __init__(self) -> None:
        self._masks: dict[tuple[str, int, int], np.ndarray | None] = {}

    def get(self, camera: str, config, width: int, height: int) -> np.ndarray | None:
        key = (camera, width, height)
        if key not in self._masks:
            polygons = list(config.motion.mask_polygons) + list(config.objects.mask_polygons)
            self._masks[key] = rasterize_polygons(polygons, width, height) if polygons else None
        return self._masks[key]


_masks = MaskCache()


def render_view(view, camera_config, overlays: Overlays, *, quality: int, height: int | None) -> bytes:
    """JPEG of a pipeline FrameView with the requested overlays."""
    frame = view.frame
    boxes: list[imaging.DrawBox] = []
    polygons: list[imaging.DrawPolygon] = []
    if overlays.zones:
        active = {zone for obj in view.objects for zone in obj.current_zones}
        for name, zone in camera_config.zones.items():
            color = ZONE_ACTIVE_COLOR if name in active else ZONE_COLOR
            polygons.append(imaging.DrawPolygon(zone.polygon, color, 4 if name in active else 2))
    if overlays.motion:
        boxes.extend(imaging.DrawBox(b, MOTION_COLOR) for b in view.motion_boxes)
    if overlays.regions:
        boxes.extend(imaging.DrawBox(b, REGION_COLOR) for b in view.regions)
    if overlays.bbox:
        for obj in view.objects:
            seen_now = obj.frame_time == frame.time
            boxes.append(
                imaging.DrawBox(
                    obj.box,
                    label_color(obj.label),
                    box_caption(obj.sub_label or obj.label, obj.score, obj.area),
                    thickness=2 if seen_now else 1,
                )
            )
    mask = _masks.get(view.frame.camera, camera_config, frame.width, frame.height) if overlays.mask else None
    return imaging.encode_jpeg(
        frame,
        quality=quality,
        height=height,
        boxes=boxes or None,
        polygons=polygons or None,
        mask=mask,
        timestamp=frame.time if overlays.timestamp else None,
        timestamp_format=timestamp_format(camera_config),
    )


def camera_error_jpeg(height: int | None) -> bytes:
    """What latest.jpg shows when a camera has no recent frame (Frigate serves a fixed picture, still 200)."""
    width, full_height = CAMERA_ERROR_SIZE
    if height is None:
        return imaging.black_jpeg(width, full_height)
    return imaging.black_jpeg(max(2, int(width * height / full_height)), height)


def held_latest(pipeline):
    """The camera's newest FrameView with a hold on its buffer (release with `release_view`), or None.

    The camera thread recycles a frame's buffer once nobody holds it; the hold keeps the pixels fixed
    while a rendering reads them on another thread.
    """
    for _ in range(PIN_ATTEMPTS):
        view = pipeline.latest()
        if view is None:
            return None
        if pipeline.capture.pool.hold(view.frame.data):
            if pipeline.latest() is view:
                return view
            # Replaced between the read and the hold: the buffer may already carry a newer frame.
            pipeline.capture.pool.drop(view.frame.data)
    return None


def release_view(pipeline, view) -> None:
    """Undo the hold `held_latest` took."""
    pipeline.capture.pool.drop(view.frame.data)


def is_stale(view, retry_interval: float, now: float | None = None) -> bool:
    """True when there is no frame or the newest is older than the camera's ffmpeg retry interval."""
    return view is None or (time.time() if now is None else now) - view.frame.time > retry_interval


class FrameJpegCache:
    """JPEGs of each camera's newest frame, keyed by (frame index, rendering options).

    Used only from the event loop's thread. A rendering runs once on the executor; viewers asking for
    it meanwhile await the same future, and later ones get the bytes until the frame is replaced.
    """

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._entries: dict[str, OrderedDict[tuple, asyncio.Future]] = {}
        self.hits = 0
        self.misses = 0

    async def get(self, camera: str, key: tuple, render: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The rendering for `key` (its first item the frame index) and whether it came from the cache."""
        entries = self._entries.setdefault(camera, OrderedDict())
        future = entries.get(key)
        hit = future is not None
        if future is None:
            self.misses += 1
            future = asyncio.get_running_loop().run_in_executor(self._executor, render)
            entries[key] = future
            for old in [k for k in entries if k[0] != key[0]]:
                del entries[old]  # renderings of replaced frames are never asked for again
            while len(entries) > RENDERINGS_PER_FRAME:
                entries.popitem(last=False)
        else:
            self.hits += 1
            entries.move_to_end(key)
        try:
            return await asyncio.shield(future), hit
        except Exception:
            if entries.get(key) is future:
                del entries[key]  # a failed rendering is tried again by the next viewer
            raise
