"""Which frame source a camera's config asks for: its `detect` input through ffmpeg, or the Pi camera.

Reads the camera config by attribute (the config package's CameraConfig, or any object shaped like
it): `ffmpeg.inputs[*].path/roles/global_args/hwaccel_args/input_args`, `ffmpeg.output_args.detect`,
`detect.width/height/fps`.
"""

from __future__ import annotations

from typing import Any

from nvrd.camera.ffmpeg_source import FfmpegSource
from nvrd.camera.picamera_source import PiCameraSource, is_picamera_path
from nvrd.camera.source import CaptureError, FrameSource

DEFAULT_SIZE = (1280, 720)  # detect size when the config leaves it open (as Frigate without probing)


def detect_size(config: Any) -> tuple[int, int]:
    """The camera's detect (width, height)."""
    width, height = config.detect.width, config.detect.height
    if width is None or height is None:
        return DEFAULT_SIZE
    return int(width), int(height)


def detect_input(config: Any) -> Any:
    """The ffmpeg input that has the `detect` role; CaptureError when there is none."""
    for camera_input in config.ffmpeg.inputs:
        if "detect" in camera_input.roles:
            return camera_input
    raise CaptureError("no ffmpeg input has the 'detect' role")


def source_for_camera(name: str, config: Any) -> FrameSource:
    """A new (not started) frame source for the camera's detect stream."""
    camera_input = detect_input(config)
    width, height = detect_size(config)
    fps = config.detect.fps
    if is_picamera_path(camera_input.path):
        return PiCameraSource(camera_input.path, width, height, fps, label=name)
    return FfmpegSource(
        camera_input.path,
        width,
        height,
        fps,
        global_args=camera_input.global_args,
        hwaccel_args=camera_input.hwaccel_args,
        input_args=camera_input.input_args,
        output_args=config.ffmpeg.output_args.detect,
        label=name,
    )
