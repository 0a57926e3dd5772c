"""The object tracker on real frames: a photo of a person moved across a real street scene.

Frames are made with real ffmpeg from ../shared/media (traffic_0001_960x540.bmp as the scene,
grace_hopper.bmp as the person); the detections are synthetic so each rule can be driven exactly.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nvrd.config import NvrConfig
from nvrd.detect.regions import Detection
from nvrd.frame import Frame
from nvrd.geometry import Box
from nvrd.track import ObjectTracker, TrackedObject, TrackUpdate, is_better_picture

WIDTH, HEIGHT = 960, 540
PERSON_W, PERSON_H = 100, 120
T0 = 1_700_000_000.0
FPS = 5
ID_FORMAT = re.compile(r"^\d+\.\d{1,6}-[a-z0-9]{6}$")


def i420_from_image(path: Path, width: int, height: int) -> np.ndarray:
    """A picture file as raw I420 bytes at the given size, decoded and scaled by ffmpeg."""
    result = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-vf",
            f"scale={width}:{height}",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    data = np.frombuffer(result.stdout, dtype=np.uint8)
    assert data.size == width * height * 3 // 2
    return data


class Scene:
    """The street scene with the person photo pasted where a test wants it."""

    def __init__(self, shared: Path) -> None:
        self.background = Frame(
            "yard",
            0,
            T0,
            WIDTH,
            HEIGHT,
            i420_from_image(shared / "media" / "traffic_0001_960x540.bmp", WIDTH, HEIGHT),
        )
        self.person = Frame(
            "",
            0,
            0.0,
            PERSON_W,
            PERSON_H,
            i420_from_image(shared / "media" / "grace_hopper.bmp", PERSON_W, PERSON_H),
        )
        self.index = 0

    def frame(self, t: float, *people: tuple[int, int]) -> Frame:
        """A frame at time t with the person pasted with its top-left at each (x, y) (even numbers)."""
        self.index += 1
        frame = self.background.copy()
        frame.index, frame.time = self.index, t
        for x, y in people:
            w, h = min(PERSON_W, WIDTH - x), min(PERSON_H, HEIGHT - y)
            frame.y[y : y + h, x : x + w] = self.person.y[:h, :w]
            frame.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = self.person.u[: h // 2, : w // 2]
            frame.v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = self.person.v[: h // 2, : w // 2]
        return frame


@pytest.fixture(scope="module")
def scene(shared_dir: Path) -> Scene:
    return Scene(shared_dir)


def person_at(
    x: int, y: int, score: float = 0.85, label: str = "person", size: tuple[int, int] = (PERSON_W, PERSON_H)
) -> Detection:
    """A detection of the pasted person whose box has its top-left corner at (x, y)."""
    box: Box = (x, y, min(WIDTH, x + size[0]), min(HEIGHT, y + size[1]))
    side = 300
    rx = min(max(0, (box[0] + box[2]) // 2 - side // 2), WIDTH - side)
    ry = min(max(0, (box[1] + box[3]) // 2 - side // 2), HEIGHT - side)
    return Detection(label, score, box, (rx, ry, rx + side, ry + side))


def camera_config(camera: dict[str, Any] | None = None, **top: Any) -> Any:
    """A real, validated camera config (nvrd.config) for camera "yard" at 960x540, 5 fps."""
    cam: dict[str, Any] = {
        "ffmpeg": {"inputs": [{"path": "rtsp://127.0.0.1:8554/yard", "roles": ["detect", "record"]}]},
        "detect": {"width": WIDTH, "height": HEIGHT, "fps": FPS},
    }
    for key, value in (camera or {}).items():
        cam[key] = {**cam[key], **value} if isinstance(value, dict) and key in cam else value
    cfg = NvrConfig.model_validate({"mqtt": {"enabled": False}, **top, "cameras": {"yard": cam}})
    return cfg.cameras["yard"]


def walk(
    tracker: ObjectTracker,
    scene: Scene,
    steps: int,
    *,
    start_x: int = 100,
    y: int = 300,
    dx: int = 40,
    t0: float = T0,
    score: float = 0.85,
) -> list[TrackUpdate]:
    """The person walks right by dx pixels a frame; returns every frame's update."""
    updates = []
    for i in range(steps):
        x = start_x + dx * i
        t = t0 + i / FPS
        updates.append(tracker.update(scene.frame(t, (x, y)), [person_at(x, y, score)]))
    return updates


