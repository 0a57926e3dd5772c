"""One camera's config: its ffmpeg inputs and roles, zones, and the sections merged from the globals.

The root config deep-merges the global sections into each camera before this model sees it, so
the checks here (roles, zones, masks inside the frame) run on what the camera will really use.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from nvrd.config.base import Args, ConfigModel, check_failed, polygon_from
from nvrd.config.sections import (
    DEFAULT_DETECT_HEIGHT,
    DEFAULT_DETECT_WIDTH,
    DEFAULT_GLOBAL_ARGS,
    DEFAULT_INPUT_ARGS,
    AudioConfig,
    DetectConfig,
    FfmpegConfig,
    FilterConfig,
    MotionConfig,
    ObjectsConfig,
    RecordConfig,
    RtmpConfig,
    SnapshotsConfig,
    TimestampStyleConfig,
    mask_outside_frame,
    polygon_outside_reason,
)
from nvrd.geometry import Polygon

CAMERA_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")

# Words a camera may not be called: they are fixed path segments under /api/ (a camera there would be
# unreachable) or top-level keys of /api/stats, where cameras also appear for 0.8-era clients.
RESERVED_CAMERA_NAMES = frozenset(
    {
        "events",
        "stats",
        "config",
        "version",
        "timeline",
        "export",
        "exports",
        "ffprobe",
        "labels",
        "sub_labels",
        "restart",
        "logs",
        "recordings",
        "vod",
        "openapi.json",
        "cameras",
        "detectors",
        "service",
        "detection_fps",
        "processes",
        "cpu_usages",
        "gpu_usages",
        "bandwidth_usages",
        "birdseye",
    }
)

Role = Literal["detect", "record", "audio", "rtmp"]

# Input-level arguments fall back to the camera's (which fall back to the global ones).
_INHERITED_INPUT_ARGS = {
    "global_args": DEFAULT_GLOBAL_ARGS,
    "hwaccel_args": [],
    "input_args": DEFAULT_INPUT_ARGS,
}


class CameraInput(ConfigModel):
    """One ffmpeg input of a camera and the roles its stream serves."""

    path: str
    roles: list[Role] = Field(min_length=1)
    global_args: Args = DEFAULT_GLOBAL_ARGS
    hwaccel_args: Args = Field(default_factory=list)
    input_args: Args = DEFAULT_INPUT_ARGS

    @field_validator("path")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("roles")
    @classmethod
    def _each_role_once(cls, roles: list[str]) -> list[str]:
        for role in roles:
            if roles.count(role) > 1:
                raise ValueError(f"role {role!r} is given twice")
        return roles


class CameraFfmpegConfig(FfmpegConfig):
    """A camera's ffmpeg: the global arguments merged with the camera's, and its inputs."""

    inputs: list[CameraInput] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _fill_inputs(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
            return data
        inputs = [dict(item) if isinstance(item, dict) else item for item in data["inputs"]]
        if len(inputs) == 1 and isinstance(inputs[0], dict) and inputs[0].get("roles") is None:
            inputs[0]["roles"] = ["detect", "record"]
        for item in inputs:
            if isinstance(item, dict):
                for key, default in _INHERITED_INPUT_ARGS.items():
                    if item.get(key) is None:
                        camera_value = data.get(key)
                        item[key] = default if camera_value is None else camera_value
        return {**data, "inputs": inputs}

    @model_validator(mode="after")
    def _roles_once_across_inputs(self) -> CameraFfmpegConfig:
        seen: dict[str, int] = {}
        for index, camera_input in enumerate(self.inputs):
            for role in camera_input.roles:
                if role in seen:
                    raise check_failed(
                        f"role {role!r} is already given to input {seen[role]}", "inputs", index, "roles"
                    )
                seen[role] = index
        if "detect" not in seen:
            raise check_failed("one input must have the 'detect' role", "inputs")
        return self


def _check_coordinates(value: Any) -> Any:
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str | int) for v in value)):
        return value if isinstance(value, str) else [str(v) for v in value]
    raise ValueError('must be "x1,y1,x2,y2,..." or a list of "x,y" points')


class ZoneConfig(ConfigModel):
    """A named area of the frame; objects whose bottom centre is inside are in the zone."""

    coordinates: Annotated[str | list[str], BeforeValidator(_check_coordinates)]
    filters: dict[str, FilterConfig] = Field(default_factory=dict)
    inertia: int = Field(3, ge=1)  # frames inside before an object counts as in the zone
    objects: list[str] = Field(default_factory=list)  # empty = every tracked label

    @field_validator("coordinates")
    @classmethod
    def _is_polygon(cls, value: str | list[str]) -> str | list[str]:
        polygon_from(value)
        return value

    @property
    def polygon(self) -> Polygon:
        """The zone's points in detect-frame pixels."""
        return polygon_from(self.coordinates)


class CameraMqttConfig(ConfigModel):
    """How the camera's `<label>/snapshot` MQTT pictures are drawn."""

    enabled: bool = True
    timestamp: bool = True
    bounding_box: bool = True
    crop: bool = True
    height: int = Field(270, gt=0)
    required_zones: list[str] = Field(default_factory=list)
    quality: int = Field(70, ge=0, le=100)


class OnvifConfig(ConfigModel):
    """ONVIF PTZ control (accepted; `autotracking` is kept as written)."""

    host: str = ""
    port: int = Field(8000, ge=1, le=65535)
    user: str | None = None
    password: str | None = None
    autotracking: dict[str, Any] = Field(default_factory=dict)


