"""Recording benchmarks: what recording a camera costs, serving an hour's HLS playlist, building a clip.

- Recording cost: nvrd's segmenter copies a real RTSP camera (the shared person clip, 768x432 10 fps,
  served by GStreamer) into 10 s MPEG-TS segments; ffmpeg's CPU time over 30 s of steady recording,
  as % of one core.
- One-hour VOD playlist: `GET /vod/<camera>/start/<t>/end/<t+3600>/index.m3u8` over 360 indexed
  segments, through the real Tornado app on loopback (median of 50).
- 60 s event clip: `Recorder.build_clip` over 30 real 2 s segments (stream copy, faststart), median of 3.
Run: `.venv/bin/python -m tests.bench.bench_record` from the project root (or through `make bench`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from nvrd.app import Daemon
from nvrd.config.loader import config_from_text
from nvrd.config.sections import DEFAULT_GLOBAL_ARGS
from nvrd.record import Recorder
from nvrd.record.command import record_command
from nvrd.record.segmenter import Segmenter
from nvrd.store import Store
from tests.support.nvrd_process import free_port, http
from tests.support.record_media import cache_segments
from tests.support.rtsp_server import RtspServer

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NVR_SHARED", ROOT / ".." / "shared")).resolve()
CLIP = SHARED / "media" / "one-by-one-person-detection.mp4"
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def recording_cost(seconds: float = 30.0) -> float:
    """% of one core ffmpeg uses copying one camera into segments."""
    with tempfile.TemporaryDirectory() as tmp, RtspServer(CLIP, start_s=70, duration_s=20, loop=True) as rtsp:
        cache = Path(tmp)

        def command(run: int) -> list[str]:
            return record_command(
                rtsp.url,
                camera="bench",
                run=run,
                cache_dir=cache,
                segment_time=10,
                global_args=DEFAULT_GLOBAL_ARGS,
            )

        segmenter = Segmenter("bench", command, cache, segment_time=10)
        segmenter.start()
        try:
            deadline = time.monotonic() + 20
            while segmenter.state != "recording" and time.monotonic() < deadline:
                time.sleep(0.2)
            pid = segmenter.pid
            if pid is None:
                raise RuntimeError(f"the recorder did not start: {segmenter.last_error}")
            time.sleep(3)  # past the connection and the first burst of buffered packets
            cpu0, wall0 = _cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            cpu1, wall1 = _cpu_seconds(pid), time.monotonic()
        finally:
            segmenter.stop()
    return (cpu1 - cpu0) / (wall1 - wall0) * 100


def _config(tmp: Path):
    return config_from_text(
        f"""
mqtt: {{enabled: false}}
database: {{path: {tmp}/nvr.db}}
storage: {{root: {tmp}/media, cache: {tmp}/cache}}
record: {{enabled: true, retain: {{days: 1}}}}
cameras:
  door:
    ffmpeg: {{inputs: [{{path: "rtsp://127.0.0.1:9/none", roles: [detect, record]}}]}}
    detect: {{width: 768, height: 432}}
""",
        base_dir=tmp,
    )


def _serve(daemon: Daemon) -> tuple[str, Callable[[], None]]:
    """The real app for `daemon` on a loopback port; returns its base URL and a stop function."""
    from nvrd.api.server import make_app

    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        holder["server"] = make_app(daemon).listen(port, address="127.0.0.1")
        loop.call_soon(ready.set)
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)

    def stop() -> None:
        loop.call_soon_threadsafe(holder["server"].stop)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop


def vod_hour_ms(requests: int = 50) -> float:
    """Median ms to serve the media playlist of one hour of 10 s segments."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        config = _config(tmp)
        daemon = Daemon(config)
        daemon.store = Store(Path(config.database.path), synchronous="NORMAL")
        daemon.recorder = Recorder(config, daemon.store)
        start = time.time() - 7200
        for i in range(360):
            begin = start + i * 10
            daemon.store.insert_recording(
                {
                    "id": f"{begin}-bench{i}",
                    "camera": "door",
                    "path": f"{tmp}/media/recordings/{i}.ts",
                    "start_time": begin,
                    "end_time": begin + 10,
                    "duration": 10.0,
                    "segment_size": 1.2,
                }
            )
        base, stop = _serve(daemon)
        try:
            url = f"{base}/vod/door/start/{start}/end/{start + 3600}/index.m3u8"
            assert http("GET", url).text.count("#EXTINF") == 360
            timings = []
            for _ in range(requests):
                began = time.perf_counter()
                http("GET", url)
                timings.append((time.perf_counter() - began) * 1000)
        finally:
            stop()
            daemon.store.close()
    return statistics.median(timings)


def clip_60s_ms(repeats: int = 3) -> float:
    """Median ms to build the MP4 of 60 s of recordings from 30 segments."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "media").mkdir()
        config = _config(tmp)
        store = Store(Path(config.database.path), synchronous="NORMAL")
        recorder = Recorder(config, store)
        t0 = time.time() - 600
        cache_segments(SHARED, recorder.cache.folder, start_s=70, duration_s=62, closed_from=t0)
        recorder.storage.check()
        recorder.indexer.run_once({"door": None}, True)
        timings = []
        for attempt in range(repeats):
            began = time.perf_counter()
            recorder.build_clip(
                "door", t0 + 1 + attempt * 0.1, t0 + 61 + attempt * 0.1
            )  # a new clip each time
            timings.append((time.perf_counter() - began) * 1000)
        store.close()
    return statistics.median(timings)


def run() -> list[tuple[str, float, str, str]]:
    """The benchmark rows for the lead's runner."""
    return [
        ("recording cost per camera (stream copy)", recording_cost(), "% of a core", "~0.1"),
        ("serve a one-hour VOD playlist", vod_hour_ms(), "ms", "<= 20"),
        ("build a 60 s event clip", clip_60s_ms(), "ms", "<= 1000"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
