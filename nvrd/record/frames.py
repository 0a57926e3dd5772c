"""One picture from the recordings: the frame at a given offset into a segment, as PNG."""

from __future__ import annotations

import subprocess
from pathlib import Path

from nvrd.record.children import child_setup

FRAME_TIMEOUT_S = 20.0
LAST_FRAME_SLACK_S = 0.5  # a moment this close to a segment's end may fall after its last frame


class FrameError(RuntimeError):
    """No frame could be decoded at that place."""


def frame_png(path: Path, offset: float) -> bytes:
    """The frame `offset` seconds into the file (or its last frame, when `offset` lies within the
    last frame's duration), full size, PNG-encoded."""
    try:
        return _decode(path, offset)
    except FrameError:
        if offset < LAST_FRAME_SLACK_S:
            raise
        return _decode(path, offset - LAST_FRAME_SLACK_S)


def _decode(path: Path, offset: float) -> bytes:
    """One frame; the file is decoded from its start (segments are short): seeking inside MPEG-TS
    lands unreliably."""
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-i", str(path), "-ss", f"{max(0.0, offset):.3f}",
        "-frames:v", "1", "-an", "-c:v", "png", "-f", "image2pipe", "pipe:1",
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command, capture_output=True, timeout=FRAME_TIMEOUT_S, check=False, preexec_fn=child_setup()
        )
    except subprocess.TimeoutExpired as exc:
        raise FrameError(f"decoding {path.name} took too long") from exc
    if result.returncode != 0 or not result.stdout.startswith(b"\x89PNG"):
        said = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no frame"]
        raise FrameError(f"cannot decode a frame of {path.name} at {offset:.3f} s: {said[0]}")
    return result.stdout
