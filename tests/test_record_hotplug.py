"""The recorder as the hot-plug monitor drives it: a disk reported gone pauses recording at once, and
one reported mounted again is taken back into use without waiting for the next probe."""

from __future__ import annotations

import time
from pathlib import Path

from nvrd.config.loader import config_from_text
from nvrd.hotplug.storage import recording_storage
from nvrd.record import Recorder
from nvrd.store import Store


def _wait(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_detached_pauses_at_once_and_attached_resumes(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    config = config_from_text(
        f"""
mqtt: {{enabled: false}}
database: {{path: {tmp_path}/nvr.db}}
storage: {{root: {tmp_path}/media, cache: {tmp_path}/cache}}
record: {{enabled: true, segment_time: 2, retain: {{days: 1}}}}
cameras:
  door:
    ffmpeg: {{inputs: [{{path: "lavfi:testsrc=size=320x240:rate=5", roles: [detect, record]}}]}}
    detect: {{width: 320, height: 240}}
""",
        base_dir=tmp_path,
    )
    store = Store(tmp_path / "nvr.db")
    recorder = Recorder(config, store)
    assert recording_storage(recorder) is recorder  # the monitor talks to the recorder itself
    recorder.start()
    try:
        segmenter = recorder.segmenters["door"]
        _wait(lambda: segmenter.state == "recording")
        recorder.storage_detached("sda1 was removed")
        assert recorder.status()["storage_available"] is False
        assert segmenter.paused_reason == "recordings storage unavailable: sda1 was removed"
        _wait(lambda: segmenter.state == "paused")
        # The disk was only reported gone; it is still there, so the next probe finds it usable.
        began = time.monotonic()
        recorder.storage_attached()
        _wait(lambda: recorder.status()["storage_available"] and segmenter.state == "recording")
        assert time.monotonic() - began < 5
        _wait(lambda: store.recordings_overlapping("door", 0, 4e9), timeout=20)
    finally:
        recorder.stop()
        store.close()
    assert segmenter.pid is None
