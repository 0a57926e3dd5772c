"""The whole config file as one model: the global sections, and the cameras with the globals merged in."""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from nvrd.config.api_view import api_view
from nvrd.config.base import ConfigModel, check_failed
from nvrd.config.camera import CameraConfig
from nvrd.config.sections import (
    AudioConfig,
    DatabaseConfig,
    DetectConfig,
    DetectorConfig,
    FfmpegConfig,
    HotplugConfig,
    LoggerConfig,
    ModelConfig,
    MotionConfig,
    MqttConfig,
    ObjectsConfig,
    RecordConfig,
    RtmpConfig,
    SnapshotsConfig,
    StorageConfig,
    TelemetryConfig,
    TimestampStyleConfig,
)

# Global sections that each camera inherits, its own keys deep-merged over them.
CAMERA_SECTIONS = (
    "ffmpeg",
    "detect",
    "objects",
    "motion",
    "record",
    "snapshots",
    "audio",
    "rtmp",
    "timestamp_style",
)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `override` over `base`, mappings merged key by key, anything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merge_global_sections(raw: dict[str, Any]) -> dict[str, Any]:
    """The raw config with each camera's sections merged over the global ones and its `name` set.

    Works on unvalidated input (odd types are left for validation to report) and is idempotent.
    """
    cameras = raw.get("cameras")
    if not isinstance(cameras, dict):
        return raw
    merged_cameras: dict[Any, Any] = {}
    for name, camera in cameras.items():
        camera = {} if camera is None else camera
        if not isinstance(camera, dict):
            merged_cameras[name] = camera
            continue
        merged = dict(camera)
        for section in CAMERA_SECTIONS:
            global_section = raw.get(section)
            own = camera.get(section)
            if isinstance(global_section, dict) and (own is None or isinstance(own, dict)):
                merged[section] = deep_merge(global_section, own or {})
        merged["name"] = str(name)
        merged_cameras[name] = merged
    return {**raw, "cameras": merged_cameras}


def _as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int | float | bool) else value


class NvrConfig(ConfigModel):
    """The resolved configuration, e.g. `cfg.cameras["front"].detect.fps` or `cfg.storage.clips`."""

    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    detectors: dict[str, DetectorConfig] = Field(default_factory=lambda: {"cpu": DetectorConfig(type="cpu")})
    hotplug: HotplugConfig = Field(default_factory=HotplugConfig)
    logger: LoggerConfig = Field(default_factory=LoggerConfig)
    environment_vars: dict[str, Annotated[str, BeforeValidator(_as_text)]] = Field(default_factory=dict)
    ffmpeg: FfmpegConfig = Field(default_factory=FfmpegConfig)
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    snapshots: SnapshotsConfig = Field(default_factory=SnapshotsConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    rtmp: RtmpConfig = Field(default_factory=RtmpConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    timestamp_style: TimestampStyleConfig = Field(default_factory=TimestampStyleConfig)
    # Accepted as written and not used by nvrd.
    birdseye: dict[str, Any] = Field(default_factory=dict)
    live: dict[str, Any] = Field(default_factory=dict)
    ui: dict[str, Any] = Field(default_factory=dict)
    go2rtc: dict[str, Any] = Field(default_factory=dict)
    cameras: dict[str, CameraConfig]

    @model_validator(mode="before")
    @classmethod
    def _merge_globals_into_cameras(cls, data: Any) -> Any:
        return merge_global_sections(data) if isinstance(data, dict) else data

    @field_validator("detectors")
    @classmethod
    def _some_detector(cls, detectors: dict[str, DetectorConfig]) -> dict[str, DetectorConfig]:
        if not detectors:
            raise ValueError("at least one detector is required")
        return detectors

    @field_validator("cameras")
    @classmethod
    def _some_camera(cls, cameras: dict[str, CameraConfig]) -> dict[str, CameraConfig]:
        if not cameras:
            raise ValueError("at least one camera is required")
        return cameras

    @model_validator(mode="after")
    def _zone_names_differ_from_cameras(self) -> NvrConfig:
        # Zone and camera counts share the `<prefix>/<name>/<label>` MQTT topics.
        for camera_name, camera in self.cameras.items():
            for zone_name in camera.zones:
                if zone_name in self.cameras:
                    raise check_failed(
                        f"zone name {zone_name!r} is also a camera name",
                        "cameras",
                        camera_name,
                        "zones",
                        zone_name,
                    )
        return self

    def api_dict(self, labelmap: dict[int, str] | None = None) -> dict[str, Any]:
        """What GET /api/config serves; `labelmap` is the model's loaded label map, when known."""
        return api_view(self, labelmap)
