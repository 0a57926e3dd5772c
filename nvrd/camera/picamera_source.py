"""The Raspberry Pi camera through picamera2/libcamera, configured for I420 at detect size and rate.

picamera2 is imported only when such a camera starts, so machines without it (and every other camera
on them) are unaffected; there, starting this source fails with a CaptureError for this camera only.
Paths look like `picamera:0` (the camera number; `picamera` alone means 0).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import numpy as np

from nvrd.camera.source import CaptureError, FrameSource, StreamEnded, StreamStalled
from nvrd.frame import i420_size

PICAMERA_MISSING = "picamera2 is not installed: the Pi camera needs the image's libcamera and picamera2"


def is_picamera_path(path: str) -> bool:
    """True for `picamera` and `picamera:N`."""
    return path == "picamera" or path.startswith("picamera:")


def picamera_number(path: str) -> int:
    """The camera number in `picamera:N` (0 for plain `picamera`)."""
    if path == "picamera":
        return 0
    number = path.split(":", 1)[1].strip()
    if not number.isdigit():
        raise CaptureError(f"a Pi camera path is picamera:<number>, got {path!r}")
    return int(number)


def copy_i420(src: np.ndarray, out: np.ndarray, width: int, height: int) -> None:
    """Copy a libcamera YUV420 buffer whose rows may be padded (stride > width) into a packed frame.

    libcamera lays out YUV420 as a Y plane of `height` rows of `stride` bytes followed by U and V
    planes of `height/2` rows of `stride/2` bytes each.
    """
    flat = src.reshape(-1)
    if flat.size == out.size:  # no padding: one copy
        np.copyto(out, flat)
        return
    stride = flat.size * 2 // (height * 3)
    if stride < width or stride * height * 3 // 2 != flat.size:
        raise CaptureError(f"unexpected Pi camera buffer of {flat.size} bytes for {width}x{height}")
    y_size, c_stride = stride * height, stride // 2
    c_size = c_stride * (height // 2)
    area = width * height
    out[:area].reshape(height, width)[:] = flat[:y_size].reshape(height, stride)[:, :width]
    for plane in range(2):
        start = y_size + plane * c_size
        chroma = flat[start : start + c_size].reshape(height // 2, c_stride)[:, : width // 2]
        first = area + plane * (area // 4)
        out[first : first + area // 4].reshape(height // 2, width // 2)[:] = chroma


class PiCameraSource(FrameSource):
    """A Pi camera module as a frame source (picamera2, YUV420 at detect size)."""

    def __init__(self, path: str, width: int, height: int, fps: float, *, label: str = "camera") -> None:
        super().__init__(width, height, fps)
        self.path = path
        self.label = label
        self.number = picamera_number(path)
        self._camera: Any = None
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> None:
        """Open and start the camera; CaptureError when picamera2 or the camera is missing."""
        try:
            picamera2 = importlib.import_module("picamera2")
        except ImportError as exc:
            raise CaptureError(PICAMERA_MISSING) from exc
        frame_us = int(1_000_000 / self.fps)
        try:
            camera = picamera2.Picamera2(camera_num=self.number)
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "YUV420"},
                controls={"FrameDurationLimits": (frame_us, frame_us)},
                buffer_count=4,
            )
            camera.configure(config)
            camera.start()
        except Exception as exc:  # picamera2 raises plain RuntimeError/IndexError for absent cameras
            raise CaptureError(f"cannot open Pi camera {self.number}: {exc}") from exc
        with self._lock:
            self._camera = camera
            if self._stopped:
                self._close()

    def read_into(self, out: np.ndarray, timeout: float) -> None:
        """Wait for the next camera buffer and copy it into `out` (the one copy)."""
        if out.nbytes != i420_size(self.width, self.height):
            raise ValueError("buffer size does not match the frame size")
        camera = self._camera
        if camera is None or self._stopped:
            raise StreamEnded("the Pi camera is not running")
        try:
            job = camera.capture_request(wait=False)
            request = camera.wait(job, timeout=timeout)
        except TimeoutError as exc:
            raise StreamStalled(f"no frame from the Pi camera for {timeout:g} s") from exc
        except Exception as exc:
            raise StreamEnded(f"Pi camera {self.number} failed: {exc}") from exc
        if request is None:
            raise StreamStalled(f"no frame from the Pi camera for {timeout:g} s")
        try:
            mapped_array = importlib.import_module("picamera2").MappedArray
            with mapped_array(request, "main") as mapped:  # a view of the camera's buffer, no copy
                copy_i420(mapped.array, out, self.width, self.height)
        finally:
            request.release()

    def stop(self) -> None:
        """Stop and close the camera; idempotent."""
        with self._lock:
            self._stopped = True
            self._close()

    def _close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
            finally:
                camera.close()
