"""Real recording segments for the recorder's tests, cut from the shared person clip with ffmpeg.

`cache_segments()` leaves in a cache folder exactly what the recording ffmpeg leaves there: MPEG-TS
segments named `<camera>@<run>-<n>.ts` and the csv list naming each closed segment. Cut from a file
they are written in a blink, so each file's mtime is set to when a live camera's segment would have
closed (`closed_from` + the segment's end), which is what the indexer reads a segment's time from.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CLIP = "one-by-one-person-detection.mp4"


def cache_segments(
    shared: Path,
    cache: Path,
    *,
    camera: str = "door",
    run: int = 1,
    start_s: float = 70,
    duration_s: float = 20,
    segment_time: int = 2,
    closed_from: float = 1_700_000_000.0,
) -> list[tuple[Path, float]]:
    """Segments of the clip's [start_s, start_s + duration_s) in `cache`; (path, duration) each."""
    cache.mkdir(parents=True, exist_ok=True)
    listing = cache / f"{camera}@{run}.csv"
    pattern = cache / f"{camera}@{run}-%06d.ts"
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-ss", str(start_s), "-t", str(duration_s), "-i", str(shared / "media" / CLIP),
        "-map", "0:v:0", "-c", "copy", "-f", "segment", "-segment_time", str(segment_time),
        "-segment_format", "mpegts", "-segment_list", str(listing), "-segment_list_type", "csv",
        str(pattern),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    segments = []
    for line in listing.read_text().splitlines():
        name, first, last = line.split(",")
        path = cache / name
        closed = closed_from + float(last)
        os.utime(path, (closed, closed))
        segments.append((path, float(last) - float(first)))
    return segments


def ffprobe_duration(path: Path) -> float:
    """A media file's duration as ffprobe reads it (a URL works too)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(result.stdout.strip())


def read_to_end(url: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """ffmpeg reading a media URL (an HLS playlist, an MP4) to its end with stream copy."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-map", "0", "-c", "copy", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
