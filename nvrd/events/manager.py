"""Turns tracking updates into events: event rows, timeline rows, snapshot files and bus notices.

One EventManager serves every camera. Each camera's processing thread calls `handle()` with its
tracker's update; the API reads live objects through `live_object()` and `best_object()`.

Config access per camera (0.13 schema names): `record.events.{pre_capture, post_capture}`,
`best_image_timeout`, `snapshots.clean_copy`, and what nvrd.events.rules and nvrd.events.pictures read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nvrd.bus import BestSnapshot, Bus, EventChanged, ObjectCounts
from nvrd.events import pictures
from nvrd.events.files import write_atomic
from nvrd.events.rows import event_row, timeline_row
from nvrd.events.rules import qualifies_for_clip, qualifies_for_mqtt_snapshot, qualifies_for_snapshot
from nvrd.track.tracked_object import BestFrame, TrackedObject, is_better_picture
from nvrd.track.tracker import TrackUpdate

log = logging.getLogger(__name__)

# An event in progress is re-published at least this often (seconds of frame time).
REPUBLISH_INTERVAL = 60.0
DEFAULT_PRE_CAPTURE = 5.0
DEFAULT_POST_CAPTURE = 5.0
DEFAULT_BEST_IMAGE_TIMEOUT = 60.0


class EventStore(Protocol):
    """The part of nvrd.store.Store the events layer writes to."""

    def upsert_event(self, row: dict) -> None: ...
    def insert_timeline(self, row: dict) -> None: ...
    def delete_timeline(self, source_id: str) -> None: ...


@dataclass(eq=False)
class _Watch:
    """What the manager remembers of one tracked object between frames."""

    obj: TrackedObject
    previous: dict[str, Any]  # object state at the last EventChanged (or at registration)
    last_published: float | None = None
    zones: list[str] = field(default_factory=list)
    stationary: bool = False
    position_changes: int = 0
    best: BestFrame | None = None
    saved: bool = False
    saved_key: tuple | None = None
    saved_best: BestFrame | None = None
    thumbnail: str | None = None


@dataclass(eq=False)
class _BestPicture:
    """The best picture of a label on a camera, and the object it shows."""

    obj: TrackedObject
    picture: BestFrame


@dataclass(eq=False)
class _CameraState:
    """One camera's objects and pictures; `lock` serialises its updates (and the shutdown)."""

    watches: dict[str, _Watch] = field(default_factory=dict)
    best: dict[str, _BestPicture] = field(default_factory=dict)
    counts: ObjectCounts | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class EventManager:
    """Keeps the events of all cameras in step with their tracked objects."""

    def __init__(
        self,
        store: EventStore,
        clips_dir: Path,
        bus: Bus,
        camera_configs: Mapping[str, Any],
        *,
        model_hash: str | None = None,
        model_type: str | None = None,
        detector_type: str | None = None,
        model_info: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`model_info` may give model_hash, model_type and detector_type in one mapping (the
        detector pool's description); the single keyword arguments win over it."""
        self._store = store
        self._clips_dir = Path(clips_dir)
        self._bus = bus
        self._configs = camera_configs
        info = dict(model_info or {})
        self._model = {
            "model_hash": model_hash if model_hash is not None else info.get("model_hash"),
            "model_type": model_type if model_type is not None else info.get("model_type"),
            "detector_type": detector_type if detector_type is not None else info.get("detector_type"),
        }
        self._clock = clock
        self._cameras: dict[str, _CameraState] = {}
        self._live: dict[str, _Watch] = {}
        # Guards `_cameras`, `_live` and `_closed` only: each camera's work (JPEG/PNG encoding,
        # database writes) runs under its own lock, so cameras and API readers do not wait on it.
        self._lock = threading.Lock()
        self._closed = False

    # -- readers (API threads) -------------------------------------------------------------------

    def live_object(self, object_id: str) -> TrackedObject | None:
        """The tracked object with this id while it is still tracked, else None."""
        with self._lock:
            watch = self._live.get(object_id)
            return watch.obj if watch is not None else None

    def best_object(self, camera: str, label: str) -> TrackedObject | None:
        """The object with the best recent picture of `label` on `camera` (it may have ended)."""
        with self._lock:
            state = self._cameras.get(camera)
        # A single dict read: atomic, so no need to wait for the camera's lock.
        best = state.best.get(label) if state is not None else None
        return best.obj if best is not None else None

    def set_sub_label(self, object_id: str, sub_label: str | None, score: float | None = None) -> bool:
        """Give a live object a sub label (written with its next row update); False when not live."""
        with self._lock:
            watch = self._live.get(object_id)
            if watch is None:
                return False
            watch.obj.sub_label = sub_label
            watch.obj.sub_label_score = score if sub_label is not None else None
            return True

    # -- the camera threads ----------------------------------------------------------------------

    def handle(self, camera: str, update: TrackUpdate) -> None:
        """Apply one frame's tracking update of `camera`. Never raises: failures are logged."""
        cfg = self._configs.get(camera)
        if cfg is None:
            log.error("events: update for unknown camera %r ignored", camera)
            return
        with self._lock:
            state = self._cameras.setdefault(camera, _CameraState())
        with state.lock:
            if self._closed:
                return
            for obj in update.active:
                self._guard(self._refresh, cfg, self._watch(state, obj))
            for obj in update.ended:
                watch = self._watch(state, obj)
                end = obj.end_time if obj.end_time is not None else obj.frame_time
                self._guard(self._finish, cfg, state, watch, end, end + _post_capture(cfg))
            self._guard(self._keep_best_pictures, camera, cfg, state, update)
            self._guard(self._count, camera, cfg, state, update.active)

    def end_all(self, now: float | None = None) -> None:
        """Shut down: end every object in progress with end time `now`; later updates are ignored."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            cameras = list(self._cameras.items())
        end = self._clock() if now is None else now
        for camera, state in cameras:
            cfg = self._configs.get(camera)
            with state.lock:
                for watch in list(state.watches.values()):
                    watch.obj.end_time = end
                    self._guard(self._finish, cfg, state, watch, end, end)

    # -- steps -----------------------------------------------------------------------------------

    def _guard(self, step: Callable[..., Any], *args: Any) -> None:
        # One object's failure (disk full, database locked) must not stop the others or the camera.
        try:
            step(*args)
        except Exception:
            log.exception("events: %s failed", getattr(step, "__name__", step))

    def _watch(self, state: _CameraState, obj: TrackedObject) -> _Watch:
        """The watch of an object, started (with its `visible` timeline row) on first sight."""
        watch = state.watches.get(obj.id)
        if watch is None:
            watch = _Watch(obj=obj, previous=obj.to_event_dict())
            state.watches[obj.id] = watch
            with self._lock:
                self._live[obj.id] = watch
            self._guard(self._store.insert_timeline, timeline_row(obj, "visible", obj.frame_time))
        return watch

    def _refresh(self, cfg: Any, watch: _Watch) -> None:
        obj = watch.obj
        obj.has_snapshot = obj.has_snapshot or qualifies_for_snapshot(obj, cfg)
        obj.has_clip = obj.has_clip or qualifies_for_clip(obj, cfg)

        zones_changed = obj.current_zones != watch.zones
        if zones_changed and obj.current_zones and not obj.stationary:
            row = timeline_row(obj, "entered_zone", obj.frame_time, zones=list(obj.current_zones))
            self._guard(self._store.insert_timeline, row)
        if obj.stationary != watch.stationary:
            row = timeline_row(obj, "stationary" if obj.stationary else "active", obj.frame_time)
            self._guard(self._store.insert_timeline, row)

        if obj.true_positive:
            significant = (
                watch.last_published is None
                or zones_changed
                or obj.best is not watch.best
                or obj.stationary != watch.stationary
                or obj.position_changes != watch.position_changes
                or obj.frame_time - watch.last_published >= REPUBLISH_INTERVAL
            )
            if significant:
                self._publish(watch, "new" if watch.last_published is None else "update")

        watch.zones = list(obj.current_zones)
        watch.stationary = obj.stationary
        watch.position_changes = obj.position_changes
        watch.best = obj.best
        if obj.has_snapshot or obj.has_clip:
            self._save(cfg, watch, None)

    def _finish(self, cfg: Any, state: _CameraState, watch: _Watch, end: float, stored_end: float) -> None:
        obj = watch.obj
        state.watches.pop(obj.id, None)
        with self._lock:
            self._live.pop(obj.id, None)
        obj.end_time = end
        obj.has_snapshot = obj.has_snapshot or qualifies_for_snapshot(obj, cfg)
        obj.has_clip = obj.has_clip or qualifies_for_clip(obj, cfg)
        if obj.has_snapshot and not self._write_snapshot(cfg, obj):
            obj.has_snapshot = False
        # A row written while in progress is closed even if its snapshot could not be written.
        if obj.has_snapshot or obj.has_clip or watch.saved:
            self._guard(self._save, cfg, watch, stored_end)
            self._guard(self._store.insert_timeline, timeline_row(obj, "gone", end))
        else:
            # Frigate keeps no trace of objects that never became events.
            self._guard(self._store.delete_timeline, obj.id)
        if obj.true_positive:
            self._publish(watch, "end")

    def _publish(self, watch: _Watch, kind: str) -> None:
        after = watch.obj.to_event_dict()
        self._bus.publish(EventChanged(type=kind, before=watch.previous, after=after))
        watch.previous = after
        watch.last_published = watch.obj.frame_time

    def _save(self, cfg: Any, watch: _Watch, end_time: float | None) -> None:
        """Upsert the event row when something it shows changed since the last write."""
        obj = watch.obj
        best_changed = obj.best is not watch.saved_best
        zones = tuple(obj.entered_zones)
        key = (obj.top_score, zones, obj.has_clip, obj.has_snapshot, end_time, obj.sub_label)
        if watch.saved and not best_changed and key == watch.saved_key:
            return
        if best_changed:
            # Encoding the thumbnail costs a JPEG; only a new best frame needs one.
            watch.thumbnail = pictures.thumbnail_base64(obj)
            watch.saved_best = obj.best
        row = event_row(
            obj,
            start_time=obj.start_time - _pre_capture(cfg),
            end_time=end_time,
            thumbnail=watch.thumbnail,
            first=not watch.saved,
            **self._model,
        )
        self._store.upsert_event(row)
        watch.saved = True
        watch.saved_key = key

    def _write_snapshot(self, cfg: Any, obj: TrackedObject) -> bool:
        """Write `<camera>-<id>.jpg` (and the clean PNG); False when there was nothing or it failed."""
        try:
            jpeg = pictures.render_snapshot_file(obj, cfg)
            if jpeg is None:
                return False
            write_atomic(self._clips_dir / f"{obj.camera}-{obj.id}.jpg", jpeg)
            if getattr(getattr(cfg, "snapshots", None), "clean_copy", True):
                png = pictures.render_clean_png(obj)
                if png is not None:
                    write_atomic(self._clips_dir / f"{obj.camera}-{obj.id}-clean.png", png)
        except Exception:
            log.exception("events: could not write the snapshot of %s", obj.id)
            return False
        return True

    def _keep_best_pictures(self, camera: str, cfg: Any, state: _CameraState, update: TrackUpdate) -> None:
        """Follow the best picture per label; announce a new one (§8.4, last paragraph)."""
        timeout = getattr(cfg, "best_image_timeout", None)
        timeout = DEFAULT_BEST_IMAGE_TIMEOUT if timeout is None else float(timeout)
        for obj in update.active:
            picture = obj.best
            if not obj.true_positive or picture is None or picture.time != update.frame_time:
                continue
            current = state.best.get(obj.label)
            if (
                current is None
                or is_better_picture(current.picture, picture.box, picture.score, obj.frame_w, obj.frame_h)
                or self._clock() - current.picture.time > timeout
            ):
                state.best[obj.label] = _BestPicture(obj, picture)
                self._announce_best(camera, cfg, state.best[obj.label])

    def _announce_best(self, camera: str, cfg: Any, best: _BestPicture) -> None:
        if qualifies_for_mqtt_snapshot(best.obj, cfg):
            jpeg = pictures.render_mqtt_snapshot(best.picture, best.obj.label, cfg)
            self._bus.publish(BestSnapshot(camera=camera, label=best.obj.label, jpeg=jpeg))

    def _count(self, camera: str, cfg: Any, state: _CameraState, active: list[TrackedObject]) -> None:
        """Publish true-positive counts per label and per zone when they changed."""
        previous = state.counts or ObjectCounts(camera=camera, labels={}, zones={})
        labels = dict.fromkeys(previous.labels, 0)
        zones = {z: dict.fromkeys(c, 0) for z, c in previous.zones.items()}
        for obj in active:
            if not obj.true_positive:
                continue
            labels[obj.label] = labels.get(obj.label, 0) + 1
            for zone in obj.current_zones:
                per_zone = zones.setdefault(zone, {})
                per_zone[obj.label] = per_zone.get(obj.label, 0) + 1
        counts = ObjectCounts(camera=camera, labels=labels, zones=zones)
        if counts == previous:
            return
        state.counts = counts
        self._bus.publish(counts)
        # When the last object of a label leaves, its best picture goes out once more.
        for label, count in labels.items():
            if count == 0 and previous.labels.get(label, 0) > 0 and label in state.best:
                self._announce_best(camera, cfg, state.best[label])


def _record_events(cfg: Any) -> Any:
    return getattr(getattr(cfg, "record", None), "events", None)


def _pre_capture(cfg: Any) -> float:
    value = getattr(_record_events(cfg), "pre_capture", None)
    return DEFAULT_PRE_CAPTURE if value is None else float(value)


def _post_capture(cfg: Any) -> float:
    value = getattr(_record_events(cfg), "post_capture", None)
    return DEFAULT_POST_CAPTURE if value is None else float(value)
