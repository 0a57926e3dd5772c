"""Recording segments in SQLite: index, look up, summarise and delete the `recordings` rows.

Mixed into nvrd.store.Store, so every method runs on the calling thread's connection and multi-row
writes are one transaction. Times are UTC epoch seconds; `segment_size` is MiB with one decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import contextlib

    import sqlite_utils

RECORDING_COLUMNS: tuple[str, ...] = (
    "id",
    "camera",
    "path",
    "start_time",
    "end_time",
    "duration",
    "motion",
    "objects",
    "dBFS",
    "segment_size",
)
# What `GET /api/<camera>/recordings` shows of a segment (no path, no duration: Frigate's choice).
RECORDING_API_COLUMNS: tuple[str, ...] = ("id", "start_time", "end_time", "segment_size", "motion", "objects")
# A segment never lasts this long (Frigate's bound); it limits how far back an overlap search looks.
MAX_SEGMENT_SECONDS = 600.0
_SQL_BATCH = 500  # bound parameters per statement stay far below SQLite's limit


class RecordingsMixin:
    """The `recordings` table and the event look-ups retention needs; see nvrd.store.Store."""

    if TYPE_CHECKING:

        def _db(self) -> sqlite_utils.Database: ...
        def _write(self) -> contextlib.AbstractContextManager[sqlite_utils.Database]: ...

    # --- writing ------------------------------------------------------------------------------

    def insert_recording(self, row: Mapping[str, Any]) -> None:
        """Index one segment: id, camera, path, start_time, end_time, duration (+ motion, objects,
        dBFS, segment_size). A second row for the same path raises sqlite3.IntegrityError."""
        unknown = sorted(set(row) - set(RECORDING_COLUMNS))
        if unknown:
            raise ValueError(f"unknown recording column(s): {', '.join(unknown)}")
        missing = [
            c for c in ("id", "camera", "path", "start_time", "end_time", "duration") if row.get(c) is None
        ]
        if missing:
            raise ValueError(f"recording row lacks {', '.join(missing)}")
        columns = [c for c in RECORDING_COLUMNS if c in row]
        sql = f"INSERT INTO recordings ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        self._db().execute(sql, [row[c] for c in columns])

    def delete_recordings(self, ids: Iterable[str]) -> int:
        """Delete rows by id in one transaction; returns how many went."""
        ids = list(ids)
        deleted = 0
        with self._write() as db:
            for first in range(0, len(ids), _SQL_BATCH):
                chunk = ids[first : first + _SQL_BATCH]
                sql = f"DELETE FROM recordings WHERE id IN ({', '.join('?' for _ in chunk)})"
                deleted += db.execute(sql, chunk).rowcount
        return deleted

    # --- reading ------------------------------------------------------------------------------

    def recording_by_path(self, path: str) -> dict[str, Any] | None:
        """The row of the segment stored at `path`, or None."""
        cursor = self._db().execute(
            f"SELECT {', '.join(RECORDING_COLUMNS)} FROM recordings WHERE path = ?", [path]
        )
        row = cursor.fetchone()
        return None if row is None else dict(zip(RECORDING_COLUMNS, row, strict=True))

    def recordings_overlapping(
        self,
        camera: str,
        after: float,
        before: float,
        *,
        columns: tuple[str, ...] = RECORDING_COLUMNS,
    ) -> list[dict[str, Any]]:
        """Segments of `camera` with end_time >= after and start_time <= before, oldest first."""
        bad = sorted(set(columns) - set(RECORDING_COLUMNS))
        if bad:
            raise ValueError(f"unknown recording column(s): {', '.join(bad)}")
        # The lower bound on start_time lets SQLite use the (camera, start_time) index.
        sql = (
            f"SELECT {', '.join(columns)} FROM recordings WHERE camera = ? AND start_time >= ? "
            "AND start_time <= ? AND end_time >= ? ORDER BY start_time"
        )
        cursor = self._db().execute(sql, [camera, after - MAX_SEGMENT_SECONDS, before, after])
        return [dict(zip(columns, row, strict=True)) for row in cursor]

    def recording_at(self, camera: str, moment: float) -> dict[str, Any] | None:
        """The newest segment of `camera` that covers `moment` (start <= moment <= end), or None."""
        sql = (
            f"SELECT {', '.join(RECORDING_COLUMNS)} FROM recordings WHERE camera = ? AND start_time >= ? "
            "AND start_time <= ? AND end_time >= ? ORDER BY start_time DESC LIMIT 1"
        )
        row = self._db().execute(sql, [camera, moment - MAX_SEGMENT_SECONDS, moment, moment]).fetchone()
        return None if row is None else dict(zip(RECORDING_COLUMNS, row, strict=True))

    def recordings_summary(self, camera: str, utc_offset: int) -> list[dict[str, Any]]:
        """`/api/<camera>/recordings/summary`: per local day and hour (zone offset `utc_offset` s)
        the recorded seconds, summed motion and objects, and the count of events with a clip that
        started in that hour; newest day and hour first. Only hours with recordings appear."""
        db = self._db()
        hours = db.execute(
            "SELECT strftime('%Y-%m-%d %H', start_time + ?, 'unixepoch') AS hour_key, "
            "sum(duration), sum(coalesce(motion, 0)), sum(coalesce(objects, 0)) "
            "FROM recordings WHERE camera = ? GROUP BY hour_key ORDER BY hour_key DESC",
            [utc_offset, camera],
        ).fetchall()
        events = dict(
            db.execute(
                "SELECT strftime('%Y-%m-%d %H', start_time + ?, 'unixepoch') AS hour_key, count(*) "
                "FROM event WHERE camera = ? AND has_clip = 1 GROUP BY hour_key",
                [utc_offset, camera],
            ).fetchall()
        )
        days: dict[str, dict[str, Any]] = {}
        for hour_key, duration, motion, objects in hours:
            day, hour = hour_key.split(" ")
            entry = days.setdefault(day, {"day": day, "events": 0, "hours": []})
            count = events.get(hour_key, 0)
            entry["events"] += count
            entry["hours"].append(
                {
                    "hour": hour,
                    "duration": round(duration or 0),
                    "motion": motion,
                    "objects": objects,
                    "events": count,
                }
            )
        return list(days.values())

    def recording_cameras(self) -> list[str]:
        """Every camera that has recording rows."""
        return [
            row[0] for row in self._db().execute("SELECT DISTINCT camera FROM recordings ORDER BY camera")
        ]

    def recordings_usage(self) -> dict[str, dict[str, float]]:
        """Per camera: MiB stored and MiB per hour recorded (for `/api/recordings/storage`)."""
        rows = self._db().execute(
            "SELECT camera, sum(coalesce(segment_size, 0)), sum(duration) FROM recordings GROUP BY camera"
        )
        usage = {}
        for camera, size, seconds in rows:
            per_hour = size / seconds * 3600 if seconds else 0.0
            usage[camera] = {"usage": round(size, 2), "bandwidth": round(per_hour, 2)}
        return usage

    def recordings_page(self, after_rowid: int, limit: int = 1000) -> list[tuple[int, str, str]]:
        """(rowid, id, path) of rows after `after_rowid`, in rowid order: a walk over the whole table."""
        sql = "SELECT rowid, id, path FROM recordings WHERE rowid > ? ORDER BY rowid LIMIT ?"
        return [tuple(row) for row in self._db().execute(sql, [after_rowid, limit])]

    def recording_paths_under(self, folder: str) -> set[str]:
        """Paths of indexed segments inside `folder` (a string prefix ending in the separator)."""
        # A range on the unique path index: every string that starts with the prefix sorts in it.
        sql = "SELECT path FROM recordings WHERE path >= ? AND path < ?"
        return {row[0] for row in self._db().execute(sql, [folder, folder + "\U0010ffff"])}

    def oldest_recordings(self, after: tuple[float, str] | None, limit: int) -> list[dict[str, Any]]:
        """The oldest segments of every camera, after the (start_time, id) cursor `after`."""
        columns = ("id", "camera", "path", "start_time", "end_time", "segment_size")
        if after is None:
            sql = f"SELECT {', '.join(columns)} FROM recordings ORDER BY start_time, id LIMIT ?"
            params: list[Any] = [limit]
        else:
            sql = (
                f"SELECT {', '.join(columns)} FROM recordings WHERE (start_time, id) > (?, ?) "
                "ORDER BY start_time, id LIMIT ?"
            )
            params = [after[0], after[1], limit]
        return [dict(zip(columns, row, strict=True)) for row in self._db().execute(sql, params)]

    def recordings_ending_before(
        self, camera: str, cutoff: float, after: tuple[float, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Segments of `camera` with end_time < cutoff, oldest first, after the (start_time, id) cursor."""
        columns = ("id", "camera", "path", "start_time", "end_time", "motion", "objects")
        clauses = ["camera = ?", "start_time < ?", "end_time < ?"]
        params: list[Any] = [camera, cutoff, cutoff]
        if after is not None:
            clauses.append("(start_time, id) > (?, ?)")
            params += [after[0], after[1]]
        sql = (
            f"SELECT {', '.join(columns)} FROM recordings WHERE {' AND '.join(clauses)} "
            "ORDER BY start_time, id LIMIT ?"
        )
        return [dict(zip(columns, row, strict=True)) for row in self._db().execute(sql, [*params, limit])]

    def iter_recordings(self, camera: str, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every segment of `camera`, oldest first, read in batches."""
        cursor: tuple[float, str] | None = None
        while True:
            rows = self.recordings_ending_before(camera, float("inf"), cursor, batch)
            yield from rows
            if len(rows) < batch:
                return
            cursor = (rows[-1]["start_time"], rows[-1]["id"])

    # --- events, as retention sees them -------------------------------------------------------

    def clip_events_overlapping(
        self, camera: str, start: float, end: float, *, retained_only: bool = False
    ) -> list[tuple[float, float | None]]:
        """(start_time, end_time) of `camera`'s events with a clip that overlap [start, end];
        end_time None = in progress. `retained_only` keeps only retain_indefinitely events."""
        sql = (
            "SELECT start_time, end_time FROM event WHERE camera = ? AND has_clip = 1 AND start_time <= ? "
            "AND (end_time IS NULL OR end_time >= ?)"
        )
        if retained_only:
            sql += " AND retain_indefinitely = 1"
        return [(row[0], row[1]) for row in self._db().execute(sql, [camera, end, start])]

    def expire_event_clips(
        self, camera: str, cutoff: float, *, label: str | None = None, except_labels: Iterable[str] = ()
    ) -> int:
        """Events of `camera` that started before `cutoff`, ended, and are not retained indefinitely
        lose has_clip (for one `label`, or for every label but `except_labels`); returns how many."""
        clauses = [
            "camera = ?",
            "has_clip = 1",
            "retain_indefinitely = 0",
            "end_time IS NOT NULL",
            "start_time < ?",
        ]
        params: list[Any] = [camera, cutoff]
        if label is not None:
            clauses.append("label = ?")
            params.append(label)
        excluded = list(except_labels)
        if excluded:
            clauses.append(f"label NOT IN ({', '.join('?' for _ in excluded)})")
            params += excluded
        sql = f"UPDATE event SET has_clip = 0 WHERE {' AND '.join(clauses)}"
        return self._db().execute(sql, params).rowcount

    def clear_clips_without_footage(self, ended_after: float, ended_before: float) -> list[str]:
        """Events with has_clip that ended in (ended_after, ended_before) and overlap no recording
        lose has_clip; returns their ids."""
        with self._write() as db:
            rows = db.execute(
                "SELECT id FROM event e WHERE has_clip = 1 AND end_time IS NOT NULL AND end_time > ? "
                "AND end_time < ? AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.camera = e.camera "
                "AND r.start_time >= e.start_time - ? AND r.start_time <= e.end_time "
                "AND r.end_time >= e.start_time)",
                [ended_after, ended_before, MAX_SEGMENT_SECONDS],
            ).fetchall()
            ids = [row[0] for row in rows]
            for first in range(0, len(ids), _SQL_BATCH):
                chunk = ids[first : first + _SQL_BATCH]
                db.execute(
                    f"UPDATE event SET has_clip = 0 WHERE id IN ({', '.join('?' for _ in chunk)})", chunk
                )
        return ids
