"""Pictures of frames: JPEG snapshots, thumbnails, latest.jpg and MJPEG parts, PNG clean copies.

Frames are I420 in BT.601 limited range (ffmpeg's `yuv420p`). JPEG (JFIF) stores full-range YCbCr,
so the planes are range-expanded through a lookup table and handed to libjpeg-turbo as planes
(`simplejpeg.encode_jpeg_yuv_planes`); nothing is converted to RGB. Overlays are painted into the
output planes after cropping and resizing, so line widths and text sizes are in output pixels and
the caller's frame is never touched.
"""

from __future__ import annotations

import functools
import io
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import simplejpeg
from PIL import Image, ImageDraw, ImageFont

from nvrd.frame import Frame, i420_size
from nvrd.geometry import Box, Polygon

RGB = tuple[int, int, int]

THUMBNAIL_HEIGHT = 175  # Frigate's event thumbnail height (§8.5)
THUMBNAIL_QUALITY = 70
CROP_MIN_SIDE = 300
CROP_MULTIPLIER = 1.1

# Limited (TV) range → full (JFIF) range, BT.601: luma 16..235 → 0..255, chroma 16..240 → 0..255.
_LEVELS = np.arange(256)
_LUMA_TO_FULL = np.clip(np.round((_LEVELS - 16) * 255 / 219), 0, 255).astype(int).tolist()
_CHROMA_TO_FULL = np.clip(np.round((_LEVELS - 128) * 255 / 224 + 128), 0, 255).astype(int).tolist()


@dataclass(slots=True)
class DrawBox:
    """A rectangle to draw, in frame pixels, with an optional label above it (e.g. "person: 87% 12345")."""

    box: Box
    color: RGB
    label: str | None = None
    thickness: int = 2


@dataclass(slots=True)
class DrawPolygon:
    """A polygon outline to draw (a zone), in frame pixels."""

    points: Polygon
    color: RGB
    thickness: int = 2


