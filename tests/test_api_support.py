"""Helpers shared by the API test modules (this module holds no tests): config files, events written
through the real Store before nvrd starts, a small local HTTP stand-in server, and HTTP helpers."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import simplejpeg
import tornado.web
from PIL import Image

from nvrd import imaging
from nvrd.store import Store
from tests.support.configs import daemon_sections
from tests.support.nvrd_process import HttpResponse, http

CLIP = "one-by-one-person-detection.mp4"
CAMERA = "door"
WIDTH, HEIGHT = 768, 432


def write_config(
    tmp_path: Path, rtsp_url: str, shared: Path, *, detect: bool = True, extra: str = ""
) -> Path:
    """A config with one camera `door` (768x432 at 5 fps) on `rtsp_url`; `extra` is appended to the
    camera's section (indented by the caller's 4 spaces)."""
    config = tmp_path / "config.yml"
    config.write_text(f"""\
mqtt:
  enabled: false
{daemon_sections(tmp_path, shared)}snapshots:
  enabled: true
ffmpeg:
  retry_interval: 5
cameras:
  {CAMERA}:
    ffmpeg:
      inputs:
        - path: {rtsp_url}
          roles: [detect]
    detect:
      enabled: {"true" if detect else "false"}
      width: {WIDTH}
      height: {HEIGHT}
      fps: 5
{extra}""")
    return config


def picture_jpeg(shared: Path, height: int | None = None) -> bytes:
    """A real photo (grace_hopper.bmp) as JPEG, optionally resized to `height` rows."""
    image = Image.open(shared / "media" / "grace_hopper.bmp").convert("RGB")
    if height is not None:
        image = image.resize((round(image.width * height / image.height), height))
    return simplejpeg.encode_jpeg(np.asarray(image), quality=70, colorspace="RGB")


def fill_events(
    db_path: Path,
    clips: Path,
    shared: Path,
    count: int,
    *,
    camera: str = CAMERA,
    labels: tuple[str, ...] = ("person", "car", "dog"),
    start: float = 1_700_000_000.0,
    with_files: int = 0,
    seed: int = 7,
) -> list[dict]:
    """Write `count` ended object events (0.13 rows with real thumbnails) through the Store; the first
    `with_files` also get a snapshot JPEG and a clean PNG in `clips`. Returns the rows written."""
    rng = random.Random(seed)
    thumbnail = base64.b64encode(picture_jpeg(shared, imaging.THUMBNAIL_HEIGHT)).decode("ascii")
    snapshot = picture_jpeg(shared)
    clean_png = io.BytesIO()
    Image.open(shared / "media" / "grace_hopper.bmp").convert("RGB").save(clean_png, format="PNG")
    clips.mkdir(parents=True, exist_ok=True)
    rows = []
    with Store(db_path, synchronous="NORMAL") as store:
        for index in range(count):
            begin = start + index * 60.0 + rng.random()
            event_id = f"{begin!r}-{''.join(rng.choices('abcdefghijklmnopqrstuvwxyz0123456789', k=6))}"
            score = round(rng.uniform(0.6, 0.95), 4)
            row = {
                "id": event_id,
                "label": labels[index % len(labels)],
                "camera": camera,
                "start_time": begin,
                "end_time": begin + rng.uniform(5, 120),
                "zones": ["yard"] if index % 2 else [],
                "thumbnail": thumbnail,
                "has_clip": False,
                "has_snapshot": index < with_files,
                "false_positive": False,
                "retain_indefinitely": False,
                "ratio": 1.0,
                "model_hash": "5a1e",
                "model_type": "ssd",
                "detector_type": "cpu",
                "data": {
                    "type": "object",
                    "box": [0.3, 0.2, 0.1, 0.3],
                    "region": [0.2, 0.1, 0.4, 0.5],
                    "score": score,
                    "top_score": score,
                    "attributes": [],
                },
            }
            store.upsert_event(row)
            rows.append(row)
            if index < with_files:
                (clips / f"{camera}-{event_id}.jpg").write_bytes(snapshot)
                (clips / f"{camera}-{event_id}-clean.png").write_bytes(clean_png.getvalue())
    return rows


class StandIn:
    """A Tornado app on 127.0.0.1 in its own thread (local stand-ins of outside services)."""

    def __init__(self, routes: list, port: int = 0) -> None:
        self.routes = routes
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stand-in")

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            server = tornado.web.Application(self.routes).listen(self.port, address="127.0.0.1")
            self.port = next(iter(server._sockets.values())).getsockname()[1]
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()
            server.stop()

        asyncio.run(main())

    def __enter__(self) -> StandIn:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stand-in server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def json_request(base: str, method: str, path: str, body: object | None = None) -> HttpResponse:
    """A request with a JSON body, as the Home Assistant integration sends them."""
    data = b"{}" if body is None else json.dumps(body).encode()
    return http(method, base + path, body=data, headers={"Content-Type": "application/json; charset=UTF-8"})


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.5) -> object:
    """Poll until `predicate()` is truthy; TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG; fails the test with the first bytes when it is not one."""
    assert data[:2] == b"\xff\xd8", f"not a JPEG: {data[:40]!r}"
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


def wait_for_frames(nvrd, timeout: float = 30) -> None:
    """Wait until nvrd has processed frames of the camera."""
    nvrd.wait_for(
        lambda: nvrd.get("/api/stats").json()["cameras"][CAMERA]["last_frame_time"] > 0,
        timeout=timeout,
        what="frames from the camera",
    )
