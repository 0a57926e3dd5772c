"""HTTP API benchmark: nvrd as a real process with a real RTSP camera and 10,000 events in its database
(written through the Store before it starts), loaded by 10 concurrent keep-alive connections.

Measured: `/api/events?limit=100` and `/api/stats` latency (p50/p99, closed loop, 10 connections);
`latest.jpg` encodings per distinct frame (1.0 = every viewer of an unchanged frame got cached bytes);
nvrd's CPU with 0, 1 and 10 MJPEG viewers. Object detection is off so that the camera's own work stays
small and steady; the camera still streams, decodes and runs motion.
Run: `.venv/bin/python tests/bench/bench_api.py` (or `make bench`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.nvrd_process import NvrdProcess  # noqa: E402
from tests.support.rtsp_server import RtspServer  # noqa: E402
from tests.test_api_support import CLIP, fill_events, wait_for_frames, write_config  # noqa: E402

SHARED = Path(os.environ.get("NVR_SHARED", ROOT / ".." / "shared")).resolve()
EVENTS = 10_000
CONNECTIONS = 10
REQUESTS = {"events": 2000, "stats": 5000}
MJPEG_SECONDS = 8.0
TICKS = os.sysconf("SC_CLK_TCK")


async def _request(reader, writer, path: str) -> tuple[int, dict[str, str], bytes]:
    """One keep-alive GET; (status, headers, body)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def _latencies(port: int, path: str, total: int) -> list[float]:
    """Per-request latency (ms) of `total` requests spread over CONNECTIONS closed-loop connections."""
    latencies: list[float] = []
    left = [total]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
        try:
            await _request(reader, writer, path)  # warm the connection (and the server's cache)
            while left[0] > 0:
                left[0] -= 1
                began = time.perf_counter()
                status, _, _ = await _request(reader, writer, path)
                latencies.append((time.perf_counter() - began) * 1000)
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return latencies


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1]


async def _latest_misses_per_frame(port: int, count: int = 300) -> tuple[float, float, float]:
    """(encodings per distinct frame, p50 ms of a cached answer, p50 ms of a fresh encoding)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
    frames, misses, hit_ms, miss_ms = set(), 0, [], []
    try:
        for _ in range(count):
            began = time.perf_counter()
            _, headers, body = await _request(reader, writer, "/api/door/latest.jpg?h=432&quality=70")
            elapsed = (time.perf_counter() - began) * 1000
            frames.add(hashlib.blake2b(body, digest_size=16).digest())
            if headers.get("x-cache-status") == "MISS":
                misses += 1
                miss_ms.append(elapsed)
            else:
                hit_ms.append(elapsed)
    finally:
        writer.close()
    return misses / len(frames), statistics.median(hit_ms or [0.0]), statistics.median(miss_ms or [0.0])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its threads."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _mjpeg_cpu(port: int, pid: int, viewers: int) -> float:
    """nvrd's CPU (% of one core) while `viewers` MJPEG clients read the stream."""
    stop = asyncio.Event()

    async def viewer() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/door?fps=5&h=360 HTTP/1.1\r\nHost: bench\r\n\r\n")
        await writer.drain()
        try:
            while not stop.is_set():
                if not await reader.read(65536):
                    break
        finally:
            writer.close()

    tasks = [asyncio.create_task(viewer()) for _ in range(viewers)]
    await asyncio.sleep(2.0)  # connected and streaming
    before, began = _cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(MJPEG_SECONDS)
    used = _cpu_seconds(pid) - before
    elapsed = time.monotonic() - began
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return 100.0 * used / elapsed


# The framework's own floor: a Tornado process answering 2 KB of bytes, loaded by the same client.
BARE_TORNADO = """
import asyncio, sys, tornado.web
class Bytes(tornado.web.RequestHandler):
    def get(self):
        self.finish(b"x" * 2000)
async def main():
    server = tornado.web.Application([(r"/", Bytes)]).listen(0, address="127.0.0.1")
    print(next(iter(server._sockets.values())).getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def _bare_tornado_p99() -> float:
    process = subprocess.Popen([sys.executable, "-c", BARE_TORNADO], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        return _p(await _latencies(port, "/", REQUESTS["stats"]), 0.99)
    finally:
        process.kill()
        process.wait(5)


def run() -> list[tuple[str, float, str, str]]:
    with tempfile.TemporaryDirectory(prefix="nvrd-bench-api-") as folder:
        tmp = Path(folder)
        fill_events(tmp / "nvr.db", tmp / "media" / "clips", SHARED, EVENTS)
        with RtspServer(SHARED / "media" / CLIP, start_s=70, duration_s=20, loop=True) as rtsp:
            nvrd = NvrdProcess(write_config(tmp, rtsp.url, SHARED, detect=False)).start()
            try:
                wait_for_frames(nvrd)
                return asyncio.run(_measure(nvrd))
            finally:
                nvrd.stop()


async def _measure(nvrd: NvrdProcess) -> list[tuple[str, float, str, str]]:
    port, pid = nvrd.port, nvrd.proc.pid
    rows = []
    events = await _latencies(port, "/api/events?limit=100", REQUESTS["events"])
    rows.append(("/api/events?limit=100 p50, 10 conns, 10k events", _p(events, 0.5), "ms", "-"))
    rows.append(("/api/events?limit=100 p99, 10 conns, 10k events", _p(events, 0.99), "ms", "<= 5"))
    lean = await _latencies(port, "/api/events?limit=100&include_thumbnails=0", REQUESTS["events"])
    rows.append(("/api/events?limit=100&include_thumbnails=0 p99", _p(lean, 0.99), "ms", "<= 5"))
    stats = await _latencies(port, "/api/stats", REQUESTS["stats"])
    rows.append(("/api/stats p50, 10 conns", _p(stats, 0.5), "ms", "-"))
    rows.append(("/api/stats p99, 10 conns", _p(stats, 0.99), "ms", "<= 2"))
    rows.append(
        ("bare Tornado 2 KB answer p99, 10 conns (framework floor)", await _bare_tornado_p99(), "ms", "-")
    )
    per_frame, hit_ms, miss_ms = await _latest_misses_per_frame(port)
    rows.append(("latest.jpg encodings per distinct frame", per_frame, "x", "1.0 (rest from cache)"))
    rows.append(("latest.jpg p50, unchanged frame (cache)", hit_ms, "ms", "-"))
    rows.append(("latest.jpg p50, new frame (encoded)", miss_ms, "ms", "-"))
    cpu = {viewers: await _mjpeg_cpu(port, pid, viewers) for viewers in (0, 1, 10)}
    rows.append(("nvrd CPU, camera only (0 MJPEG viewers)", cpu[0], "% core", "-"))
    rows.append(("nvrd CPU, 1 MJPEG viewer (5 fps, 360p)", cpu[1], "% core", "-"))
    rows.append(("nvrd CPU, 10 MJPEG viewers (5 fps, 360p)", cpu[10], "% core", "flat"))
    extra_1, extra_10 = max(cpu[1] - cpu[0], 0.1), cpu[10] - cpu[0]
    rows.append(("MJPEG CPU 10 viewers / 1 viewer (camera excluded)", extra_10 / extra_1, "x", "<= 1.5"))
    return rows


if __name__ == "__main__":
    for name, value, unit, target in run():
        print(f"{name:55s} {value:10.3f} {unit:8s} {target}")
