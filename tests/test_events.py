"""Events end to end below the API: real tracker, real SQLite store, real JPEG/PNG files, real bus.

The frames are the street scene with the person photo from tests/test_track.py (made with ffmpeg).
"""

from __future__ import annotations

import base64
import io
import subprocess
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from nvrd.bus import BestSnapshot, Bus, EventChanged, ObjectCounts
from nvrd.detect.interpreter import SSDModel, load_runtime
from nvrd.detect.labels import load_labelmap
from nvrd.detect.object_detector import ObjectDetector
from nvrd.events import EventManager
from nvrd.frame import Frame
from nvrd.store import Store
from nvrd.track import ObjectTracker, TrackUpdate
from tests.test_track import FPS, HEIGHT, T0, WIDTH, Scene, camera_config, person_at

STREET = "480,0,960,0,960,540,480,540"  # the right half of the frame


@pytest.fixture(scope="module")
def scene(shared_dir: Path) -> Scene:
    return Scene(shared_dir)


class CountingStore(Store):
    """The real store, remembering each event row it was given (to see how often rows are written)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.upserts: list[dict[str, Any]] = []

    def upsert_event(self, row: Any) -> None:
        self.upserts.append(dict(row))
        super().upsert_event(row)


class Rig:
    """A camera's tracker feeding an EventManager that writes to a temp SQLite file and clips dir."""

    def __init__(
        self,
        tmp_path: Path,
        scene: Scene,
        cfg: Any,
        *,
        clips_dir: Path | None = None,
        clock: float | None = None,
    ) -> None:
        self.scene = scene
        self.cfg = cfg
        self.store = CountingStore(tmp_path / "nvr.db")
        self.clips = clips_dir if clips_dir is not None else tmp_path / "clips"
        self.bus = Bus()
        self.messages: list[object] = []
        self.bus.subscribe(self.messages.append)
        self.tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
        self.now = clock
        self.events = EventManager(
            self.store,
            self.clips,
            self.bus,
            {"yard": cfg},
            model_hash="5a1e0c",
            model_type="ssd",
            detector_type="cpu",
            clock=(lambda: self.now) if clock is not None else time.time,
        )
        self.frame_no = 0

    def step(self, *people: tuple[int, int, float]) -> TrackUpdate:
        """One frame (5 fps) with a person at each (x, y, score)."""
        t = T0 + self.frame_no / FPS
        self.frame_no += 1
        frame = self.scene.frame(t, *[(x, y) for x, y, _ in people])
        update = self.tracker.update(frame, [person_at(x, y, score) for x, y, score in people])
        self.events.handle("yard", update)
        return update

    def walk(self, xs: list[int], y: int = 300, score: float = 0.9) -> None:
        for x in xs:
            self.step((x, y, score))

    def until_ended(self, limit: int = 40) -> list:
        for _ in range(limit):
            update = self.step()
            if update.ended:
                return update.ended
        raise AssertionError("the object never ended")

    def event_changes(self) -> list[EventChanged]:
        return [m for m in self.messages if isinstance(m, EventChanged)]

    def of_type(self, kind: type) -> list:
        return [m for m in self.messages if isinstance(m, kind)]


def snapshot_config(**snapshots: Any) -> Any:
    return camera_config(
        {
            "detect": {"max_disappeared": 2},
            "zones": {"street": {"coordinates": STREET, "inertia": 2}},
            "snapshots": {"enabled": True, **snapshots},
        }
    )


