"""The seam between a camera and the rest of nvrd: something that fills I420 buffers with frames.

A source delivers frames at the camera's detect size and rate into buffers the caller owns, so the
capture layer decides where pixels land and never allocates per frame. Implementations: ffmpeg as a
child process (RTSP, HTTP, files, V4L2, lavfi test sources) and the Pi camera through picamera2.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class CaptureError(RuntimeError):
    """A camera source failed: cannot start, stopped delivering, or delivered something unusable."""


class StreamEnded(CaptureError):
    """The source ended (ffmpeg exited, the file or stream closed)."""


class StreamStalled(CaptureError):
    """No complete frame arrived within the allowed time."""


class FrameSource(ABC):
    """One camera stream delivering I420 frames of `width` x `height` at about `fps` frames per second.

    Lifecycle: start() once, read_into() repeatedly, stop() (safe from any thread, safe twice; it
    makes a blocked read_into() return by raising). A stopped source is not restarted: make a new one.
    """

    def __init__(self, width: int, height: int, fps: float) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"frame size must be positive and even, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.width = width
        self.height = height
        self.fps = fps

    @property
    def command(self) -> list[str]:
        """The external command this source runs (empty when it runs in-process)."""
        return []

    @property
    def pid(self) -> int | None:
        """Process id of the external decoder while it runs, else None."""
        return None

    @abstractmethod
    def start(self) -> None:
        """Open the camera; raises CaptureError with a reason a user can act on."""

    @abstractmethod
    def read_into(self, out: np.ndarray, timeout: float) -> None:
        """Fill `out` (1-D uint8, one I420 frame) with the next frame.

        Raises StreamStalled when no full frame arrives within `timeout` seconds, StreamEnded at the
        end of the stream, CaptureError for anything else.
        """

    @abstractmethod
    def stop(self) -> None:
        """Release the camera (kill the child process); idempotent and thread-safe."""
