"""Recording end to end: nvrd records a real RTSP camera, serves clips and HLS, survives a pulled disk,
`kill -9` and an unmounted tmpfs. One recording run is shared by the first checks (module fixture).

The camera is GStreamer's RTSP server looping 20 s of the shared person clip (a person walks in 5 s
into each loop and leaves 10 s later), so person events come and go while nvrd records.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.nvrd_process import NvrdProcess
from tests.support.record_media import ffprobe_duration, read_to_end
from tests.support.rtsp_server import RtspServer

pytestmark = pytest.mark.slow

CLIP = "one-by-one-person-detection.mp4"
SEGMENT = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{2})/door/(\d{2})\.(\d{2})(-\d+)?\.ts$")


def write_config(tmp: Path, url: str, shared: Path, *, root: Path | None = None, detect: bool = True) -> Path:
    models = shared / "models"
    config = tmp / "config.yml"
    config.write_text(f"""\
mqtt: {{enabled: false}}
database: {{path: {tmp}/nvr.db}}
storage: {{root: {root or tmp / "media"}, cache: {tmp}/cache, min_free_mb: 1}}
model:
  path: {models}/mobilenet_ssd_v2_coco_quant_postprocess.tflite
  labelmap_path: {models}/coco_labels.txt
detectors: {{cpu: {{type: cpu, num_threads: 1}}}}
snapshots: {{enabled: true}}
record:
  enabled: true
  segment_time: 2
  retain: {{days: 1, mode: all}}
ffmpeg: {{retry_interval: 3}}
cameras:
  door:
    ffmpeg:
      inputs:
        - path: {url}
          roles: [detect, record]
    detect: {{width: 768, height: 432, fps: 5, enabled: {str(detect).lower()}}}
""")
    return config


def db_rows(tmp: Path) -> list[dict]:
    """Every recording row, read from nvrd's database file (read-only, beside the running daemon)."""
    with contextlib.closing(sqlite3.connect(f"file:{tmp}/nvr.db?mode=ro", uri=True, timeout=10)) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM recordings ORDER BY start_time")]


def files_on_disk(recordings: Path) -> set[str]:
    return {str(p) for p in recordings.rglob("*.ts")}


def recorded_seconds(tmp: Path) -> float:
    return sum(row["duration"] for row in db_rows(tmp))


def recording_state(nvrd: NvrdProcess) -> dict:
    return nvrd.get("/api/stats").json()["service"]["recording"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):
    tmp = tmp_path_factory.mktemp("record")
    (tmp / "media").mkdir()
    with RtspServer(shared_dir / "media" / CLIP, start_s=70, duration_s=20, loop=True) as rtsp:
        nvrd = NvrdProcess(write_config(tmp, rtsp.url, shared_dir)).start()
        try:
            nvrd.wait_for(lambda: recorded_seconds(tmp) >= 60, timeout=120, what="a minute of recordings")
            yield nvrd, tmp
        finally:
            code = nvrd.stop()
        assert code == 0, nvrd.log()


def test_a_minute_of_segments_in_the_layout_each_playable(run) -> None:
    _nvrd, tmp = run
    recordings = tmp / "media" / "recordings"
    rows = db_rows(tmp)
    assert sum(r["duration"] for r in rows) >= 60
    assert {r["path"] for r in rows} <= files_on_disk(recordings)
    for row in rows:
        relative = Path(row["path"]).relative_to(recordings).as_posix()
        match = SEGMENT.match(relative)
        assert match, relative
        start = datetime.fromtimestamp(row["start_time"], tz=UTC)
        assert match.group(1, 2, 3, 4) == (
            start.strftime("%Y-%m-%d"),
            start.strftime("%H"),
            start.strftime("%M"),
            start.strftime("%S"),
        )
        assert row["camera"] == "door" and 0 < row["duration"] < 10
        assert row["end_time"] == pytest.approx(row["start_time"] + row["duration"])
        assert row["segment_size"] == round(Path(row["path"]).stat().st_size / 2**20, 1)
        assert abs(ffprobe_duration(Path(row["path"])) - row["duration"]) < 1.0
    assert any(r["motion"] for r in rows)  # the pipeline's activity reached the rows


