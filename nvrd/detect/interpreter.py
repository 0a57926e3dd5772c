"""The seam to TensorFlow Lite: load an SSD detection model on the CPU or an Edge TPU and run it.

Only this module imports a TFLite runtime. It runs inside a detector worker process (see
worker.py), never in the daemon itself: libedgetpu aborts its whole process on a USB fault.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nvrd.detect.errors import DetectorError
from nvrd.detect.settings import DetectorSettings, model_file

log = logging.getLogger(__name__)

EDGETPU_LIBRARY = "libedgetpu.so.1"
RESULT_COLUMNS = 6  # class, score, ymin, xmin, ymax, xmax
_RUNTIME_MODULES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")


@dataclass(frozen=True, slots=True)
class Runtime:
    """The TFLite Python runtime in use: its Interpreter class and load_delegate function."""

    module: str
    interpreter: Callable[..., Any]
    load_delegate: Callable[..., Any]


def load_runtime() -> Runtime:
    """Import LiteRT (ai-edge-litert), else tflite-runtime; DetectorError when neither is installed."""
    for name in _RUNTIME_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return Runtime(name, module.Interpreter, module.load_delegate)
    raise DetectorError("no TensorFlow Lite runtime: install ai-edge-litert or tflite-runtime")


def load_edgetpu_delegate(runtime: Runtime, device: str | None) -> Any:
    """Open the Edge TPU delegate for `device` (None: any TPU); DetectorError naming the device if not."""
    where = f"Edge TPU device {device!r}" if device else "Edge TPU (any device)"
    # Probe the library first: a failed load_delegate leaves a half-built Delegate whose finaliser
    # prints a spurious traceback, and the probe gives a clearer message.
    try:
        ctypes.CDLL(EDGETPU_LIBRARY)
    except OSError as exc:
        raise DetectorError(
            f"{where}: the Edge TPU runtime {EDGETPU_LIBRARY} is not installed or cannot load ({exc})"
        ) from None
    options = {"device": device} if device else {}
    try:
        return runtime.load_delegate(EDGETPU_LIBRARY, options)
    except (ValueError, RuntimeError, OSError) as exc:
        raise DetectorError(f"{where}: no Coral found or it cannot be opened ({exc})") from None


class SSDModel:
    """A loaded SSD model whose graph ends in TFLite_Detection_PostProcess.

    Input: one NHWC RGB image. Outputs: boxes [1,N,4] (normalised ymin, xmin, ymax, xmax),
    classes [1,N], scores [1,N], count [1]. N is 10 or 20 for the stock models, any N works.
    """

    def __init__(self, path: Path, runtime: Runtime, num_threads: int = 1, delegate: Any = None) -> None:
        if not path.is_file():
            raise DetectorError(f"model file {path} does not exist")
        kwargs: dict[str, Any] = {"model_path": str(path)}
        if delegate is not None:
            kwargs["experimental_delegates"] = [delegate]
        else:
            kwargs["num_threads"] = num_threads
        try:
            self._interpreter = runtime.interpreter(**kwargs)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            if "edgetpu-custom-op" in str(exc):
                raise DetectorError(
                    f"model {path} is compiled for the Edge TPU and cannot run without a Coral "
                    "(unresolved edgetpu-custom-op): use the CPU model for a cpu detector"
                ) from None
            raise DetectorError(f"model {path} cannot be loaded: {exc}") from None
        self.path = path
        self._read_input()
        self._read_outputs()

    def _read_input(self) -> None:
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1:
            raise DetectorError(f"model {self.path} has {len(inputs)} inputs; an SSD detector takes one")
        detail = inputs[0]
        shape = tuple(int(n) for n in detail["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise DetectorError(f"model {self.path}: input shape {shape} is not [1, height, width, 3] (NHWC)")
        self.input_height, self.input_width = shape[1], shape[2]
        self._input_index = detail["index"]
        self._input_dtype = np.dtype(detail["dtype"])
        if self._input_dtype not in (np.uint8, np.int8, np.float32):
            raise DetectorError(f"model {self.path}: input type {self._input_dtype} is not supported")

    def _read_outputs(self) -> None:
        """Find boxes, classes, scores and count by shape and name rather than by position."""
        outputs = self._interpreter.get_output_details()
        boxes = [d for d in outputs if len(d["shape"]) == 3 and d["shape"][-1] == 4]
        counts = [d for d in outputs if int(np.prod(d["shape"])) == 1]
        vectors = [d for d in outputs if len(d["shape"]) == 2 and int(np.prod(d["shape"])) > 1]
        if len(outputs) != 4 or len(boxes) != 1 or len(counts) != 1 or len(vectors) != 2:
            shapes = [tuple(int(n) for n in d["shape"]) for d in outputs]
            raise DetectorError(
                f"model {self.path}: outputs {shapes} are not an SSD post-process "
                "(boxes [1,N,4], classes [1,N], scores [1,N], count [1])"
            )
        self.max_detections = int(boxes[0]["shape"][1])
        if any(int(d["shape"][1]) != self.max_detections for d in vectors):
            raise DetectorError(f"model {self.path}: boxes, classes and scores differ in length")
        # TFLite_Detection_PostProcess names its outputs ":1" classes and ":2" scores; models that
        # renamed them keep the op's order, classes before scores.
        by_suffix = {d["name"].rsplit(":", 1)[-1]: d for d in vectors if ":" in d["name"]}
        if "1" in by_suffix and "2" in by_suffix:
            classes, scores = by_suffix["1"], by_suffix["2"]
        else:
            classes, scores = sorted(vectors, key=lambda d: outputs.index(d))
        self._boxes, self._classes, self._scores, self._count = boxes[0], classes, scores, counts[0]

    def _output(self, detail: dict[str, Any]) -> np.ndarray:
        value = self._interpreter.get_tensor(detail["index"])
        if value.dtype != np.float32:
            scale, zero_point = detail["quantization"]
            value = (value.astype(np.float32) - zero_point) * (scale or 1.0)
        return value

    def run(self, image: np.ndarray, out: np.ndarray) -> int:
        """Detect on one (height, width, 3) uint8 RGB image; write rows into `out` (N x 6 float32).

        Rows are class id, score, ymin, xmin, ymax, xmax with the box clamped to [0, 1]. Returns the
        number of valid rows. Raises DetectorError when the runtime fails.
        """
        if self._input_dtype == np.uint8:
            tensor = image
        elif self._input_dtype == np.int8:
            tensor = (image ^ 0x80).view(np.int8)  # uint8 v -> int8 v - 128
        else:
            tensor = image.astype(np.float32) / 127.5 - 1.0
        try:
            self._interpreter.set_tensor(self._input_index, tensor[np.newaxis])
            self._interpreter.invoke()
            boxes = self._output(self._boxes)[0]
            classes = self._output(self._classes)[0]
            scores = self._output(self._scores)[0]
            count = int(self._output(self._count).reshape(-1)[0])
        except (ValueError, RuntimeError) as exc:
            raise DetectorError(f"inference failed: {exc}") from exc
        count = max(0, min(count, self.max_detections, out.shape[0]))
        out[:count, 0] = classes[:count]
        out[:count, 1] = scores[:count]
        np.clip(boxes[:count], 0.0, 1.0, out=out[:count, 2:6])
        return count


def open_model(settings: DetectorSettings, runtime: Runtime | None = None) -> SSDModel:
    """Load the detector's model on its device: CPU with num_threads, or Edge TPU with its delegate."""
    runtime = runtime or load_runtime()
    path = model_file(settings)
    if not path.is_file():
        raise DetectorError(f"detector {settings.name!r}: model file {path} does not exist")
    if settings.type == "edgetpu":
        delegate = load_edgetpu_delegate(runtime, settings.device)
        model = SSDModel(path, runtime, delegate=delegate)
    else:
        model = SSDModel(path, runtime, num_threads=settings.num_threads)
    log.info(
        "detector %s: %s model %s, input %dx%d, %d detections (%s)",
        settings.name,
        settings.type,
        path.name,
        model.input_width,
        model.input_height,
        model.max_detections,
        runtime.module,
    )
    return model
