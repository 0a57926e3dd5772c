"""Camera capture: frame sources (ffmpeg, Pi camera), the frame buffer pool, and the capture thread."""

from nvrd.camera.capture import Capture
from nvrd.camera.factory import source_for_camera
from nvrd.camera.ffmpeg_args import detect_command, mask_credentials
from nvrd.camera.ffmpeg_source import FfmpegSource
from nvrd.camera.picamera_source import PiCameraSource
from nvrd.camera.pool import FramePool
from nvrd.camera.source import CaptureError, FrameSource, StreamEnded, StreamStalled

__all__ = [
    "Capture",
    "CaptureError",
    "FfmpegSource",
    "FramePool",
    "FrameSource",
    "PiCameraSource",
    "StreamEnded",
    "StreamStalled",
    "detect_command",
    "mask_credentials",
    "source_for_camera",
]