class _Planes(NamedTuple):
    """Full-range Y, Cb, Cr planes of an output picture; chroma is ceil(h/2) x ceil(w/2)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray


@dataclass(slots=True)
class _View:
    """How frame coordinates map onto the output picture (crop origin, then scale)."""

    x0: int
    y0: int
    sx: float
    sy: float

    def point(self, x: float, y: float) -> tuple[int, int]:
        return round((x - self.x0) * self.sx), round((y - self.y0) * self.sy)


# --- colour -----------------------------------------------------------------------------------


def _full_range_ycbcr(color: RGB) -> tuple[int, int, int]:
    """JFIF (full-range BT.601) Y, Cb, Cr of an RGB colour."""
    r, g, b = color
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return _byte(y), _byte(cb), _byte(cr)


def _byte(value: float) -> int:
    return int(min(255, max(0, round(value))))


def rgb_to_frame(rgb: np.ndarray, camera: str = "", frame_time: float = 0.0) -> Frame:
    """An I420 frame (BT.601 limited range, like ffmpeg's yuv420p) from an (h, w, 3) uint8 RGB image.

    An odd last row or column is dropped, since I420 sizes are even. Chroma is the 2x2 average.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (h, w, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[0] & ~1, rgb.shape[1] & ~1
    if height == 0 or width == 0:
        raise ValueError("image is too small for an I420 frame (needs at least 2x2 pixels)")
    pixels = rgb[:height, :width].astype(np.float32)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    quad = pixels.reshape(height // 2, 2, width // 2, 2, 3).mean(axis=(1, 3))
    qr, qg, qb = quad[..., 0], quad[..., 1], quad[..., 2]
    u = 128 + (-37.797 * qr - 74.203 * qg + 112.0 * qb) / 255
    v = 128 + (112.0 * qr - 93.786 * qg - 18.214 * qb) / 255
    data = np.empty(i420_size(width, height), dtype=np.uint8)
    n = width * height
    data[:n] = np.clip(np.rint(y), 0, 255).ravel()
    data[n : n + n // 4] = np.clip(np.rint(u), 0, 255).ravel()
    data[n + n // 4 :] = np.clip(np.rint(v), 0, 255).ravel()
    return Frame(camera, 0, frame_time, width, height, data)


def frame_to_rgb(frame: Frame) -> np.ndarray:
    """The frame as an (h, w, 3) uint8 RGB array (BT.601 limited range in, chroma repeated 2x2)."""
    y = frame.y.astype(np.float32) - 16
    u = np.repeat(np.repeat(frame.u, 2, axis=0), 2, axis=1).astype(np.float32) - 128
    v = np.repeat(np.repeat(frame.v, 2, axis=0), 2, axis=1).astype(np.float32) - 128
    rgb = np.empty((frame.height, frame.width, 3), dtype=np.float32)
    rgb[..., 0] = 1.164383 * y + 1.596027 * v
    rgb[..., 1] = 1.164383 * y - 0.391762 * u - 0.812968 * v
    rgb[..., 2] = 1.164383 * y + 2.017232 * u
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


# --- geometry of crops and resizes ---------------------------------------------------------------


def _aligned_crop(box: Box, width: int, height: int) -> Box:
    """The box clipped to the frame with an even origin and even size, so chroma stays in register."""
    x1, y1 = max(0, box[0]) & ~1, max(0, box[1]) & ~1
    x2, y2 = min(width, box[2]), min(height, box[3])
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"crop box {box} does not overlap the {width}x{height} frame")
    x2 = min(width, x1 + ((x2 - x1 + 1) & ~1))
    y2 = min(height, y1 + ((y2 - y1 + 1) & ~1))
    return x1, y1, x2, y2


def snapshot_crop_region(box: Box, frame_w: int, frame_h: int) -> Box:
    """Frigate's square crop around an object (§8.5), used for thumbnails and cropped snapshots.

    Side = longest box side x 1.1 rounded down to a multiple of 4, at least 300; centred on the box
    and shifted to lie inside the frame. A frame smaller than the side caps that axis (the region is
    then the whole width or height, no longer square).
    """
    x1, y1, x2, y2 = box
    side = int(max(x2 - x1, y2 - y1) * CROP_MULTIPLIER) // 4 * 4
    side = max(side, CROP_MIN_SIDE)
    spans = []
    for low, high, limit in ((x1, x2, frame_w), (y1, y2, frame_h)):
        extent = min(side, limit)
        start = int((low + high) / 2 - extent / 2)
        start = min(max(0, start), limit - extent)
        spans.append((start, start + extent))
    (rx1, rx2), (ry1, ry2) = spans
    return rx1, ry1, rx2, ry2


def _output_size(width: int, height: int, target_height: int | None) -> tuple[int, int]:
    if target_height is None:
        return width, height
    if target_height < 1:
        raise ValueError(f"invalid height {target_height} (must be at least 1)")
    out_width = round(width * target_height / height)
    if out_width < 1:
        raise ValueError(f"invalid height {target_height}: the width would be {out_width}")
    return out_width, target_height


def _resized(plane: Image.Image, size: tuple[int, int]) -> Image.Image:
    if plane.size == size:
        return plane
    # Area averaging when shrinking (no aliasing on thin lines), bilinear when enlarging.
    shrinking = size[0] < plane.size[0] and size[1] < plane.size[1]
    return plane.resize(size, Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR)


def _chroma_size(width: int, height: int) -> tuple[int, int]:
    return (width + 1) // 2, (height + 1) // 2


def resize_planes(frame: Frame, height: int) -> Frame:
    """A resized copy keeping the aspect ratio; height and width are rounded to even numbers."""
    if height < 1:
        raise ValueError(f"invalid height {height} (must be at least 1)")
    out_h = max(2, 2 * round(height / 2))
    out_w = max(2, 2 * round(frame.width * out_h / frame.height / 2))
    y = _resized(Image.fromarray(frame.y), (out_w, out_h))
    u = _resized(Image.fromarray(frame.u), (out_w // 2, out_h // 2))
    v = _resized(Image.fromarray(frame.v), (out_w // 2, out_h // 2))
    data = np.concatenate([np.asarray(p).ravel() for p in (y, u, v)])
    return Frame(frame.camera, frame.index, frame.time, out_w, out_h, data)


def crop_frame(frame: Frame, box: Box) -> Frame:
    """A copy of the part of the frame inside the box (origin and size aligned to even pixels)."""
    x1, y1, x2, y2 = _aligned_crop(box, frame.width, frame.height)
    parts = [
        frame.y[y1:y2, x1:x2],
        frame.u[y1 // 2 : y2 // 2, x1 // 2 : x2 // 2],
        frame.v[y1 // 2 : y2 // 2, x1 // 2 : x2 // 2],
    ]
    data = np.concatenate([p.ravel() for p in parts])
    return Frame(frame.camera, frame.index, frame.time, x2 - x1, y2 - y1, data)


# --- painting into output planes -------------------------------------------------------------


def _fill_rect(planes: _Planes, x1: int, y1: int, x2: int, y2: int, ycc: tuple[int, int, int]) -> None:
    """Fill [x1, x2) x [y1, y2) (clipped) with a colour; chroma covers every 2x2 block touched."""
    height, width = planes.y.shape
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
    if x2 <= x1 or y2 <= y1:
        return
    planes.y[y1:y2, x1:x2] = ycc[0]
    cx1, cy1, cx2, cy2 = x1 // 2, y1 // 2, (x2 + 1) // 2, (y2 + 1) // 2
    planes.u[cy1:cy2, cx1:cx2] = ycc[1]
    planes.v[cy1:cy2, cx1:cx2] = ycc[2]


def _paint_mask(planes: _Planes, x0: int, y0: int, mask: np.ndarray, ycc: tuple[int, int, int]) -> None:
    """Set the pixels where `mask` (placed with its top-left at even x0, y0) is True to a colour."""
    height, width = planes.y.shape
    mask = mask[: max(0, height - y0), : max(0, width - x0)]
    if mask.size == 0 or not mask.any():
        return
    planes.y[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]][mask] = ycc[0]
    even = np.zeros(((mask.shape[0] + 1) & ~1, (mask.shape[1] + 1) & ~1), dtype=bool)
    even[: mask.shape[0], : mask.shape[1]] = mask
    chroma = even.reshape(even.shape[0] // 2, 2, even.shape[1] // 2, 2).any(axis=(1, 3))
    cy0, cx0 = y0 // 2, x0 // 2
    planes.u[cy0 : cy0 + chroma.shape[0], cx0 : cx0 + chroma.shape[1]][chroma] = ycc[1]
    planes.v[cy0 : cy0 + chroma.shape[0], cx0 : cx0 + chroma.shape[1]][chroma] = ycc[2]


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_alpha(text: str, size: int) -> np.ndarray:
    """Coverage (0..1, float32) of the rendered text, cropped to its ink."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (max(1, int(right - left)), max(1, int(bottom - top))))
    ImageDraw.Draw(canvas).text((-left, -top), text, fill=255, font=font)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _draw_text(
    planes: _Planes, text: str, x: int, y: int, size: int, background: tuple[int, int, int]
) -> tuple[int, int]:
    """Text on a filled background box whose top-left is (x, y), pulled inside the picture.

    The text is painted on luma only (black on light backgrounds, white on dark ones).
    Returns the background box's size.
    """
    alpha = _text_alpha(text, size)
    pad = max(1, size // 5)
    box_w, box_h = alpha.shape[1] + 2 * pad, alpha.shape[0] + 2 * pad
    height, width = planes.y.shape
    x = max(0, min(x, width - box_w))
    y = max(0, min(y, height - box_h))
    _fill_rect(planes, x, y, x + box_w, y + box_h, background)
    ink = 0.0 if background[0] > 128 else 255.0
    region = planes.y[y + pad : y + pad + alpha.shape[0], x + pad : x + pad + alpha.shape[1]]
    alpha = alpha[: region.shape[0], : region.shape[1]]
    region[...] = np.rint(region * (1.0 - alpha) + ink * alpha).astype(np.uint8)
    return box_w, box_h


def _text_size_for(picture_height: int) -> int:
    return max(10, picture_height // 36)


def _draw_box(planes: _Planes, view: _View, item: DrawBox) -> None:
    x1, y1 = view.point(item.box[0], item.box[1])
    x2, y2 = view.point(item.box[2], item.box[3])
    t = max(1, item.thickness)
    ycc = _full_range_ycbcr(item.color)
    # The outline lies inside the box: every pixel of it belongs to the object's box.
    _fill_rect(planes, x1, y1, x2, y1 + t, ycc)
    _fill_rect(planes, x1, y2 - t, x2, y2, ycc)
    _fill_rect(planes, x1, y1, x1 + t, y2, ycc)
    _fill_rect(planes, x2 - t, y1, x2, y2, ycc)
    if item.label:
        size = _text_size_for(planes.y.shape[0])
        box_h = _text_alpha(item.label, size).shape[0] + 2 * max(1, size // 5)
        above = y1 - box_h
        _draw_text(planes, item.label, x1, above if above >= 0 else y1, size, ycc)


def _draw_polygon(planes: _Planes, view: _View, item: DrawPolygon) -> None:
    points = [view.point(x, y) for x, y in item.points]
    if len(points) < 2:
        return
    t = max(1, item.thickness)
    height, width = planes.y.shape
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    # Rasterise only the polygon's bounding rectangle (even-aligned for chroma).
    x0 = max(0, min(xs) - t) & ~1
    y0 = max(0, min(ys) - t) & ~1
    x1, y1 = min(width, max(xs) + t + 1), min(height, max(ys) + t + 1)
    if x1 <= x0 or y1 <= y0:
        return
    canvas = Image.new("L", (x1 - x0, y1 - y0))
    shifted = [(x - x0, y - y0) for x, y in points]
    ImageDraw.Draw(canvas).line([*shifted, shifted[0]], fill=255, width=t, joint="curve")
    _paint_mask(planes, x0, y0, np.asarray(canvas) > 127, _full_range_ycbcr(item.color))


def _darken(planes: _Planes, view: _View, mask: np.ndarray, crop: Box, frame: Frame) -> None:
    """Darken the masked area (True = masked), desaturating it, so the unmasked picture stays readable."""
    if mask.shape != (frame.height, frame.width):
        raise ValueError(f"mask shape {mask.shape} does not match the frame ({frame.height}, {frame.width})")
    x1, y1, x2, y2 = crop
    part = np.ascontiguousarray(mask[y1:y2, x1:x2], dtype=np.uint8)
    height, width = planes.y.shape
    luma_mask = np.asarray(Image.fromarray(part).resize((width, height), Image.Resampling.NEAREST)) > 0
    chroma_mask = luma_mask[::2, ::2]
    planes.y[luma_mask] = planes.y[luma_mask] // 3
    for plane in (planes.u, planes.v):
        values = plane[chroma_mask].astype(np.int16)
        plane[chroma_mask] = (128 + (values - 128) // 2).astype(np.uint8)


def _draw_timestamp(planes: _Planes, timestamp: float, timestamp_format: str) -> None:
    text = time.strftime(timestamp_format, time.localtime(timestamp))
    size = max(10, planes.y.shape[0] // 30)
    margin = max(2, size // 3)
    _draw_text(planes, text, margin, margin, size, (0, 128, 128))


# --- encoding -------------------------------------------------------------------------------------


def _check_quality(quality: int) -> None:
    # 0 is accepted like OpenCV does (Frigate's `quality=` goes straight to it); libjpeg treats it as 1.
    if not 0 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 0..100, got {quality}")


def encode_jpeg(
    frame: Frame,
    *,
    quality: int = 70,
    height: int | None = None,
    crop: Box | None = None,
    boxes: list[DrawBox] | None = None,
    timestamp: float | None = None,
    timestamp_format: str = "%m/%d/%Y %H:%M:%S",
    polygons: list[DrawPolygon] | None = None,
    mask: np.ndarray | None = None,
) -> bytes:
    """A JPEG of the frame: cropped to `crop` (frame pixels), resized to exactly `height` rows keeping
    the aspect ratio, then overlays: `mask` (frame-sized bool array, True = masked) darkened, zone
    `polygons` outlined, `boxes` with labels, and `timestamp` (epoch seconds, local time) top-left.

    Raises ValueError for a bad quality, height, crop or mask shape.
    """
    _check_quality(quality)
    region = (
        (0, 0, frame.width, frame.height) if crop is None else _aligned_crop(crop, frame.width, frame.height)
    )
    x1, y1, x2, y2 = region
    out_w, out_h = _output_size(x2 - x1, y2 - y1, height)
    chroma_out = _chroma_size(out_w, out_h)
    sources = (
        frame.y[y1:y2, x1:x2],
        frame.u[y1 // 2 : y2 // 2, x1 // 2 : x2 // 2],
        frame.v[y1 // 2 : y2 // 2, x1 // 2 : x2 // 2],
    )
    sizes = ((out_w, out_h), chroma_out, chroma_out)
    luts = (_LUMA_TO_FULL, _CHROMA_TO_FULL, _CHROMA_TO_FULL)
    # Image.fromarray shares the caller's buffer read-only; resize and point() return new images.
    images = [
        _resized(Image.fromarray(plane), size).point(lut)
        for plane, size, lut in zip(sources, sizes, luts, strict=True)
    ]
    drawing = bool(boxes or polygons) or mask is not None or timestamp is not None
    planes = _Planes(*(np.array(img) if drawing else np.asarray(img) for img in images))
    if drawing:
        view = _View(x1, y1, out_w / (x2 - x1), out_h / (y2 - y1))
        if mask is not None:
            _darken(planes, view, mask, region, frame)
        for polygon in polygons or ():
            _draw_polygon(planes, view, polygon)
        for box in boxes or ():
            _draw_box(planes, view, box)
        if timestamp is not None:
            _draw_timestamp(planes, timestamp, timestamp_format)
    return simplejpeg.encode_jpeg_yuv_planes(planes.y, planes.u, planes.v, quality=quality)


def encode_png(frame: Frame) -> bytes:
    """The whole frame as an RGB PNG without overlays (the event's clean copy)."""
    buffer = io.BytesIO()
    # Level 1: a clean copy is written once per event on a small CPU; size matters less than time.
    Image.fromarray(frame_to_rgb(frame), "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode_jpeg_to_frame(jpeg: bytes, camera: str = "") -> Frame:
    """An I420 frame from JPEG bytes (odd edges dropped). Raises ValueError for data that is not a JPEG."""
    if not simplejpeg.is_jpeg(jpeg):
        raise ValueError("data is not a JPEG image")
    return rgb_to_frame(simplejpeg.decode_jpeg(jpeg, colorspace="RGB"), camera)


def thumbnail_jpeg(frame: Frame, box: Box) -> bytes:
    """The event thumbnail: the snapshot crop around `box`, 175 px tall, quality 70."""
    region = snapshot_crop_region(box, frame.width, frame.height)
    return encode_jpeg(frame, quality=THUMBNAIL_QUALITY, height=THUMBNAIL_HEIGHT, crop=region)


@functools.lru_cache(maxsize=16)
def black_jpeg(width: int, height: int) -> bytes:
    """A black JPEG (quality 70) of the given size: the stand-in when there is no picture."""
    if width < 1 or height < 1:
        raise ValueError(f"invalid size {width}x{height}")
    chroma_w, chroma_h = _chroma_size(width, height)
    return simplejpeg.encode_jpeg_yuv_planes(
        np.zeros((height, width), dtype=np.uint8),
        np.full((chroma_h, chroma_w), 128, dtype=np.uint8),
        np.full((chroma_h, chroma_w), 128, dtype=np.uint8),
        quality=THUMBNAIL_QUALITY,
    )


def pad_to_aspect_2_1(jpeg: bytes) -> bytes:
    """Thumbnail `format=android`: black bars left and right up to a 2:1 width:height, quality 70.

    A picture already at least twice as wide as high is re-encoded unpadded.
    """
    if not simplejpeg.is_jpeg(jpeg):
        raise ValueError("data is not a JPEG image")
    rgb = simplejpeg.decode_jpeg(jpeg, colorspace="RGB")
    height, width = rgb.shape[:2]
    padding = max(0, 2 * height - width)
    left = padding // 2
    padded = np.zeros((height, width + padding, 3), dtype=np.uint8)
    padded[:, left : left + width] = rgb
    return simplejpeg.encode_jpeg(padded, quality=THUMBNAIL_QUALITY, colorspace="RGB", colorsubsampling="420")
