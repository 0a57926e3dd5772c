"""The recordings API over real segments: HLS playlists ffmpeg plays to the end, clips, frames, exports,
byte ranges and the media folders, served by the real Tornado app on a loopback port.

The daemon here is nvrd's own Daemon with its store and recorder (the recorder's maintenance thread
is not started: segments are indexed by one explicit pass, so the footage is known exactly).
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from nvrd.app import Daemon
from nvrd.config.loader import config_from_text
from nvrd.record import Recorder
from nvrd.store import Store
from tests.support.nvrd_process import free_port, http
from tests.support.record_media import cache_segments, ffprobe_duration, read_to_end

NOW = time.time()
T0 = NOW - 600  # the footage began ten minutes ago


def _config(tmp: Path):
    return config_from_text(
        f"""
mqtt: {{enabled: false}}
database: {{path: {tmp}/nvr.db}}
storage: {{root: {tmp}/media, cache: {tmp}/cache}}
record: {{enabled: true, retain: {{days: 1}}}}
cameras:
  door:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:9/none
          roles: [detect, record]
    detect: {{width: 768, height: 432}}
""",
        base_dir=tmp,
    )


class ApiServer:
    """make_app(daemon) on its own event loop thread, listening on 127.0.0.1."""

    def __init__(self, daemon: Daemon) -> None:
        from nvrd.api.server import make_app

        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.server = make_app(daemon).listen(self.port, address="127.0.0.1")
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)
        if failure:
            raise failure[0]
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def get(self, path: str, **kw):
        return http("GET", self.base + path, **kw)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):
    tmp = tmp_path_factory.mktemp("vod")
    (tmp / "media").mkdir()
    config = _config(tmp)
    daemon = Daemon(config)
    daemon.store = Store(Path(config.database.path))
    daemon.recorder = Recorder(config, daemon.store)
    # 20 s of the person clip as ten segments, then a gap, then 10 s more (a new ffmpeg run).
    cache_segments(shared_dir, daemon.recorder.cache.folder, run=1, start_s=70, duration_s=20, closed_from=T0)
    cache_segments(
        shared_dir, daemon.recorder.cache.folder, run=2, start_s=76, duration_s=10, closed_from=T0 + 60
    )
    assert daemon.recorder.storage.check().available
    daemon.recorder.indexer.run_once({"door": None}, True)
    daemon.recorder.exporter.start()
    daemon.store.upsert_event(
        {
            "id": f"{T0 + 5}-abcdef",
            "label": "person",
            "camera": "door",
            "start_time": T0 + 5,
            "end_time": T0 + 14,
            "has_clip": True,
            "has_snapshot": True,
        }
    )
    server = ApiServer(daemon)
    yield server, daemon, tmp
    server.stop()
    daemon.recorder.exporter.stop()
    daemon.store.close()


def _rows(daemon: Daemon) -> list[dict]:
    return daemon.store.recordings_overlapping("door", 0, 4e9)


def test_recordings_list_and_summary(api) -> None:
    server, daemon, _tmp = api
    rows = _rows(daemon)
    listed = server.get(f"/api/door/recordings?after={T0 - 1}&before={NOW}").json()
    assert [r["id"] for r in listed] == [r["id"] for r in rows]
    assert set(listed[0]) == {"id", "start_time", "end_time", "segment_size", "motion", "objects"}
    assert server.get(f"/api/door/recordings?after={T0 + 100}&before={T0 + 200}").json() == []
    summary = server.get("/api/door/recordings/summary?timezone=Europe/Berlin").json()
    hours = [hour for day in summary for hour in day["hours"]]
    assert sum(h["duration"] for h in hours) == pytest.approx(sum(r["duration"] for r in rows), abs=2)
    assert sum(day["events"] for day in summary) == 1
    assert server.get("/api/door/recordings/summary?timezone=Mars/Base").status == 400


def test_vod_playlists_play_to_the_end(api) -> None:
    server, daemon, _tmp = api
    rows = _rows(daemon)
    event_id = f"{T0 + 5}-abcdef"
    hour = time.gmtime(rows[0]["start_time"])
    hour_path = time.strftime("%Y-%m/%d/%H", hour) + "/door/utc"
    for path in (
        f"/vod/door/start/{T0}/end/{T0 + 100}/index.m3u8",
        f"/vod/event/{event_id}/index.m3u8",
        f"/vod/{hour_path}/master.m3u8",
    ):
        result = read_to_end(server.base + path)
        assert result.returncode == 0, (path, result.stderr)
    master = server.get(f"/vod/door/start/{T0}/end/{T0 + 100}/master.m3u8")
    assert master.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert "RESOLUTION=768x432" in master.text and "index-v1.m3u8" in master.text
    media = server.get(f"/vod/door/start/{T0}/end/{T0 + 100}/index-v1.m3u8").text
    assert media.count("#EXTINF") == len(rows)
    assert media.count("#EXT-X-DISCONTINUITY") == 1  # between the two ffmpeg runs
    total = ffprobe_duration(server.base + f"/vod/door/start/{T0}/end/{T0 + 100}/index.m3u8")
    assert total == pytest.approx(sum(r["duration"] for r in rows), abs=1.5)
    event = server.get(f"/vod/event/{event_id}/index.m3u8").text
    assert event.count("#EXTINF") == 5  # the segments from 4.1 s to 14.1 s
    segment = server.get(f"/vod/event/{event_id}/seg-1-v1.ts")
    assert segment.headers["Content-Type"] == "video/MP2T"
    assert segment.body == Path(rows[2]["path"]).read_bytes()
    assert server.get(f"/vod/event/{event_id}/seg-99-v1.ts").status == 404
    assert server.get(f"/vod/door/start/{T0 - 900}/end/{T0 - 800}/index.m3u8").status == 404
    assert server.get("/vod/event/nope/index.m3u8").status == 404


def test_event_clip_covers_the_event_and_serves_ranges(api) -> None:
    server, _daemon, _tmp = api
    event_id = f"{T0 + 5}-abcdef"
    clip = server.get(f"/api/events/{event_id}/clip.mp4?download=1", timeout=60)
    assert clip.status == 200
    assert clip.headers["Content-Type"] == "video/mp4"
    assert clip.headers["Content-Disposition"] == f"attachment; filename=door-{event_id}.mp4"
    assert int(clip.headers["Content-Length"]) == len(clip.body)
    local = _tmp / "clip.mp4"
    local.write_bytes(clip.body)
    assert ffprobe_duration(local) >= 9 - 0.5  # the event's 9 s
    assert read_to_end(str(local)).returncode == 0
    part = server.get(f"/api/events/{event_id}/clip.mp4", headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(clip.body)}"
    assert part.body == clip.body[100:200]
    legacy = server.get(f"/clips/door-{event_id}.mp4")
    assert legacy.status == 200 and legacy.body[4:8] == b"ftyp"
    assert server.get("/api/events/nope/clip.mp4").json() == {"message": "Event not found", "success": False}
    ranged = server.get(f"/api/door/start/{T0 + 2}/end/{T0 + 6}/clip.mp4", timeout=60)
    assert ranged.status == 200
    missing = server.get(f"/api/door/start/{T0 - 900}/end/{T0 - 800}/clip.mp4")
    assert missing.status == 404
    assert missing.json()["message"] == "Could not create clip from recordings"


def test_recorded_frame_as_png(api) -> None:
    server, _daemon, _tmp = api
    picture = server.get(f"/api/door/recordings/{T0 + 7.3}/snapshot.png", timeout=30)
    assert picture.status == 200 and picture.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(picture.body)).size == (768, 432)
    assert server.get(f"/api/door/recordings/{T0 - 50}/snapshot.png").json() == {
        "message": f"Recording not found at {T0 - 50}",
        "success": False,
    }
    assert server.get(f"/api/yard/recordings/{T0}/snapshot.png").status == 404


def test_export_then_rename_and_delete(api) -> None:
    server, _daemon, tmp = api
    body = json.dumps({"playback": "realtime"}).encode()
    started = http("POST", f"{server.base}/api/export/door/start/{int(T0) + 2}/end/{int(T0) + 12}", body=body)
    assert started.json() == {"message": "Starting export of recording.", "success": True}
    lapse = json.dumps({"playback": "timelapse_25x"}).encode()
    assert (
        http("POST", f"{server.base}/api/export/door/start/{int(T0)}/end/{int(T0) + 30}", body=lapse).status
        == 200
    )
    none = http("POST", f"{server.base}/api/export/door/start/{int(T0) - 900}/end/{int(T0) - 800}")
    assert none.status == 400 and none.json()["message"] == "No recordings found for time range"
    assert http("POST", f"{server.base}/api/export/yard/start/1/end/2").status == 404

    def finished() -> list[dict]:
        listing = server.get("/exports/").json()
        done = [e for e in listing if not e["name"].startswith("in_progress.")]
        return done if len(done) == 2 else []

    deadline = time.monotonic() + 60
    while not finished() and time.monotonic() < deadline:
        time.sleep(0.5)
    exports = finished()
    assert exports and all(e["type"] == "file" and e["size"] > 0 for e in exports)
    durations = sorted(ffprobe_duration(tmp / "media" / "exports" / e["name"]) for e in exports)
    assert durations[0] < 5  # 30 s at 25x
    assert durations[1] >= 9.5
    name = exports[0]["name"]
    renamed = http("PATCH", f"{server.base}/api/export/{name}/kept_one")
    assert renamed.json()["message"] == "Successfully renamed file."
    assert server.get("/exports/kept_one.mp4").status == 200
    assert http("PATCH", f"{server.base}/api/export/kept_one.mp4/bad$name").status in (400, 404)
    assert http("DELETE", f"{server.base}/api/export/kept_one.mp4").json()["success"]
    assert http("DELETE", f"{server.base}/api/export/kept_one.mp4").status == 404


def test_media_folders_list_serve_and_stay_inside(api) -> None:
    server, daemon, tmp = api
    (tmp / "media" / "clips" / "door-x.jpg").write_bytes(b"\xff\xd8jpeg")
    assert server.get("/clips/door-x.jpg").body == b"\xff\xd8jpeg"
    assert "door-x.jpg" in server.get("/clips/").text
    listing = server.get("/recordings/").json()
    assert listing and listing[0]["type"] == "directory"
    first = Path(_rows(daemon)[0]["path"]).relative_to(tmp / "media" / "recordings")
    assert server.get(f"/recordings/{first}").headers["Content-Type"] == "video/MP2T"
    for path in ("/clips/../nvr.db", "/clips/%2e%2e/nvr.db", "/recordings/../../etc/passwd", "/exports/.x"):
        assert server.get(path).status == 404, path
    assert server.get("/clips/door-1700000000.0-abcdef.mp4").status == 404
