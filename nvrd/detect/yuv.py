"""The model's input image for one region of an I420 frame: crop, resize, YUV -> RGB.

The three planes are resized separately straight from the frame buffer (Pillow maps the planes
without copying and crops as part of the resize), then converted with BT.601 limited-range
integer arithmetic at the model's resolution, so the cost follows the model size, not the region's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from nvrd.frame import Frame
from nvrd.geometry import Box

# BT.601 limited range ("studio swing") to full-range RGB, coefficients scaled by 256:
#   R = 1.164 (Y-16) + 1.596 (V-128); G = 1.164 (Y-16) - 0.391 (U-128) - 0.813 (V-128);
#   B = 1.164 (Y-16) + 2.018 (U-128).
_Y_GAIN, _RV, _GU, _GV, _BU = 298, 409, -100, -208, 516
_ROUND = 128


def _plane_image(plane: np.ndarray) -> Image.Image:
    """A Pillow "L" image sharing the plane's memory (the plane must be C-contiguous)."""
    height, width = plane.shape
    return Image.frombuffer("L", (width, height), plane, "raw", "L", 0, 1)


def _resized(plane: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    # Shrinking (the usual case: regions are at least the model size) averages the covered pixels,
    # which is both the right filter for decimation and Pillow's fastest; enlarging interpolates.
    shrinking = box[2] - box[0] >= size and box[3] - box[1] >= size
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.asarray(_plane_image(plane).resize((size, size), method, box=box))


def _doubled(plane: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    """A (size, size) int32 upsampling by 2 of the chroma block at (x, y)."""
    half = (size + 1) // 2
    block = plane[y : y + half, x : x + half].astype(np.int32)
    return np.repeat(np.repeat(block, 2, axis=0), 2, axis=1)[:size, :size]


def region_tensor(frame: Frame, region: Box, size: int, out: np.ndarray | None = None) -> np.ndarray:
    """The (size, size, 3) uint8 RGB model input for `region` of the frame.

    A square region keeps its proportions; any other region is stretched to the square (how the
    SSD models were trained to see a whole image). `out`, when given, must be a (size, size, 3)
    uint8 array and is filled and returned, sparing an allocation per call.
    Raises ValueError when the region is empty or not inside the frame.
    """
    x1, y1, x2, y2 = region
    if not (0 <= x1 < x2 <= frame.width and 0 <= y1 < y2 <= frame.height):
        raise ValueError(f"region {region} is empty or outside the {frame.width}x{frame.height} frame")
    if out is None:
        out = np.empty((size, size, 3), dtype=np.uint8)
    elif out.shape != (size, size, 3) or out.dtype != np.uint8:
        raise ValueError(f"out must be a ({size}, {size}, 3) uint8 array, got {out.shape} {out.dtype}")

    if x2 - x1 == size and y2 - y1 == size and x1 % 2 == 0 and y1 % 2 == 0:
        # Already the model's size: no resampling, each chroma sample covers its 2x2 pixels.
        luma = frame.y[y1:y2, x1:x2].astype(np.int32)
        u = _doubled(frame.u, x1 // 2, y1 // 2, size)
        v = _doubled(frame.v, x1 // 2, y1 // 2, size)
    else:
        luma = _resized(frame.y, (x1, y1, x2, y2), size).astype(np.int32)
        chroma_box = (x1 / 2, y1 / 2, x2 / 2, y2 / 2)
        u = _resized(frame.u, chroma_box, size).astype(np.int32)
        v = _resized(frame.v, chroma_box, size).astype(np.int32)
    u -= 128
    v -= 128

    luma -= 16
    luma *= _Y_GAIN
    luma += _ROUND
    _store(out, 0, luma + _RV * v)
    _store(out, 1, luma + _GU * u + _GV * v)
    _store(out, 2, luma + _BU * u)
    return out


def _store(out: np.ndarray, channel: int, scaled: np.ndarray) -> None:
    """Write one colour channel from values scaled by 256 (rounding already added)."""
    scaled >>= 8
    np.clip(scaled, 0, 255, out=scaled)
    out[:, :, channel] = scaled
