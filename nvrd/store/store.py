"""The daemon's SQLite database: events, timeline and recordings.

Camera threads write while API threads read, so every thread gets its own connection (SQLite
connections must not be shared between threads mid-statement). The file runs in WAL mode: readers
never block the writer and a crash mid-write leaves the last committed state. Multi-statement writes
run in one `BEGIN IMMEDIATE` transaction so they land whole or not at all.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlite_utils

from nvrd.store.event_query import LIST_COLUMNS, EventQuery
from nvrd.store.recordings import RecordingsMixin
from nvrd.store.rows import check_event_columns, encode_event_value, event_decoder, to_json
from nvrd.store.schema import (
    EVENT_COLUMNS,
    EVENT_REQUIRED_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    TIMELINE_COLUMNS,
)
from nvrd.store.timezones import current_utc_offset_seconds

# Columns owned by API actions (retain, Frigate+ submit, false positive): an upsert from the event
# pipeline must not undo what a user did while the event was in progress.
INSERT_ONLY_COLUMNS = frozenset({"retain_indefinitely", "plus_id", "false_positive"})
# Set by the API or by the tracker; an upsert carrying no sub label keeps the stored one.
KEEP_IF_NULL_COLUMNS = frozenset({"sub_label"})

# Frigate's start-up rule for events left open by a crash.
OPEN_EVENT_DEFAULT_SECONDS = 30.0


class StoreError(RuntimeError):
    """The database cannot be opened or used (corrupt file, newer schema, closed store)."""


class Store(RecordingsMixin):
    """One SQLite database file; safe to use from many threads (recording methods: RecordingsMixin)."""

    def __init__(self, path: Path, *, busy_timeout: float = 10.0, synchronous: str = "FULL") -> None:
        """Open or create the database at `path` and bring its schema up to date.

        `synchronous` is SQLite's setting. FULL, the default, puts every commit on disk before it
        returns (one fsync per commit; events and segments are a few writes a second at most), so a
        power cut loses nothing committed. NORMAL never corrupts the file in WAL mode but a power cut
        may roll back the last few commits; benchmarks use it to measure the query path alone.
        Raises StoreError when the file is not a database or its schema is newer than this code.
        """
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL, FULL or EXTRA, got {synchronous!r}")
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous.upper()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite_utils.Database] = []
        self._closed = False
        try:
            db = self._db()
            # Journal mode is a property of the file; it must be set outside any transaction.
            if db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
                raise StoreError(f"{self.path}: SQLite refused WAL mode")
            self._migrate(db)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        except Exception:
            self.close()
            raise

    # --- connections and transactions -------------------------------------------------------

    def _db(self) -> sqlite_utils.Database:
        """This thread's connection, opened on first use."""
        db = getattr(self._local, "db", None)
        if db is not None and not self._closed:
            return db
        if self._closed:
            raise StoreError(f"store {self.path} is closed")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; writes say where theirs begin and end.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn, execute_plugins=False)
        with self._lock:
            if self._closed:  # close() ran while this connection was being opened
                conn.close()
                raise StoreError(f"store {self.path} is closed")
            self._connections.append(db)
        self._local.db = db
        return db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction; IMMEDIATE takes the write lock up front, so it waits (busy
        timeout) instead of failing when another connection commits between our read and write."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _migrate(self, db: sqlite_utils.Database) -> None:
        with self._write():
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"database {self.path} has schema version {version}, newer than this nvrd "
                    f"understands ({SCHEMA_VERSION}); upgrade nvrd or restore an older database"
                )
            for target in range(version, SCHEMA_VERSION):
                MIGRATIONS[target](db)
                db.execute(f"PRAGMA user_version = {target + 1}")

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        return int(self._db().execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close every thread's connection; later calls raise StoreError."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for db in connections:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- events -------------------------------------------------------------------------------

    def upsert_event(self, row: Mapping[str, Any]) -> None:
        """Insert an event or update the columns `row` carries (0.13 column names, Python values).

        A new row needs id, label, camera and start_time. On update, retain_indefinitely, plus_id
        and false_positive keep their stored values (the API owns them: use set_event_fields), and
        a null sub_label keeps the stored one.
        """
        check_event_columns(row)
        missing = [c for c in EVENT_REQUIRED_COLUMNS if row.get(c) is None]
        if missing:
            raise ValueError(f"event row lacks {', '.join(missing)}")
        columns = [c for c in EVENT_COLUMNS if c in row]
        values = [encode_event_value(c, row[c]) for c in columns]
        updates = []
        for column in columns:
            if column == "id" or column in INSERT_ONLY_COLUMNS:
                continue
            if column in KEEP_IF_NULL_COLUMNS:
                updates.append(f"{column} = coalesce(excluded.{column}, event.{column})")
            else:
                updates.append(f"{column} = excluded.{column}")
        conflict = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        sql = (
            f"INSERT INTO event ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT(id) {conflict}"
        )
        self._db().execute(sql, values)

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        """The full event row (every 0.13 column, decoded), or None."""
        cursor = self._db().execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM event WHERE id = ?", [event_id])
        row = cursor.fetchone()
        return None if row is None else event_decoder(EVENT_COLUMNS)(row)

    def set_event_fields(self, event_id: str, **fields: Any) -> bool:
        """Change some columns of an event; False when there is no such event."""
        if not fields:
            raise ValueError("set_event_fields needs at least one column")
        check_event_columns(fields)
        if "id" in fields:
            raise ValueError("an event's id cannot be changed")
        assignments = ", ".join(f"{column} = ?" for column in fields)
        values = [encode_event_value(column, value) for column, value in fields.items()]
        cursor = self._db().execute(f"UPDATE event SET {assignments} WHERE id = ?", [*values, event_id])
        return cursor.rowcount > 0

    def delete_event(self, event_id: str) -> bool:
        """Delete an event row (not its timeline rows: see delete_timeline); False when absent."""
        return self._db().execute("DELETE FROM event WHERE id = ?", [event_id]).rowcount > 0

    def query_events(self, query: EventQuery) -> list[dict[str, Any]]:
        """`/api/events` (0.13): matching events, newest start first, with only the list keys."""
        query.validate()
        where, params = query.where_clause()
        columns = [*LIST_COLUMNS, "thumbnail"] if query.include_thumbnails else list(LIST_COLUMNS)
        sql = f"SELECT {', '.join(columns)} FROM event WHERE {where} ORDER BY start_time DESC LIMIT ?"
        decode = event_decoder(tuple(columns))
        return [decode(row) for row in self._db().execute(sql, [*params, query.limit])]

    def events_summary(
        self, has_clip: int | None = None, has_snapshot: int | None = None, timezone: str = "utc"
    ) -> list[dict[str, Any]]:
        """`/api/events/summary` (0.13): counts per camera, label, sub label, local day and zones.

        The day is taken in `timezone` at its current UTC offset (as Frigate does).
        """
        offset = current_utc_offset_seconds(timezone)
        clauses, params = [], [offset]
        if has_clip is not None:
            clauses.append("has_clip = ?")
            params.append(has_clip)
        if has_snapshot is not None:
            clauses.append("has_snapshot = ?")
            params.append(has_snapshot)
        where = " AND ".join(clauses) if clauses else "1"
        sql = (
            "SELECT camera, label, sub_label, strftime('%Y-%m-%d', start_time + ?, 'unixepoch') AS day, "
            f"zones, count(*) FROM event WHERE {where} "
            "GROUP BY camera, label, sub_label, day, zones ORDER BY day DESC, camera, label"
        )
        rows = self._db().execute(sql, params).fetchall()
        decode = event_decoder(("camera", "label", "sub_label", "day", "zones", "count"))
        return [decode(row) for row in rows]

    def newest_event(
        self,
        camera: str,
        label: str | None = None,
        *,
        by: str = "start_time",
        has_snapshot: bool | None = None,
    ) -> dict[str, Any] | None:
        """The full row of a camera's newest event (of `label`, when given), newest by `id` or
        `start_time`; `has_snapshot` filters on that flag. None when there is none."""
        if by not in ("id", "start_time"):
            raise ValueError(f"by must be 'id' or 'start_time', got {by!r}")
        clauses, params = ["camera = ?"], [camera]
        if label is not None:
            clauses.append("label = ?")
            params.append(label)
        if has_snapshot is not None:
            clauses.append("has_snapshot = ?")
            params.append(1 if has_snapshot else 0)
        sql = (
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM event WHERE {' AND '.join(clauses)} "
            f"ORDER BY {by} DESC LIMIT 1"
        )
        row = self._db().execute(sql, params).fetchone()
        return None if row is None else event_decoder(EVENT_COLUMNS)(row)

    def event_labels(self, camera: str | None = None) -> list[str]:
        """The distinct labels of stored events (of one camera, when given), sorted."""
        sql, params = "SELECT DISTINCT label FROM event", []
        if camera is not None:
            sql += " WHERE camera = ?"
            params.append(camera)
        return sorted(row[0] for row in self._db().execute(sql, params))

    def event_sub_labels(self) -> list[str]:
        """The distinct sub labels of stored events, sorted (events without one are not counted)."""
        rows = self._db().execute("SELECT DISTINCT sub_label FROM event WHERE sub_label IS NOT NULL")
        return sorted(row[0] for row in rows)

    def change_marker(self) -> tuple[int, int]:
        """A value that differs whenever the database changed since it was last taken on this thread:
        SQLite's `data_version` (commits by other connections) with this connection's own row changes.
        Readers key caches of query results on it."""
        db = self._db()
        return int(db.execute("PRAGMA data_version").fetchone()[0]), db.conn.total_changes

    def end_open_events(
        self, end_time_fn: Callable[[float], float] = lambda start: start + OPEN_EVENT_DEFAULT_SECONDS
    ) -> int:
        """Give every in-progress event an end time `end_time_fn(start_time)`; returns how many.

        At start-up the default (start + 30 s) closes events a crash left open; at a clean stop pass
        `lambda _start: now`.
        """
        with self._write() as db:
            open_rows = db.execute("SELECT id, start_time FROM event WHERE end_time IS NULL").fetchall()
            db.conn.executemany(
                "UPDATE event SET end_time = ? WHERE id = ?",
                [(end_time_fn(start), event_id) for event_id, start in open_rows],
            )
        return len(open_rows)

    # --- timeline -----------------------------------------------------------------------------

    def insert_timeline(self, row: Mapping[str, Any]) -> None:
        """Add a timeline entry: timestamp, camera, source, source_id, class_type, data (dict)."""
        unknown = sorted(set(row) - set(TIMELINE_COLUMNS))
        if unknown:
            raise ValueError(f"unknown timeline column(s): {', '.join(unknown)}")
        missing = [c for c in ("timestamp", "camera", "source_id", "class_type") if row.get(c) is None]
        if missing:
            raise ValueError(f"timeline row lacks {', '.join(missing)}")
        values = [row.get(c) for c in TIMELINE_COLUMNS]
        values[-1] = to_json(row.get("data") or {})
        self._db().execute(
            f"INSERT INTO timeline ({', '.join(TIMELINE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)", values
        )

    def query_timeline(
        self, camera: str | None = None, source_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """`/api/timeline`: entries oldest first, then limited (-1 = all); camera None/"all" = any."""
        clauses, params = [], []
        if camera is not None and camera != "all":
            clauses.append("camera = ?")
            params.append(camera)
        if source_id is not None:
            clauses.append("source_id = ?")
            params.append(source_id)
        where = " AND ".join(clauses) if clauses else "1"
        sql = f"SELECT {', '.join(TIMELINE_COLUMNS)} FROM timeline WHERE {where} ORDER BY timestamp LIMIT ?"
        result = []
        for row in self._db().execute(sql, [*params, limit]):
            entry = dict(zip(TIMELINE_COLUMNS, row, strict=True))
            entry["data"] = json.loads(entry["data"]) if entry["data"] else {}
            result.append(entry)
        return result

    def delete_timeline(self, source_id: str) -> int:
        """Delete every timeline entry of one tracked object; returns how many."""
        return self._db().execute("DELETE FROM timeline WHERE source_id = ?", [source_id]).rowcount
