"""ffprobe, for what the recorder must learn from a media file: its duration, and its video stream."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

PROBE_TIMEOUT_S = 20.0


class ProbeError(RuntimeError):
    """ffprobe could not read the file (missing, empty, corrupt)."""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """The first video stream of a file, as an HLS master playlist describes it."""

    codec: str  # ffprobe's codec_name: h264, hevc, ...
    profile: str
    level: int
    width: int
    height: int
    fps: float


def _ffprobe(path: Path, entries: str, extra: tuple[str, ...] = ()) -> dict:
    cmd = ["ffprobe", "-v", "error", *extra, "-show_entries", entries, "-of", "json", str(path)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeError(f"ffprobe {path}: {exc}") from exc
    if result.returncode != 0:
        raise ProbeError(f"ffprobe {path}: {result.stderr.strip() or f'exit status {result.returncode}'}")
    try:
        return json.loads(result.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise ProbeError(f"ffprobe {path}: unreadable output") from exc


def probe_duration(path: Path) -> float:
    """The file's duration in seconds; ProbeError when it has none (empty or corrupt)."""
    data = _ffprobe(path, "format=duration")
    try:
        duration = float(data["format"]["duration"])
    except (KeyError, TypeError, ValueError):
        raise ProbeError(f"ffprobe {path}: no duration") from None
    if not duration > 0:
        raise ProbeError(f"ffprobe {path}: duration {duration}")
    return duration


def probe_start(path: Path) -> float:
    """The timestamp (s) of the file's first packet: where ffmpeg's in/out points are counted from."""
    data = _ffprobe(path, "format=start_time")
    try:
        return float(data["format"]["start_time"])
    except (KeyError, TypeError, ValueError):
        raise ProbeError(f"ffprobe {path}: no start time") from None


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def probe_video(path: Path) -> VideoInfo:
    """The first video stream's codec, profile, level, size and frame rate."""
    data = _ffprobe(
        path,
        "stream=codec_name,profile,level,width,height,avg_frame_rate,r_frame_rate",
        ("-select_streams", "v:0"),
    )
    streams = data.get("streams") or []
    if not streams:
        raise ProbeError(f"ffprobe {path}: no video stream")
    stream = streams[0]
    fps = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
    return VideoInfo(
        codec=str(stream.get("codec_name", "")),
        profile=str(stream.get("profile", "")),
        level=int(stream.get("level") or 0),
        width=int(stream.get("width") or 0),
        height=int(stream.get("height") or 0),
        fps=fps,
    )
