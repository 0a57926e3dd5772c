"""Motion detection on real video (decoded with ffmpeg) and on real frames with synthetic changes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nvrd.geometry import Box
from nvrd.motion import MotionDetector, cell_groups

WIDTH, HEIGHT, FPS = 768, 432, 5  # the clips' own size; Frigate's default detect rate
CAR_CLIP = "car-detection.mp4"
PERSON_CLIP = "one-by-one-person-detection.mp4"

# car-detection.mp4 (a parking lot seen from above, the camera drifting a few pixels): when cars
# drive through, and stretches with an empty lot (margins of about half a second left out).
CARS_MOVING = [(5.0, 8.0), (15.0, 18.5), (25.5, 27.0)]
LOT_EMPTY = [(1.0, 4.0), (10.0, 14.0), (20.5, 24.5), (28.5, 30.2)]


def settings(**changes: object) -> SimpleNamespace:
    """Frigate 0.13's motion defaults, as the config package's `motion` section carries them."""
    values = dict(threshold=30, contour_area=10, frame_height=100, frame_alpha=0.01, delta_alpha=0.2,
                  improve_contrast=True, lightning_threshold=0.8, mask_polygons=[])  # fmt: skip
    values.update(changes)
    return SimpleNamespace(**values)


def decode_luma(media: Path, start: float | None = None, duration: float | None = None) -> list[np.ndarray]:
    """The clip's luma planes at FPS (ffmpeg's gray output is exactly I420's Y plane)."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error"]
    if start is not None:
        cmd += ["-ss", str(start)]
    if duration is not None:
        cmd += ["-t", str(duration)]
    cmd += ["-i", str(media), "-map", "0:v:0", "-vf", f"fps={FPS},scale={WIDTH}:{HEIGHT}",
            "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"]  # fmt: skip
    raw = subprocess.run(cmd, capture_output=True, timeout=120, check=True).stdout
    size = WIDTH * HEIGHT
    count = len(raw) // size
    return [np.frombuffer(raw, np.uint8, size, i * size).reshape(HEIGHT, WIDTH) for i in range(count)]


@pytest.fixture(scope="module")
def car_frames(shared_dir: Path) -> list[np.ndarray]:
    return decode_luma(shared_dir / "media" / CAR_CLIP)


@pytest.fixture(scope="module")
def empty_lot(car_frames: list[np.ndarray]) -> np.ndarray:
    """A real frame of the empty parking lot (t = 2 s)."""
    return car_frames[2 * FPS]


def run(detector: MotionDetector, frames: list[np.ndarray]) -> list[list[Box]]:
    return [detector.detect(frame) for frame in frames]


def within(t: float, spans: list[tuple[float, float]]) -> bool:
    return any(start <= t <= end for start, end in spans)


def test_cars_make_motion_and_the_empty_lot_does_not(car_frames):
    boxes = run(MotionDetector(WIDTH, HEIGHT, settings()), car_frames)
    times = [i / FPS for i in range(len(boxes))]
    false_motion = [t for t, b in zip(times, boxes, strict=True) if b and within(t, LOT_EMPTY)]
    assert false_motion == []
    moving = [bool(b) for t, b in zip(times, boxes, strict=True) if within(t, CARS_MOVING)]
    assert sum(moving) >= 0.9 * len(moving), f"motion in {sum(moving)} of {len(moving)} frames with cars"


