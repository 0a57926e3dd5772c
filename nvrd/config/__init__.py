"""nvrd's configuration: Frigate 0.13's YAML shape, validated, defaulted and merged per camera.

cfg = load_config("/etc/nvr/config.yml")
cam = cfg.cameras["front"]
cam.detect.fps, cam.detect_input.path, cam.zones["yard"].polygon, cfg.storage.clips
"""

from nvrd.config.api_view import mask_credentials
from nvrd.config.base import split_args
from nvrd.config.camera import CameraConfig, CameraInput, ZoneConfig
from nvrd.config.errors import ConfigError
from nvrd.config.loader import config_from_text, load_config
from nvrd.config.schema import NvrConfig

__all__ = [
    "CameraConfig",
    "CameraInput",
    "ConfigError",
    "NvrConfig",
    "ZoneConfig",
    "config_from_text",
    "load_config",
    "mask_credentials",
    "split_args",
]