def decode(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


WALK = list(range(100, 820, 60))  # 12 frames, 60 px a frame, from the left half into the street


def test_event_row_lifecycle_in_a_real_store(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config())
    rig.walk(WALK[:4])
    obj = rig.tracker.objects[0]
    row = rig.store.get_event(obj.id)
    assert row is not None, "a moving true positive with snapshots enabled is an event"
    assert row["end_time"] is None
    assert row["start_time"] == pytest.approx(obj.start_time - 5)  # record.events.pre_capture
    assert row["label"] == "person" and row["camera"] == "yard"
    assert row["has_snapshot"] is True and row["has_clip"] is False
    assert row["false_positive"] is False and row["retain_indefinitely"] is False
    assert (row["model_hash"], row["model_type"], row["detector_type"]) == ("5a1e0c", "ssd", "cpu")
    assert row["top_score"] is None and row["box"] is None and row["ratio"] == 1.0
    best = obj.best
    assert best is not None
    x1, y1, x2, y2 = best.box
    assert row["data"]["type"] == "object" and row["data"]["attributes"] == []
    relative = [x1 / WIDTH, y1 / HEIGHT, (x2 - x1) / WIDTH, (y2 - y1) / HEIGHT]
    assert row["data"]["box"] == pytest.approx(relative, abs=1e-4)
    assert row["data"]["score"] == best.score and row["data"]["top_score"] == obj.top_score
    thumbnail = decode(base64.b64decode(row["thumbnail"]))
    assert thumbnail.format == "JPEG" and thumbnail.size == (175, 175)

    rig.walk(WALK[4:])
    last_seen = rig.tracker.objects[0].frame_time
    assert rig.store.get_event(obj.id)["end_time"] is None
    ended = rig.until_ended()
    assert [o.id for o in ended] == [obj.id]

    row = rig.store.get_event(obj.id)
    assert row["end_time"] == pytest.approx(last_seen + 5)  # record.events.post_capture
    assert row["zones"] == ["street"]
    snapshot = decode((rig.clips / f"yard-{obj.id}.jpg").read_bytes())
    assert snapshot.format == "JPEG" and snapshot.size == (WIDTH, HEIGHT)
    clean = decode((rig.clips / f"yard-{obj.id}-clean.png").read_bytes())
    assert clean.format == "PNG" and clean.size == (WIDTH, HEIGHT)
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in rig.clips.iterdir()) == [f"yard-{obj.id}-clean.png", f"yard-{obj.id}.jpg"]

    timeline = rig.store.query_timeline(source_id=obj.id)
    kinds = [entry["class_type"] for entry in timeline]
    assert kinds[0] == "visible" and kinds[-1] == "gone"
    assert "entered_zone" in kinds
    entered = timeline[kinds.index("entered_zone")]
    assert entered["data"]["zones"] == ["street"] and entered["data"]["label"] == "person"
    assert entered["source"] == "tracked_object" and entered["camera"] == "yard"
    assert len(entered["data"]["box"]) == 4 and entered["data"]["attribute"] == ""


def test_rows_are_rewritten_only_when_something_shown_changed(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config())
    rig.walk(WALK[:3])
    obj = rig.tracker.objects[0]
    written = len(rig.store.upserts)
    assert written >= 1
    # Standing still at the same score: nothing the row shows changes.
    for _ in range(6):
        rig.step((WALK[2], 300, 0.9))
    assert len(rig.store.upserts) == written
    # A clearly better picture (higher score) changes the thumbnail and the row.
    old_thumbnail = rig.store.get_event(obj.id)["thumbnail"]
    for _ in range(6):
        rig.step((WALK[2], 300, 0.99))
    assert len(rig.store.upserts) > written
    assert rig.store.get_event(obj.id)["thumbnail"] != old_thumbnail
    # Only the first write carries the API-owned columns.
    assert "retain_indefinitely" in rig.store.upserts[0]
    assert all("retain_indefinitely" not in row for row in rig.store.upserts[1:])


