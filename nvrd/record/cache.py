"""The segment cache: the files ffmpeg writes, which of them are finished, and how long each is.

Names are `<camera>@<run>-<index>.ts` beside one `<camera>@<run>.csv` list per ffmpeg run (see
nvrd.record.command). A segment is finished when the list names it (ffmpeg wrote it and closed it).
A file of a run that is no longer running and that the list does not name was cut short (ffmpeg or
nvrd was killed): it is handed out without a duration, for the caller to probe or discard.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from nvrd.record.command import LIST_EXTENSION, SEGMENT_EXTENSION

log = logging.getLogger(__name__)

_SEGMENT = re.compile(r"^(?P<camera>[A-Za-z0-9_-]+)@(?P<run>\d+)-(?P<index>\d+)\.ts$")
_LIST = re.compile(r"^(?P<camera>[A-Za-z0-9_-]+)@(?P<run>\d+)\.csv$")


@dataclass(frozen=True, slots=True)
class CachedSegment:
    """One finished (or cut short) segment waiting in the cache."""

    path: Path
    camera: str
    run: int
    index: int
    duration: float | None  # from ffmpeg's list; None when the run ended without listing it
    closed_at: float  # the file's mtime: when ffmpeg wrote its last bytes
    size: int  # bytes

    @property
    def order(self) -> tuple[int, int]:
        """Recording order within a camera."""
        return (self.run, self.index)


@dataclass(slots=True)
class _ListState:
    """How far one csv list has been read, and what it said."""

    offset: int = 0
    durations: dict[str, float] = field(default_factory=dict)


class SegmentCache:
    """Reads one cache folder; used from a single thread (the recorder's maintenance thread)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lists: dict[Path, _ListState] = {}

    def ensure(self) -> None:
        """Create the folder (the cache lives on the data partition, which is always there)."""
        self.folder.mkdir(parents=True, exist_ok=True)

    def finished(self, active_runs: dict[str, int | None]) -> dict[str, list[CachedSegment]]:
        """Per camera, the segments ready for the indexer, in recording order.

        `active_runs` maps a camera to the run its ffmpeg is writing now (None: not running); the
        newest file of an active run is still being written and is left alone.
        """
        segments: dict[str, list[tuple[int, int, os.DirEntry]]] = {}
        lists: list[tuple[str, int, Path]] = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            log.error("recording cache %s is not readable: %s", self.folder, exc)
            return {}
        for entry in entries:
            match = _SEGMENT.match(entry.name)
            if match is not None:
                key = (int(match["run"]), int(match["index"]), entry)
                segments.setdefault(match["camera"], []).append(key)
                continue
            match = _LIST.match(entry.name)
            if match is not None:
                lists.append((match["camera"], int(match["run"]), Path(entry.path)))
        durations: dict[str, float] = {}
        for _camera, _run, list_path in lists:
            durations.update(self._read_list(list_path))
        result: dict[str, list[CachedSegment]] = {}
        for camera, found in segments.items():
            found.sort(key=lambda item: (item[0], item[1]))
            active = active_runs.get(camera)
            ready = []
            for run, index, entry in found:
                duration = durations.get(entry.name)
                if duration is None and run == active:
                    continue  # being written (only the newest file of the active run is unlisted)
                try:
                    stat = entry.stat()
                except OSError:
                    continue  # moved or deleted under us
                ready.append(
                    CachedSegment(Path(entry.path), camera, run, index, duration, stat.st_mtime, stat.st_size)
                )
            if ready:
                result[camera] = ready
        self._forget_finished_lists(lists, segments, active_runs)
        return result

    def _read_list(self, path: Path) -> dict[str, float]:
        """New complete lines of one csv list, added to what was read before; name -> duration."""
        state = self._lists.setdefault(path, _ListState())
        try:
            with path.open("rb") as stream:
                stream.seek(state.offset)
                chunk = stream.read()
        except OSError:
            return state.durations
        end = chunk.rfind(b"\n")
        if end >= 0:
            state.offset += end + 1
            for line in chunk[: end + 1].decode("utf-8", "replace").splitlines():
                parts = line.strip().split(",")
                if len(parts) < 3:
                    continue
                try:
                    start, stop = float(parts[-2]), float(parts[-1])
                except ValueError:
                    continue
                name = os.path.basename(",".join(parts[:-2]).strip('"'))
                state.durations[name] = max(0.0, stop - start)
        return state.durations

    def _forget_finished_lists(
        self,
        lists: list[tuple[str, int, Path]],
        segments: dict[str, list[tuple[int, int, os.DirEntry]]],
        active_runs: dict[str, int | None],
    ) -> None:
        """Delete the list of a run that is over and whose segments have all left the cache."""
        for camera, run, list_path in lists:
            if active_runs.get(camera) == run:
                continue
            if any(found_run == run for found_run, _i, _e in segments.get(camera, ())):
                continue
            with contextlib.suppress(OSError):
                list_path.unlink()
            self._lists.pop(list_path, None)

    def remove(self, segment: CachedSegment) -> None:
        """Delete a segment's cache file (already gone, moved away, is fine) and forget its length."""
        with contextlib.suppress(FileNotFoundError):
            segment.path.unlink()
        state = self._lists.get(self.folder / f"{segment.camera}@{segment.run}{LIST_EXTENSION}")
        if state is not None:
            state.durations.pop(segment.path.name, None)

    def files_of(self, camera: str) -> list[Path]:
        """Every cache file of one camera (segments and lists)."""
        prefix = f"{camera}@"
        try:
            return [
                Path(entry.path)
                for entry in os.scandir(self.folder)
                if entry.name.startswith(prefix) and entry.name.endswith((SEGMENT_EXTENSION, LIST_EXTENSION))
            ]
        except OSError:
            return []
