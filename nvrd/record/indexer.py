"""From cache to recordings: decide each finished segment's fate, move the kept ones, index them.

A segment's wall-clock span comes from its file: ffmpeg closes it when the next one begins, so its
mtime is its end, and its start is that minus its length (from ffmpeg's list, or ffprobe for a file a
crash cut short). Consecutive segments of one ffmpeg run are joined exactly (a few ms of jitter
removed), so players see one continuous timeline. The file is placed first (renamed, or copied to a
`.partial` name, synced and renamed), then indexed, then removed from the cache.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nvrd.record.activity import ActivityLog
from nvrd.record.cache import CachedSegment, SegmentCache
from nvrd.record.cleanup import SpaceKeeper, StorageFailure, is_disk_full
from nvrd.record.layout import segment_path
from nvrd.record.probe import ProbeError, probe_duration
from nvrd.record.reconcile import MAX_DURATION_S, PARTIAL_SUFFIX, recording_id
from nvrd.record.retention import CameraRetention, Span, Verdict, ingest_verdict
from nvrd.store import Store

log = logging.getLogger(__name__)

JOIN_TOLERANCE_S = 0.5  # consecutive segments of a run closer than this are joined exactly
# Footage per camera waiting in the cache (it waits only for a verdict, or for a full disk to make
# room); beyond this the oldest is dropped, so a disk that never frees up cannot fill the data partition.
MAX_PENDING_BYTES = 256 * 1024 * 1024


@dataclass(slots=True)
class _Previous:
    run: int
    index: int
    end: float


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one pass did."""

    kept: int = 0
    dropped: int = 0
    waiting: int = 0


