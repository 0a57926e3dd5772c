"""Detection speed: inference through the worker process, and building the model input from I420."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nvrd.detect import DetectorProcess, detector_settings, model_settings, region_tensor
from nvrd.frame import Frame

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NVR_SHARED", ROOT.parent / "shared")).resolve()
MODEL = SHARED / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
IMAGE = SHARED / "media" / "traffic_0001_960x540.bmp"
SAMPLES, WARM_UP = 30, 3


def _median_ms(action: Callable[[], object], samples: int = SAMPLES) -> float:
    for _ in range(WARM_UP):
        action()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000.0


def _frame_720p() -> Frame:
    """The traffic photo scaled to 1280x720 I420 by ffmpeg: a real scene at a common detect size."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(IMAGE),
            "-vf",
            "scale=1280:720",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "rawvideo",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return Frame("bench", 0, time.time(), 1280, 720, np.frombuffer(raw, np.uint8).copy())


def run() -> list[tuple[str, float, str, str]]:
    """Median timings: model inference (one CPU thread, round trip through the worker) and region_tensor."""
    frame = _frame_720p()
    out = np.empty((300, 300, 3), np.uint8)
    rows = [
        ("region_tensor 720x720 region of 720p -> 300", (0, 0, 720, 720)),
        ("region_tensor whole 720p frame -> 300 (squashed)", (0, 0, 1280, 720)),
        ("region_tensor 300x300 region of 720p (no resize)", (490, 210, 790, 510)),
    ]
    results = [
        (
            name,
            _median_ms(lambda region=region: region_tensor(frame, region, 300, out=out), 100),
            "ms",
            "<= 3" if "no resize" not in name else "<= 1.5",
        )
        for name, region in rows
    ]

    settings = detector_settings(
        "bench", {"type": "cpu", "num_threads": 1}, model_settings({"path": str(MODEL)})
    )
    worker = DetectorProcess(settings)
    worker.start()
    try:
        tensor = region_tensor(frame, (0, 0, 1280, 720), 300)
        round_trip = _median_ms(lambda: worker.detect(tensor))
        in_child = worker.inference_speed
    finally:
        worker.stop()
    results.append(("SSD MobileNet v2 inference, 1 thread, via worker", round_trip, "ms", "<= 10"))
    results.append(("  of which in the worker (moving average)", in_child, "ms", "<= 10"))
    return results


if __name__ == "__main__":
    for row in run():
        print(row)
