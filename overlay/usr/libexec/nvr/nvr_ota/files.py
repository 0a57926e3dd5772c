"""Writing files so that a power cut leaves either the old or the new content, never a mix, and
making the read-only boot partition writable for the moment a backend changes it."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path


def atomic_write(path: Path, data: bytes | str, mode: int | None = None) -> None:
    """Replace `path` by `data`: written beside it, flushed to the disk, then renamed over it.

    `mode` is left alone by default: FAT (the boot partition) refuses chmod.
    """
    raw = data.encode() if isinstance(data, str) else data
    temporary = path.with_name(path.name + ".new")
    with open(temporary, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    if mode is not None:
        os.chmod(temporary, mode)
    os.replace(temporary, path)
    sync_directory(path.parent)


def remove(path: Path) -> None:
    """Delete `path` if it is there, and make the deletion durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    sync_directory(path.parent)


def sync_directory(folder: Path) -> None:
    """Flush a folder's entries (a rename or unlink inside it) to the disk."""
    try:
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # vfat may refuse fsync on a folder; the remount below flushes it anyway
        pass
    finally:
        os.close(handle)


def mount_of(path: Path, mounts: Path) -> tuple[str, list[str]] | None:
    """The mount point holding `path` and its options, from a /proc/self/mounts style file."""
    target = os.path.realpath(path)
    best: tuple[str, list[str]] | None = None
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        # /proc/mounts escapes spaces and the like as octal (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, fields[3].split(","))
    return best


@contextlib.contextmanager
def writable(path: Path, mounts: Path = Path("/proc/self/mounts")) -> Iterator[None]:
    """Within the block, the filesystem holding `path` is writable.

    The boot partition is mounted read-only so that a power cut cannot damage what the box boots
    from; it is remounted read-write only while a backend writes, then read-only again (which also
    flushes it). A filesystem that is already writable (a test's temporary folder) is left alone.
    """
    mount = mount_of(path, mounts)
    if mount is None or "ro" not in mount[1]:
        yield
        return
    point = mount[0]
    _remount(point, "rw")
    try:
        yield
    finally:
        os.sync()
        _remount(point, "ro")


def _remount(point: str, how: str) -> None:
    result = subprocess.run(
        ["mount", "-o", f"remount,{how}", point], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise OSError(f"cannot remount {point} {how}: {result.stderr.strip() or result.returncode}")