class SegmentIndexer:
    """Moves finished segments from the cache to the recordings folder; one thread uses it."""

    def __init__(
        self,
        store: Store,
        cache: SegmentCache,
        recordings: Path,
        activity: ActivityLog,
        space: SpaceKeeper,
        rules_for: Callable[[str], CameraRetention | None],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.cache = cache
        self.recordings = Path(recordings)
        self.activity = activity
        self.space = space
        self._rules_for = rules_for
        self._clock = clock
        self._previous: dict[str, _Previous] = {}
        self._probed: dict[Path, float] = {}  # lengths of cut-short segments, probed once
        self.last_segment: dict[str, float] = {}  # camera -> end of the newest indexed segment

    def run_once(self, active_runs: dict[str, int | None], storage_available: bool) -> IngestResult:
        """One pass over the cache. Raises StorageFailure when the recordings disk failed a write."""
        kept = dropped = waiting = 0
        for camera, segments in self.cache.finished(active_runs).items():
            segments = self._limit_backlog(camera, segments)
            for segment in segments:
                verdict = self._handle(camera, segment, storage_available)
                if verdict is Verdict.WAIT:
                    waiting += 1
                    break  # later segments wait for this one: a camera's segments go in order
                if verdict is Verdict.KEEP:
                    kept += 1
                else:
                    dropped += 1
        return IngestResult(kept, dropped, waiting)

    def _limit_backlog(self, camera: str, segments: list[CachedSegment]) -> list[CachedSegment]:
        total = sum(segment.size for segment in segments)
        dropped = 0
        while total > MAX_PENDING_BYTES and len(segments) > 1:
            oldest, segments = segments[0], segments[1:]
            total -= oldest.size
            self.cache.remove(oldest)
            dropped += 1
        if dropped:
            log.warning(
                "%s: %d recording segment(s) piled up in the cache; the oldest dropped", camera, dropped
            )
        return segments

    def _handle(self, camera: str, segment: CachedSegment, storage_available: bool) -> Verdict:
        rules = self._rules_for(camera)
        if rules is None:
            self.cache.remove(segment)  # the camera no longer records
            return Verdict.DROP
        timing = self._timing(camera, segment)
        if timing is None:
            self.cache.remove(segment)
            return Verdict.DROP
        span, duration = timing
        activity = self.activity.between(camera, span.start, span.end)
        span = Span(span.start, span.end, activity.motion, activity.objects)
        verdict = ingest_verdict(
            rules,
            span,
            now=self._clock(),
            processed_until=self.activity.processed_until(camera),
            clip_events=self.store.clip_events_overlapping(camera, span.start, span.end),
        )
        log.debug(
            "%s: segment %s %.3f..%.3f: %s", camera, segment.path.name, span.start, span.end, verdict.value
        )
        if verdict is Verdict.KEEP and not storage_available:
            return Verdict.WAIT  # kept in the cache until the disk is back
        if verdict is Verdict.KEEP:
            self._store(camera, segment, span, duration)
        elif verdict is Verdict.DROP:
            self.cache.remove(segment)
        if verdict is not Verdict.WAIT:
            self._previous[camera] = _Previous(segment.run, segment.index, span.end)
            self._probed.pop(segment.path, None)
        return verdict

    def _timing(self, camera: str, segment: CachedSegment) -> tuple[Span, float] | None:
        """The segment's wall-clock span and its length, or None when the file is unusable."""
        duration = segment.duration
        if duration is None:
            duration = self._probed.get(segment.path)
        if duration is None:
            try:
                duration = probe_duration(segment.path)
            except ProbeError as exc:
                log.warning("%s: discarding unreadable segment %s: %s", camera, segment.path.name, exc)
                return None
            log.info("%s: recovered segment %s cut short (%.1f s)", camera, segment.path.name, duration)
            self._probed[segment.path] = duration
        if not 0 < duration < MAX_DURATION_S:
            log.warning("%s: discarding segment %s of %.3f s", camera, segment.path.name, duration)
            return None
        start = segment.closed_at - duration
        previous = self._previous.get(camera)
        if (
            previous is not None
            and previous.run == segment.run
            and previous.index == segment.index - 1
            and abs(start - previous.end) < JOIN_TOLERANCE_S
        ):
            start = previous.end
        return Span(start, start + duration), duration

    def _store(self, camera: str, segment: CachedSegment, span: Span, duration: float) -> None:
        """Place the file on the recordings disk and index it. Raises StorageFailure."""
        self.space.ensure(segment.size)
        if not self.recordings.is_dir():
            # Never create it here: on a PC that would write onto the empty mount point of a pulled disk.
            raise StorageFailure(errno.ENOENT, f"{self.recordings} is gone")
        destination = self._free_path(camera, span.start)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            _place(segment.path, destination)
        except OSError as exc:
            if is_disk_full(exc):
                # Retried on the next pass, after the space keeper has had another go.
                log.error("%s: recordings disk full; segment kept in the cache", camera)
                raise StorageFailure(exc.errno, "recordings disk is full") from exc
            raise StorageFailure(exc.errno, f"cannot write {destination}: {exc.strerror or exc}") from exc
        row = {
            "id": recording_id(span.start),
            "camera": camera,
            "path": str(destination),
            "start_time": span.start,
            "end_time": span.end,
            "duration": duration,
            "motion": span.motion,
            "objects": span.objects,
            "dBFS": 0,
            "segment_size": round(segment.size / 2**20, 1),
        }
        try:
            self.store.insert_recording(row)
        except sqlite3.Error:
            # The file is in place without a row; reconciliation indexes it at the next start.
            log.exception("%s: could not index %s", camera, destination)
        self.cache.remove(segment)
        self.last_segment[camera] = span.end

    def _free_path(self, camera: str, start: float) -> Path:
        """The layout's path for this start, or a `-N` variant when that one is taken."""
        for duplicate in range(100):
            path = segment_path(self.recordings, camera, start, duplicate=duplicate)
            if not path.exists() and self.store.recording_by_path(str(path)) is None:
                return path
        raise StorageFailure(0, f"no free name for a segment of {camera} at {start}")


def _place(source: Path, destination: Path) -> None:
    """Move a file onto the recordings disk so that a crash never leaves half a file under its name."""
    try:
        if source.stat().st_dev == destination.parent.stat().st_dev:
            os.replace(source, destination)
            # The cache copy is gone now; remove() after indexing finds nothing, which is fine.
            return
    except OSError:
        pass
    partial = destination.with_name(destination.name + PARTIAL_SUFFIX)
    try:
        with source.open("rb") as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