def _clip_event(nvrd: NvrdProcess, tmp: Path) -> dict | None:
    events = nvrd.get("/api/events?labels=person&has_clip=1&in_progress=0").json()
    newest_end = max((r["end_time"] for r in db_rows(tmp)), default=0)
    covered = [e for e in events if e["end_time"] is not None and e["end_time"] <= newest_end]
    return covered[-1] if covered else None


def test_person_event_clip_covers_the_event_with_pre_and_post_capture(run) -> None:
    nvrd, tmp = run
    event = nvrd.wait_for(lambda: _clip_event(nvrd, tmp), timeout=90, what="a recorded person event")
    span = event["end_time"] - event["start_time"]  # stored times include the 5 s pre and post capture
    assert span >= 10
    clip = nvrd.get(f"/api/events/{event['id']}/clip.mp4", timeout=60)
    assert clip.status == 200 and clip.headers["Content-Type"] == "video/mp4"
    path = tmp / "event.mp4"
    path.write_bytes(clip.body)
    assert read_to_end(str(path)).returncode == 0
    assert ffprobe_duration(path) >= span - 1.0
    old_style = nvrd.get(f"/clips/door-{event['id']}.mp4", timeout=60)
    assert old_style.status == 200 and old_style.body[4:8] == b"ftyp"
    snapshot = nvrd.get(f"/clips/door-{event['id']}.jpg")
    assert snapshot.status == 200 and snapshot.body[:2] == b"\xff\xd8"


def test_the_three_vod_playlists_play_to_the_end(run) -> None:
    nvrd, tmp = run
    rows = db_rows(tmp)
    start, end = rows[0]["start_time"], rows[-1]["end_time"]
    event = nvrd.wait_for(lambda: _clip_event(nvrd, tmp), timeout=90, what="a recorded person event")
    hour = datetime.fromtimestamp(rows[-1]["start_time"], tz=UTC).strftime("%Y-%m/%d/%H")
    for path in (
        f"/vod/{hour}/door/utc/master.m3u8",
        f"/vod/event/{event['id']}/index.m3u8",
        f"/vod/door/start/{start}/end/{end}/index.m3u8",
    ):
        result = read_to_end(nvrd.base + path)
        assert result.returncode == 0, (path, result.stderr[-2000:])
    whole = ffprobe_duration(f"{nvrd.base}/vod/door/start/{start}/end/{end}/index.m3u8")
    assert whole >= 55