class CameraUiConfig(ConfigModel):
    """Where the camera appears in the web UI."""

    order: int = 0
    dashboard: bool = True


class CameraConfig(ConfigModel):
    """One camera, fully resolved: global sections merged in, defaults filled, checks passed."""

    name: str
    enabled: bool = True
    ffmpeg: CameraFfmpegConfig
    best_image_timeout: int = Field(60, gt=0)
    webui_url: str | None = None
    zones: dict[str, ZoneConfig] = Field(default_factory=dict)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    snapshots: SnapshotsConfig = Field(default_factory=SnapshotsConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    rtmp: RtmpConfig = Field(default_factory=RtmpConfig)
    mqtt: CameraMqttConfig = Field(default_factory=CameraMqttConfig)
    onvif: OnvifConfig = Field(default_factory=OnvifConfig)
    ui: CameraUiConfig = Field(default_factory=CameraUiConfig)
    birdseye: dict[str, Any] = Field(default_factory=dict)
    live: dict[str, Any] = Field(default_factory=dict)
    timestamp_style: TimestampStyleConfig = Field(default_factory=TimestampStyleConfig)

    @model_validator(mode="before")
    @classmethod
    def _default_frame_size(cls, data: Any) -> Any:
        # Frigate probes the stream when no size is given; we take its fallback, 1280x720.
        if not isinstance(data, dict):
            return data
        detect = data.get("detect")
        detect = {} if detect is None else detect
        if not isinstance(detect, dict):
            return data
        detect = dict(detect)
        if detect.get("width") is None:
            detect["width"] = DEFAULT_DETECT_WIDTH
        if detect.get("height") is None:
            detect["height"] = DEFAULT_DETECT_HEIGHT
        return {**data, "detect": detect}

    @field_validator("name")
    @classmethod
    def _name_is_a_topic_word(cls, name: str) -> str:
        if not CAMERA_NAME.match(name):
            raise ValueError(f"camera name {name!r} may only hold letters, digits, '_' and '-'")
        if name in RESERVED_CAMERA_NAMES:
            raise ValueError(f"camera name {name!r} is reserved by the API; choose another name")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> CameraConfig:
        self._check_roles_for_enabled_features()
        self._check_zone_labels()
        self._check_required_zones()
        self._check_polygons_inside_frame()
        return self

    def _check_roles_for_enabled_features(self) -> None:
        roles = {role for camera_input in self.ffmpeg.inputs for role in camera_input.roles}
        for feature, role in (("record", "record"), ("audio", "audio"), ("rtmp", "rtmp")):
            if getattr(self, feature).enabled and role not in roles:
                raise check_failed(
                    f"{feature} is enabled but no input has the {role!r} role", feature, "enabled"
                )

    def _check_zone_labels(self) -> None:
        for zone_name, zone in self.zones.items():
            for index, label in enumerate(zone.objects):
                if label not in self.objects.track:
                    raise check_failed(
                        f"{label!r} is not a tracked object (objects.track)",
                        "zones",
                        zone_name,
                        "objects",
                        index,
                    )

    def _check_required_zones(self) -> None:
        for section in (("snapshots",), ("mqtt",), ("record", "events")):
            model: Any = self
            for key in section:
                model = getattr(model, key)
            for index, zone_name in enumerate(model.required_zones):
                if zone_name not in self.zones:
                    raise check_failed(
                        f"no zone {zone_name!r} on this camera", *section, "required_zones", index
                    )

    def _check_polygons_inside_frame(self) -> None:
        width, height = self.frame_width, self.frame_height
        masks: list[tuple[tuple[str | int, ...], str | list[str] | None]] = [
            (("motion", "mask"), self.motion.mask),
            (("objects", "mask"), self.objects.mask),
        ]
        masks += [
            (("objects", "filters", label, "mask"), f.mask) for label, f in self.objects.filters.items()
        ]
        for zone_name, zone in self.zones.items():
            reason = polygon_outside_reason(zone.polygon, width, height)
            if reason:
                raise check_failed(reason, "zones", zone_name, "coordinates")
            masks += [
                (("zones", zone_name, "filters", label, "mask"), f.mask) for label, f in zone.filters.items()
            ]
        for path, mask in masks:
            problem = mask_outside_frame(mask, width, height)
            if problem:
                index, reason = problem
                raise check_failed(reason, *path, *(() if index is None else (index,)))

    @property
    def frame_width(self) -> int:
        """Width of the detect frames in pixels."""
        return self.detect.width or DEFAULT_DETECT_WIDTH

    @property
    def frame_height(self) -> int:
        """Height of the detect frames in pixels."""
        return self.detect.height or DEFAULT_DETECT_HEIGHT

    @property
    def detect_input(self) -> CameraInput:
        """The input whose stream is decoded for motion and detection."""
        return next(i for i in self.ffmpeg.inputs if "detect" in i.roles)

    @property
    def record_input(self) -> CameraInput | None:
        """The input whose stream is recorded, if any."""
        return next((i for i in self.ffmpeg.inputs if "record" in i.roles), None)

    def input_for(self, role: Role) -> CameraInput | None:
        """The input that serves a role, if any."""
        return next((i for i in self.ffmpeg.inputs if role in i.roles), None)