def only(objects: list[TrackedObject]) -> TrackedObject:
    assert len(objects) == 1, objects
    return objects[0]


# --- identity ---------------------------------------------------------------------------------------


def test_ids_are_frigate_format_and_stable_across_frames(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)
    updates = walk(tracker, scene, 10)
    # detect.min_initialized defaults to fps/2 = 2 consecutive hits: registered on the second frame.
    assert updates[0].new == [] and updates[0].active == []
    obj = only(updates[1].new)
    assert ID_FORMAT.match(obj.id) and len(obj.id) <= 30
    assert obj.id.split("-")[0] == repr(round(T0 + 1 / FPS, 6))
    assert obj.start_time == T0 + 1 / FPS
    for update in updates[2:]:
        assert [o.id for o in update.active] == [obj.id]
        assert update.new == [] and update.ended == []
    assert obj.frame_time == T0 + 9 / FPS
    assert obj.box == (100 + 40 * 9, 300, 100 + 40 * 9 + PERSON_W, 300 + PERSON_H)
    assert obj.area == PERSON_W * PERSON_H
    assert obj.ratio == pytest.approx(PERSON_W / PERSON_H)
    assert obj.camera == "yard" and obj.label == "person"


def test_two_people_keep_their_own_ids(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)
    ids: list[tuple[str, str]] = []
    for i in range(8):
        left, right = (100 + 30 * i, 100), (700 - 30 * i, 380)
        t = T0 + i / FPS
        update = tracker.update(scene.frame(t, left, right), [person_at(*left, 0.9), person_at(*right, 0.8)])
        if i >= 1:
            by_box = {o.box[:2]: o.id for o in update.active}
            ids.append((by_box[left], by_box[right]))
    assert len(set(ids)) == 1
    assert ids[0][0] != ids[0][1]


def test_fast_small_object_is_followed_by_centre_distance(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(None, objects={"track": ["car"]}), WIDTH, HEIGHT)
    seen = set()
    for i in range(6):
        # A 40x30 car jumping 50 px a frame: consecutive boxes never overlap.
        x = 100 + 50 * i
        det = person_at(x, 200, 0.9, label="car", size=(40, 30))
        update = tracker.update(scene.frame(T0 + i / FPS), [det])
        seen.update(o.id for o in update.active)
        assert update.ended == []
    assert len(seen) == 1
    assert tracker.objects[0].position_changes >= 1


def test_labels_are_never_mixed(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(None, objects={"track": ["person", "dog"]}), WIDTH, HEIGHT)
    walk(tracker, scene, 3)
    person = only(tracker.objects)
    # A dog exactly where the person was: a new candidate, not the person.
    frame = scene.frame(T0 + 3 / FPS)
    update = tracker.update(frame, [person_at(*person.box[:2], 0.9, label="dog")])
    assert [o.id for o in update.active] == [person.id] and person.disappeared == 1


# --- scores -----------------------------------------------------------------------------------------


def test_low_score_flicker_never_becomes_a_true_positive(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)
    scores = [0.6, 0.62, 0.95, 0.58, None, 0.6, 0.96, 0.61, 0.6, None, 0.63, 0.59]
    for i, score in enumerate(scores):
        dets = [] if score is None else [person_at(200, 300, score)]
        tracker.update(scene.frame(T0 + i / FPS), dets)
    obj = only(tracker.objects)
    assert obj.false_positive and not obj.true_positive
    assert obj.top_score < 0.7
    assert obj.best is None  # no picture is kept of a false positive
    assert len(obj.score_history) == 10
    assert 0.0 in obj.score_history  # the missed frames
    assert obj.computed_score == pytest.approx(float(np.median(list(obj.score_history))))


def test_true_positive_never_reverts(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)
    walk(tracker, scene, 4, score=0.9)
    obj = only(tracker.objects)
    assert obj.true_positive
    top = obj.top_score
    for i in range(4, 16):
        tracker.update(scene.frame(T0 + i / FPS), [person_at(200, 300, 0.55)] if i % 2 else [])
    assert obj.computed_score < 0.7
    assert obj.true_positive and not obj.false_positive
    assert obj.top_score == top


