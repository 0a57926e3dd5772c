"""The recorder: every camera's segmenter, the cache-to-disk indexer, retention and the storage watch.

One maintenance thread does the disk work, once a second: it probes the storage (pausing every
segmenter while it is missing, reconciling rows and files when it returns), moves finished segments
out of the cache, keeps the disk from filling, and runs expiry every `record.expire_interval`
minutes. The API reads recordings through the methods at the bottom (clips, HLS, frames, exports).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nvrd.record.activity import ActivityLog
from nvrd.record.cache import SegmentCache
from nvrd.record.cleanup import (
    MIB,
    SpaceKeeper,
    StorageFailure,
    expire_event_clips,
    expire_recordings,
    is_disk_full,
    remove_stale_files,
)
from nvrd.record.clips import CLIP_PREFIX, KEEP_CLIPS_S, ClipCache, ClipError, ClipSource
from nvrd.record.command import record_command
from nvrd.record.export import IN_PROGRESS_PREFIX, Exporter, ExportJob, Playback
from nvrd.record.frames import frame_png
from nvrd.record.hls import VodSegment, playable
from nvrd.record.indexer import SegmentIndexer
from nvrd.record.probe import VideoInfo, probe_video
from nvrd.record.reconcile import reconcile
from nvrd.record.retention import CameraRetention
from nvrd.record.segmenter import Segmenter
from nvrd.record.storage import StorageWatcher
from nvrd.store import Store

log = logging.getLogger(__name__)

TICK_S = 1.0
HOUSEKEEPING_S = 60.0
CLIP_GRACE_S = 300.0  # an event that ended this long ago with no footage loses has_clip


class Recorder:
    """Records every camera that has a `record` input; start() once, stop() once."""

    def __init__(self, config: Any, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = store
        self._clock = clock
        storage = config.storage
        self.recordings = Path(storage.recordings)
        self.clips = Path(storage.clips)
        self.exports = Path(storage.exports)
        self.cache_dir = Path(storage.cache)
        self.activity = ActivityLog()
        self.storage = StorageWatcher(
            self.recordings, Path(storage.root), [self.clips, self.exports], clock=clock
        )
        self.cache = SegmentCache(self.cache_dir / "segments")
        self.clip_cache = ClipCache(self.cache_dir / "clips")
        self.space = SpaceKeeper(store, self.recordings, storage.min_free_mb * MIB, self.storage.free_bytes)
        self.indexer = SegmentIndexer(
            store, self.cache, self.recordings, self.activity, self.space, self.recording_rules, clock
        )
        self.exporter = Exporter(self.exports, self.clip_sources)
        self.segmenters: dict[str, Segmenter] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()  # an early tick (the disk came back)
        self._thread: threading.Thread | None = None
        self._next_expiry = 0.0
        self._next_housekeeping = 0.0
        self._swept_until = 0.0
        self._exports_swept = False
        self._video_info: OrderedDict[str, VideoInfo] = OrderedDict()
        self._video_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the segmenters (paused until the storage is checked) and the maintenance thread."""
        try:
            self.cache.ensure()
        except OSError as exc:  # each segmenter reports it again while it retries
            log.error("recording cache %s is not usable: %s", self.cache.folder, exc)
        for name, camera in self.config.cameras.items():
            if not self._records(camera):
                continue
            self.segmenters[name] = Segmenter(
                name,
                self._command_factory(name, camera, camera.record_input),
                self.cache.folder,
                segment_time=camera.record.segment_time,
            )
            self.segmenters[name].start(paused="waiting for the recordings storage")
        self.exporter.start()
        self._thread = threading.Thread(target=self._loop, name="record:maintenance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop recording (ffmpeg closes its segment), index what is ready, stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        for segmenter in self.segmenters.values():
            segmenter.request_stop()  # every ffmpeg closes its segment at the same time
        for segmenter in self.segmenters.values():
            segmenter.stop()
        self.exporter.stop()
        try:
            self._ingest()  # segments closed by the stop; the rest wait in the cache for the next start
        except Exception:
            log.exception("recordings: final indexing pass failed")

    def _command_factory(self, name: str, camera: Any, record_input: Any) -> Callable[[int], list[str]]:
        def command(run: int) -> list[str]:
            return record_command(
                record_input.path,
                camera=name,
                run=run,
                cache_dir=self.cache.folder,
                segment_time=camera.record.segment_time,
                global_args=record_input.global_args,
                input_args=record_input.input_args,
                output_args=camera.ffmpeg.output_args.record,
            )

        return command

    # --- rules -----------------------------------------------------------------------------------

    def recording_rules(self, camera: str) -> CameraRetention | None:
        """The retention of a camera that records (enabled reflects MQTT switches), else None."""
        config = self.config.cameras.get(camera)
        if config is None or not self._records(config):
            return None
        return CameraRetention.from_config(config.record)

    @staticmethod
    def _records(camera: Any) -> bool:
        """Whether a camera's config lets it record at all (MQTT can switch it off and on again)."""
        return camera.enabled and camera.record_input is not None and camera.record.enabled_in_config

    def _all_rules(self) -> dict[str, CameraRetention]:
        return {name: CameraRetention.from_config(c.record) for name, c in self.config.cameras.items()}

    # --- the maintenance thread ------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop must outlive any one failure
                log.exception("recordings: maintenance failed")
            self._wake.wait(TICK_S)
            self._wake.clear()

    # --- what the hot-plug monitor tells (nvrd.hotplug.storage.RecordingStorage) ----------------

    def storage_attached(self) -> None:
        """A disk was mounted at the storage root: check it now rather than at the next tick."""
        self.storage.attached()
        self._wake.set()

    def storage_detached(self, reason: str) -> None:
        """The disk is going (udev saw it removed): stop writing to it at once, until it is back."""
        self.storage.report_failure(reason, until_attached=True)
        log.error("recordings storage unavailable, recording paused: %s", reason)
        self._steer_segmenters()
        self._wake.set()

    def tick(self) -> None:
        """One maintenance step (the thread calls it every second; tests may call it directly)."""
        change = self.storage.check()
        self._steer_segmenters()  # first: recording resumes while the disk is reconciled
        if change is not None:
            self._storage_changed()
        if self.storage.available:
            try:
                self.space.ensure()
            except StorageFailure as exc:
                self._storage_failed(exc)
        self._ingest()
        now = self._clock()
        if self.storage.available and now >= self._next_expiry:
            self._next_expiry = now + self.config.record.expire_interval * 60
            self.expire(now)
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + HOUSEKEEPING_S
            self._housekeeping(now)

    def _ingest(self) -> None:
        active = {name: seg.active_run for name, seg in self.segmenters.items()}
        try:
            self.indexer.run_once(active, self.storage.available)
        except StorageFailure as exc:
            self._storage_failed(exc)

    def _storage_failed(self, exc: StorageFailure) -> None:
        if is_disk_full(exc):
            return  # the space keeper is on it; the segment waits in the cache
        self.storage.report_failure(f"write failed: {exc.strerror or exc}")
        self._storage_changed()

    def _storage_changed(self) -> None:
        state = self.storage.state
        if state.available:
            log.info("recordings storage %s is available: recording", self.storage.anchor)
            try:
                reconcile(self.store, self.recordings)
            except OSError as exc:
                log.error("recordings: reconciling %s failed: %s", self.recordings, exc)
            if not self._exports_swept:
                # Exports the previous run could not finish (nvrd stopped or died meanwhile).
                self._exports_swept = True
                removed = remove_stale_files(self.exports, IN_PROGRESS_PREFIX, 0.0, self._clock())
                if removed:
                    log.info("exports: %d unfinished export(s) of the previous run removed", removed)
            self._next_expiry = 0.0
        else:
            log.error("recordings storage unavailable, recording paused: %s", state.reason)

    def _steer_segmenters(self) -> None:
        """Pause or resume each segmenter for the storage and the camera's record switch."""
        storage = self.storage.state
        for name, segmenter in self.segmenters.items():
            if not self.config.cameras[name].record.enabled:
                reason: str | None = "recording is switched off"
            elif not storage.available:
                reason = f"recordings storage unavailable: {storage.reason}"
            else:
                reason = None
            if reason is None and segmenter.paused:
                segmenter.resume()
            elif reason is not None and segmenter.paused_reason != reason:
                segmenter.pause(reason)

    def expire(self, now: float | None = None) -> int:
        """Apply the retention rules now (events' clips, then segments); returns segments deleted."""
        now = self._clock() if now is None else now
        rules = self._all_rules()
        default = CameraRetention.from_config(self.config.record)
        expire_event_clips(self.store, rules, default, now)
        try:
            deleted = expire_recordings(self.store, self.recordings, rules, default, now)
        except StorageFailure as exc:
            self._storage_failed(exc)
            return 0
        if deleted:
            log.info("recordings: %d expired segment(s) deleted", deleted)
            self._swept_until = 0.0  # events that lost their footage lose has_clip
        return deleted

    def _housekeeping(self, now: float) -> None:
        remove_stale_files(self.clip_cache.folder, CLIP_PREFIX, KEEP_CLIPS_S, now)
        cutoff = now - CLIP_GRACE_S
        # While the disk is away footage may wait in the cache: judge those events once it is back.
        if self.storage.available and cutoff > self._swept_until:
            cleared = self.store.clear_clips_without_footage(self._swept_until - HOUSEKEEPING_S, cutoff)
            if cleared:
                log.info("recordings: %d event(s) without footage no longer claim a clip", len(cleared))
            self._swept_until = cutoff

    # --- status ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """`service.recording` in /api/stats: the storage state and each camera's recorder."""
        storage = self.storage.state
        cameras = {}
        for name, segmenter in self.segmenters.items():
            cameras[name] = {
                "state": segmenter.state,
                "pid": segmenter.pid or 0,
                "paused_reason": segmenter.paused_reason,
                "last_error": segmenter.last_error,
                "last_segment_end": self.indexer.last_segment.get(name),
            }
        return {
            "storage_available": storage.available,
            "storage_reason": storage.reason,
            "storage_since": storage.since,
            "disk_short_of_space": self.space.short_of_space,
            "cameras": cameras,
        }

    def storage_paths(self) -> list[Path]:
        """The folders whose usage /api/stats reports."""
        return [self.recordings, self.clips, self.exports, self.cache_dir]

    # --- what the API reads ----------------------------------------------------------------------

    def clip_sources(self, camera: str, start: float, end: float) -> list[ClipSource]:
        """The stored segments overlapping [start, end], oldest first."""
        rows = self.store.recordings_overlapping(
            camera, start, end, columns=("path", "start_time", "end_time")
        )
        return [ClipSource(r["path"], r["start_time"], r["end_time"]) for r in rows]

    def build_clip(self, camera: str, start: float, end: float) -> Path:
        """An MP4 of [start, end] (blocking: run it off the event loop); ClipError without footage."""
        sources = self.clip_sources(camera, start, end)
        if not sources:
            raise ClipError("no recordings in that time range")
        return self.clip_cache.get(camera, start, end, sources)

    def vod_segments(
        self, camera: str, start: float, end: float, *, file_sizes: bool = False
    ) -> list[VodSegment]:
        """The playlist entries for [start, end] (the first one is not trimmed, as Frigate's);
        `file_sizes` reads each file's exact size (for the master playlist's bandwidth)."""
        rows = self.store.recordings_overlapping(
            camera, start, end, columns=("path", "start_time", "duration", "segment_size")
        )
        segments = []
        for row in rows:
            size = int((row["segment_size"] or 0) * 2**20)
            if file_sizes:
                with contextlib.suppress(OSError):
                    size = os.stat(row["path"]).st_size
            segments.append(VodSegment(row["path"], row["start_time"], row["duration"], size))
        return playable(segments)

    def video_info(self, path: str) -> VideoInfo:
        """The video stream of a segment (cached: it is asked for every master playlist)."""
        with self._video_lock:
            if path in self._video_info:
                self._video_info.move_to_end(path)
                return self._video_info[path]
        info = probe_video(Path(path))
        with self._video_lock:
            self._video_info[path] = info
            while len(self._video_info) > 64:
                self._video_info.popitem(last=False)
        return info

    def frame_at(self, camera: str, moment: float) -> bytes | None:
        """The recorded frame of `camera` at `moment` as PNG, None when nothing was recorded then;
        FrameError when the segment cannot be decoded."""
        row = self.store.recording_at(camera, moment)
        if row is None:
            return None
        return frame_png(Path(row["path"]), moment - row["start_time"])

    def export(self, camera: str, start: float, end: float, playback: Playback) -> None:
        """Queue an export (the caller checked that recordings exist)."""
        args = self.config.cameras[camera].record.export.timelapse_args
        self.exporter.submit(ExportJob(camera, start, end, playback, args))
