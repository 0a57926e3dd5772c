"""Cache to disk, retention, reconciliation and the full-disk guard, on real segments and real SQLite.

Segments are cut from the shared person clip by ffmpeg in the form the recording ffmpeg leaves them
(see tests/support/record_media.py); the clock is ours, so "two days later" takes no time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nvrd.record.activity import ActivityLog
from nvrd.record.cache import SegmentCache
from nvrd.record.cleanup import MIB, SpaceKeeper, expire_event_clips, expire_recordings
from nvrd.record.indexer import SegmentIndexer
from nvrd.record.layout import segment_path
from nvrd.record.reconcile import reconcile
from nvrd.record.retention import DAY_S, CameraRetention
from nvrd.store import Store
from tests.support.record_media import cache_segments, ffprobe_duration

T0 = 1_700_000_000.0  # when the first segment began
CONTINUOUS = CameraRetention(days=1, mode="all", events_mode="motion", events_days=10, pre_capture=5)


class Rig:
    """A store, a cache with real segments, a recordings folder and an indexer over them."""

    def __init__(
        self, root: Path, recordings: Path | None = None, rules: CameraRetention = CONTINUOUS
    ) -> None:
        self.store = Store(root / "nvr.db")
        self.cache = SegmentCache(root / "cache")
        self.recordings = recordings or root / "recordings"
        self.recordings.mkdir(parents=True, exist_ok=True)
        self.activity = ActivityLog(horizon_s=10_000)
        self.now = T0 + 60
        self.rules = rules
        self.space = SpaceKeeper(self.store, self.recordings, MIB, self._usage)
        self.indexer = SegmentIndexer(
            self.store,
            self.cache,
            self.recordings,
            self.activity,
            self.space,
            lambda camera: self.rules if camera == "door" else None,
            lambda: self.now,
        )

    def _usage(self) -> tuple[int, int]:
        usage = shutil.disk_usage(self.recordings)
        return usage.total, usage.free

    def rows(self) -> list[dict]:
        return self.store.recordings_overlapping("door", 0, 4e9)

    def files(self) -> set[str]:
        return {str(p) for p in self.recordings.rglob("*.ts")}


@pytest.fixture
def rig(tmp_path: Path):
    rig = Rig(tmp_path)
    yield rig
    rig.store.close()


def test_listed_segments_are_moved_indexed_and_joined(rig: Rig, shared_dir: Path) -> None:
    made = cache_segments(shared_dir, rig.cache.folder, duration_s=10, closed_from=T0)
    result = rig.indexer.run_once({"door": None}, True)
    assert result.kept == len(made) >= 5
    rows = rig.rows()
    assert [Path(r["path"]) for r in rows] == [
        segment_path(rig.recordings, "door", r["start_time"], duplicate=int("-" in Path(r["path"]).stem))
        for r in rows
    ]
    assert rig.files() == {r["path"] for r in rows}
    assert abs(rows[0]["start_time"] - T0) < 0.01
    for row, following in itertools.pairwise(rows):
        assert following["start_time"] == row["end_time"]  # one continuous timeline
    for row, (_path, duration) in zip(rows, made, strict=True):
        assert row["duration"] == pytest.approx(duration)
        assert abs(ffprobe_duration(Path(row["path"])) - row["duration"]) < 1.0
        assert row["id"].startswith(repr(round(row["start_time"], 6)))
    assert not list(rig.cache.folder.glob("*.ts"))
    rig.indexer.run_once({"door": None}, True)
    assert not list(rig.cache.folder.iterdir())  # the run's list goes once its segments have


def test_the_file_being_written_waits_and_a_cut_short_one_is_recovered(rig: Rig, shared_dir: Path) -> None:
    made = cache_segments(shared_dir, rig.cache.folder, duration_s=6, closed_from=T0)
    # A segment the list does not name: being written while its run lives, cut short once it died.
    unlisted = rig.cache.folder / "door@1-000099.ts"
    shutil.copy(made[-1][0], unlisted)
    os.utime(unlisted, (T0 + 20, T0 + 20))
    garbage = rig.cache.folder / "door@0-000000.ts"  # an older run's file that holds nothing
    garbage.write_bytes(b"\0" * 1000)
    assert rig.indexer.run_once({"door": 1}, True).kept == len(made)
    assert unlisted.exists()
    result = rig.indexer.run_once({"door": None}, True)
    assert result.kept == 1  # recovered by probing
    assert not unlisted.exists() and not garbage.exists()
    assert len(rig.rows()) == len(made) + 1


def test_events_only_footage_keeps_event_segments_and_drops_the_rest(
    tmp_path: Path, shared_dir: Path
) -> None:
    rig = Rig(tmp_path, rules=CameraRetention(days=0, events_mode="all", pre_capture=5))
    made = cache_segments(shared_dir, rig.cache.folder, duration_s=20, closed_from=T0)
    rig.store.upsert_event(
        {
            "id": "e",
            "label": "person",
            "camera": "door",
            "start_time": T0 + 5.5,
            "end_time": T0 + 9,
            "has_clip": True,
        }
    )
    rig.now = T0 + 21
    rig.activity.frame_processed("door", T0 + 21, 0, 0)  # frames seen just past the footage
    first = rig.indexer.run_once({"door": None}, True)
    assert first.waiting == 1 and first.kept == 0  # the first segment may still meet a late event
    rig.activity.frame_processed("door", T0 + 60, 0, 0)
    rig.now = T0 + 60
    second = rig.indexer.run_once({"door": None}, True)
    kept = rig.rows()
    assert second.kept == len(kept) == 3  # the three segments from 4.1 s to 10.1 s overlap the event
    assert all(r["start_time"] <= T0 + 9 and r["end_time"] >= T0 + 5.5 for r in kept)
    assert second.dropped == len(made) - 3
    assert not list(rig.cache.folder.glob("*.ts"))


def test_expiry_with_our_clock(rig: Rig, shared_dir: Path) -> None:
    made = cache_segments(shared_dir, rig.cache.folder, duration_s=20, closed_from=T0)
    # Motion only in the first half of the footage.
    for i in range(200):
        rig.activity.frame_processed("door", T0 + i * 0.1, 500 if i < 100 else 0, 0)
    rig.indexer.run_once({"door": None}, True)
    assert len(rig.rows()) == len(made)
    store = rig.store
    ev = {"label": "person", "camera": "door", "has_clip": True}
    store.upsert_event({"id": "a", "start_time": T0 + 3, "end_time": T0 + 13, **ev})  # 2 segments with motion
    store.upsert_event({"id": "b", "start_time": T0 + 15, "end_time": T0 + 17, **ev})  # motionless
    store.upsert_event(
        {"id": "c", "start_time": T0 + 18.5, "end_time": T0 + 19, "retain_indefinitely": True, **ev}
    )

    # A day and a half later: out of the continuous window; event a keeps its moving footage.
    deleted = expire_recordings(store, rig.recordings, {"door": CONTINUOUS}, CONTINUOUS, T0 + 1.5 * DAY_S)
    left = [(r["start_time"] - T0, r["motion"]) for r in rig.rows()]
    assert [start for start, _m in left] == pytest.approx([2.1, 4.1, 6.1, 8.1])  # the rest had no motion
    assert all(motion > 0 for _s, motion in left)
    assert deleted == len(made) - 4
    assert rig.files() == {r["path"] for r in rig.rows()}

    # Eleven days later event a's clip has expired; c, kept indefinitely, still claims its own.
    later = T0 + 11 * DAY_S
    assert expire_event_clips(store, {"door": CONTINUOUS}, CONTINUOUS, later) == 2
    expire_recordings(store, rig.recordings, {"door": CONTINUOUS}, CONTINUOUS, later)
    assert rig.rows() == []
    assert store.get_event("c")["has_clip"]
    assert not any(rig.recordings.iterdir())  # empty day/hour/camera folders are removed too


def test_reconcile_makes_rows_and_files_agree(rig: Rig, shared_dir: Path) -> None:
    cache_segments(shared_dir, rig.cache.folder, duration_s=8, closed_from=T0)
    rig.indexer.run_once({"door": None}, True)
    rows = rig.rows()
    Path(rows[0]["path"]).unlink()  # a row without its file
    rig.store.delete_recordings([rows[1]["id"]])  # a file without its row
    orphan = Path(rows[1]["path"])
    extra = segment_path(rig.recordings, "yard", T0 + 3600)  # a camera's file nobody indexed
    extra.parent.mkdir(parents=True)
    shutil.copy(rows[2]["path"], extra)
    partial = extra.with_name("00.10.ts.partial")
    partial.write_bytes(b"half")
    broken = extra.with_name("00.20.ts")
    broken.write_bytes(b"not video")
    foreign = extra.with_name("notes.txt")
    foreign.write_text("mine")

    report = reconcile(rig.store, rig.recordings)
    assert (report.rows_removed, report.files_indexed, report.files_removed) == (1, 2, 2)
    indexed = {r["path"] for r in rig.store.recordings_overlapping("door", 0, 4e9)}
    indexed |= {r["path"] for r in rig.store.recordings_overlapping("yard", 0, 4e9)}
    assert indexed == rig.files()
    assert str(orphan) in indexed and str(extra) in indexed
    back = rig.store.recording_by_path(str(extra))
    assert back["start_time"] == T0 + 3600 - (T0 + 3600) % 1 and back["motion"] is None
    assert foreign.exists() and not partial.exists() and not broken.exists()


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True, timeout=10
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, timeout=10)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_filling_disk_loses_its_oldest_unretained_recordings_before_writes_fail(
    tmp_path: Path, shared_dir: Path
) -> None:
    with tmpfs(tmp_path / "disk", "3m") as disk:
        rig = Rig(tmp_path, recordings=disk / "recordings")
        try:
            cache_segments(shared_dir, rig.cache.folder, run=1, duration_s=20, closed_from=T0)
            rig.indexer.run_once({"door": None}, True)
            first = rig.rows()
            ev = {"label": "person", "camera": "door", "has_clip": True, "retain_indefinitely": True}
            rig.store.upsert_event({"id": "keep", "start_time": T0 + 0.5, "end_time": T0 + 1, **ev})
            # Fill the disk until just above the 1 MiB threshold, then record 20 s more.
            free = shutil.disk_usage(disk).free
            (disk / "filler").write_bytes(b"\0" * (free - MIB - 150 * 1024))
            second = cache_segments(
                shared_dir, rig.cache.folder, run=2, start_s=90, duration_s=20, closed_from=T0 + 30
            )
            rig.now = T0 + 90
            result = rig.indexer.run_once({"door": None}, True)
        finally:
            rig.store.close()
            rig.store = Store(tmp_path / "nvr.db")
        assert result.kept == len(second) and result.waiting == 0  # every new segment found room
        assert shutil.disk_usage(disk).free >= MIB
        rows = rig.rows()
        gone = [r for r in first if r["id"] not in {row["id"] for row in rows}]
        assert gone and gone == first[1 : 1 + len(gone)]  # the oldest went, but not the retained one
        assert rows[0]["id"] == first[0]["id"]
        assert rig.files() == {r["path"] for r in rows}
        rig.store.close()
