"""The spine end to end: a real RTSP camera in, a person event with a snapshot out over HTTP.

nvrd runs as a real process with a config file; the camera is GStreamer's RTSP server streaming the
shared clip of people walking in (see ../shared/media/SOURCES.md for when they appear).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.support.configs import daemon_sections
from tests.support.nvrd_process import NvrdProcess
from tests.support.rtsp_server import RtspServer

pytestmark = pytest.mark.slow

CLIP = "one-by-one-person-detection.mp4"


def write_config(tmp_path: Path, rtsp_url: str, shared: Path, **camera_extra: str) -> Path:
    config = tmp_path / "config.yml"
    config.write_text(f"""\
mqtt:
  enabled: false
{daemon_sections(tmp_path, shared)}snapshots:
  enabled: true
ffmpeg:
  retry_interval: 3
cameras:
  door:
    ffmpeg:
      inputs:
        - path: {rtsp_url}
          roles: [detect]
    detect:
      width: 768
      height: 432
      fps: 5
""")
    return config


def ended_person_events(nvrd: NvrdProcess) -> list[dict]:
    events = nvrd.get("/api/events?labels=person&in_progress=0").json()
    return [e for e in events if e["end_time"] is not None and e["has_snapshot"]]


def test_person_walking_in_becomes_an_event_with_a_snapshot(tmp_path: Path, shared_dir: Path) -> None:
    # 70 s..90 s of the clip: empty, a person walks in at ~75 s and stands until ~85 s, then empty.
    with RtspServer(shared_dir / "media" / CLIP, start_s=70, duration_s=20, loop=True) as rtsp:
        nvrd = NvrdProcess(write_config(tmp_path, rtsp.url, shared_dir)).start()
        try:
            events = nvrd.wait_for(
                lambda: ended_person_events(nvrd), timeout=90, what="an ended person event"
            )
            event = events[0]
            assert event["camera"] == "door"
            assert event["label"] == "person"
            assert event["data"]["top_score"] >= 0.7
            assert event["end_time"] > event["start_time"]

            full = nvrd.get(f"/api/events/{event['id']}").json()
            assert full["id"] == event["id"]
            assert full["thumbnail"]

            snapshot = nvrd.get(f"/api/events/{event['id']}/snapshot.jpg")
            assert snapshot.status == 200
            assert snapshot.headers["Content-Type"] == "image/jpeg"
            picture = Image.open(io.BytesIO(snapshot.body))
            picture.load()
            assert picture.size == (768, 432)

            thumb = nvrd.get(f"/api/events/{event['id']}/thumbnail.jpg")
            assert thumb.status == 200
            assert Image.open(io.BytesIO(thumb.body)).size[1] == 175

            stats = nvrd.get("/api/stats").json()
            assert stats["cameras"]["door"]["camera_fps"] > 0
            assert stats["detectors"]["cpu"]["inference_speed"] > 0
        finally:
            assert nvrd.stop() == 0


def test_empty_stretch_makes_no_event(tmp_path: Path, shared_dir: Path) -> None:
    # 25 s..40 s of the clip: the room is empty (nothing scores >= 0.5 at 1 fps sampling).
    with RtspServer(shared_dir / "media" / CLIP, start_s=25, duration_s=15, loop=True) as rtsp:
        nvrd = NvrdProcess(write_config(tmp_path, rtsp.url, shared_dir)).start()
        try:
            # Wait until the camera has really been processed for a while, then look.
            nvrd.wait_for(
                lambda: nvrd.get("/api/stats").json()["cameras"]["door"]["process_fps"] > 0,
                timeout=30,
                what="frames processed",
            )
            time.sleep(20)
            assert nvrd.get("/api/stats").json()["cameras"]["door"]["process_fps"] > 0
            assert nvrd.get("/api/events").json() == []
        finally:
            assert nvrd.stop() == 0


def test_camera_outage_keeps_http_up_and_resumes(tmp_path: Path, shared_dir: Path) -> None:
    media = shared_dir / "media" / CLIP
    rtsp = RtspServer(media, start_s=0, duration_s=10, loop=True)
    rtsp.start()
    nvrd = NvrdProcess(write_config(tmp_path, rtsp.url, shared_dir)).start()
    try:
        first = nvrd.wait_for(lambda: _frame_time(nvrd), timeout=30, what="a first frame")
        rtsp.stop()
        time.sleep(6)  # past retry_interval: the camera is noticed as dead
        assert nvrd.get("/api/version").status == 200
        assert nvrd.get("/api/stats").status == 200
        latest = nvrd.get("/api/door/latest.jpg")
        assert latest.status == 200  # the "camera error" picture, never an error status

        rtsp = RtspServer(media, port=rtsp.port, start_s=0, duration_s=10, loop=True)
        rtsp.start()
        nvrd.wait_for(lambda: (_frame_time(nvrd) or 0) > first + 6, timeout=60, what="frames again")
    finally:
        code = nvrd.stop()
        rtsp.stop()
    assert code == 0


def _frame_time(nvrd: NvrdProcess) -> float | None:
    """The camera's newest frame time as the API shows it (from /api/stats' view of the camera)."""
    stats = nvrd.get("/api/stats").json()["cameras"]["door"]
    return stats.get("last_frame_time") or None