def test_bus_messages_new_update_end_in_order(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config())
    rig.walk(WALK)
    obj = rig.tracker.objects[0]
    last_seen = obj.frame_time
    rig.until_ended()

    changes = rig.event_changes()
    kinds = [c.type for c in changes]
    assert kinds[0] == "new" and kinds[-1] == "end"
    assert set(kinds[1:-1]) == {"update"}
    for earlier, later in pairwise(changes):
        assert later.before == earlier.after
    first, end = changes[0].after, changes[-1].after
    assert first["id"] == obj.id and first["false_positive"] is False and first["end_time"] is None
    assert first["start_time"] == obj.start_time  # raw: no pre_capture in MQTT
    assert end["end_time"] == last_seen and end["has_snapshot"] is True
    assert end["entered_zones"] == ["street"] and end["position_changes"] >= 1
    assert end["box"] == list(obj.box)  # absolute pixels
    # Entering the zone was an update of its own.
    assert any(c.after["current_zones"] == ["street"] and c.before["current_zones"] == [] for c in changes)

    counts = rig.of_type(ObjectCounts)
    assert counts[0].labels == {"person": 1}
    assert counts[-1].labels == {"person": 0}
    assert any(c.zones.get("street") == {"person": 1} for c in counts)
    assert counts[-1].zones == {"street": {"person": 0}}
    for a, b in pairwise(counts):
        assert a != b  # only changes are published


def test_an_object_that_never_moves_creates_no_event(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config())
    for _ in range(8):
        rig.step((300, 300, 0.95))
    obj = rig.tracker.objects[0]
    assert obj.true_positive and obj.position_changes == 0
    assert rig.store.get_event(obj.id) is None
    assert rig.store.query_timeline(source_id=obj.id)[0]["class_type"] == "visible"
    rig.until_ended()
    assert rig.store.get_event(obj.id) is None
    assert rig.store.query_timeline(source_id=obj.id) == []  # rows of non-events are deleted
    assert not rig.clips.exists() or list(rig.clips.iterdir()) == []
    # Still a true positive: MQTT hears of it.
    assert [c.type for c in rig.event_changes()] == ["new", "end"]


def test_nothing_is_stored_without_snapshots_or_recording(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, camera_config({"detect": {"max_disappeared": 2}}))
    rig.walk(WALK)
    obj = rig.tracker.objects[0]
    rig.until_ended()
    assert rig.store.get_event(obj.id) is None
    assert rig.store.upserts == []
    assert [c.type for c in rig.event_changes()][-1] == "end"


def test_low_score_flicker_is_never_published_or_stored(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config())
    rig.walk(WALK, score=0.6)
    rig.until_ended()
    assert rig.event_changes() == []
    assert rig.store.upserts == []
    assert rig.of_type(ObjectCounts) == []


def test_snapshot_required_zones(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config(required_zones=["street"]))
    rig.walk(WALK[:6])  # left half only (bottom centre x <= 450)
    obj = rig.tracker.objects[0]
    assert obj.position_changes >= 1 and obj.entered_zones == []
    assert rig.store.get_event(obj.id) is None
    rig.walk(WALK[6:])
    assert obj.entered_zones == ["street"]
    assert rig.store.get_event(obj.id)["has_snapshot"] is True


def test_clip_rules_follow_record_events(tmp_path: Path, scene: Scene) -> None:
    only_cars = camera_config(
        {"detect": {"max_disappeared": 2}, "record": {"enabled": True, "events": {"objects": ["car"]}}},
        objects={"track": ["person", "car"]},
    )
    rig = Rig(tmp_path / "cars", scene, only_cars)
    rig.walk(WALK)
    assert rig.store.get_event(rig.tracker.objects[0].id) is None

    recorded = camera_config(
        {"detect": {"max_disappeared": 2}, "record": {"enabled": True, "events": {"post_capture": 3}}}
    )
    rig = Rig(tmp_path / "all", scene, recorded)
    rig.walk(WALK)
    obj = rig.tracker.objects[0]
    last_seen = obj.frame_time
    rig.until_ended()
    row = rig.store.get_event(obj.id)
    assert row["has_clip"] is True and row["has_snapshot"] is False
    assert row["end_time"] == pytest.approx(last_seen + 3)
    assert not rig.clips.exists() or list(rig.clips.iterdir()) == []  # no snapshot without snapshots


