"""The recordings table through nvrd.store.Store: indexing, ranges, the summary, deletion, event look-ups."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nvrd.store import Store

BASE = 1_700_000_400.0  # 2023-11-14 22:20:00 UTC


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "nvr.db") as db:
        yield db


def _segment(store: Store, camera: str, start: float, duration: float = 10.0, **extra) -> str:
    row_id = extra.get("row_id", f"{start}-{camera}")
    store.insert_recording(
        {
            "id": row_id,
            "camera": camera,
            "path": f"/rec/{camera}/{start}.ts",
            "start_time": start,
            "end_time": start + duration,
            "duration": duration,
            "motion": extra.get("motion", 0),
            "objects": extra.get("objects", 0),
            "dBFS": 0,
            "segment_size": extra.get("size", 1.5),
        }
    )
    return row_id


def _event(store: Store, event_id: str, start: float, end: float | None, **extra) -> None:
    store.upsert_event(
        {"id": event_id, "label": extra.pop("label", "person"), "camera": "door", "start_time": start}
        | {"end_time": end, "has_clip": True}
        | extra
    )


def test_insert_and_find_by_range_and_instant(store: Store) -> None:
    for i in range(6):
        _segment(store, "door", BASE + i * 10)
    _segment(store, "yard", BASE)
    found = store.recordings_overlapping("door", BASE + 15, BASE + 25)
    assert [r["start_time"] for r in found] == [BASE + 10, BASE + 20]
    assert set(found[0]) >= {"id", "path", "duration", "segment_size"}
    api = store.recordings_overlapping("door", BASE, BASE + 5, columns=("id", "start_time", "end_time"))
    assert api == [{"id": f"{BASE}-door", "start_time": BASE, "end_time": BASE + 10}]
    assert store.recording_at("door", BASE + 33)["start_time"] == BASE + 30
    assert store.recording_at("door", BASE + 1000) is None
    assert store.recording_by_path(f"/rec/door/{BASE}.ts")["camera"] == "door"
    with pytest.raises(sqlite3.IntegrityError):
        _segment(store, "door", BASE, row_id="other")  # same path twice
    with pytest.raises(ValueError, match="lacks"):
        store.insert_recording({"id": "x", "camera": "door"})


def test_summary_groups_by_local_hour_with_clip_events(store: Store) -> None:
    _segment(store, "door", BASE, motion=5, objects=1)  # 22:20 UTC
    _segment(store, "door", BASE + 10, motion=7)
    _segment(store, "door", BASE + 3600, motion=1)  # 23:20 UTC
    _event(store, "e1", BASE + 5, BASE + 20)
    _event(store, "e2", BASE + 8, BASE + 9, has_clip=False)
    summary = store.recordings_summary("door", utc_offset=0)
    assert summary == [
        {
            "day": "2023-11-14",
            "events": 1,
            "hours": [
                {"hour": "23", "duration": 10, "motion": 1, "objects": 0, "events": 0},
                {"hour": "22", "duration": 20, "motion": 12, "objects": 1, "events": 1},
            ],
        }
    ]
    # Two hours ahead of UTC the same footage falls on the next day.
    shifted = store.recordings_summary("door", utc_offset=7200)
    assert [(d["day"], [h["hour"] for h in d["hours"]]) for d in shifted] == [("2023-11-15", ["01", "00"])]
    assert store.recordings_summary("nobody", 0) == []


def test_delete_and_walk(store: Store) -> None:
    ids = [_segment(store, "door", BASE + i * 10) for i in range(5)]
    assert store.delete_recordings(ids[:2]) == 2
    assert [r["id"] for r in store.oldest_recordings(None, 10)] == ids[2:]
    first = store.oldest_recordings(None, 1)[0]
    assert store.oldest_recordings((first["start_time"], first["id"]), 10)[0]["id"] == ids[3]
    assert len(list(store.iter_recordings("door", batch=2))) == 3
    assert store.recording_paths_under("/rec/door/") == {f"/rec/door/{BASE + i * 10}.ts" for i in (2, 3, 4)}
    assert store.recording_paths_under("/rec/do/") == set()
    page = store.recordings_page(0, 2)
    assert [row[1] for row in page] == ids[2:4]
    assert store.recording_cameras() == ["door"]
    assert store.recordings_usage()["door"] == {"usage": 4.5, "bandwidth": 540.0}


def test_clip_events_and_their_expiry(store: Store) -> None:
    _event(store, "old-car", BASE - 86400 * 5, BASE - 86400 * 5 + 30, label="car")
    _event(store, "old-person", BASE - 86400 * 5, BASE - 86400 * 5 + 30)
    _event(store, "kept", BASE - 86400 * 5, BASE - 86400 * 5 + 30, retain_indefinitely=True)
    _event(store, "live", BASE, None)
    assert store.clip_events_overlapping("door", BASE + 100, BASE + 110) == [(BASE, None)]
    assert store.clip_events_overlapping("door", BASE - 10, BASE - 5) == []
    old = BASE - 86400 * 5 + 10
    assert len(store.clip_events_overlapping("door", old, old + 1)) == 3
    assert len(store.clip_events_overlapping("door", old, old + 1, retained_only=True)) == 1
    # Cars are kept 2 days, the rest 10: only the car's clip expires at 5 days.
    assert store.expire_event_clips("door", BASE - 86400 * 2, label="car") == 1
    assert store.expire_event_clips("door", BASE - 86400 * 10, except_labels=["car"]) == 0
    assert store.expire_event_clips("door", BASE, except_labels=["car"]) == 1  # old-person; kept is retained
    assert not store.get_event("old-car")["has_clip"]
    assert store.get_event("kept")["has_clip"]
    assert store.get_event("live")["has_clip"]


def test_events_without_footage_lose_has_clip(store: Store) -> None:
    _segment(store, "door", BASE)
    _event(store, "covered", BASE + 2, BASE + 8)
    _event(store, "bare", BASE + 500, BASE + 510)
    _event(store, "recent", BASE + 900, BASE + 910)
    cleared = store.clear_clips_without_footage(0, BASE + 600)
    assert cleared == ["bare"]
    assert store.get_event("covered")["has_clip"]
    assert store.get_event("recent")["has_clip"]  # ended after the window: judged later