def test_motion_boxes_are_where_the_cars_are(car_frames, empty_lot):
    detector = MotionDetector(WIDTH, HEIGHT, settings())
    reference = empty_lot.astype(np.int16)
    checked = 0
    for index, frame in enumerate(car_frames):
        boxes = detector.detect(frame)
        for x1, y1, x2, y2 in boxes:
            assert 0 <= x1 < x2 <= WIDTH and 0 <= y1 < y2 <= HEIGHT
        if not within(index / FPS, CARS_MOVING) or not boxes:
            continue
        # Where this frame differs strongly from the empty lot (16x16 blocks, after removing the
        # exposure change a white car causes): the cars.
        difference = frame.astype(np.int16) - reference
        blocks = difference.reshape(HEIGHT // 16, 16, WIDTH // 16, 16).mean(axis=(1, 3))
        rows, cols = np.nonzero(np.abs(blocks - np.median(blocks)) > 40)
        if rows.size < 20:
            continue
        centres = zip((cols + 0.5) * 16, (rows + 0.5) * 16, strict=True)
        covered = sum(any(x1 <= x <= x2 and y1 <= y <= y2 for x1, y1, x2, y2 in boxes) for x, y in centres)
        assert covered >= 0.6 * rows.size, f"t={index / FPS}: boxes {boxes} miss most of the cars"
        checked += 1
    assert checked >= 15


def test_a_person_walking_in_makes_motion(shared_dir):
    # The first 20 s of the office clip: an empty room, then a person arrives at about 6 s.
    frames = decode_luma(shared_dir / "media" / PERSON_CLIP, start=0, duration=20)
    boxes = run(MotionDetector(WIDTH, HEIGHT, settings()), frames)
    assert not any(boxes[FPS : 5 * FPS]), "motion in the empty room"
    arriving = boxes[6 * FPS : 9 * FPS]
    assert sum(bool(b) for b in arriving) >= 0.8 * len(arriving)


@pytest.mark.parametrize("masked_half", ["left", "right"])
def test_masked_pixels_never_make_motion(car_frames, masked_half):
    middle = WIDTH // 2
    if masked_half == "left":
        mask = [(0, 0), (middle, 0), (middle, HEIGHT), (0, HEIGHT)]
    else:
        mask = [(middle, 0), (WIDTH, 0), (WIDTH, HEIGHT), (middle, HEIGHT)]
    detector = MotionDetector(WIDTH, HEIGHT, settings(mask_polygons=[mask]))
    all_boxes = [box for boxes in run(detector, car_frames) for box in boxes]
    assert all_boxes, "cars pass on both halves: the open half must still see motion"
    margin = 2 * detector.step  # a box reaches one small pixel past its moving pixels
    for x1, _, x2, _ in all_boxes:
        if masked_half == "left":
            assert x1 >= middle - margin
        else:
            assert x2 <= middle + margin


def test_a_fully_masked_frame_has_no_motion(car_frames):
    everything = [(0, 0), (WIDTH, 0), (WIDTH, HEIGHT), (0, HEIGHT)]
    detector = MotionDetector(WIDTH, HEIGHT, settings(mask_polygons=[everything]))
    assert not any(run(detector, car_frames[: 20 * FPS]))


def test_sensor_noise_is_not_motion(empty_lot):
    rng = np.random.default_rng(7)
    for contrast in (True, False):
        detector = MotionDetector(WIDTH, HEIGHT, settings(improve_contrast=contrast))
        for _ in range(60):
            noisy = np.clip(empty_lot + rng.normal(0, 3, empty_lot.shape), 0, 255).astype(np.uint8)
            assert detector.detect(noisy) == []


def test_slow_light_changes_are_not_motion(empty_lot):
    rng = np.random.default_rng(8)
    base = empty_lot.astype(np.float32)
    ramps = {
        "brighter": lambda i: base + 0.5 * i,  # +60 levels over 24 s
        "darker": lambda i: base - 0.4 * i,
        "more contrast": lambda i: (base - 128) * (1 + 0.004 * i) + 128,
    }
    for name, ramp in ramps.items():
        detector = MotionDetector(WIDTH, HEIGHT, settings())
        for i in range(120):
            frame = np.clip(ramp(i) + rng.normal(0, 1.5, base.shape), 0, 255).astype(np.uint8)
            assert detector.detect(frame) == [], f"{name} ramp: motion at frame {i}"


def test_a_sudden_brightness_jump_is_not_motion(empty_lot):
    detector = MotionDetector(WIDTH, HEIGHT, settings(improve_contrast=False))
    for _ in range(10):
        assert detector.detect(empty_lot) == []
    brighter = np.clip(empty_lot.astype(np.int16) + 60, 0, 255).astype(np.uint8)
    for _ in range(10):
        assert detector.detect(brighter) == []


def test_a_sudden_change_of_the_whole_picture_is_lightning(shared_dir, empty_lot):
    # Lights switching to infrared, a camera knocked to another view: most of the frame changes.
    room = decode_luma(shared_dir / "media" / PERSON_CLIP, start=0, duration=2)
    for contrast in (True, False):
        detector = MotionDetector(WIDTH, HEIGHT, settings(improve_contrast=contrast))
        for _ in range(10):
            assert detector.detect(empty_lot) == []
        # The averages restart from the first frame of the new view: it and the ones after are quiet.
        assert [detector.detect(frame) for frame in room] == [[]] * len(room)
    detector = MotionDetector(WIDTH, HEIGHT, settings())
    for _ in range(10):
        assert detector.detect(empty_lot) == []
    for _ in range(5):
        assert detector.detect(255 - empty_lot) == []  # the picture inverted (day/night switch)


def test_settings_changed_at_runtime_apply_to_the_next_frame(car_frames):
    config = settings(threshold=255, improve_contrast=False)
    detector = MotionDetector(WIDTH, HEIGHT, config)
    start, end = int(CARS_MOVING[0][0] * FPS), int(CARS_MOVING[0][1] * FPS)
    assert not any(run(detector, car_frames[:start]))
    assert not any(run(detector, car_frames[start : start + 5]))  # 255 levels: nothing differs that much
    config.threshold = 30
    assert any(run(detector, car_frames[start + 5 : end]))
    config.contour_area = 10**6
    assert not any(run(detector, car_frames[end - 5 : end]))
    config.frame_height = 50  # rebuilds the small plane: starts over, then sees the next cars
    config.contour_area = 10
    config.improve_contrast = True
    run(detector, car_frames[end : int(CARS_MOVING[1][0] * FPS)])
    assert detector.small_shape[0] < 60
    assert any(run(detector, car_frames[int(CARS_MOVING[1][0] * FPS) : int(CARS_MOVING[1][1] * FPS)]))


def test_set_mask_applies_a_new_mask(car_frames):
    detector = MotionDetector(WIDTH, HEIGHT, settings())
    detector.set_mask([[(0, 0), (WIDTH, 0), (WIDTH, HEIGHT), (0, HEIGHT)]])
    assert not any(run(detector, car_frames[: 10 * FPS]))
    detector.set_mask([])
    assert any(run(detector, car_frames[15 * FPS : int(18.5 * FPS)]))


def test_bad_input_is_refused_clearly():
    detector = MotionDetector(WIDTH, HEIGHT, settings())
    with pytest.raises(ValueError, match="uint8 luma plane of 432x768"):
        detector.detect(np.zeros((HEIGHT, WIDTH + 2), dtype=np.uint8))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((HEIGHT, WIDTH), dtype=np.float32))
    with pytest.raises(ValueError):
        MotionDetector(4, 4, settings())


def test_cell_groups_join_touching_cells_including_diagonals():
    counts = np.zeros((6, 8), dtype=np.int64)
    counts[0, 0] = 3
    counts[1, 1] = 2  # diagonal to (0, 0): same group
    counts[1, 2] = 1
    counts[4, 5] = 7  # alone
    counts[3, 7] = 1
    counts[4, 7] = 1  # a column of two at the right edge, not touching (4, 5)
    groups = sorted(cell_groups(counts))
    assert groups == [(0, 1, 0, 2, 6), (3, 4, 7, 7, 2), (4, 4, 5, 5, 7)]
    assert cell_groups(np.zeros((3, 3), dtype=np.int64)) == []
