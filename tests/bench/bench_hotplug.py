"""Benchmark: how long detection is down when the last Coral goes, until the CPU fallback answers.

Run directly (`.venv/bin/python tests/bench/bench_hotplug.py`) or through the runner, which calls
run(). The Coral is the stand-in Edge TPU runtime of tests/test_hotplug.py (compiled here with the
system C compiler; it runs the CPU model), so the figures are the manager's and the detector
processes' own: a pulled idle Coral (remove event, timed until the CPU detector runs) and a Coral
whose process dies mid-inference (SIGKILL, as libedgetpu aborts on a USB error, timed until
pool.detect() answers again).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nvrd.bus import Bus  # noqa: E402
from nvrd.detect import DetectorError, DetectorPool  # noqa: E402
from nvrd.hotplug import DetectorManager, coral_from_event  # noqa: E402
from tests.test_hotplug import FAKE_EDGETPU_C, usb_event  # noqa: E402

SHARED = Path(os.environ.get("NVR_SHARED", ROOT.parent / "shared"))
MODEL = SHARED / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
ROUNDS = 3
TENSOR = np.zeros((300, 300, 3), np.uint8)


def _build_runtime(folder: Path) -> None:
    source = folder / "fake_edgetpu.c"
    source.write_text(FAKE_EDGETPU_C)
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-O2", "-o", str(folder / "libedgetpu.so.1"), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (folder / "devices").write_text("usb:0\n")
    os.environ["LD_LIBRARY_PATH"] = f"{folder}:{os.environ.get('LD_LIBRARY_PATH', '')}"
    os.environ["FAKE_EDGETPU_DEVICES"] = str(folder / "devices")


def _until(check, since: float, timeout: float = 30.0) -> float:
    """Seconds from `since` until `check()` holds (inf if it never does within `timeout`)."""
    while time.monotonic() - since < timeout:
        if check():
            return time.monotonic() - since
        time.sleep(0.005)
    return float("inf")


def _detects(pool: DetectorPool) -> bool:
    try:
        pool.detect(TENSOR)
    except DetectorError:
        return False
    return True


def _fallback_alive(pool: DetectorPool) -> bool:
    try:
        return pool.detector("cpu").alive
    except KeyError:
        return False


def _one_round(killed: bool) -> float:
    pool = DetectorPool({}, {"path": str(MODEL), "edgetpu_path": str(MODEL)})
    manager = DetectorManager(pool, {}, bus=Bus(), fallback_threads=1)
    try:
        manager.start([coral_from_event(usb_event("add", "2-1"))])
        pool.detect(TENSOR)
        since = time.monotonic()
        if killed:  # a camera keeps asking; time until it gets an answer again
            os.kill(pool.detector("coral_usb0").pid, signal.SIGKILL)
            return _until(lambda: _detects(pool), since)
        manager.device_event(usb_event("remove", "2-1"))  # idle: time until the CPU stands ready
        return _until(lambda: _fallback_alive(pool), since)
    finally:
        manager.stop()
        pool.stop()


def run() -> list[tuple[str, float, str, str]]:
    """Median seconds without detection after the last Coral goes, both ways it can go."""
    saved = {k: os.environ.get(k) for k in ("LD_LIBRARY_PATH", "FAKE_EDGETPU_DEVICES")}
    with tempfile.TemporaryDirectory(prefix="nvrd-bench-") as folder:
        try:
            _build_runtime(Path(folder))
            unplugged = sorted(_one_round(killed=False) for _ in range(ROUNDS))[ROUNDS // 2]
            killed = sorted(_one_round(killed=True) for _ in range(ROUNDS))[ROUNDS // 2]
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return [
        ("CPU fallback ready after the last (idle) Coral is unplugged", unplugged, "s", "<= 5"),
        ("CPU fallback answers after the Coral process dies mid-inference", killed, "s", "<= 5"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
