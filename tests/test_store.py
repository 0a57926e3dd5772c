"""The SQLite store against real database files in a temp directory."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nvrd.store import EventQuery, Store, StoreError
from nvrd.store import store as store_module
from nvrd.store.event_query import LIST_COLUMNS
from nvrd.store.schema import EVENT_COLUMNS, SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[1]
BASE = 1_700_000_000.0


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "nvrd.db")
    yield s
    s.close()


def event(event_id: str, **fields) -> dict:
    row = {
        "id": event_id,
        "label": "person",
        "camera": "front",
        "start_time": BASE,
        "end_time": BASE + 10,
        "zones": [],
        "thumbnail": "/9j/AAAA",
        "has_clip": True,
        "has_snapshot": True,
        "false_positive": False,
        "retain_indefinitely": False,
        "data": {"type": "object", "score": 0.8, "top_score": 0.9, "box": [0.1, 0.2, 0.3, 0.4]},
    }
    row.update(fields)
    return row


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


# --- opening, schema, durability ---------------------------------------------------------------


def test_open_creates_schema_in_wal_mode(tmp_path: Path):
    path = tmp_path / "sub" / "nvrd.db"
    with Store(path) as s:
        s.upsert_event(event("e1"))
        assert s.schema_version == SCHEMA_VERSION
        assert (tmp_path / "sub" / "nvrd.db-wal").exists()
        conn = sqlite3.connect(path)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
    assert {"event", "timeline", "recordings"} <= tables
    assert {
        "event_start_time",
        "event_camera_start_time",
        "event_label_start_time",
        "event_in_progress",
        "timeline_source_id",
        "timeline_timestamp",
        "recordings_camera_start_time",
        "recordings_path",
    } <= indexes


def test_connection_settings(store: Store):
    db = store._db()
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: a power cut loses no commit
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 10000


SCHEMA_SQL = "SELECT type, name, sql FROM sqlite_master ORDER BY name"


def test_normal_synchronous_mode_can_be_chosen(tmp_path: Path):
    with Store(tmp_path / "nvrd.db", synchronous="normal") as s:
        assert s._db().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with pytest.raises(ValueError, match="synchronous"):
        Store(tmp_path / "other.db", synchronous="OFF")


def test_reopen_is_idempotent_and_keeps_data(tmp_path: Path):
    path = tmp_path / "nvrd.db"
    with Store(path) as s:
        s.upsert_event(event("e1"))
        schema = s._db().execute(SCHEMA_SQL).fetchall()
    for _ in range(2):
        with Store(path) as s:
            assert s.schema_version == SCHEMA_VERSION
            assert s._db().execute(SCHEMA_SQL).fetchall() == schema
            assert s.get_event("e1")["label"] == "person"


def test_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "nvrd.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this nvrd"):
        Store(path)


def test_failed_migration_leaves_the_database_unchanged(tmp_path: Path, monkeypatch):
    path = tmp_path / "nvrd.db"
    Store(path).close()

    def broken(db):
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, broken))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="migration bug"):
        Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    conn.close()


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path):
    path = tmp_path / "nvrd.db"
    path.write_bytes(b"this is not an sqlite file" * 200)
    with pytest.raises(StoreError, match="cannot open database"):
        Store(path)


def test_closed_store_refuses_use(tmp_path: Path):
    s = Store(tmp_path / "nvrd.db")
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.get_event("x")


def test_committed_rows_survive_a_killed_process(tmp_path: Path):
    path = tmp_path / "nvrd.db"
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from nvrd.store import Store\n"
        "s = Store(Path(sys.argv[1]))\n"
        "s.upsert_event({'id': 'crash-1', 'label': 'car', 'camera': 'c', 'start_time': 5.0})\n"
        "s.insert_timeline({'timestamp': 5.0, 'camera': 'c', 'source': 'tracked_object',"
        " 'source_id': 'crash-1', 'class_type': 'visible', 'data': {}})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], cwd=REPO, timeout=60)
    assert result.returncode == -9
    with Store(path) as s:
        assert s.get_event("crash-1")["label"] == "car"
        assert ids_of_timeline(s.query_timeline(source_id="crash-1")) == ["crash-1"]
        assert s.end_open_events() == 1
        assert s.get_event("crash-1")["end_time"] == 35.0


def ids_of_timeline(rows: list[dict]) -> list[str]:
    return [r["source_id"] for r in rows]


# --- single events -----------------------------------------------------------------------------


def test_get_event_decodes_every_column(store: Store):
    store.upsert_event(
        event(
            "e1",
            zones=["yard", "porch"],
            region=[1, 2, 3, 4],
            sub_label="fedex",
            model_hash="abc",
            model_type="ssd",
            detector_type="cpu",
            plus_id="plus-1",
        )
    )
    got = store.get_event("e1")
    assert list(got) == list(EVENT_COLUMNS)
    assert got["zones"] == ["yard", "porch"]
    assert got["region"] == [1, 2, 3, 4]
    assert got["data"] == {"type": "object", "score": 0.8, "top_score": 0.9, "box": [0.1, 0.2, 0.3, 0.4]}
    for column in ("has_clip", "has_snapshot"):
        assert got[column] is True
    for column in ("false_positive", "retain_indefinitely"):
        assert got[column] is False
    assert got["ratio"] == 1.0  # the column default
    assert got["top_score"] is None and got["box"] is None and got["area"] is None
    assert (got["sub_label"], got["model_hash"], got["plus_id"]) == ("fedex", "abc", "plus-1")
    assert store.get_event("missing") is None


def test_minimal_row_gets_column_defaults(store: Store):
    store.upsert_event({"id": "m", "label": "car", "camera": "c", "start_time": 1.0})
    got = store.get_event("m")
    assert got["zones"] == [] and got["data"] == {}
    assert got["has_clip"] is False and got["false_positive"] is False and got["end_time"] is None


def test_upsert_updates_but_keeps_user_owned_columns(store: Store):
    store.upsert_event(event("e1", end_time=None, sub_label=None))
    store.set_event_fields("e1", retain_indefinitely=True, plus_id="p9", sub_label="bob")
    store.upsert_event(
        event("e1", end_time=BASE + 42, zones=["yard"], sub_label=None, retain_indefinitely=False)
    )
    got = store.get_event("e1")
    assert got["end_time"] == BASE + 42 and got["zones"] == ["yard"]
    assert got["retain_indefinitely"] is True and got["plus_id"] == "p9"
    assert got["sub_label"] == "bob"
    store.upsert_event(event("e1", sub_label="fedex"))
    assert store.get_event("e1")["sub_label"] == "fedex"


def test_upsert_rejects_bad_rows(store: Store):
    with pytest.raises(ValueError, match="unknown event column"):
        store.upsert_event(event("e1", colour="red"))
    with pytest.raises(ValueError, match="lacks"):
        store.upsert_event({"id": "e2", "label": "car"})
    with pytest.raises(ValueError, match="base64 text"):
        store.upsert_event(event("e3", thumbnail=b"\xff\xd8"))


def test_set_and_delete_event(store: Store):
    store.upsert_event(event("e1"))
    assert store.set_event_fields("e1", false_positive=True, sub_label="x") is True
    got = store.get_event("e1")
    assert got["false_positive"] is True and got["sub_label"] == "x"
    assert store.set_event_fields("nope", sub_label="x") is False
    with pytest.raises(ValueError, match="unknown event column"):
        store.set_event_fields("e1", **{"label = 'x'; --": 1})
    with pytest.raises(ValueError, match="cannot be changed"):
        store.set_event_fields("e1", id="other")
    assert store.delete_event("e1") is True
    assert store.delete_event("e1") is False
    assert store.get_event("e1") is None


def test_end_open_events(store: Store):
    store.upsert_event(event("open1", start_time=100.0, end_time=None))
    store.upsert_event(event("open2", start_time=200.0, end_time=None))
    store.upsert_event(event("done", start_time=300.0, end_time=310.0))
    assert store.end_open_events() == 2
    assert store.get_event("open1")["end_time"] == 130.0
    assert store.get_event("open2")["end_time"] == 230.0
    assert store.get_event("done")["end_time"] == 310.0
    store.upsert_event(event("open3", start_time=400.0, end_time=None))
    assert store.end_open_events(lambda _start: 999.0) == 1
    assert store.get_event("open3")["end_time"] == 999.0
    assert store.end_open_events() == 0


# --- /api/events filters -------------------------------------------------------------------------

DATASET = [
    event(
        "e1",
        camera="front",
        label="person",
        start_time=BASE,
        end_time=BASE + 10,
        zones=["yard"],
        has_clip=True,
        has_snapshot=True,
        data={"score": 0.9},
    ),
    event(
        "e2",
        camera="front",
        label="car",
        start_time=BASE + 100,
        end_time=BASE + 160,
        zones=["driveway", "yard"],
        sub_label="fedex",
        has_clip=True,
        has_snapshot=False,
        retain_indefinitely=True,
        plus_id="p1",
        data={"score": 0.6},
    ),
    event(
        "e3",
        camera="back",
        label="person",
        start_time=BASE + 200,
        end_time=None,
        zones=[],
        sub_label="bob, alice",
        has_clip=False,
        has_snapshot=True,
        data={"score": 0.75},
    ),
    event(
        "e4",
        camera="back",
        label="dog",
        start_time=BASE + 300,
        end_time=BASE + 305,
        zones=["porch"],
        sub_label="alice",
        has_clip=False,
        has_snapshot=False,
        plus_id="",
        data={"score": 0.5},
    ),
    event(
        "e5",
        camera="side",
        label="person",
        start_time=BASE + 400,
        end_time=BASE + 430,
        zones=["yard"],
        has_clip=True,
        has_snapshot=True,
        retain_indefinitely=True,
        data={"score": 0.95},
    ),
]


@pytest.fixture
def filled(store: Store) -> Store:
    for row in DATASET:
        store.upsert_event(row)
    # retain/plus are insert-only for upserts, and these rows are new: check they landed.
    assert store.get_event("e2")["retain_indefinitely"] is True
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["e5", "e4", "e3", "e2", "e1"]),
        ({"cameras": ["front"]}, ["e2", "e1"]),
        ({"cameras": ["front", "side"]}, ["e5", "e2", "e1"]),
        ({"camera": "back"}, ["e4", "e3"]),
        ({"cameras": ["all"], "camera": "side"}, ["e5"]),
        ({"cameras": ["front"], "camera": "side"}, ["e2", "e1"]),
        ({"labels": ["person"]}, ["e5", "e3", "e1"]),
        ({"label": "dog"}, ["e4"]),
        ({"labels": ["car", "dog"]}, ["e4", "e2"]),
        ({"sub_labels": ["None"]}, ["e5", "e1"]),
        ({"sub_labels": ["alice"]}, ["e4", "e3"]),
        ({"sub_label": "bob"}, ["e3"]),
        ({"sub_labels": ["fedex", "None"]}, ["e5", "e2", "e1"]),
        ({"zones": ["yard"]}, ["e5", "e2", "e1"]),
        ({"zone": "porch"}, ["e4"]),
        ({"zones": ["None"]}, ["e3"]),
        ({"zones": ["driveway", "porch"]}, ["e4", "e2"]),
        ({"zones": ["yar"]}, []),
        ({"after": BASE + 100}, ["e5", "e4", "e3"]),
        ({"before": BASE + 300}, ["e3", "e2", "e1"]),
        ({"after": 0, "before": 0}, ["e5", "e4", "e3", "e2", "e1"]),
        ({"after": BASE + 50, "before": BASE + 350}, ["e4", "e3", "e2"]),
        ({"has_clip": 1}, ["e5", "e2", "e1"]),
        ({"has_clip": 0}, ["e4", "e3"]),
        ({"has_snapshot": 1}, ["e5", "e3", "e1"]),
        ({"has_snapshot": 0}, ["e4", "e2"]),
        ({"in_progress": 1}, ["e3"]),
        ({"in_progress": 0}, ["e5", "e4", "e2", "e1"]),
        ({"favorites": True}, ["e5", "e2"]),
        ({"min_score": 0.75}, ["e5", "e3", "e1"]),
        ({"max_score": 0.6}, ["e4", "e2"]),
        ({"min_score": 0.6, "max_score": 0.9}, ["e3", "e2", "e1"]),
        ({"is_submitted": 0}, ["e5", "e3", "e1"]),
        ({"is_submitted": 1}, ["e2"]),
        ({"min_length": 30}, ["e5", "e2"]),
        ({"max_length": 10}, ["e4", "e1"]),
        ({"min_length": 6, "max_length": 59}, ["e5", "e1"]),
        ({"cameras": ["front", "back"], "labels": ["person"], "has_snapshot": 1}, ["e3", "e1"]),
        ({"zones": ["yard"], "min_score": 0.9, "favorites": True}, ["e5"]),
        ({"label": "person", "in_progress": 0, "sub_labels": ["None"], "after": BASE}, ["e5"]),
        ({"limit": 2}, ["e5", "e4"]),
        ({"limit": 0}, []),
    ],
)
def test_event_filters(filled: Store, filters: dict, expected: list[str]):
    assert ids(filled.query_events(EventQuery(**filters))) == expected


def test_list_elements_have_exactly_the_013_keys(filled: Store):
    with_thumbs = filled.query_events(EventQuery())
    without = filled.query_events(EventQuery(include_thumbnails=False))
    assert all(list(e) == [*LIST_COLUMNS, "thumbnail"] for e in with_thumbs)
    assert all(list(e) == list(LIST_COLUMNS) for e in without)
    e2 = next(e for e in without if e["id"] == "e2")
    assert e2["zones"] == ["driveway", "yard"] and e2["data"] == {"score": 0.6}
    assert e2["retain_indefinitely"] is True and e2["has_snapshot"] is False and e2["end_time"] == BASE + 160
    assert with_thumbs[0]["thumbnail"] == "/9j/AAAA"


def test_limit_minus_one_returns_everything(store: Store):
    for i in range(250):
        store.upsert_event(event(f"ev{i:03d}", start_time=BASE + i))
    assert len(store.query_events(EventQuery())) == 100
    everything = store.query_events(EventQuery(limit=-1, include_thumbnails=False))
    assert len(everything) == 250
    starts = [e["start_time"] for e in everything]
    assert starts == sorted(starts, reverse=True)


def _at_local(day_midnight_utc: float, offset: int, hhmm: str) -> float:
    hours, minutes = map(int, hhmm.split(":"))
    return day_midnight_utc - offset + hours * 3600 + minutes * 60 + 17.25


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/New_York", "australia/adelaide"])
def test_time_range_overnight_in_a_local_zone(store: Store, zone: str):
    offset = int(
        datetime.now(UTC)
        .astimezone(ZoneInfo(zone.title() if zone.islower() else zone))
        .utcoffset()
        .total_seconds()
    )
    midnight = 1_704_844_800.0  # 2024-01-10 00:00 UTC
    times = ["01:00", "05:59", "06:00", "12:00", "19:30", "20:00", "20:01", "23:59"]
    for hhmm in times:
        store.upsert_event(event(hhmm, start_time=_at_local(midnight, offset, hhmm)))
    overnight = store.query_events(EventQuery(time_range="20:00,06:00", timezone=zone))
    assert sorted(ids(overnight)) == ["01:00", "05:59", "20:01", "23:59"]
    daytime = store.query_events(EventQuery(time_range="06:00,20:00", timezone=zone))
    assert sorted(ids(daytime)) == ["12:00", "19:30"]
    whole_day = store.query_events(EventQuery(time_range="00:00,24:00", timezone=zone))
    assert len(whole_day) == len(times)


def test_time_range_depends_on_the_zone(store: Store):
    midnight = 1_704_844_800.0
    store.upsert_event(event("late", start_time=midnight + 21 * 3600))  # 21:00 UTC = 02:30 in Kolkata
    assert ids(store.query_events(EventQuery(time_range="20:00,22:00"))) == ["late"]
    assert ids(store.query_events(EventQuery(time_range="20:00,22:00", timezone="Asia/Kolkata"))) == []
    assert ids(store.query_events(EventQuery(time_range="02:00,03:00", timezone="Asia/Kolkata"))) == ["late"]


def test_bad_time_range_and_timezone_are_clear_errors(store: Store):
    with pytest.raises(ValueError, match="time_range"):
        store.query_events(EventQuery(time_range="8pm-6am"))
    with pytest.raises(ValueError, match="unknown timezone"):
        store.query_events(EventQuery(time_range="20:00,06:00", timezone="Mars/Olympus"))
    with pytest.raises(ValueError, match="limit"):
        store.query_events(EventQuery(limit=-5))


def test_query_from_url_parameters(filled: Store):
    query = EventQuery.from_params(
        {
            "camera": "back",
            "labels": "person,dog",
            "zones": "None,porch",
            "after": "1.5",
            "limit": "-1",
            "include_thumbnails": "0",
            "in_progress": "1",
            "sub_labels": "all",
        }
    )
    assert query.camera == "back" and query.labels == ["person", "dog"] and query.zones == ["None", "porch"]
    assert query.after == 1.5 and query.limit == -1 and query.include_thumbnails is False
    assert query.sub_labels is None
    assert ids(filled.query_events(query)) == ["e3"]
    assert "thumbnail" not in filled.query_events(query)[0]
    defaults = EventQuery.from_params({})
    assert defaults == EventQuery()
    assert ids(filled.query_events(EventQuery.from_params({"favorites": "1", "min_score": "0.9"}))) == ["e5"]
    with pytest.raises(ValueError, match="after must be a number"):
        EventQuery.from_params({"after": "yesterday"})
    with pytest.raises(ValueError, match="limit must be an integer"):
        EventQuery.from_params({"limit": "many"})
    with pytest.raises(ValueError, match="unknown timezone"):
        EventQuery.from_params({"timezone": "Nowhere/Land"})


@pytest.mark.parametrize(
    "hostile",
    [
        "front' OR '1'='1",
        'x"); DROP TABLE event; --',
        "%",
        "_",
        "*",
        'yard" OR 1=1 --',
        "'; DELETE FROM event; SELECT '",
    ],
)
def test_injection_looking_values_are_plain_data(filled: Store, hostile: str):
    for query in (
        EventQuery(cameras=[hostile]),
        EventQuery(camera=hostile),
        EventQuery(labels=[hostile]),
        EventQuery(sub_labels=[hostile]),
        EventQuery(zones=[hostile]),
    ):
        assert filled.query_events(query) == []
    assert filled.get_event(hostile) is None
    assert filled.delete_event(hostile) is False
    assert filled.query_timeline(camera=hostile, source_id=hostile) == []
    # Stored as data, it comes back verbatim and is found by exact match only.
    filled.upsert_event(event(hostile, camera=hostile, zones=[hostile], sub_label=hostile, start_time=1.0))
    assert ids(filled.query_events(EventQuery(cameras=[hostile], zones=[hostile], sub_labels=[hostile]))) == [
        hostile
    ]
    assert filled.get_event(hostile)["zones"] == [hostile]
    assert len(filled.query_events(EventQuery(limit=-1))) == len(DATASET) + 1


def test_unicode_zone_names(store: Store):
    store.upsert_event(event("u1", zones=["Einfahrt-Süd", "前门"]))
    assert ids(store.query_events(EventQuery(zones=["前门"]))) == ["u1"]
    assert ids(store.query_events(EventQuery(zones=["Einfahrt-Süd"]))) == ["u1"]
    assert store.get_event("u1")["zones"] == ["Einfahrt-Süd", "前门"]


# --- summary -------------------------------------------------------------------------------------


def test_events_summary_groups_by_local_day(store: Store):
    midnight = 1_704_844_800.0  # 2024-01-10 00:00 UTC
    store.upsert_event(event("a", start_time=midnight + 3600, zones=["yard"]))
    store.upsert_event(event("b", start_time=midnight + 7200, zones=["yard"]))
    store.upsert_event(event("c", start_time=midnight + 7300, zones=["yard"], has_clip=False))
    store.upsert_event(event("d", start_time=midnight + 23 * 3600, sub_label="fedex"))
    store.upsert_event(event("e", start_time=midnight + 60, camera="back", label="car"))

    def as_set(rows):
        keys = ("camera", "label", "sub_label", "day")
        return {(*(r[k] for k in keys), tuple(r["zones"]), r["count"]) for r in rows}

    assert as_set(store.events_summary()) == {
        ("front", "person", None, "2024-01-10", ("yard",), 3),
        ("front", "person", "fedex", "2024-01-10", (), 1),
        ("back", "car", None, "2024-01-10", (), 1),
    }
    assert as_set(store.events_summary(has_clip=1)) == {
        ("front", "person", None, "2024-01-10", ("yard",), 2),
        ("front", "person", "fedex", "2024-01-10", (), 1),
        ("back", "car", None, "2024-01-10", (), 1),
    }
    # +05:30: 23:00 UTC is the next local day; 00:01 UTC stays on the 10th.
    assert as_set(store.events_summary(timezone="Asia/Kolkata")) == {
        ("front", "person", None, "2024-01-10", ("yard",), 3),
        ("front", "person", "fedex", "2024-01-11", (), 1),
        ("back", "car", None, "2024-01-10", (), 1),
    }
    assert store.events_summary(has_snapshot=0) == []
    assert set(store.events_summary()[0]) == {"camera", "label", "sub_label", "day", "zones", "count"}


# --- timeline ------------------------------------------------------------------------------------


def timeline_row(source_id: str, timestamp: float, class_type: str, camera: str = "front") -> dict:
    return {
        "timestamp": timestamp,
        "camera": camera,
        "source": "tracked_object",
        "source_id": source_id,
        "class_type": class_type,
        "data": {"box": [0.1, 0.2, 0.3, 0.4], "region": [0, 0, 0.5, 0.5], "label": "person", "attribute": ""},
    }


def test_timeline_insert_query_delete(store: Store):
    store.insert_timeline(timeline_row("a", 3.0, "gone"))
    store.insert_timeline(timeline_row("a", 1.0, "visible"))
    store.insert_timeline(timeline_row("a", 2.0, "entered_zone"))
    store.insert_timeline(timeline_row("b", 1.5, "visible", camera="back"))
    rows = store.query_timeline(source_id="a")
    assert [r["class_type"] for r in rows] == ["visible", "entered_zone", "gone"]
    assert rows[0] == timeline_row("a", 1.0, "visible")
    assert [r["timestamp"] for r in store.query_timeline()] == [1.0, 1.5, 2.0, 3.0]
    assert [r["timestamp"] for r in store.query_timeline(limit=2)] == [1.0, 1.5]
    assert [r["source_id"] for r in store.query_timeline(camera="back")] == ["b"]
    assert len(store.query_timeline(camera="all", limit=-1)) == 4
    assert store.delete_timeline("a") == 3
    assert [r["source_id"] for r in store.query_timeline()] == ["b"]
    with pytest.raises(ValueError, match="unknown timeline column"):
        store.insert_timeline({**timeline_row("c", 1.0, "visible"), "extra": 1})
    with pytest.raises(ValueError, match="lacks source_id"):
        store.insert_timeline({**timeline_row("c", 1.0, "visible"), "source_id": None})


# --- threads ---------------------------------------------------------------------------------------


def test_concurrent_writer_and_reader_threads(store: Store):
    total = 300
    errors: list[BaseException] = []
    seen_counts: dict[str, list[int]] = {"r1": [], "r2": []}
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(total):
                store.upsert_event(event(f"w{i:04d}", start_time=BASE + i, end_time=None))
                if i % 3 == 0:
                    store.set_event_fields(f"w{i:04d}", end_time=BASE + i + 1)
                store.insert_timeline(timeline_row(f"w{i:04d}", BASE + i, "visible"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read(name: str) -> None:
        try:
            while not done.is_set():
                rows = store.query_events(EventQuery(limit=-1, include_thumbnails=False))
                seen_counts[name].append(len(rows))
                if rows:
                    assert store.get_event(rows[0]["id"]) is not None
                store.query_timeline(limit=10)
                time.sleep(0.001)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)]
    threads += [threading.Thread(target=read, args=(name,)) for name in seen_counts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    for counts in seen_counts.values():
        assert len(counts) > 1
        assert counts == sorted(counts)  # a reader never sees committed rows disappear
        assert counts[-1] <= total
    assert len(store.query_events(EventQuery(limit=-1))) == total
    assert len(store.query_events(EventQuery(limit=-1, in_progress=0))) == total // 3
    assert len(store.query_timeline(limit=-1)) == total
    assert len(store._connections) == 3 + 1  # one per thread plus the test's own
