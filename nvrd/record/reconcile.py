"""Making the recordings table and the recordings folder agree (at start-up and when the disk returns).

- A row whose file is gone is deleted.
- A segment file without a row (a crash between writing it and indexing it, or a disk that comes
  back after its rows were dropped) is probed and indexed again; its motion and objects are unknown.
  A file ffprobe cannot read is deleted.
- Copies that were interrupted (`*.partial`) are deleted, and empty folders removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import string
from dataclasses import dataclass
from pathlib import Path

from nvrd.record.cleanup import prune_empty_folders
from nvrd.record.layout import parse_segment_path
from nvrd.record.probe import ProbeError, probe_duration
from nvrd.store import Store

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
MAX_DURATION_S = 600.0
_ID_ALPHABET = string.ascii_lowercase + string.digits


def recording_id(start: float) -> str:
    """A recording row id: `<start epoch>-<6 random [a-z0-9]>`, as Frigate's."""
    return f"{round(start, 6)!r}-{''.join(random.choices(_ID_ALPHABET, k=6))}"


@dataclass(slots=True)
class ReconcileReport:
    """What a reconciliation changed."""

    rows_removed: int = 0
    files_indexed: int = 0
    files_removed: int = 0


def reconcile(store: Store, recordings: Path) -> ReconcileReport:
    """Bring rows and files into agreement (see the module text). Raises OSError when the folder
    cannot be read (the caller treats the storage as missing)."""
    report = ReconcileReport()
    _remove_rows_without_files(store, report)
    if recordings.is_dir():
        _index_files_without_rows(store, recordings, report)
    if report.rows_removed or report.files_indexed or report.files_removed:
        log.info(
            "recordings reconciled: %d row(s) without a file removed, %d file(s) indexed again, "
            "%d unreadable file(s) deleted",
            report.rows_removed,
            report.files_indexed,
            report.files_removed,
        )
    return report


def _remove_rows_without_files(store: Store, report: ReconcileReport) -> None:
    cursor = 0
    while True:
        page = store.recordings_page(cursor, 1000)
        if not page:
            return
        cursor = page[-1][0]
        missing = [row_id for _rowid, row_id, path in page if not os.path.exists(path)]
        if missing:
            report.rows_removed += store.delete_recordings(missing)


def _index_files_without_rows(store: Store, recordings: Path, report: ReconcileReport) -> None:
    for folder, _subfolders, names in os.walk(recordings):
        if not names:
            continue
        folder_path = Path(folder)
        known = store.recording_paths_under(str(folder_path) + os.sep)
        for name in sorted(names):
            path = folder_path / name
            if name.endswith(PARTIAL_SUFFIX):
                with contextlib.suppress(OSError):
                    path.unlink()
                    report.files_removed += 1
                continue
            if str(path) in known:
                continue
            parsed = parse_segment_path(recordings, path)
            if parsed is None:
                continue  # not ours (a user's file): left alone
            camera, start = parsed
            try:
                duration = probe_duration(path)
            except ProbeError as exc:
                log.warning("deleting unreadable recording %s: %s", path, exc)
                with contextlib.suppress(OSError):
                    path.unlink()
                    report.files_removed += 1
                continue
            if duration >= MAX_DURATION_S:
                continue
            store.insert_recording(
                {
                    "id": recording_id(start),
                    "camera": camera,
                    "path": str(path),
                    "start_time": start,
                    "end_time": start + duration,
                    "duration": duration,
                    "motion": None,
                    "objects": None,
                    "dBFS": 0,
                    "segment_size": round(path.stat().st_size / 2**20, 1),
                }
            )
            report.files_indexed += 1
    for folder, subfolders, names in os.walk(recordings, topdown=False):
        if not names and not subfolders:
            prune_empty_folders(Path(folder), recordings)