def test_snapshot_options_shape_the_file(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(
        tmp_path, scene, snapshot_config(crop=True, height=200, timestamp=True, clean_copy=False, quality=90)
    )
    rig.walk(WALK)
    obj = rig.tracker.objects[0]
    rig.until_ended()
    snapshot = decode((rig.clips / f"yard-{obj.id}.jpg").read_bytes())
    assert snapshot.size == (200, 200)  # the square crop, resized to 200 px
    assert not (rig.clips / f"yard-{obj.id}-clean.png").exists()


def test_best_snapshot_for_mqtt(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config(), clock=T0 + 2)
    # Walks with a rising score: each clearly better frame is a new best picture of "person".
    for i, x in enumerate(WALK[:8]):
        rig.step((x, 300, min(0.99, 0.72 + 0.06 * i)))
    obj = rig.tracker.objects[0]
    assert rig.events.best_object("yard", "person") is obj
    pictures = rig.of_type(BestSnapshot)
    assert pictures, "a moved object's better pictures go out"
    assert all(p.camera == "yard" and p.label == "person" for p in pictures)
    assert decode(pictures[-1].jpeg).size[1] == 270  # camera mqtt: crop, height 270
    published = len(pictures)
    rig.until_ended()
    # The label's count dropped to 0: its best picture goes out once more.
    assert len(rig.of_type(BestSnapshot)) == published + 1
    assert rig.events.best_object("yard", "person") is obj

    quiet = camera_config(
        {"detect": {"max_disappeared": 2}, "snapshots": {"enabled": True}, "mqtt": {"enabled": False}}
    )
    rig = Rig(tmp_path / "quiet", scene, quiet, clock=T0 + 2)
    for i, x in enumerate(WALK[:8]):
        rig.step((x, 300, min(0.99, 0.72 + 0.06 * i)))
    rig.until_ended()
    assert rig.of_type(BestSnapshot) == []


def test_live_object_and_end_all(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config())
    rig.walk(WALK[:5])
    obj = rig.tracker.objects[0]
    assert rig.events.live_object(obj.id) is obj
    assert rig.events.live_object("1700000000.0-nosuch") is None
    rig.events.end_all(T0 + 100)
    row = rig.store.get_event(obj.id)
    assert row["end_time"] == T0 + 100  # clean stop: now, no post_capture
    assert (rig.clips / f"yard-{obj.id}.jpg").is_file()
    assert rig.events.live_object(obj.id) is None
    assert rig.event_changes()[-1].type == "end"
    # Frames after the stop change nothing.
    messages = len(rig.messages)
    rig.walk(WALK[5:8])
    assert len(rig.messages) == messages and rig.store.get_event(obj.id)["end_time"] == T0 + 100


def test_api_changes_survive_later_updates(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config())
    rig.walk(WALK[:4])
    obj = rig.tracker.objects[0]
    assert rig.store.set_event_fields(obj.id, retain_indefinitely=True)
    assert rig.events.set_sub_label(obj.id, "Grace", 0.93)
    rig.walk(WALK[4:])
    rig.until_ended()
    row = rig.store.get_event(obj.id)
    assert row["retain_indefinitely"] is True
    assert row["sub_label"] == "Grace" and row["data"]["sub_label_score"] == 0.93
    assert rig.event_changes()[-1].after["sub_label"] == ["Grace", 0.93]
    assert not rig.events.set_sub_label(obj.id, "Late")


def test_unwritable_clips_dir_never_breaks_the_camera(tmp_path: Path, scene: Scene) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the clips folder should be")
    rig = Rig(tmp_path, scene, snapshot_config(), clips_dir=blocker)
    rig.walk(WALK)
    obj = rig.tracker.objects[0]
    rig.until_ended()
    row = rig.store.get_event(obj.id)
    assert row["end_time"] is not None
    assert row["has_snapshot"] is False  # the file could not be written, so the row says so
    assert rig.event_changes()[-1].type == "end"


def test_unknown_camera_is_ignored(tmp_path: Path, scene: Scene) -> None:
    rig = Rig(tmp_path, scene, snapshot_config())
    update = rig.tracker.update(scene.frame(T0), [person_at(100, 300, 0.9)])
    rig.events.handle("nosuch", update)
    assert rig.messages == []


class InProcessModel:
    """The real SSD model run in this process (DetectorPool runs the same model in a child process)."""

    def __init__(self, path: Path) -> None:
        self.model = SSDModel(path, load_runtime(), num_threads=1)
        self.out = np.zeros((self.model.max_detections, 6), dtype=np.float32)

    def detect(self, tensor: np.ndarray, timeout: float | None = None) -> np.ndarray:
        count = self.model.run(tensor, self.out)
        return self.out[:count].copy()


def test_real_clip_person_walking_in_makes_one_event(tmp_path: Path, shared_dir: Path) -> None:
    # 72..88 s of the clip at 5 fps: empty room, a person walks in, stands at the table, walks out.
    width, height = 768, 432
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-ss",
            "72",
            "-t",
            "16",
            "-i",
            str(shared_dir / "media" / "one-by-one-person-detection.mp4"),
            "-vf",
            "fps=5",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    size = width * height * 3 // 2
    assert len(raw) >= 70 * size
    labelmap = load_labelmap(shared_dir / "models" / "coco_labels.txt")
    model = InProcessModel(shared_dir / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite")
    detector = ObjectDetector(model, labelmap, 300, ["person"], {"person": 0.5})
    cfg = camera_config(
        {"detect": {"width": width, "height": height, "max_disappeared": 5}, "snapshots": {"enabled": True}}
    )
    store = Store(tmp_path / "nvr.db")
    bus = Bus()
    messages: list[object] = []
    bus.subscribe(messages.append)
    events = EventManager(store, tmp_path / "clips", bus, {"yard": cfg})
    tracker = ObjectTracker("yard", cfg, width, height)
    last_seen: dict[str, float] = {}
    for index in range(len(raw) // size):
        data = np.frombuffer(raw, dtype=np.uint8, count=size, offset=index * size)
        frame = Frame("yard", index, T0 + index / FPS, width, height, data)
        detections, _ = detector.detect(
            frame, [(0, 0, width, height)], [o.box for o in tracker.active_objects()]
        )
        update = tracker.update(frame, detections)
        events.handle("yard", update)
        last_seen.update({o.id: o.frame_time for o in update.active if o.disappeared == 0})

    changes = [m for m in messages if isinstance(m, EventChanged)]
    ids = {c.after["id"] for c in changes}
    assert len(ids) == 1, f"one person, one tracked object; got {ids}"
    (event_id,) = ids
    assert changes[0].type == "new" and changes[-1].type == "end"
    row = store.get_event(event_id)
    assert row is not None and row["label"] == "person"
    assert row["data"]["top_score"] >= 0.9
    assert row["end_time"] == pytest.approx(last_seen[event_id] + 5)
    assert decode((tmp_path / "clips" / f"yard-{event_id}.jpg").read_bytes()).size == (width, height)
    assert decode(base64.b64decode(row["thumbnail"])).size[1] == 175


def test_a_long_still_object_is_republished_every_minute(tmp_path: Path, scene: Scene) -> None:
    cfg = camera_config({"detect": {"stationary": {"threshold": 10_000}}, "snapshots": {"enabled": True}})
    rig = Rig(tmp_path, scene, cfg)
    frame = scene.frame(T0, (300, 300))
    detection = person_at(300, 300, 0.9)
    for index in range(65 * FPS):
        t = T0 + index / FPS
        rig.events.handle(
            "yard", rig.tracker.update(Frame("yard", index, t, WIDTH, HEIGHT, frame.data), [detection])
        )
    changes = rig.event_changes()
    assert [c.type for c in changes] == ["new", "update"]
    assert changes[1].after["frame_time"] - changes[0].after["frame_time"] == pytest.approx(60.0)