def test_stats_show_the_storage_and_the_recorder(run) -> None:
    nvrd, tmp = run
    stats = nvrd.get("/api/stats").json()
    storage = stats["service"]["storage"][str(tmp / "media" / "recordings")]
    assert storage["total"] > 0 and storage["free"] > 0 and storage["mount_type"]
    recording = stats["service"]["recording"]
    assert recording["storage_available"] is True
    assert recording["cameras"]["door"]["state"] == "recording"
    frame = nvrd.get(f"/api/door/recordings/{db_rows(tmp)[-2]['start_time'] + 0.5}/snapshot.png", timeout=30)
    assert frame.status == 200 and frame.body[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def light_run(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):
    """nvrd recording without detection (no events, no snapshot files): the disk tests' camera."""
    tmp = tmp_path_factory.mktemp("record-light")
    (tmp / "media").mkdir()
    with RtspServer(shared_dir / "media" / CLIP, start_s=70, duration_s=20, loop=True) as rtsp:
        config = write_config(tmp, rtsp.url, shared_dir, detect=False)
        state = {"nvrd": NvrdProcess(config).start(), "tmp": tmp, "config": config}
        try:
            state["nvrd"].wait_for(lambda: len(db_rows(tmp)) >= 3, timeout=60, what="three segments")
            yield state
        finally:
            code = state["nvrd"].stop()
        assert code in (0, None), state["nvrd"].log()


def test_pulling_the_storage_pauses_and_returning_it_resumes(light_run) -> None:
    nvrd, tmp = light_run["nvrd"], light_run["tmp"]
    media = tmp / "media"
    media.rename(tmp / "media-pulled")  # the disk is gone (its files with it)
    state = nvrd.wait_for(
        lambda: (s := recording_state(nvrd))["cameras"]["door"]["state"] == "paused" and s,
        timeout=20,
        what="recording paused",
    )
    assert state["storage_available"] is False
    assert "does not exist" in state["storage_reason"]
    assert nvrd.get("/api/version").status == 200
    assert nvrd.get("/api/door/recordings").status == 200
    assert "recordings storage unavailable, recording paused" in nvrd.log()
    time.sleep(3)
    assert not media.exists()  # nothing wrote into the mount point meanwhile

    media.mkdir()  # an empty disk comes back
    back = time.time()
    nvrd.wait_for(
        lambda: any(r["start_time"] > back for r in db_rows(tmp)), timeout=60, what="recording again"
    )
    assert recording_state(nvrd)["storage_available"] is True
    rows = db_rows(tmp)
    assert {r["path"] for r in rows} == files_on_disk(media / "recordings")
    for row in rows:
        assert abs(ffprobe_duration(Path(row["path"])) - row["duration"]) < 1.0


def _record_ffmpegs(cache: Path) -> list[int]:
    """Process ids of ffmpeg processes writing into this cache."""
    found = subprocess.run(["pgrep", "-f", f"ffmpeg.*{cache}"], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


def test_kill_9_mid_segment_loses_nothing_indexed(light_run) -> None:
    nvrd, tmp = light_run["nvrd"], light_run["tmp"]
    count = len(db_rows(tmp))
    nvrd.wait_for(lambda: len(db_rows(tmp)) >= count + 2, timeout=60, what="two more segments")
    time.sleep(1.0)  # into the next segment
    nvrd.kill()
    before = db_rows(tmp)
    deadline = time.monotonic() + 10
    while _record_ffmpegs(tmp / "cache") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _record_ffmpegs(tmp / "cache") == []  # the recorder died with nvrd
    leftovers = list((tmp / "cache" / "segments").glob("*.ts"))
    assert leftovers  # at least the segment that was being written

    nvrd = light_run["nvrd"] = NvrdProcess(light_run["config"]).start()
    restart = time.time()
    nvrd.wait_for(
        lambda: any(r["start_time"] > restart for r in db_rows(tmp)),
        timeout=60,
        what="segments after restart",
    )
    after = db_rows(tmp)
    ids = {r["id"] for r in after}
    assert all(r["id"] in ids for r in before)
    assert not any(p.exists() for p in leftovers)  # recovered into the recordings, or cleaned
    assert {r["path"] for r in after} == files_on_disk(tmp / "media" / "recordings")
    for row in after:
        assert abs(ffprobe_duration(Path(row["path"])) - row["duration"]) < 1.0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_unmounting_the_disk_pauses_and_remounting_resumes(tmp_path: Path, shared_dir: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)]
    subprocess.run(mount, check=True, timeout=10)
    try:
        with RtspServer(shared_dir / "media" / CLIP, start_s=70, duration_s=20, loop=True) as rtsp:
            nvrd = NvrdProcess(write_config(tmp_path, rtsp.url, shared_dir, root=disk, detect=False)).start()
            try:
                nvrd.wait_for(lambda: len(db_rows(tmp_path)) >= 2, timeout=60, what="recordings on the tmpfs")
                subprocess.run(["umount", "-l", str(disk)], check=True, timeout=10)
                state = nvrd.wait_for(
                    lambda: (s := recording_state(nvrd))["cameras"]["door"]["state"] == "paused" and s,
                    timeout=20,
                    what="recording paused",
                )
                # Said by the hot-plug monitor ("... was unmounted") or by the recorder's own probe.
                assert not state["storage_available"] and "mounted" in state["storage_reason"]
                time.sleep(3)
                assert not any(disk.iterdir())  # nothing written onto the bare mount point
                subprocess.run(mount, check=True, timeout=10)  # a fresh, empty disk
                back = time.time()
                nvrd.wait_for(
                    lambda: any(r["start_time"] > back for r in db_rows(tmp_path)),
                    timeout=60,
                    what="recording on the new disk",
                )
                rows = db_rows(tmp_path)
                assert {r["path"] for r in rows} == files_on_disk(disk / "recordings")
            finally:
                assert nvrd.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False, timeout=10)
        shutil.rmtree(disk, ignore_errors=True)