def test_unseen_object_ends_after_max_disappeared(scene: Scene) -> None:
    cfg = camera_config({"detect": {"max_disappeared": 3}})
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    walk(tracker, scene, 3)
    obj = only(tracker.objects)
    last_seen = obj.frame_time
    ended_at = None
    for i in range(3, 10):
        update = tracker.update(scene.frame(T0 + i / FPS), [])
        if update.ended:
            ended_at = i
            assert update.ended == [obj] and update.active == []
            break
        assert update.updated == [obj]
    # Three missed frames are survived; the fourth ends it.
    assert ended_at == 6
    assert obj.end_time == last_seen
    assert obj.score_history[-1] == 0.0 and obj.disappeared == 4
    assert tracker.objects == []


# --- filters and masks ------------------------------------------------------------------------------


def run_still(tracker: ObjectTracker, scene: Scene, det: Detection, frames: int = 4) -> list[TrackedObject]:
    for i in range(frames):
        tracker.update(scene.frame(T0 + i / FPS, det.box[:2]), [det])
    return tracker.objects


def test_min_score_min_area_max_area_and_ratio_filters(scene: Scene) -> None:
    cfg = camera_config(
        {
            "objects": {
                "filters": {
                    "person": {
                        "min_score": 0.6,
                        "min_area": 5000,
                        "max_area": 20000,
                        "min_ratio": 0.5,
                        "max_ratio": 1.5,
                    }
                }
            }
        }
    )
    assert run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, person_at(200, 300, 0.59)) == []
    small = person_at(200, 300, 0.9, size=(40, 60))  # 2400 px
    assert run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, small) == []
    large = person_at(200, 100, 0.9, size=(160, 200))  # 32000 px
    assert run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, large) == []
    thin = person_at(200, 300, 0.9, size=(40, 200))  # ratio 0.2
    assert run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, thin) == []
    ok = person_at(200, 300, 0.9)  # 12000 px, ratio 0.83
    assert len(run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, ok)) == 1


def test_untracked_labels_are_ignored(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)  # tracks only "person" by default
    assert run_still(tracker, scene, person_at(200, 300, 0.9, label="car")) == []


def test_object_mask_and_filter_mask_test_the_bottom_centre(scene: Scene) -> None:
    bottom_strip = "0,500,960,500,960,540,0,540"
    left_half = "0,0,480,0,480,540,0,540"
    cfg = camera_config(
        {
            "objects": {
                "mask": bottom_strip,
                "track": ["person", "car"],
                "filters": {"person": {"mask": left_half}},
            }
        }
    )
    # The box reaches y=520: its bottom centre is in the object mask.
    masked = person_at(600, 400, 0.9)
    assert run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, masked) == []
    # Same box higher up: bottom centre (650, 420) is clear of both masks.
    assert len(run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, person_at(600, 300, 0.9))) == 1
    # Left half is masked for people only; a car there is tracked.
    assert run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, person_at(100, 300, 0.9)) == []
    car = person_at(100, 300, 0.9, label="car")
    assert len(run_still(ObjectTracker("yard", cfg, WIDTH, HEIGHT), scene, car)) == 1


def test_bad_detections_are_dropped_and_bad_frames_refused(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)
    bad = [
        Detection("person", float("nan"), (10, 10, 50, 50), (0, 0, 300, 300)),
        Detection("person", 0.9, (50, 50, 10, 10), (0, 0, 300, 300)),
        Detection("person", 0.9, (1000, 600, 1100, 700), (0, 0, 300, 300)),
        Detection("person", 1.7, (10, 10, 50, 50), (0, 0, 300, 300)),
    ]
    for i in range(4):
        assert tracker.update(scene.frame(T0 + i), bad).active == []
    with pytest.raises(ValueError, match="960x540"):
        tracker.update(Frame.blank("yard", 640, 360), [])


def test_boxes_reaching_past_the_frame_are_clipped(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)
    det = Detection("person", 0.9, (900.4, 440, 1010, 560), (660, 240, 1000, 580))
    for i in range(3):
        tracker.update(scene.frame(T0 + i / FPS), [det])
    obj = only(tracker.objects)
    assert obj.box == (900, 440, WIDTH, HEIGHT) and obj.region == (660, 240, WIDTH, HEIGHT)


# --- zones ------------------------------------------------------------------------------------------


