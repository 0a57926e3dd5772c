"""Benchmarks of the camera loop and of the daemon's memory.

- The camera loop per 720p frame without decode and inference: CameraPipeline.process() on real frames
  (the shared walking-people clip scaled to 1280x720, empty room then a person) with the real motion
  detector, region preparation, tracker and event manager (real SQLite, real snapshot files). Inference
  runs in-process on the real model and its time is measured and taken out, as decoding is (frames are
  decoded up front).
- Resident memory of nvrd with two 720p cameras, for the daemon and for its children (ffmpeg decoders and
  the detector process), read from /proc after it has run for a while.
"""

from __future__ import annotations

import os
import statistics
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
from nvrd.config import config_from_text  # noqa: E402
from nvrd.detect import ObjectDetector, load_labelmap  # noqa: E402
from nvrd.detect.interpreter import open_model  # noqa: E402
from nvrd.detect.settings import DetectorSettings, ModelSettings  # noqa: E402
from nvrd.events import EventManager  # noqa: E402
from nvrd.frame import Frame, i420_size  # noqa: E402
from nvrd.pipeline import CameraPipeline  # noqa: E402
from nvrd.store import Store  # noqa: E402
from tests.support.nvrd_process import NvrdProcess  # noqa: E402

SHARED = Path(os.environ.get("NVR_SHARED", ROOT.parent / "shared"))
CLIP = SHARED / "media" / "one-by-one-person-detection.mp4"
MODEL = SHARED / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
LABELS = SHARED / "models" / "coco_labels.txt"
W, H = 1280, 720


class TimedModel:
    """The real model in-process; keeps the seconds spent inside inference so they can be taken out."""

    def __init__(self) -> None:
        settings = DetectorSettings("bench", "cpu", num_threads=1, model=ModelSettings(path=str(MODEL)))
        self.model = open_model(settings)
        self.out = np.zeros((self.model.max_detections, 6), dtype=np.float32)
        self.seconds = 0.0

    def detect(self, tensor: np.ndarray, timeout: float | None = None) -> np.ndarray:
        start = time.perf_counter()
        count = self.model.run(tensor, self.out)
        self.seconds += time.perf_counter() - start
        return self.out[:count].copy()


def decode_frames(start_s: int, seconds: int, fps: int = 5) -> list[np.ndarray]:
    """I420 frames of the clip at 1280x720."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-ss", str(start_s), "-t", str(seconds), "-i", str(CLIP),
           "-vf", f"fps={fps},scale={W}:{H}", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]  # fmt: skip
    raw = subprocess.run(cmd, capture_output=True, timeout=120, check=True).stdout
    size = i420_size(W, H)
    return [np.frombuffer(raw, np.uint8, size, i * size).copy() for i in range(len(raw) // size)]


def camera_loop_ms() -> list[tuple[str, float, str, str]]:
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        config = config_from_text(f"""
database: {{path: {tmp}/nvr.db}}
storage: {{root: {tmp}/media, cache: {tmp}/cache}}
model: {{path: {MODEL}, labelmap_path: {LABELS}}}
snapshots: {{enabled: true}}
cameras:
  bench:
    ffmpeg: {{inputs: [{{path: /dev/null, roles: [detect]}}]}}
    detect: {{width: {W}, height: {H}, fps: 5}}
""")
        cam = config.cameras["bench"]
        store = Store(Path(tmp) / "nvr.db")
        model = TimedModel()
        labelmap = load_labelmap(LABELS)
        detector = ObjectDetector(model, labelmap, 300, ["person"], {"person": 0.5})
        events = EventManager(store, Path(tmp) / "clips", Bus(), config.cameras)
        pipeline = CameraPipeline("bench", cam, detector=detector, events=events, bus=Bus())
        frames = decode_frames(70, 20)  # empty room, a person walks in (~75 s), stands, leaves
        quiet = decode_frames(30, 10)  # the empty room only
        results = []
        for name, clip in (
            ("camera loop per 720p frame, empty room", quiet),
            ("camera loop per 720p frame, person walking in", frames),
        ):
            per_frame = []
            for i, data in enumerate(clip * 2):
                frame = Frame("bench", i, 1_700_000_000 + i / 5, W, H, data)
                model.seconds = 0.0
                start = time.perf_counter()
                pipeline.process(frame)
                per_frame.append(time.perf_counter() - start - model.seconds)
            timed = per_frame[len(clip) // 2 :]  # after warm-up (the background model settles)
            results.append(
                (name, statistics.median(timed) * 1000, "ms", "<= 0.75 (median, no decode/inference)")
            )
        events.end_all(time.time())
        store.close()
        return results


def rss_kib(pid: int) -> int:
    """Resident set size of one process in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    """Direct children of a process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def daemon_memory() -> list[tuple[str, float, str, str]]:
    with tempfile.TemporaryDirectory(prefix="bench_rss_") as tmp:
        cameras = "".join(
            f"""
  cam{i}:
    ffmpeg: {{inputs: [{{path: {CLIP}, roles: [detect]}}]}}
    detect: {{width: {W}, height: {H}, fps: 5}}"""
            for i in (1, 2)
        )
        config = Path(tmp) / "config.yml"
        config.write_text(f"""
mqtt: {{enabled: false}}
database: {{path: {tmp}/nvr.db}}
storage: {{root: {tmp}/media, cache: {tmp}/cache}}
model: {{path: {MODEL}, labelmap_path: {LABELS}}}
detectors: {{cpu: {{type: cpu, num_threads: 1}}}}
snapshots: {{enabled: true}}
cameras:{cameras}
""")
        nvrd = NvrdProcess(config).start()
        try:
            time.sleep(30)
            pid = nvrd.proc.pid
            kids = children(pid)
            ffmpeg = [
                k for k in kids if "ffmpeg" in Path(f"/proc/{k}/cmdline").read_bytes().decode(errors="ignore")
            ]
            others = [k for k in kids if k not in ffmpeg]
            return [
                ("nvrd RSS, two 720p cameras (daemon process)", rss_kib(pid) / 1024, "MiB", "reported"),
                ("  detector process(es)", sum(rss_kib(k) for k in others) / 1024, "MiB", "reported"),
                ("  ffmpeg decoders (2)", sum(rss_kib(k) for k in ffmpeg) / 1024, "MiB", "reported"),
            ]
        finally:
            nvrd.stop()


def run() -> list[tuple[str, float, str, str]]:
    """Rows for the runner."""
    return camera_loop_ms() + daemon_memory()


if __name__ == "__main__":
    for row in run():
        print(row)
