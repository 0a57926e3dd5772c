"""The database schema and its migrations.

The schema version lives in SQLite's `PRAGMA user_version` (part of the database header, so it
changes atomically with the migration's transaction). `MIGRATIONS[i]` brings a database from version
`i` to `i + 1`; append new steps, never edit shipped ones.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils
from sqlite_utils.db import DescIndex

# Frigate 0.13's event columns, in its order (§2.4 of the behaviour spec).
EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "label",
    "camera",
    "start_time",
    "end_time",
    "top_score",
    "score",
    "false_positive",
    "zones",
    "thumbnail",
    "has_clip",
    "has_snapshot",
    "region",
    "box",
    "area",
    "ratio",
    "plus_id",
    "retain_indefinitely",
    "sub_label",
    "model_hash",
    "model_type",
    "detector_type",
    "data",
)
EVENT_JSON_COLUMNS = frozenset({"zones", "region", "box", "data"})
EVENT_BOOL_COLUMNS = frozenset({"false_positive", "has_clip", "has_snapshot", "retain_indefinitely"})
EVENT_REQUIRED_COLUMNS: tuple[str, ...] = ("id", "label", "camera", "start_time")

TIMELINE_COLUMNS: tuple[str, ...] = ("timestamp", "camera", "source", "source_id", "class_type", "data")

Migration = Callable[[sqlite_utils.Database], None]


def _create_initial_tables(db: sqlite_utils.Database) -> None:
    """Version 1: event, timeline and recordings with the indexes the API's queries use."""
    db["event"].create(
        {
            "id": str,
            "label": str,
            "camera": str,
            "start_time": float,
            "end_time": float,
            "top_score": float,
            "score": float,
            "false_positive": int,
            "zones": str,
            "thumbnail": str,
            "has_clip": int,
            "has_snapshot": int,
            "region": str,
            "box": str,
            "area": int,
            "ratio": float,
            "plus_id": str,
            "retain_indefinitely": int,
            "sub_label": str,
            "model_hash": str,
            "model_type": str,
            "detector_type": str,
            "data": str,
        },
        pk="id",
        not_null=["label", "camera", "start_time"],
        defaults={
            "false_positive": 0,
            "zones": "[]",
            "has_clip": 0,
            "has_snapshot": 0,
            "ratio": 1.0,
            "retain_indefinitely": 0,
            "data": "{}",
        },
    )
    event = db["event"]
    event.create_index([DescIndex("start_time")], index_name="event_start_time")
    event.create_index(["camera", "start_time"], index_name="event_camera_start_time")
    event.create_index(["label", "start_time"], index_name="event_label_start_time")
    # Partial: only in-progress rows, so `in_progress=1` and the start-up sweep skip the history.
    db.execute("CREATE INDEX event_in_progress ON event (start_time) WHERE end_time IS NULL")

    db["timeline"].create(
        {
            "timestamp": float,
            "camera": str,
            "source": str,
            "source_id": str,
            "class_type": str,
            "data": str,
        },
        defaults={"data": "{}"},
    )
    timeline = db["timeline"]
    timeline.create_index(["source_id"], index_name="timeline_source_id")
    timeline.create_index(["timestamp"], index_name="timeline_timestamp")

    db["recordings"].create(
        {
            "id": str,
            "camera": str,
            "path": str,
            "start_time": float,
            "end_time": float,
            "duration": float,
            "motion": int,
            "objects": int,
            "dBFS": int,
            "segment_size": float,
        },
        pk="id",
        not_null=["camera", "path", "start_time", "end_time", "duration"],
    )
    recordings = db["recordings"]
    recordings.create_index(["path"], index_name="recordings_path", unique=True)
    recordings.create_index(["camera", "start_time"], index_name="recordings_camera_start_time")


MIGRATIONS: tuple[Migration, ...] = (_create_initial_tables,)
SCHEMA_VERSION = len(MIGRATIONS)
