"""Renderings of a camera's latest processed frame for latest.jpg (and the MJPEG stream): the frame with
the overlays a viewer asked for, drawn by nvrd.imaging on the YUV planes."""

from __future__ import annotations

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
