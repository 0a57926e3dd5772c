"""Deleting recordings: expiry by the retention rules, and room on a disk that is filling up.

A deletion removes the file, then the row (one transaction per batch). A crash between the two
leaves a row without its file, which the start-up reconciliation removes; never a file nobody knows.
An error other than "already gone" stops the batch (the disk is in trouble) and is raised.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nvrd.record.retention import DAY_S, CameraRetention, Span, kept_after_expiry, overlaps
from nvrd.store import Store

log = logging.getLogger(__name__)

BATCH = 500
MIB = 1024 * 1024
# Free at least this much beyond the threshold once cleaning starts, so a busy disk is not cleaned
# one segment at a time: 1% of the disk, at most 256 MiB.
MARGIN_FRACTION = 0.01
MARGIN_MAX = 256 * MIB


class StorageFailure(OSError):
    """The recordings storage refused a write or delete (gone, read-only, I/O error)."""


def is_disk_full(exc: OSError) -> bool:
    """True for errors that mean "no space" rather than "no disk"."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def delete_segments(store: Store, rows: Iterable[dict[str, Any]], recordings: Path) -> int:
    """Delete segment files and their rows; returns how many. Raises StorageFailure on a disk error
    (the rows of the files already deleted are removed first)."""
    deleted: list[str] = []
    folders: set[Path] = set()
    failure: OSError | None = None
    for row in rows:
        path = Path(row["path"])
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            failure = exc
            break
        deleted.append(row["id"])
        folders.add(path.parent)
    if deleted:
        store.delete_recordings(deleted)
    for folder in folders:
        prune_empty_folders(folder, recordings)
    if failure is not None:
        raise StorageFailure(failure.errno, f"cannot delete recordings: {failure.strerror or failure}")
    return len(deleted)


def prune_empty_folders(folder: Path, stop_at: Path) -> None:
    """Remove `folder` and its parents up to (not including) `stop_at` while they are empty."""
    stop = stop_at.resolve()
    current = folder
    while True:
        try:
            resolved = current.resolve()
            resolved.relative_to(stop)
        except (OSError, ValueError):
            return
        if resolved == stop:
            return
        try:
            current.rmdir()
        except OSError:
            return  # not empty (or gone): stop climbing
        current = current.parent


class SpaceKeeper:
    """Keeps `min_free` bytes free on the recordings disk by deleting the oldest segments.

    Segments that overlap an event kept indefinitely go last: first every other segment, oldest
    first, then (only if that was not enough) those too.
    """

    def __init__(
        self,
        store: Store,
        recordings: Path,
        min_free: int,
        free_bytes: Callable[[], tuple[int, int] | None],
    ) -> None:
        self.store = store
        self.recordings = Path(recordings)
        self.min_free = int(min_free)
        self._free_bytes = free_bytes
        self.short_of_space = False  # True while even deleting everything could not reach the target

    def ensure(self, incoming: int = 0) -> bool:
        """Make room for `incoming` more bytes above the threshold; False when that was impossible."""
        usage = self._free_bytes()
        if usage is None:
            return False
        total, free = usage
        if free >= self.min_free + incoming:
            self.short_of_space = False
            return True
        margin = min(MARGIN_MAX, int(total * MARGIN_FRACTION))
        target = self.min_free + incoming + margin
        deleted = self._delete_oldest(target, spare_retained=True)
        if not self._enough(target):
            deleted += self._delete_oldest(target, spare_retained=False)
        enough = self._enough(self.min_free + incoming)
        if deleted:
            log.warning(
                "recordings disk: %.1f MiB free, below %.1f MiB: deleted the %d oldest segment(s)",
                free / MIB,
                (self.min_free + incoming) / MIB,
                deleted,
            )
        if not enough and not self.short_of_space:
            log.error(
                "recordings disk is short of space and no recording is left to delete (other files fill it)"
            )
        self.short_of_space = not enough
        return enough

    def _enough(self, target: int) -> bool:
        usage = self._free_bytes()
        return usage is not None and usage[1] >= target

    def _delete_oldest(self, target: int, *, spare_retained: bool) -> int:
        deleted = 0
        cursor: tuple[float, str] | None = None
        while not self._enough(target):
            rows = self.store.oldest_recordings(cursor, 50)
            if not rows:
                break
            cursor = (rows[-1]["start_time"], rows[-1]["id"])
            if spare_retained:
                rows = [row for row in rows if not self._retained(row)]
            # Deleting one at a time stops as soon as there is room (segments are large).
            for row in rows:
                deleted += delete_segments(self.store, [row], self.recordings)
                if self._enough(target):
                    break
        return deleted

    def _retained(self, row: dict[str, Any]) -> bool:
        events = self.store.clip_events_overlapping(
            row["camera"], row["start_time"], row["end_time"], retained_only=True
        )
        return bool(events)


def expire_recordings(
    store: Store,
    recordings: Path,
    rules_by_camera: dict[str, CameraRetention],
    default_rules: CameraRetention,
    now: float,
) -> int:
    """Delete every segment that no retention rule keeps any more; returns how many went.

    Cameras no longer in the config follow the global `record.retain.days` and keep nothing for
    events (as Frigate does).
    """
    deleted = 0
    for camera in store.recording_cameras():
        rules = rules_by_camera.get(camera)
        configured = rules is not None
        if rules is None:
            rules = default_rules
        cutoff = now - rules.days * DAY_S
        cursor: tuple[float, str] | None = None
        while True:
            rows = store.recordings_ending_before(camera, cutoff, cursor, BATCH)
            if not rows:
                break
            cursor = (rows[-1]["start_time"], rows[-1]["id"])
            events = (
                store.clip_events_overlapping(camera, rows[0]["start_time"], rows[-1]["end_time"])
                if configured
                else []
            )
            doomed = []
            for row in rows:
                span = Span(row["start_time"], row["end_time"], row["motion"], row["objects"])
                near = [e for e in events if overlaps(span, [e])]
                if not kept_after_expiry(rules, span, now=now, clip_events=near):
                    doomed.append(row)
            deleted += delete_segments(store, doomed, recordings)
            if len(rows) < BATCH:
                break
    return deleted


def expire_event_clips(
    store: Store, rules_by_camera: dict[str, CameraRetention], default_rules: CameraRetention, now: float
) -> int:
    """Events past `record.events.retain` (per label) and not kept indefinitely lose has_clip."""
    expired = 0
    cameras = set(rules_by_camera) | set(store.recording_cameras())
    for camera in cameras:
        rules = rules_by_camera.get(camera, default_rules)
        for label, days in rules.events_days_by_label.items():
            expired += store.expire_event_clips(camera, now - days * DAY_S, label=label)
        expired += store.expire_event_clips(
            camera, now - rules.events_days * DAY_S, except_labels=rules.events_days_by_label
        )
    return expired


def remove_stale_files(folder: Path, prefix: str, older_than: float, now: float) -> int:
    """Delete files in `folder` whose name starts with `prefix` and that are older than `older_than` s."""
    removed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if not entry.name.startswith(prefix):
                continue
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > older_than:
                    os.unlink(entry.path)
                    removed += 1
    return removed
