"""Crash-safe file writes for the clips directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a power cut leaves either the old file or the whole new one.

    The bytes go to a temporary file in the same directory, are flushed to disk, and the file is
    renamed over `path`; the directory is synced so the rename itself survives.
    """
    # Only the clips folder itself is made, never its parents: when the recordings disk is pulled the
    # write fails instead of quietly rebuilding the media tree on the root file system.
    path.parent.mkdir(exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def event_files(clips_dir: Path, camera: str, event_id: str) -> list[Path]:
    """The files an event may own in the clips folder: its snapshot, clean copy and (pre-0.10) clip.

    Raises ValueError for a camera or id that would name a file outside the folder.
    """
    folder = Path(clips_dir).resolve()
    stem = f"{camera}-{event_id}"
    paths = [folder / f"{stem}.jpg", folder / f"{stem}-clean.png", folder / f"{stem}.mp4"]
    if "/" in stem or "\x00" in stem or any(path.resolve().parent != folder for path in paths):
        raise ValueError(f"event file name {stem!r} leaves the clips folder")
    return paths


def delete_event_files(clips_dir: Path, camera: str, event_id: str) -> int:
    """Delete an event's files from the clips folder; returns how many existed."""
    deleted = 0
    for path in event_files(clips_dir, camera, event_id):
        try:
            path.unlink()
            deleted += 1
        except FileNotFoundError:
            pass
    return deleted
