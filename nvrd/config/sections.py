"""The config sections that exist at the top level, in Frigate 0.13's shape and with its defaults.

Several of them (ffmpeg, detect, objects, motion, record, snapshots, audio, rtmp, timestamp_style)
also appear per camera, where the camera's keys are deep-merged over the global ones.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from nvrd.config.base import Args, ConfigModel, Mask, check_failed, parse_mask, resolve_path
from nvrd.geometry import Polygon

DEFAULT_GLOBAL_ARGS = "-hide_banner -loglevel warning -threads 2"
DEFAULT_INPUT_ARGS = "preset-rtsp-generic"
DEFAULT_DETECT_WIDTH = 1280
DEFAULT_DETECT_HEIGHT = 720
DEFAULT_MODEL_DIR = Path("/usr/share/nvr/models")
DEFAULT_MODEL_PATH = DEFAULT_MODEL_DIR / "mobilenet_ssd_v2_coco_quant_postprocess.tflite"

_EDGETPU_DEVICE = re.compile(r"^(usb|pci)(:\d+)?$")


class MqttConfig(ConfigModel):
    """The MQTT broker connection, and our Home Assistant discovery switch."""

    enabled: bool = True
    host: str = ""
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = Field("frigate", min_length=1)
    client_id: str = Field("frigate", min_length=1)
    stats_interval: int = Field(60, gt=0)
    user: str | None = None
    password: str | None = Field(None, repr=False)  # never in logs or reprs
    tls_ca_certs: str | None = None
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    tls_insecure: bool | None = None
    discovery: bool = False
    discovery_prefix: str = Field("homeassistant", min_length=1)

    @model_validator(mode="after")
    def _credentials_together(self) -> MqttConfig:
        if (self.user is None) != (self.password is None):
            missing = "password" if self.password is None else "user"
            raise check_failed("user and password must be given together", missing)
        return self


class DatabaseConfig(ConfigModel):
    """Where the SQLite database lives."""

    path: Path = Path("/var/lib/nvr/nvr.db")

    _resolve = field_validator("path")(resolve_path)


class StorageConfig(ConfigModel):
    """Where media lives on the appliance (our addition to Frigate's schema)."""

    root: Path = Path("/media/nvr")
    clips: Path
    recordings: Path
    exports: Path
    cache: Path = Path("/var/lib/nvr/cache")
    label: str = Field("NVR-DATA", min_length=1)  # filesystem label of the recordings disk
    min_free_mb: int = Field(1024, ge=0)  # below this, the oldest recordings are deleted at once

    @model_validator(mode="before")
    @classmethod
    def _media_folders_under_root(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        root = data.get("root")
        root = Path(root) if isinstance(root, str | Path) else Path("/media/nvr")
        filled = dict(data)
        for folder in ("clips", "recordings", "exports"):
            if filled.get(folder) is None:
                filled[folder] = root / folder
        return filled

    _resolve = field_validator("root", "clips", "recordings", "exports", "cache")(resolve_path)


class HotplugConfig(ConfigModel):
    """Devices plugged in and out while nvrd runs (our addition to Frigate's schema)."""

    corals: bool = True  # take every Coral plugged in into use, also one without a `detectors` entry
    cpu_fallback: bool = True  # run a CPU detector while no Coral works and none is configured
    fallback_threads: int = Field(2, ge=1)
    storage: bool = True  # follow the recordings disk mounted at storage.root
    # Device events from udevd (after its rules ran: permissions set, labels known), or straight
    # from the kernel on a machine without udevd.
    events: Literal["udev", "kernel"] = "udev"
    # Where nvrd keeps storage.label for the udev rule that mounts the disk (skipped without the folder).
    label_file: Path = Path("/etc/nvr/storage-label")

    _resolve = field_validator("label_file")(resolve_path)


class ModelConfig(ConfigModel):
    """The detection model: files, input size and layout, label overrides."""

    path: Path = DEFAULT_MODEL_PATH
    edgetpu_path: Path  # the Edge TPU build of the same model; default: beside `path`, "_edgetpu" added
    labelmap_path: Path = DEFAULT_MODEL_DIR / "coco_labels.txt"
    width: int = Field(300, gt=0)
    height: int = Field(300, gt=0)
    labelmap: dict[int, str] = Field(default_factory=dict)
    input_tensor: Literal["nhwc", "nchw"] = "nhwc"
    input_pixel_format: Literal["rgb", "bgr", "yuv"] = "rgb"
    model_type: Literal["ssd"] = "ssd"

    @model_validator(mode="before")
    @classmethod
    def _edgetpu_beside_cpu_model(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("edgetpu_path") is not None:
            return data
        path = data.get("path")
        path = Path(path) if isinstance(path, str | Path) else DEFAULT_MODEL_PATH
        return {**data, "edgetpu_path": path.with_name(f"{path.stem}_edgetpu{path.suffix}")}

    _resolve = field_validator("path", "edgetpu_path", "labelmap_path")(resolve_path)


class DetectorConfig(ConfigModel):
    """One object detector: the CPU (TFLite) or a Coral Edge TPU."""

    type: Literal["cpu", "edgetpu"]
    device: str | None = None  # Edge TPU only: usb, usb:N, pci, pci:N
    num_threads: int = Field(3, ge=1)  # CPU only

    @model_validator(mode="before")
    @classmethod
    def _edgetpu_defaults_to_usb(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "edgetpu" and data.get("device") is None:
            return {**data, "device": "usb"}
        return data

    @model_validator(mode="after")
    def _device_fits_type(self) -> DetectorConfig:
        if self.type == "cpu" and self.device is not None:
            raise check_failed("only edgetpu detectors take a device", "device")
        if self.type == "edgetpu" and not _EDGETPU_DEVICE.match(self.device or ""):
            raise check_failed(f"must be usb, usb:N, pci or pci:N, got {self.device!r}", "device")
        return self


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


LogLevel = Annotated[Literal["debug", "info", "warning", "error", "critical"], BeforeValidator(_lower)]


class LoggerConfig(ConfigModel):
    """Log levels: the default and per logger name."""

    default: LogLevel = "info"
    logs: dict[str, LogLevel] = Field(default_factory=dict)


class FfmpegOutputArgs(ConfigModel):
    """ffmpeg output arguments per role; `preset-*` names are expanded by the capture layer."""

    detect: Args = "-threads 2 -f rawvideo -pix_fmt yuv420p"
    record: Args = "preset-record-generic"
    rtmp: Args = "preset-rtmp-generic"


class FfmpegConfig(ConfigModel):
    """ffmpeg arguments shared by every input (cameras and inputs may override them)."""

    global_args: Args = DEFAULT_GLOBAL_ARGS
    hwaccel_args: Args = Field(default_factory=list)
    input_args: Args = DEFAULT_INPUT_ARGS
    output_args: FfmpegOutputArgs = Field(default_factory=FfmpegOutputArgs)
    retry_interval: float = Field(10.0, gt=0)  # seconds before restarting a dead ffmpeg


class FilterConfig(ConfigModel):
    """Per-label limits a detection must meet to be tracked (and a zone to count it)."""

    min_area: int = Field(0, ge=0)
    max_area: int = Field(24_000_000, ge=0)
    min_ratio: float = Field(0.0, ge=0)
    max_ratio: float = Field(24_000_000.0, ge=0)
    min_score: float = Field(0.5, ge=0, le=1)
    threshold: float = Field(0.7, ge=0, le=1)
    mask: Mask = None

    @model_validator(mode="after")
    def _ranges_in_order(self) -> FilterConfig:
        if self.min_area > self.max_area:
            raise check_failed(f"must not be greater than max_area ({self.max_area})", "min_area")
        if self.min_ratio > self.max_ratio:
            raise check_failed(f"must not be greater than max_ratio ({self.max_ratio})", "min_ratio")
        return self

    @property
    def mask_polygons(self) -> list[Polygon]:
        """This filter's own mask polygons (see ObjectsConfig.label_mask_polygons for the full mask)."""
        return parse_mask(self.mask)


class ObjectsConfig(ConfigModel):
    """Which labels are tracked, where objects are ignored, and the per-label filters."""

    track: list[str] = Field(default_factory=lambda: ["person"])
    mask: Mask = ""
    filters: dict[str, FilterConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _filter_for_every_tracked_label(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        track = data.get("track", ["person"])
        filters = data.get("filters")
        if filters is None:
            filters = {}
        if not isinstance(track, list) or not isinstance(filters, dict):
            return data
        filters = dict(filters)
        for label in track:
            if isinstance(label, str):
                filters.setdefault(label, {})
        return {**data, "filters": filters}

    @property
    def mask_polygons(self) -> list[Polygon]:
        """The object mask: no object is tracked whose bottom centre lies inside."""
        return parse_mask(self.mask)

    def label_mask_polygons(self, label: str) -> list[Polygon]:
        """The object mask plus the label's own filter mask, as the tracker applies them."""
        polygons = self.mask_polygons
        if label in self.filters:
            polygons += self.filters[label].mask_polygons
        return polygons


class MotionConfig(ConfigModel):
    """Motion detection tuning and mask."""

    enabled: bool = True
    threshold: int = Field(30, ge=1, le=255)
    lightning_threshold: float = Field(0.8, ge=0.3, le=1.0)
    improve_contrast: bool = True
    contour_area: int = Field(10, ge=0)
    delta_alpha: float = Field(0.2, ge=0, le=1)
    frame_alpha: float = Field(0.01, ge=0, le=1)
    frame_height: int = Field(100, gt=0)
    mask: Mask = ""
    mqtt_off_delay: int = Field(30, ge=0)  # seconds without motion before `motion` goes OFF

    @property
    def mask_polygons(self) -> list[Polygon]:
        """The motion mask: motion inside is ignored."""
        return parse_mask(self.mask)


class StationaryMaxFrames(ConfigModel):
    """After how many stationary frames an object is dropped (none = kept)."""

    default: int | None = Field(None, ge=1)
    objects: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)


class StationaryConfig(ConfigModel):
    """When a tracked object counts as stationary and how often it is re-checked."""

    interval: int | None = Field(None, ge=1)  # default: the threshold
    threshold: int | None = Field(None, ge=1)  # default: 10 × fps
    max_frames: StationaryMaxFrames = Field(default_factory=StationaryMaxFrames)


class DetectConfig(ConfigModel):
    """Object detection on a camera's detect stream: size, rate and tracker timing."""

    width: int | None = Field(None, gt=0)  # a camera without a size gets 1280x720
    height: int | None = Field(None, gt=0)
    fps: int = Field(5, gt=0)
    enabled: bool = True
    min_initialized: int | None = Field(None, ge=1)  # default: fps / 2, at least 1
    max_disappeared: int | None = Field(None, ge=1)  # default: 5 × fps
    stationary: StationaryConfig = Field(default_factory=StationaryConfig)
    annotation_offset: int = 0

    @model_validator(mode="before")
    @classmethod
    def _timing_from_fps(cls, data: Any) -> Any:
        # Derived here, on the camera's merged input, so a camera fps also moves these defaults.
        if not isinstance(data, dict):
            return data
        fps = data.get("fps", 5)
        if isinstance(fps, bool) or not isinstance(fps, int) or fps <= 0:
            return data  # the fps field reports the problem
        filled = dict(data)
        if filled.get("min_initialized") is None:
            filled["min_initialized"] = max(1, fps // 2)
        if filled.get("max_disappeared") is None:
            filled["max_disappeared"] = fps * 5
        stationary = filled.get("stationary")
        stationary = {} if stationary is None else stationary
        if isinstance(stationary, dict):
            stationary = dict(stationary)
            if stationary.get("threshold") is None:
                stationary["threshold"] = fps * 10
            if stationary.get("interval") is None:
                stationary["interval"] = stationary["threshold"]
            filled["stationary"] = stationary
        return filled

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int | None) -> int | None:
        if value is not None and value % 2:
            raise ValueError(f"must be even (I420 frames), got {value}")
        return value


class RecordRetainConfig(ConfigModel):
    """How long continuous recordings are kept."""

    days: float = Field(0, ge=0)
    mode: Literal["all", "motion", "active_objects"] = "all"


class RetainConfig(ConfigModel):
    """How long event media is kept, by default and per label."""

    default: float = Field(10, ge=0)
    mode: Literal["all", "motion", "active_objects"] = "motion"
    objects: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


class RecordEventsConfig(ConfigModel):
    """Event recordings: padding around an object, which events, how long kept."""

    pre_capture: int = Field(5, ge=0, le=60)
    post_capture: int = Field(5, ge=0)
    required_zones: list[str] = Field(default_factory=list)
    objects: list[str] | None = None  # none = every tracked label
    retain: RetainConfig = Field(default_factory=RetainConfig)


class RecordExportConfig(ConfigModel):
    """Export options."""

    timelapse_args: str = "-vf setpts=0.04*PTS -r 30"


class RecordConfig(ConfigModel):
    """Recording: continuous and event retention, export, and our segment length."""

    enabled: bool = False
    sync_recordings: bool = False
    expire_interval: int = Field(60, gt=0)  # minutes between cleanup runs
    retain: RecordRetainConfig = Field(default_factory=RecordRetainConfig)
    events: RecordEventsConfig = Field(default_factory=RecordEventsConfig)
    export: RecordExportConfig = Field(default_factory=RecordExportConfig)
    segment_time: int = Field(10, ge=1, le=60)  # seconds per recording segment
    _enabled_in_config: bool = PrivateAttr(False)

    def model_post_init(self, context: Any, /) -> None:
        # MQTT may switch recording on later only when the file enabled it.
        self._enabled_in_config = self.enabled

    @property
    def enabled_in_config(self) -> bool:
        """`enabled` as loaded from the file, whatever MQTT has set since."""
        return self._enabled_in_config


class SnapshotsConfig(ConfigModel):
    """Snapshot files written when a tracked object ends."""

    enabled: bool = False
    clean_copy: bool = True
    timestamp: bool = False
    bounding_box: bool = True
    crop: bool = False
    required_zones: list[str] = Field(default_factory=list)
    height: int | None = Field(None, gt=0)
    quality: int = Field(70, ge=0, le=100)
    retain: RetainConfig = Field(default_factory=RetainConfig)


class AudioFilterConfig(ConfigModel):
    """Minimum score of an audio label."""

    threshold: float = Field(0.8, ge=0, le=1)


class AudioConfig(ConfigModel):
    """Audio detection (accepted for compatibility; nvrd does not listen yet)."""

    enabled: bool = False
    max_not_heard: int = Field(30, ge=0)
    min_volume: int = Field(500, ge=0)
    listen: list[str] = Field(default_factory=lambda: ["bark", "fire_alarm", "scream", "speech", "yell"])
    filters: dict[str, AudioFilterConfig] | None = None
    num_threads: int = Field(2, ge=1)
    _enabled_in_config: bool = PrivateAttr(False)

    def model_post_init(self, context: Any, /) -> None:
        self._enabled_in_config = self.enabled

    @property
    def enabled_in_config(self) -> bool:
        """`enabled` as loaded from the file, whatever MQTT has set since."""
        return self._enabled_in_config


class RtmpConfig(ConfigModel):
    """RTMP restream (accepted for compatibility)."""

    enabled: bool = False


class TelemetryStatsConfig(ConfigModel):
    """Which optional statistics are gathered."""

    amd_gpu_stats: bool = True
    intel_gpu_stats: bool = True
    network_bandwidth: bool = False


class TelemetryConfig(ConfigModel):
    """Telemetry options."""

    version_check: bool = True
    network_interfaces: list[str] = Field(default_factory=list)
    stats: TelemetryStatsConfig = Field(default_factory=TelemetryStatsConfig)


class ColorConfig(ConfigModel):
    """An RGB colour."""

    red: int = Field(255, ge=0, le=255)
    green: int = Field(255, ge=0, le=255)
    blue: int = Field(255, ge=0, le=255)


class TimestampStyleConfig(ConfigModel):
    """How a timestamp is printed on snapshots."""

    position: Literal["tl", "tr", "bl", "br"] = "tl"
    format: str = "%m/%d/%Y %H:%M:%S"
    color: ColorConfig = Field(default_factory=ColorConfig)
    thickness: int = Field(2, ge=0)
    effect: Literal["solid", "shadow"] | None = None


# Where a mask leaves the frame: the entry's list index (None for a single string) and the reason.
MaskProblem = tuple[int | None, str]


def mask_outside_frame(mask: str | list[str] | None, width: int, height: int) -> MaskProblem | None:
    """Where a mask leaves a width×height frame, or None when it fits."""
    entries = [mask] if isinstance(mask, str) else (mask or [])
    for index, entry in enumerate(entries):
        for polygon in parse_mask(entry):
            reason = polygon_outside_reason(polygon, width, height)
            if reason:
                return (index if isinstance(mask, list) else None), reason
    return None


def polygon_outside_reason(polygon: Polygon, width: int, height: int) -> str | None:
    """Why a polygon does not fit a width×height frame (a point on the far edge still fits), or None."""
    for x, y in polygon:
        if x > width or y > height:
            return f"point {x},{y} lies outside the {width}x{height} detect frame"
    return None