def test_zone_needs_inertia_frames_and_entered_zones_keep_order(scene: Scene) -> None:
    cfg = camera_config(
        {
            "zones": {
                "left": {"coordinates": "0,0,400,0,400,540,0,540", "inertia": 3},
                "right": {"coordinates": "400,0,960,0,960,540,400,540", "inertia": 3},
            }
        }
    )
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    zones_per_frame = []
    for i in range(12):
        x = 110 + 50 * i  # bottom centre x = 160 + 50 i: left for i <= 4, right from i = 5
        t = T0 + i / FPS
        update = tracker.update(scene.frame(t, (x, 300)), [person_at(x, 300, 0.9)])
        zones_per_frame.append(list(update.active[0].current_zones) if update.active else None)
    # Registered on frame 1: presence 1 (frame 1), 2, 3 -> in "left" from frame 3.
    assert zones_per_frame[:5] == [None, [], [], ["left"], ["left"]]
    # Right from frame 5: three frames to count.
    assert zones_per_frame[5:9] == [[], [], ["right"], ["right"]]
    obj = only(tracker.objects)
    assert obj.entered_zones == ["left", "right"]


def test_zone_objects_and_zone_filters(scene: Scene) -> None:
    cfg = camera_config(
        {
            "objects": {"track": ["person", "car"]},
            "zones": {
                "cars_only": {"coordinates": "0,0,960,0,960,540,0,540", "objects": ["car"], "inertia": 1},
                "big_only": {
                    "coordinates": "0,0,960,0,960,540,0,540",
                    "inertia": 1,
                    "filters": {"person": {"min_area": 50000}},
                },
            },
        }
    )
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    person = run_still(tracker, scene, person_at(300, 300, 0.9))[0]
    assert person.entered_zones == [] and person.current_zones == []
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    car = run_still(tracker, scene, person_at(300, 300, 0.9, label="car"))[0]
    assert car.entered_zones == ["cars_only", "big_only"]


def test_zone_filters_apply_only_until_the_object_is_in(scene: Scene) -> None:
    cfg = camera_config(
        {
            "zones": {
                "lawn": {
                    "coordinates": "0,0,960,0,960,540,0,540",
                    "inertia": 1,
                    "filters": {"person": {"threshold": 0.8}},
                }
            }
        }
    )
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    for i in range(3):
        tracker.update(scene.frame(T0 + i / FPS), [person_at(300, 300, 0.9)])
    obj = only(tracker.objects)
    assert obj.current_zones == ["lawn"]
    # The median score falls below the zone's threshold, yet the object stays in the zone.
    for i in range(3, 12):
        tracker.update(scene.frame(T0 + i / FPS), [person_at(300, 300, 0.6)])
    assert obj.computed_score < 0.8
    assert obj.current_zones == ["lawn"]


def test_leaving_a_zone_before_inertia_counts_down(scene: Scene) -> None:
    cfg = camera_config({"zones": {"door": {"coordinates": "0,0,400,0,400,540,0,540", "inertia": 3}}})
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    # Registered inside (presence 1 on the registering frame 1), then out, in, out...: never 3 in a row.
    xs = [330, 330, 370, 330, 370, 330, 370]  # bottom centre x 380 (in) or 420 (out)
    for i, x in enumerate(xs):
        tracker.update(scene.frame(T0 + i / FPS), [person_at(x, 300, 0.9)])
    obj = only(tracker.objects)
    assert obj.entered_zones == []
    assert obj.zone_presence["door"] == 0


def test_zone_presence_counts_only_frames_the_object_was_seen(scene: Scene) -> None:
    cfg = camera_config({"zones": {"door": {"coordinates": "0,0,400,0,400,540,0,540", "inertia": 3}}})
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    seen = [True, True, False, False, False, True]
    for i, present in enumerate(seen):
        tracker.update(scene.frame(T0 + i / FPS), [person_at(100, 300, 0.9)] if present else [])
    obj = only(tracker.objects)
    # Seen inside on frames 1 and 5 only: presence 2, not yet in the zone.
    assert obj.zone_presence["door"] == 2 and obj.entered_zones == []


# --- stationary -------------------------------------------------------------------------------------


def test_still_object_becomes_stationary_and_never_counts_as_moved(scene: Scene) -> None:
    cfg = camera_config({"detect": {"stationary": {"threshold": 5}}})
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    flags = []
    for i in range(10):
        # Detector jitter of a pixel or two is not movement.
        det = person_at(300 + (i % 2) * 2, 300 - (i % 3), 0.9)
        tracker.update(scene.frame(T0 + i / FPS), [det])
        if tracker.objects:
            flags.append(tracker.objects[0].stationary)
    obj = only(tracker.objects)
    assert obj.position_changes == 0
    assert obj.motionless_count == 8  # every frame after the registering one
    assert flags == [False] * 6 + [True] * 3  # stationary once motionless_count > 5


