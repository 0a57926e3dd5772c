"""A decoded camera frame: one I420 (YUV 4:2:0 planar) buffer at detect resolution.

Capture reads ffmpeg's raw output straight into a preallocated buffer (no copy); everything
downstream (motion, region crops for detection, JPEG encoding) reads the planes as numpy views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def i420_size(width: int, height: int) -> int:
    """Bytes in one I420 frame of this size (width and height must be even)."""
    return width * height * 3 // 2


@dataclass(slots=True)
class Frame:
    """One frame of one camera.

    `data` is a 1-D uint8 array of `i420_size(width, height)` bytes: the Y plane, then U, then V.
    It may be a view into a capture buffer that is reused once the frame is released; code that
    keeps a frame beyond the current pipeline step keeps `frame.copy()`.
    """

    camera: str
    index: int  # frames read from this camera since start
    time: float  # wall-clock epoch seconds at which the frame was read
    width: int
    height: int
    data: np.ndarray

    @property
    def y(self) -> np.ndarray:
        """Luma plane, shape (height, width)."""
        return self.data[: self.width * self.height].reshape(self.height, self.width)

    @property
    def u(self) -> np.ndarray:
        """Cb plane, shape (height // 2, width // 2)."""
        n = self.width * self.height
        return self.data[n : n + n // 4].reshape(self.height // 2, self.width // 2)

    @property
    def v(self) -> np.ndarray:
        """Cr plane, shape (height // 2, width // 2)."""
        n = self.width * self.height
        return self.data[n + n // 4 : n + n // 2].reshape(self.height // 2, self.width // 2)

    def copy(self) -> Frame:
        """A frame that owns its pixels (safe to keep after the capture buffer is reused)."""
        return Frame(self.camera, self.index, self.time, self.width, self.height, self.data.copy())

    @classmethod
    def blank(cls, camera: str, width: int, height: int, time: float = 0.0) -> Frame:
        """A black frame (Y=16, U=V=128), used before a camera has delivered anything."""
        data = np.empty(i420_size(width, height), dtype=np.uint8)
        data[: width * height] = 16
        data[width * height :] = 128
        return cls(camera, -1, time, width, height, data)
