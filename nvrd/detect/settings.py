"""The detector and model settings this package needs, read from whatever the config layer holds.

The config layer (pydantic models or plain YAML mappings) owns validation of the whole file; this
module only picks out the few fields detection uses, so the worker process receives small frozen
values that pickle cheaply under the "spawn" start method.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nvrd.detect.errors import DetectorError

DETECTOR_TYPES = ("cpu", "edgetpu")
DEFAULT_NUM_THREADS = 3  # Frigate's default for cpu detectors
_EDGETPU_DEVICE = re.compile(r"^(usb|pci)?(:\d+)?$")


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Which model file to run and how to name its classes.

    `path` is the CPU model; an Edge TPU detector runs `edgetpu_path`, which defaults to the same
    name with `_edgetpu` before `.tflite` (the Coral naming convention).
    """

    path: str
    edgetpu_path: str | None = None
    width: int = 320
    height: int = 320
    labelmap_path: str | None = None
    labelmap: dict[int, str] = field(default_factory=dict)

    def path_for(self, detector_type: str) -> str:
        """The model file a detector of this type loads."""
        if detector_type != "edgetpu":
            return self.path
        if self.edgetpu_path:
            return self.edgetpu_path
        if self.path.endswith("_edgetpu.tflite"):
            return self.path
        stem = self.path[: -len(".tflite")] if self.path.endswith(".tflite") else self.path
        return f"{stem}_edgetpu.tflite"


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """One configured detector: `detectors.<name>` in the config file."""

    name: str
    type: str = "cpu"
    device: str | None = None  # Edge TPU only: None/"" any, "usb", "usb:N", "pci", "pci:N", ":N"
    num_threads: int = DEFAULT_NUM_THREADS  # CPU only
    model: ModelSettings | None = None  # per-detector model override


def _get(source: Any, key: str, default: Any = None) -> Any:
    """A field of a mapping or an attribute of an object (pydantic model, dataclass)."""
    if source is None:
        return default
    value = source.get(key, default) if isinstance(source, Mapping) else getattr(source, key, default)
    return default if value is None else value


def model_settings(config: Any, base: ModelSettings | None = None) -> ModelSettings:
    """Read `model` config (mapping or object) into ModelSettings, filling gaps from `base`.

    Raises DetectorError when no model path is given or sizes and label ids are not numbers.
    """
    if isinstance(config, ModelSettings):
        return config
    path = _get(config, "path", base.path if base else None)
    if not path:
        raise DetectorError("model.path is not set: give the path of a .tflite detection model")
    # Only what the SSD post-process models take: one RGB NHWC image.
    for key, supported in (("input_tensor", "nhwc"), ("input_pixel_format", "rgb"), ("model_type", "ssd")):
        value = _get(config, key, supported)
        if str(value) != supported:
            raise DetectorError(f"model.{key} {value!r} is not supported; only {supported!r} is")
    try:
        width = int(_get(config, "width", base.width if base else 320))
        height = int(_get(config, "height", base.height if base else 320))
        raw_labels = _get(config, "labelmap", base.labelmap if base else {})
        labelmap = {int(k): str(v) for k, v in dict(raw_labels).items()}
    except (TypeError, ValueError) as exc:
        raise DetectorError(f"model settings are not valid: {exc}") from exc
    edgetpu_path = _get(config, "edgetpu_path", base.edgetpu_path if base else None)
    labelmap_path = _get(config, "labelmap_path", base.labelmap_path if base else None)
    return ModelSettings(
        path=str(path),
        edgetpu_path=str(edgetpu_path) if edgetpu_path else None,
        width=width,
        height=height,
        labelmap_path=str(labelmap_path) if labelmap_path else None,
        labelmap=labelmap,
    )


def detector_settings(name: str, config: Any, model: ModelSettings | None = None) -> DetectorSettings:
    """Read one `detectors.<name>` entry (mapping or object) into DetectorSettings.

    Raises DetectorError for an unknown type, a malformed Edge TPU device or a bad thread count.
    """
    if isinstance(config, DetectorSettings):
        return config
    kind = str(_get(config, "type", "cpu"))
    if kind not in DETECTOR_TYPES:
        choices = " or ".join(DETECTOR_TYPES)
        raise DetectorError(f"detector {name!r}: type {kind!r} is not supported (use {choices})")
    device = _get(config, "device")
    device = None if device in (None, "") else str(device)
    if kind == "edgetpu" and device is not None and not _EDGETPU_DEVICE.match(device):
        raise DetectorError(
            f"detector {name!r}: Edge TPU device {device!r} is not one of usb, usb:N, pci, pci:N, :N"
        )
    try:
        num_threads = int(_get(config, "num_threads", DEFAULT_NUM_THREADS))
    except (TypeError, ValueError) as exc:
        raise DetectorError(f"detector {name!r}: num_threads must be an integer") from exc
    if num_threads < 1:
        raise DetectorError(f"detector {name!r}: num_threads must be at least 1, got {num_threads}")
    model_config = _get(config, "model")
    own_model = model_settings(model_config, model) if model_config is not None else model
    return DetectorSettings(name=name, type=kind, device=device, num_threads=num_threads, model=own_model)


def model_file(settings: DetectorSettings) -> Path:
    """The model file this detector loads; raises DetectorError when no model is configured."""
    if settings.model is None:
        raise DetectorError(f"detector {settings.name!r}: no model configured")
    return Path(settings.model.path_for(settings.type))
