"""Object detection: label maps, the TFLite seam, the worker process, the pool, regions, tensors.

Everything runs for real: the shared models in spawned worker processes, ffmpeg for the I420
frames and the reference colour conversion. Worker processes are started once per module where
possible (the machine has two cores) and always stopped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from nvrd.detect import (
    Detection,
    DetectorError,
    DetectorPool,
    DetectorProcess,
    ObjectDetector,
    detector_settings,
    load_labelmap,
    model_settings,
    region_tensor,
    select_regions,
    suppress_duplicates,
    to_detections,
)
from nvrd.detect import pool as pool_module
from nvrd.detect.interpreter import load_runtime, open_model
from nvrd.frame import Frame
from nvrd.geometry import Box, intersection_over_union

V2 = "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
V2_EDGETPU = "mobilenet_ssd_v2_coco_quant_postprocess_edgetpu.tflite"
V1 = "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_detect.tflite"
PERSON, CAT = 0, 16  # COCO ids as in coco_labels.txt


# --- helpers -------------------------------------------------------------------------------------


def i420_frame(image: Path, pad_to: tuple[int, int] | None = None) -> Frame:
    """Convert an image to an I420 Frame with ffmpeg (cropped to even size, optionally padded)."""
    width, height = Image.open(image).size
    width, height = width - width % 2, height - height % 2
    filters = f"crop={width}:{height}:0:0"
    if pad_to:
        filters += f",pad={pad_to[0]}:{pad_to[1]}:{(pad_to[0] - width) // 2}:{(pad_to[1] - height) // 2}:gray"
        width, height = pad_to
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(image),
            "-vf",
            filters,
            "-pix_fmt",
            "yuv420p",
            "-f",
            "rawvideo",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return Frame("test", 0, time.time(), width, height, np.frombuffer(raw, np.uint8).copy())


def ffmpeg_rgb(frame: Frame, region: Box) -> np.ndarray:
    """ffmpeg's (swscale's) own yuv420p -> rgb24 conversion of the region's I420 crop."""
    x1, y1, x2, y2 = region
    crop = b"".join(
        [
            frame.y[y1:y2, x1:x2].tobytes(),
            frame.u[y1 // 2 : y2 // 2, x1 // 2 : x2 // 2].tobytes(),
            frame.v[y1 // 2 : y2 // 2, x1 // 2 : x2 // 2].tobytes(),
        ]
    )
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-s",
            f"{x2 - x1}x{y2 - y1}",
            "-i",
            "-",
            "-pix_fmt",
            "rgb24",
            "-f",
            "rawvideo",
            "-",
        ],
        input=crop,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return np.frombuffer(out, np.uint8).reshape(y2 - y1, x2 - x1, 3)


def best(rows: np.ndarray, class_id: int) -> float:
    """Best score of a class among raw detector rows (0.0 when absent)."""
    scores = rows[rows[:, 0] == class_id, 1]
    return float(scores.max()) if scores.size else 0.0


def cpu(model: Path, name: str = "cpu", threads: int = 1) -> DetectorProcess:
    return DetectorProcess(
        detector_settings(name, {"type": "cpu", "num_threads": threads}, model_settings({"path": str(model)}))
    )


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll until the condition holds or `timeout` seconds pass; the last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.fixture(scope="module")
def models(shared_dir: Path) -> Path:
    return shared_dir / "models"


@pytest.fixture(scope="module")
def media(shared_dir: Path) -> Path:
    return shared_dir / "media"


@pytest.fixture(scope="module")
def labels(models: Path) -> dict[int, str]:
    return load_labelmap(models / "coco_labels.txt")


@pytest.fixture(scope="module")
def grace(media: Path) -> Frame:
    return i420_frame(media / "grace_hopper.bmp")


@pytest.fixture(scope="module")
def cat(media: Path) -> Frame:
    return i420_frame(media / "cat.bmp")


@pytest.fixture(scope="module")
def v2_worker(models: Path) -> Iterator[DetectorProcess]:
    worker = cpu(models / V2, "v2")
    worker.start()
    yield worker
    worker.stop()


def full(frame: Frame) -> np.ndarray:
    return region_tensor(frame, (0, 0, frame.width, frame.height), 300)


# --- label maps ----------------------------------------------------------------------------------


def test_both_label_formats_agree_on_every_id(models: Path) -> None:
    by_id = load_labelmap(models / "coco_labels.txt")
    by_line = load_labelmap(models / "coco_labels_lineindex.txt")
    assert by_id == by_line
    assert len(by_id) == 80
    assert by_id[PERSON] == "person" and by_id[CAT] == "cat" and by_id[89] == "toothbrush"
    assert {11, 25, 28, 29, 44, 65, 67, 68, 70, 82}.isdisjoint(by_id)


def test_config_labelmap_overrides_file_entries(models: Path) -> None:
    labels = load_labelmap(models / "coco_labels.txt", {"2": "vehicle", 11: "hydrant-2"})
    assert labels[2] == "vehicle" and labels[11] == "hydrant-2" and labels[0] == "person"


@pytest.mark.parametrize(
    ("content", "message"), [("", "empty"), ("\n  \n\n", "empty"), ("0 person\n0 people\n", "twice")]
)
def test_bad_label_files_give_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "labels.txt"
    path.write_text(content)
    with pytest.raises(DetectorError, match=message):
        load_labelmap(path)


def test_missing_label_file_and_bad_override_give_clear_errors(tmp_path: Path, models: Path) -> None:
    with pytest.raises(DetectorError, match="does not exist"):
        load_labelmap(tmp_path / "nope.txt")
    with pytest.raises(DetectorError, match="not a class id"):
        load_labelmap(models / "coco_labels.txt", {"car": "vehicle"})


# --- settings and the TFLite seam ----------------------------------------------------------------


def test_settings_read_mappings_and_reject_bad_values(models: Path) -> None:
    model = model_settings({"path": str(models / V2), "width": 300, "height": 300})
    assert model.path_for("edgetpu") == str(models / V2_EDGETPU)
    assert model.path_for("cpu") == str(models / V2)
    coral = detector_settings("coral", {"type": "edgetpu", "device": "pci:1"}, model)
    assert (coral.type, coral.device, coral.model) == ("edgetpu", "pci:1", model)
    with pytest.raises(DetectorError, match="not supported"):
        detector_settings("x", {"type": "openvino"}, model)
    with pytest.raises(DetectorError, match="usb, usb:N"):
        detector_settings("x", {"type": "edgetpu", "device": "usb0"}, model)
    with pytest.raises(DetectorError, match="num_threads"):
        detector_settings("x", {"type": "cpu", "num_threads": 0}, model)
    with pytest.raises(DetectorError, match=r"model\.path"):
        model_settings({"width": 300})
    with pytest.raises(DetectorError, match="input_pixel_format 'bgr' is not supported"):
        model_settings({"path": str(models / V2), "input_pixel_format": "bgr"})


def test_runtime_is_litert_and_missing_runtimes_give_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_runtime().module == "ai_edge_litert.interpreter"
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(
        DetectorError, match="no TensorFlow Lite runtime: install ai-edge-litert or tflite-runtime"
    ):
        load_runtime()


def test_edgetpu_without_a_coral_fails_naming_the_device(models: Path) -> None:
    model = model_settings({"path": str(models / V2)})
    for device in ("usb", "pci:0"):
        with pytest.raises(DetectorError, match=f"Edge TPU device '{device}'.*libedgetpu.so.1"):
            open_model(detector_settings("coral", {"type": "edgetpu", "device": device}, model))


def test_edgetpu_model_on_the_cpu_fails_cleanly(models: Path) -> None:
    model = model_settings({"path": str(models / V2_EDGETPU)})
    with pytest.raises(DetectorError, match="compiled for the Edge TPU"):
        open_model(detector_settings("cpu", {"type": "cpu"}, model))


def test_a_file_that_is_not_a_model_fails_cleanly(models: Path) -> None:
    model = model_settings({"path": str(models / "coco_labels.txt")})
    with pytest.raises(DetectorError, match="cannot be loaded"):
        open_model(detector_settings("cpu", {"type": "cpu"}, model))


# --- the worker process --------------------------------------------------------------------------


def test_worker_finds_the_person_and_the_cat(v2_worker: DetectorProcess, grace: Frame, cat: Frame) -> None:
    assert v2_worker.input_size == (300, 300) and v2_worker.max_detections == 20
    person_rows = v2_worker.detect(full(grace))
    cat_rows = v2_worker.detect(full(cat))
    assert person_rows.shape[1] == 6 and person_rows.dtype == np.float32
    assert best(person_rows, PERSON) >= 0.6
    assert best(cat_rows, CAT) >= 0.6
    assert ((cat_rows[:, 2:] >= 0.0) & (cat_rows[:, 2:] <= 1.0)).all()


def test_worker_reports_stats_of_its_own_process(v2_worker: DetectorProcess, grace: Frame) -> None:
    assert v2_worker.pid not in (0, os.getpid())
    tensor = full(grace)
    v2_worker.detect(tensor)
    assert v2_worker.inference_speed > 0.0
    assert v2_worker.detection_start == 0.0  # idle
    seen: list[float] = []
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            v2_worker.detect(tensor)

    thread = threading.Thread(target=busy)
    thread.start()
    try:
        assert wait_until(
            lambda: seen.append(v2_worker.detection_start) or seen[-1] > 0.0, timeout=10, step=0.001
        )
    finally:
        stop.set()
        thread.join(timeout=10)
    assert abs(seen[-1] - time.time()) < 10  # epoch seconds of a running inference


def test_wrong_tensor_is_a_value_error_and_the_worker_lives_on(v2_worker: DetectorProcess) -> None:
    with pytest.raises(ValueError, match=r"\(300, 300, 3\) uint8"):
        v2_worker.detect(np.zeros((320, 320, 3), np.uint8))
    with pytest.raises(ValueError):
        v2_worker.detect(np.zeros((300, 300, 3), np.float32))
    assert v2_worker.alive


def test_v1_model_returns_ten_rows_and_finds_the_person(models: Path, grace: Frame) -> None:
    worker = cpu(models / V1, "v1")
    worker.start()
    try:
        rows = worker.detect(full(grace))
    finally:
        worker.stop()
    assert worker.max_detections == 10 and len(rows) <= 10
    assert best(rows, PERSON) >= 0.6
    assert worker.last_exitcode == 0  # stop() lets the child exit cleanly


def test_missing_model_fails_fast_with_the_childs_message(tmp_path: Path) -> None:
    worker = cpu(tmp_path / "absent.tflite")
    started = time.monotonic()
    with pytest.raises(DetectorError, match=r"failed to start: .*absent\.tflite does not exist"):
        worker.start()
    assert time.monotonic() - started < 20
    assert not worker.alive and "does not exist" in (worker.failure or "")


def test_edgetpu_worker_without_a_coral_fails_at_start(models: Path) -> None:
    worker = DetectorProcess(
        detector_settings(
            "coral", {"type": "edgetpu", "device": "usb"}, model_settings({"path": str(models / V2)})
        )
    )
    with pytest.raises(DetectorError, match=r"coral.*Edge TPU device 'usb'"):
        worker.start()
    assert not worker.alive


def test_killed_worker_makes_detect_fail_promptly_then_restarts(models: Path, grace: Frame) -> None:
    worker = cpu(models / V2, "victim")
    worker.start()
    tensor = full(grace)
    errors: list[tuple[float, DetectorError]] = []

    def loop() -> None:
        while True:
            try:
                worker.detect(tensor, timeout=30)
            except DetectorError as exc:
                errors.append((time.monotonic(), exc))
                return

    thread = threading.Thread(target=loop)
    try:
        thread.start()
        time.sleep(0.3)
        old_pid = worker.pid
        killed_at = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert errors and errors[0][0] - killed_at < 3.0  # not the 30 s timeout
        assert "exited" in str(errors[0][1]) or "not running" in str(errors[0][1])
        assert not worker.alive
        worker.restart()
        assert worker.alive and worker.pid != old_pid
        assert best(worker.detect(tensor), PERSON) >= 0.6
    finally:
        worker.stop()


def test_stuck_worker_times_out_and_is_killed(models: Path, grace: Frame) -> None:
    worker = cpu(models / V2, "stuck")
    worker.start()
    try:
        pid = worker.pid
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(DetectorError, match=r"did not answer within 0\.5 s"):
            worker.detect(full(grace), timeout=0.5)
        assert time.monotonic() - started < 5
        assert not worker.alive
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped, not left stopped
        with pytest.raises(DetectorError, match="not running"):
            worker.detect(full(grace))
    finally:
        worker.stop()


# --- the pool ------------------------------------------------------------------------------------


def test_pool_shares_load_reports_stats_and_retries_on_another_detector(models: Path, grace: Frame) -> None:
    pool = DetectorPool(
        {
            "a": {"type": "cpu", "num_threads": 1},
            "b": {"type": "cpu", "num_threads": 1, "model": {"path": str(models / V1)}},
        },
        {"path": str(models / V2), "width": 300, "height": 300},
    )
    assert pool.start() == {}
    try:
        tensor = full(grace)
        a, b = pool.detector("a"), pool.detector("b")
        # Fresh detectors tie, so the first request goes to "a": freeze it, and kill it mid-request.
        os.kill(a.pid, signal.SIGSTOP)
        result: list[np.ndarray] = []
        thread = threading.Thread(target=lambda: result.append(pool.detect(tensor, timeout=30)))
        thread.start()
        assert wait_until(lambda: a.load == 1, timeout=5)
        os.kill(a.pid, signal.SIGKILL)
        thread.join(timeout=20)
        assert result and best(result[0], PERSON) >= 0.6  # answered by "b"
        assert not a.alive and b.inference_speed > 0

        # "a" is a CPU detector: the supervisor brings it back after its backoff.
        assert wait_until(lambda: a.alive, timeout=20)
        callers = [threading.Thread(target=lambda: [pool.detect(tensor) for _ in range(4)]) for _ in range(2)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=60)
        stats = pool.stats()
        assert set(stats) == {"a", "b"}
        for name, detector in (("a", a), ("b", b)):
            assert stats[name]["pid"] == detector.pid != 0
            assert stats[name]["inference_speed"] > 0  # both took a share of the load
            assert stats[name]["detection_start"] == 0.0
            assert stats[name]["inference_speed"] == round(stats[name]["inference_speed"], 2)
    finally:
        pool.stop()
    with pytest.raises(DetectorError, match="no detector is running"):
        pool.detect(full(grace))


def test_single_detector_pool_recovers_after_its_process_dies(models: Path, grace: Frame) -> None:
    pool = DetectorPool({"cpu": {"type": "cpu", "num_threads": 1}}, {"path": str(models / V2)})
    pool.start()
    try:
        tensor = full(grace)
        old_pid = pool.stats()["cpu"]["pid"]
        os.kill(old_pid, signal.SIGKILL)
        assert wait_until(lambda: not pool.detector("cpu").alive, timeout=5)
        with pytest.raises(DetectorError):
            pool.detect(tensor)
        results: list[np.ndarray] = []

        def recovered() -> bool:
            try:
                results.append(pool.detect(tensor))
            except DetectorError:
                return False
            return True

        assert wait_until(recovered, timeout=30, step=0.2)
        assert best(results[-1], PERSON) >= 0.6
        assert pool.stats()["cpu"]["pid"] not in (0, old_pid)
    finally:
        pool.stop()


def test_pool_keeps_cpu_when_the_coral_is_missing_and_fails_with_none(models: Path) -> None:
    model = {"path": str(models / V2)}
    pool = DetectorPool(
        {"coral": {"type": "edgetpu", "device": "usb"}, "cpu": {"type": "cpu", "num_threads": 1}}, model
    )
    try:
        failures = pool.start()
        assert set(failures) == {"coral"} and "Edge TPU device 'usb'" in failures["coral"]
        # Events record the model of the first running detector: the CPU one here.
        md5 = hashlib.md5((models / V2).read_bytes()).hexdigest()
        assert pool.model_info() == {"model_hash": md5, "model_type": "ssd", "detector_type": "cpu"}
        stats = pool.stats()
        assert stats["coral"]["pid"] == 0 and stats["cpu"]["pid"] > 0
        pool.remove_detector("cpu")
        with pytest.raises(DetectorError, match="Edge TPU device 'usb'"):
            pool.detect(np.zeros((300, 300, 3), np.uint8))
        pool.add_detector("cpu2", {"type": "cpu", "num_threads": 1})
        assert pool.detect(np.zeros((300, 300, 3), np.uint8)).shape[1] == 6
        with pytest.raises(DetectorError, match="already exists"):
            pool.add_detector("cpu2", {"type": "cpu"})
    finally:
        pool.stop()
    only_coral = DetectorPool({"coral": {"type": "edgetpu", "device": "pci"}}, model)
    with pytest.raises(DetectorError, match=r"no detector could start.*Edge TPU device 'pci'"):
        only_coral.start()
    only_coral.stop()


def test_a_detector_being_added_is_not_taken_for_a_dead_one(
    models: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The supervisor looks for dead detectors every 10 ms here, so it certainly looks while the
    # new one loads its model (on the box, under load, that takes seconds).
    monkeypatch.setattr(pool_module, "_SUPERVISOR_TICK", 0.01)
    pool = DetectorPool({"cpu": {"type": "cpu", "num_threads": 1}}, {"path": str(models / V2)})
    try:
        pool.start()
        with caplog.at_level(logging.WARNING, logger="nvrd.detect.pool"):
            pool.add_detector("cpu2", {"type": "cpu", "num_threads": 1})  # loading takes a while
            time.sleep(0.5)  # more supervisor rounds with the new detector running
        assert pool.stats()["cpu2"]["pid"] > 0
        assert [r.getMessage() for r in caplog.records if "cpu2" in r.getMessage()] == []
    finally:
        pool.stop()


# --- regions -------------------------------------------------------------------------------------

even = st.integers(32, 1000).map(lambda n: n * 2)


@st.composite
def frame_and_boxes(draw: st.DrawFn) -> tuple[int, int, list[Box], list[Box]]:
    width, height = draw(even), draw(even)

    def box() -> Box:
        x1 = draw(st.integers(0, width - 2))
        y1 = draw(st.integers(0, height - 2))
        return (x1, y1, draw(st.integers(x1 + 1, width)), draw(st.integers(y1 + 1, height)))

    motion = [box() for _ in range(draw(st.integers(0, 6)))]
    objects = [box() for _ in range(draw(st.integers(0, 4)))]
    return width, height, motion, objects


def covered(box: Box, regions: list[Box]) -> bool:
    return any(r[0] <= box[0] and r[1] <= box[1] and r[2] >= box[2] and r[3] >= box[3] for r in regions)


@settings(max_examples=300, deadline=None)
@given(frame_and_boxes(), st.sampled_from([300, 320]))
def test_regions_are_squares_inside_the_frame_covering_the_boxes(
    case: tuple[int, int, list[Box], list[Box]], model_size: int
) -> None:
    width, height, motion, objects = case
    regions = select_regions(width, height, motion, objects, model_size)
    short = min(width, height)
    if not motion and not objects:
        assert regions == []
    assert len(set(regions)) == len(regions)
    for x1, y1, x2, y2 in regions:
        side = x2 - x1
        assert side == y2 - y1  # square
        assert x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height  # inside
        assert min(model_size, short) <= side <= short
        assert x1 % 2 == 0 and y1 % 2 == 0 and side % 2 == 0  # chroma-aligned
    for box in objects + motion:
        if max(box[2] - box[0], box[3] - box[1]) * 1.2 <= short - 4:
            assert covered(box, regions), (box, regions)


def test_regions_cluster_nearby_motion_and_keep_far_motion_apart() -> None:
    near = select_regions(1280, 720, [(100, 100, 140, 160), (180, 120, 220, 200)], [], 300)
    assert len(near) == 1
    far = select_regions(1280, 720, [(10, 10, 50, 50), (1200, 600, 1270, 710)], [], 300)
    assert len(far) == 2 and all(r[2] - r[0] == 300 for r in far)
    huge = select_regions(1280, 720, [], [(0, 100, 1280, 600)], 300)
    assert huge == [(280, 0, 1000, 720)]  # the largest square, centred on the object


def test_regions_reject_a_degenerate_frame() -> None:
    with pytest.raises(ValueError, match="1x720"):
        select_regions(1, 720, [(0, 0, 1, 1)], [], 300)


def test_to_detections_maps_rows_to_frame_pixels() -> None:
    raw = np.array(
        [
            [0, 0.9, 0.1, 0.2, 0.5, 0.6],
            [16, 0.3, 0.0, 0.0, 1.0, 1.0],  # under min_score
            [99, 0.8, 0.5, 0.5, 1.0, 1.0],  # no such label
            [0, 0.8, 0.5, 0.5, 0.5, 0.9],  # no height
        ],
        np.float32,
    )
    region = (100, 40, 400, 340)
    found = to_detections(raw, region, {0: "person", 16: "cat"}, 0.5)
    # 300 px region at (100, 40): x = 100 + 0.2*300 = 160, y = 40 + 0.1*300 = 70, ...
    assert found == [
        Detection("person", pytest.approx(0.9), (160, 70, 280, 190), region),
        Detection("unknown", pytest.approx(0.8), (250, 190, 400, 340), region),
    ]
    assert [d.label for d in to_detections(raw, region, {0: "person", 16: "cat"}, 0.1)] == [
        "person",
        "cat",
        "unknown",
    ]


def test_duplicates_across_regions_are_suppressed_per_label() -> None:
    region = (0, 0, 300, 300)
    found = [
        Detection("person", 0.7, (10, 10, 100, 200), region),
        Detection("person", 0.9, (12, 8, 104, 204), region),
        Detection("dog", 0.6, (10, 10, 100, 200), region),
        Detection("person", 0.8, (200, 10, 290, 200), region),
    ]
    kept = suppress_duplicates(found, 0.4)
    assert {(d.label, d.score) for d in kept} == {("person", 0.9), ("dog", 0.6), ("person", 0.8)}


# --- region_tensor -------------------------------------------------------------------------------


def test_region_tensor_matches_ffmpeg_conversion(grace: Frame) -> None:
    region = (100, 100, 400, 400)  # model-sized: conversion only
    ours = region_tensor(grace, region, 300).astype(int)
    diff = np.abs(ours - ffmpeg_rgb(grace, region))
    assert diff.mean() < 2.0 and diff.max() <= 6


@pytest.mark.parametrize(
    ("region", "resampling"),
    [
        ((0, 0, 512, 512), Image.Resampling.BOX),  # shrunk: area average
        ((0, 0, 512, 600), Image.Resampling.BOX),  # squashed
        ((64, 200, 364, 500), Image.Resampling.BOX),  # model-sized: no resampling at all
        ((100, 100, 300, 300), Image.Resampling.BILINEAR),  # enlarged: interpolated
    ],
)
def test_region_tensor_resized_matches_ffmpeg_then_pillow(
    grace: Frame, region: Box, resampling: Image.Resampling
) -> None:
    reference = np.asarray(Image.fromarray(ffmpeg_rgb(grace, region)).resize((300, 300), resampling))
    out = np.zeros((300, 300, 3), np.uint8)
    ours = region_tensor(grace, region, 300, out=out)
    assert ours is out
    diff = np.abs(ours.astype(int) - reference)
    # Resizing the planes before converting differs from converting first only at sharp colour
    # edges (chroma has half the resolution), hence a loose 99th percentile.
    assert diff.mean() < 2.0 and np.percentile(diff, 99) <= 8


def test_region_tensor_rejects_bad_regions_and_buffers(grace: Frame) -> None:
    with pytest.raises(ValueError, match="outside"):
        region_tensor(grace, (0, 0, 600, 600), 300)
    with pytest.raises(ValueError, match="empty"):
        region_tensor(grace, (10, 10, 10, 50), 300)
    with pytest.raises(ValueError, match="out must be"):
        region_tensor(grace, (0, 0, 300, 300), 300, out=np.zeros((300, 300), np.uint8))


# --- ObjectDetector -----------------------------------------------------------------------------


def test_object_detector_finds_a_person_where_she_stands(
    v2_worker: DetectorProcess, media: Path, labels: dict[int, str]
) -> None:
    frame = i420_frame(media / "grace_hopper.bmp", pad_to=(1280, 720))  # placed at (384, 60)
    placed = (384, 60, 384 + 512, 60 + 600)
    detector = ObjectDetector(v2_worker, labels, 300, ["person"], {"person": 0.6})
    detections, regions = detector.detect(frame, [(400, 80, 880, 640)], [])
    assert regions and all(r[2] - r[0] == r[3] - r[1] >= 300 for r in regions)
    people = [d for d in detections if d.label == "person"]
    assert people and all(d.score >= 0.6 for d in detections)
    assert max(intersection_over_union(d.box, placed) for d in people) > 0.5
    assert {d.label for d in detections} == {"person"}  # only tracked labels come out

    assert detector.detect(frame, [], []) == ([], [])  # nothing moves, nothing tracked: no inference


def test_object_detector_filters_labels_and_scores(
    v2_worker: DetectorProcess, grace: Frame, cat: Frame, labels: dict[int, str]
) -> None:
    first_look = ObjectDetector(v2_worker, labels, 300, ["person", "cat"], {})
    assert any(d.label == "person" and d.score >= 0.6 for d in first_look.detect_full_frame(grace))
    assert any(d.label == "cat" and d.score >= 0.6 for d in first_look.detect_full_frame(cat))
    cats_only = ObjectDetector(v2_worker, labels, 300, ["cat"], {})
    assert cats_only.detect_full_frame(grace) == []
    strict = ObjectDetector(v2_worker, labels, 300, ["person"], {"person": 0.99})
    assert strict.detect_full_frame(grace) == []
