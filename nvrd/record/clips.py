"""MP4 clips cut from recorded segments: stream copy, `+faststart`, built on demand and kept briefly.

The segments covering [start, end] are joined with ffmpeg's concat demuxer. The first is entered at
`start` and the last left at `end` (in/out points; the copy starts at the key frame before `start`,
so a clip never opens on a broken picture). Built clips live in the cache's clip folder under a name
made of the camera, the range and the segments used, so a request for the same footage reuses the
file, and a clip of an event still in progress is rebuilt once new segments arrive.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nvrd.record.children import child_setup
from nvrd.record.probe import ProbeError, probe_start

log = logging.getLogger(__name__)

CLIP_PREFIX = "clip_"
KEEP_CLIPS_S = 60.0  # built clips older than this are deleted by the recorder's housekeeping


class ClipError(RuntimeError):
    """A clip could not be built (no footage, unreadable segments, ffmpeg failed)."""


@dataclass(frozen=True, slots=True)
class ClipSource:
    """One recorded segment as a clip uses it."""

    path: str
    start_time: float
    end_time: float


def concat_list(sources: Sequence[ClipSource], inpoint: float | None, outpoint: float | None) -> str:
    """ffmpeg's concat script: every file, an in point on the first and an out point on the last
    (file timestamps, seconds)."""
    lines = ["ffconcat version 1.0"]
    for position, source in enumerate(sources):
        quoted = source.path.replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
        if position == 0 and inpoint is not None:
            lines.append(f"inpoint {inpoint:.6f}")
        if position == len(sources) - 1 and outpoint is not None:
            lines.append(f"outpoint {outpoint:.6f}")
    return "\n".join(lines) + "\n"


def cut_points(sources: Sequence[ClipSource], start: float, end: float) -> tuple[float | None, float | None]:
    """In and out points in the first and last files' own timestamps (None: the whole file)."""
    first, last = sources[0], sources[-1]
    inpoint = outpoint = None
    try:
        if start > first.start_time + 0.001:
            inpoint = probe_start(Path(first.path)) + (start - first.start_time)
        if end < last.end_time - 0.001:
            outpoint = probe_start(Path(last.path)) + (end - last.start_time)
    except ProbeError as exc:
        raise ClipError(str(exc)) from exc
    return inpoint, outpoint


def write_mp4(
    sources: Sequence[ClipSource], start: float, end: float, output: Path, *, nice: int = 0
) -> None:
    """Build the MP4 of [start, end] from `sources` (oldest first) at `output`; ClipError on failure.

    The file appears under its name only when complete.
    """
    if not sources:
        raise ClipError("no recordings in that time range")
    inpoint, outpoint = cut_points(sources, start, end)
    output.parent.mkdir(parents=True, exist_ok=True)
    script = output.with_name(output.name + ".ffconcat")
    partial = output.with_name(output.name + ".partial")
    script.write_text(concat_list(sources, inpoint, outpoint), encoding="utf-8")
    span = max(1.0, end - start)
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(script),
        "-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(partial),
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=60 + span / 10,
            check=False,
            preexec_fn=child_setup(nice=nice),
        )
        if result.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            said = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
            raise ClipError(f"ffmpeg could not build the clip: {said[0]}")
        os.replace(partial, output)
    except subprocess.TimeoutExpired as exc:
        raise ClipError("building the clip took too long") from exc
    finally:
        for leftover in (script, partial):
            with contextlib.suppress(OSError):
                leftover.unlink()


class ClipCache:
    """Built clips in one folder, one build per clip at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path_for(self, camera: str, start: float, end: float, sources: Sequence[ClipSource]) -> Path:
        """Where the clip of this footage lives (the name changes when the segments do)."""
        digest = hashlib.sha1("\n".join(s.path for s in sources).encode()).hexdigest()[:10]
        return self.folder / f"{CLIP_PREFIX}{camera}_{start:.3f}-{end:.3f}_{digest}.mp4"

    def get(self, camera: str, start: float, end: float, sources: Sequence[ClipSource]) -> Path:
        """The clip's file, built now unless it exists; ClipError when it cannot be built."""
        path = self.path_for(camera, start, end, sources)
        with self._guard:
            lock = self._locks.setdefault(path.name, threading.Lock())
        with lock:
            if not path.is_file():
                write_mp4(sources, start, end, path)
            else:
                with contextlib.suppress(OSError):
                    os.utime(path)  # used again: keep it a little longer
        with self._guard:
            self._locks.pop(path.name, None)
        return path
