"""Where a recording segment lives on the recordings storage, and reading that place back.

    <recordings>/YYYY-MM-DD/HH/<camera>/MM.SS.ts      (UTC date and time of the segment's start)

Two segments that start in the same second (a restart) get `MM.SS-1.ts`, `MM.SS-2.ts`, ...
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

_SEGMENT_NAME = re.compile(r"^(?P<minute>[0-5]\d)\.(?P<second>[0-5]\d)(?:-(?P<n>\d+))?\.(?P<ext>ts|mp4)$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOUR = re.compile(r"^[0-2]\d$")


def segment_folder(recordings: Path, camera: str, start: float) -> Path:
    """The folder of the segments of `camera` that start in the UTC hour of `start`."""
    moment = datetime.fromtimestamp(start, tz=UTC)
    return recordings / moment.strftime("%Y-%m-%d") / moment.strftime("%H") / camera


def segment_path(
    recordings: Path, camera: str, start: float, extension: str = ".ts", duplicate: int = 0
) -> Path:
    """The path of a segment starting at `start`; `duplicate` > 0 for a second one in the same second."""
    moment = datetime.fromtimestamp(start, tz=UTC)
    suffix = f"-{duplicate}" if duplicate else ""
    return segment_folder(recordings, camera, start) / f"{moment.strftime('%M.%S')}{suffix}{extension}"


def parse_segment_path(recordings: Path, path: Path) -> tuple[str, float] | None:
    """(camera, start to the second) of a segment path inside `recordings`, or None if it is not one."""
    try:
        day, hour, camera, name = path.relative_to(recordings).parts
    except ValueError:
        return None
    match = _SEGMENT_NAME.match(name)
    if match is None or not _DAY.match(day) or not _HOUR.match(hour):
        return None
    try:
        moment = datetime.strptime(
            f"{day} {hour}:{match['minute']}:{match['second']}", "%Y-%m-%d %H:%M:%S"
        ).replace(tzinfo=UTC)
    except ValueError:
        return None
    return camera, moment.timestamp()


def is_segment_file(name: str) -> bool:
    """True for names the layout gives segments."""
    return _SEGMENT_NAME.match(name) is not None
