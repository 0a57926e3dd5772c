"""The recording ffmpeg under the segmenter: a test source recorded, paused, resumed; a bad input retried."""

from __future__ import annotations

import time
from pathlib import Path

from nvrd.config.sections import DEFAULT_GLOBAL_ARGS
from nvrd.record.cache import SegmentCache
from nvrd.record.command import record_command
from nvrd.record.segmenter import Segmenter


def _segmenter(cache: Path, path: str) -> Segmenter:
    def command(run: int) -> list[str]:
        return record_command(
            path, camera="test", run=run, cache_dir=cache, segment_time=1, global_args=DEFAULT_GLOBAL_ARGS
        )

    return Segmenter("test", command, cache, segment_time=1)


def _wait(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_records_pauses_with_a_closed_segment_and_resumes_with_a_new_run(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path)
    segmenter = _segmenter(tmp_path, "lavfi:testsrc=size=320x240:rate=5")
    segmenter.start()
    try:
        first_run = _wait(lambda: segmenter.state == "recording" and segmenter.active_run)
        _wait(lambda: len(cache.finished({"test": first_run}).get("test", [])) >= 2)
        pid = segmenter.pid
        segmenter.pause("disk gone")
        _wait(lambda: segmenter.state == "paused")
        assert segmenter.pid is None and segmenter.active_run is None
        assert not Path(f"/proc/{pid}").exists()
        # Asked to stop, ffmpeg closed its last segment properly: every file is listed with its length.
        finished = cache.finished({"test": None})["test"]
        assert all(segment.duration is not None and segment.duration > 0 for segment in finished)
        assert len(finished) == len(list(tmp_path.glob("test@*.ts")))
        assert segmenter.paused_reason == "disk gone"

        segmenter.resume()
        second_run = _wait(lambda: segmenter.state == "recording" and segmenter.active_run)
        assert second_run != first_run
    finally:
        segmenter.stop()
    assert segmenter.state == "stopped" and segmenter.pid is None


def test_a_bad_input_is_retried_with_its_reason(tmp_path: Path) -> None:
    segmenter = _segmenter(tmp_path, str(tmp_path / "missing.mp4"))
    segmenter.start()
    try:
        _wait(lambda: segmenter.state == "backoff")
        assert "exited with status" in segmenter.last_error
        assert "missing.mp4" in segmenter.last_error
    finally:
        began = time.monotonic()
        segmenter.stop()
    assert time.monotonic() - began < 3