def test_position_changes_count_first_move_and_moves_after_stationary(scene: Scene) -> None:
    cfg = camera_config({"detect": {"stationary": {"threshold": 3}}})
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    xs = [
        100,
        100,
        200,
        300,
        400,  # walks: the first move counts once
        400,
        400,
        400,
        400,
        400,  # stands (stationary after 3 still frames)
        540,
        680,
    ]  # walks again: counts once more
    changes = []
    for i, x in enumerate(xs):
        tracker.update(scene.frame(T0 + i / FPS, (x, 300)), [person_at(x, 300, 0.9)])
        changes.append(tracker.objects[0].position_changes if tracker.objects else None)
    assert changes == [None, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2]
    assert not tracker.objects[0].stationary


def test_stationary_object_dropped_after_max_frames(scene: Scene) -> None:
    cfg = camera_config({"detect": {"stationary": {"threshold": 2, "max_frames": {"default": 4}}}})
    tracker = ObjectTracker("yard", cfg, WIDTH, HEIGHT)
    ended = []
    for i in range(10):
        ended += tracker.update(scene.frame(T0 + i / FPS), [person_at(300, 300, 0.9)]).ended
        if ended:
            break
    obj = only(ended)
    assert obj.stationary and obj.motionless_count == 5
    assert obj.end_time == obj.frame_time


# --- best frame -------------------------------------------------------------------------------------


def test_best_frame_rules() -> None:
    frame = Frame.blank("yard", WIDTH, HEIGHT)
    from nvrd.track.tracked_object import BestFrame

    current = BestFrame(frame, (100, 100, 200, 220), (0, 0, 300, 300), 0.80, 1.0)
    assert is_better_picture(None, (0, 0, 10, 10), 0.1, WIDTH, HEIGHT)
    assert is_better_picture(current, (100, 100, 200, 220), 0.86, WIDTH, HEIGHT)  # score +0.06
    assert not is_better_picture(current, (100, 100, 200, 220), 0.84, WIDTH, HEIGHT)  # +0.04
    assert is_better_picture(current, (100, 100, 206, 233), 0.80, WIDTH, HEIGHT)  # area x1.15
    assert not is_better_picture(current, (100, 100, 204, 225), 0.80, WIDTH, HEIGHT)  # x1.09
    # Touching an edge loses even with a far better score.
    assert not is_better_picture(current, (0, 100, 200, 220), 0.99, WIDTH, HEIGHT)
    assert not is_better_picture(current, (100, 100, 200, HEIGHT - 1), 0.99, WIDTH, HEIGHT)


def test_best_frame_is_an_owned_copy_and_improves(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)
    frames = []
    for i, (x, score) in enumerate([(100, 0.8), (140, 0.8), (180, 0.82), (220, 0.95), (260, 0.9)]):
        frame = scene.frame(T0 + i / FPS, (x, 300))
        frames.append(frame)
        tracker.update(frame, [person_at(x, 300, score)])
    obj = only(tracker.objects)
    best = obj.best
    assert best is not None
    # Registered on frame 1 (0.8); frame 2 is no better; frame 3 scores 0.95 > 0.8 + 0.05.
    assert best.time == T0 + 3 / FPS and best.score == 0.95 and best.box == (220, 300, 320, 420)
    assert np.array_equal(best.frame.data, frames[3].data)
    assert best.frame.data is not frames[3].data
    frames[3].data[:] = 0  # the capture buffer is reused ...
    assert best.frame.y[350, 250] != 0  # ... the kept picture is not


def test_event_dict_has_the_013_keys(scene: Scene) -> None:
    tracker = ObjectTracker("yard", camera_config(), WIDTH, HEIGHT)
    walk(tracker, scene, 4)
    state = only(tracker.objects).to_event_dict()
    expected = {
        "id",
        "camera",
        "frame_time",
        "snapshot",
        "label",
        "sub_label",
        "top_score",
        "false_positive",
        "start_time",
        "end_time",
        "score",
        "box",
        "area",
        "ratio",
        "region",
        "stationary",
        "motionless_count",
        "position_changes",
        "current_zones",
        "entered_zones",
        "has_clip",
        "has_snapshot",
        "attributes",
        "current_attributes",
        "thumbnail",
    }
    assert set(state) == expected
    assert state["box"] == [220, 300, 320, 420]  # absolute pixels in MQTT
    assert state["end_time"] is None and state["thumbnail"] is None and state["false_positive"] is False
    assert state["snapshot"]["frame_time"] <= state["frame_time"]
