"""nvrd's SQLite database across an update: a consistent copy before the new slot runs, and the
copy put back when a trial that may have migrated the schema is given up, because the older nvrd
refuses a database whose schema is newer than its own (nvrd/store/store.py).

Only SQLite's own means touch the live file (the online backup API and PRAGMA user_version), so a
running nvrd is never disturbed and its write-ahead log is honoured. Run as root, SQLite gives any
-wal or -shm file it creates to the database file's owner.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from nvr_ota.files import sync_directory


class DatabaseError(Exception):
    """The database or its snapshot cannot be read or written."""


def schema_version(path: Path) -> int:
    """The schema version nvrd recorded in the file (PRAGMA user_version)."""
    try:
        connection = sqlite3.connect(path, timeout=30)
        try:
            return int(connection.execute("PRAGMA user_version").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot read {path}: {exc}") from exc


def snapshot(database: Path, destination: Path) -> bool:
    """Copy `database` to `destination` while nvrd may be writing it; False when there is none."""
    if not database.exists():
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".new")
    temporary.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(database, timeout=30)
        try:
            target = sqlite3.connect(temporary)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        temporary.unlink(missing_ok=True)
        raise DatabaseError(f"cannot copy {database}: {exc}") from exc
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, destination)
    sync_directory(destination.parent)
    return True


def restore_if_migrated(database: Path, saved: Path) -> bool:
    """Put `saved` back in place of `database` when the live file's schema is newer than the saved
    one's. Call only while nvrd is stopped. True when it restored."""
    if not database.exists() or not saved.exists():
        return False
    if schema_version(database) <= schema_version(saved):
        return False
    owner = database.stat()
    temporary = database.with_name(database.name + ".restore")
    temporary.write_bytes(saved.read_bytes())
    os.chown(temporary, owner.st_uid, owner.st_gid)
    os.chmod(temporary, owner.st_mode & 0o7777)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    # The write-ahead log belongs to the newer file: replayed onto the old one it would corrupt it.
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    os.replace(temporary, database)
    sync_directory(database.parent)
    return True
