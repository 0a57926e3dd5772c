"""The config loader: Frigate 0.13 defaults, global→camera merging, one-line errors, env, API view."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nvrd.config import ConfigError, NvrConfig, config_from_text, load_config, mask_credentials, split_args

CONFIGS = Path(__file__).resolve().parent / "configs"

ONE_CAMERA = """
mqtt:
  host: 127.0.0.1
cameras:
  front:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:8554/front
"""


def write(tmp_path: Path, text: str, name: str = "config.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_text(tmp_path: Path, text: str, name: str = "config.yml") -> NvrConfig:
    return load_config(write(tmp_path, text, name))


def config_error(tmp_path: Path, text: str, name: str = "config.yml") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, name)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(str(tmp_path / name) + ": "), message
    return caught.value


# --- defaults -------------------------------------------------------------------------------------


def test_minimal_config_fills_frigate_013_defaults() -> None:
    cfg = load_config(CONFIGS / "good" / "minimal.yml")

    assert (cfg.mqtt.enabled, cfg.mqtt.host, cfg.mqtt.port) == (True, "127.0.0.1", 1883)
    assert (cfg.mqtt.topic_prefix, cfg.mqtt.client_id, cfg.mqtt.stats_interval) == ("frigate", "frigate", 60)
    assert (cfg.mqtt.user, cfg.mqtt.password, cfg.mqtt.tls_insecure) == (None, None, None)
    assert (cfg.mqtt.discovery, cfg.mqtt.discovery_prefix) == (False, "homeassistant")
    assert cfg.database.path == Path("/var/lib/nvr/nvr.db")
    assert cfg.storage.root == Path("/media/nvr")
    assert cfg.storage.clips == Path("/media/nvr/clips")
    assert cfg.storage.recordings == Path("/media/nvr/recordings")
    assert cfg.storage.exports == Path("/media/nvr/exports")
    assert cfg.storage.cache == Path("/var/lib/nvr/cache")
    assert (cfg.storage.label, cfg.storage.min_free_mb) == ("NVR-DATA", 1024)
    models = Path("/usr/share/nvr/models")
    assert cfg.model.path == models / "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
    assert cfg.model.edgetpu_path == models / "mobilenet_ssd_v2_coco_quant_postprocess_edgetpu.tflite"
    assert cfg.model.labelmap_path == models / "coco_labels.txt"
    assert (cfg.model.width, cfg.model.height, cfg.model.labelmap) == (300, 300, {})
    assert (cfg.model.input_tensor, cfg.model.input_pixel_format, cfg.model.model_type) == (
        "nhwc",
        "rgb",
        "ssd",
    )
    assert list(cfg.detectors) == ["cpu"]
    assert (cfg.detectors["cpu"].type, cfg.detectors["cpu"].num_threads) == ("cpu", 3)
    assert (cfg.logger.default, cfg.logger.logs) == ("info", {})
    assert cfg.ffmpeg.global_args == "-hide_banner -loglevel warning -threads 2"
    assert (cfg.ffmpeg.hwaccel_args, cfg.ffmpeg.input_args) == ([], "preset-rtsp-generic")
    assert cfg.ffmpeg.output_args.detect == "-threads 2 -f rawvideo -pix_fmt yuv420p"
    assert cfg.ffmpeg.output_args.record == "preset-record-generic"
    assert cfg.ffmpeg.retry_interval == 10
    assert (cfg.telemetry.version_check, cfg.rtmp.enabled, cfg.audio.enabled) == (True, False, False)
    assert cfg.timestamp_style.position == "tl"
    assert cfg.timestamp_style.format == "%m/%d/%Y %H:%M:%S"
    assert (cfg.timestamp_style.color.red, cfg.timestamp_style.thickness) == (255, 2)

    cam = cfg.cameras["front"]
    assert (cam.name, cam.enabled, cam.best_image_timeout, cam.webui_url) == ("front", True, 60, None)
    assert cam.ffmpeg.inputs[0].path == "rtsp://127.0.0.1:8554/front"
    assert cam.ffmpeg.inputs[0].roles == ["detect", "record"]  # a lone input gets both
    assert cam.detect_input is cam.ffmpeg.inputs[0]
    assert cam.record_input is cam.ffmpeg.inputs[0]
    assert cam.input_for("audio") is None

    d = cam.detect
    assert (d.width, d.height, d.fps, d.enabled, d.annotation_offset) == (1280, 720, 5, True, 0)
    assert (d.min_initialized, d.max_disappeared) == (2, 25)
    assert (d.stationary.threshold, d.stationary.interval, d.stationary.max_frames.default) == (50, 50, None)

    assert cam.objects.track == ["person"]
    person = cam.objects.filters["person"]
    assert (person.min_area, person.max_area, person.min_ratio, person.max_ratio) == (
        0,
        24_000_000,
        0,
        24_000_000,
    )
    assert (person.min_score, person.threshold, person.mask) == (0.5, 0.7, None)

    m = cam.motion
    assert (m.threshold, m.lightning_threshold, m.improve_contrast, m.contour_area) == (30, 0.8, True, 10)
    assert (m.delta_alpha, m.frame_alpha, m.frame_height, m.mqtt_off_delay) == (0.2, 0.01, 100, 30)
    assert m.mask_polygons == []

    r = cam.record
    assert (r.enabled, r.sync_recordings, r.expire_interval, r.segment_time) == (False, False, 60, 10)
    assert (r.retain.days, r.retain.mode) == (0, "all")
    assert (r.events.pre_capture, r.events.post_capture, r.events.objects) == (5, 5, None)
    assert (r.events.retain.default, r.events.retain.mode, r.events.retain.objects) == (10, "motion", {})
    assert r.export.timelapse_args == "-vf setpts=0.04*PTS -r 30"

    s = cam.snapshots
    assert (s.enabled, s.clean_copy, s.timestamp, s.bounding_box, s.crop) == (False, True, False, True, False)
    assert (s.height, s.quality, s.required_zones, s.retain.default) == (None, 70, [], 10)

    q = cam.mqtt
    assert (q.enabled, q.timestamp, q.bounding_box, q.crop, q.height, q.quality) == (
        True,
        True,
        True,
        True,
        270,
        70,
    )
    assert (cam.onvif.host, cam.onvif.port, cam.onvif.user) == ("", 8000, None)
    assert (cam.ui.order, cam.ui.dashboard, cam.zones) == (0, True, {})


def test_detect_timing_follows_the_camera_fps(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        """
        cameras:
          fast:
            ffmpeg: {inputs: [{path: a}]}
            detect: {fps: 10, width: 640, height: 360}
          slow:
            ffmpeg: {inputs: [{path: b}]}
            detect: {fps: 1, min_initialized: 1, stationary: {interval: 7}}
        """,
    )
    fast, slow = cfg.cameras["fast"].detect, cfg.cameras["slow"].detect
    assert (fast.min_initialized, fast.max_disappeared, fast.stationary.threshold) == (5, 50, 100)
    assert (fast.width, fast.height) == (640, 360)
    assert (slow.min_initialized, slow.max_disappeared) == (1, 5)
    assert (slow.stationary.threshold, slow.stationary.interval) == (10, 7)


def test_every_tracked_label_gets_a_default_filter(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        ONE_CAMERA
        + """
    objects:
      track: [person, car]
      filters:
        dog: {min_score: 0.6}
        car: {threshold: 0.8}
""",
    )
    filters = cfg.cameras["front"].objects.filters
    assert set(filters) == {"person", "car", "dog"}  # untracked labels may still have filters
    assert (filters["person"].threshold, filters["car"].threshold, filters["car"].min_score) == (
        0.7,
        0.8,
        0.5,
    )


def test_global_sections_deep_merge_into_each_camera(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        """
        ffmpeg:
          input_args: -rtsp_transport tcp
          hwaccel_args: [-hwaccel, drm]
        detect: {fps: 8, width: 640, height: 480}
        objects:
          track: [person, car]
          filters:
            person: {min_area: 5000, threshold: 0.75}
        motion: {threshold: 40, mask: "0,0,10,0,10,10"}
        record:
          enabled: true
          events: {pre_capture: 3, retain: {default: 20}}
        snapshots: {enabled: true, quality: 90}
        cameras:
          front:
            ffmpeg:
              input_args: -rtsp_transport udp
              inputs:
                - path: rtsp://cam/main
                  roles: [record]
                  input_args: -re
                - path: rtsp://cam/sub
                  roles: [detect]
            detect: {fps: 4}
            objects:
              track: [person]
              filters:
                person: {threshold: 0.9}
            motion: {mask: ["0,0,5,0,5,5"]}
            record:
              events: {post_capture: 9}
          back:
            ffmpeg:
              inputs: [{path: rtsp://back/main}]
        """,
    )
    front, back = cfg.cameras["front"], cfg.cameras["back"]

    # Scalars: the camera wins, the rest comes from the global section.
    assert (front.detect.fps, front.detect.width, front.detect.height) == (4, 640, 480)
    assert (back.detect.fps, back.detect.min_initialized) == (8, 4)
    assert (front.motion.threshold, front.snapshots.quality, front.snapshots.enabled) == (40, 90, True)
    # Nested mappings merge key by key.
    assert (front.objects.filters["person"].min_area, front.objects.filters["person"].threshold) == (
        5000,
        0.9,
    )
    assert (back.objects.filters["person"].min_area, back.objects.filters["person"].threshold) == (5000, 0.75)
    ev = front.record.events
    assert (front.record.enabled, ev.pre_capture, ev.post_capture, ev.retain.default) == (True, 3, 9, 20)
    assert back.record.events.post_capture == 5
    # Lists are replaced, not joined.
    assert front.objects.track == ["person"]
    assert back.objects.track == ["person", "car"]
    assert front.motion.mask_polygons == [[(0, 0), (5, 0), (5, 5)]]
    assert back.motion.mask_polygons == [[(0, 0), (10, 0), (10, 10)]]
    # ffmpeg: input beats camera beats global; unset keys fall through to the global defaults.
    main, sub = front.ffmpeg.inputs
    assert (main.input_args, sub.input_args, back.detect_input.input_args) == (
        "-re",
        "-rtsp_transport udp",
        "-rtsp_transport tcp",
    )
    assert main.hwaccel_args == ["-hwaccel", "drm"]
    assert main.global_args == "-hide_banner -loglevel warning -threads 2"
    assert (front.detect_input.path, front.record_input.path) == ("rtsp://cam/sub", "rtsp://cam/main")
    # The global sections themselves stay as written.
    assert (cfg.detect.fps, cfg.objects.filters["person"].threshold) == (8, 0.75)


def test_storage_paths_and_relative_paths(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        ONE_CAMERA
        + """
storage:
  root: media
  exports: /srv/exports
database:
  path: db/nvr.db
model:
  path: /opt/models/tiny.tflite
""",
    )
    assert cfg.storage.root == tmp_path / "media"
    assert cfg.storage.clips == tmp_path / "media" / "clips"
    assert cfg.storage.recordings == tmp_path / "media" / "recordings"
    assert cfg.storage.exports == Path("/srv/exports")
    assert cfg.database.path == tmp_path / "db" / "nvr.db"
    assert cfg.model.edgetpu_path == Path("/opt/models/tiny_edgetpu.tflite")


def test_detectors_and_logger(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        ONE_CAMERA
        + """
detectors:
  coral: {type: edgetpu}
  coral2: {type: edgetpu, device: "pci:1"}
  cpu1: {type: cpu, num_threads: 2}
logger:
  default: WARNING
  logs: {nvrd.mqtt: debug}
""",
    )
    assert (cfg.detectors["coral"].device, cfg.detectors["coral2"].device) == ("usb", "pci:1")
    assert (cfg.detectors["cpu1"].device, cfg.detectors["cpu1"].num_threads) == (None, 2)
    assert (cfg.logger.default, cfg.logger.logs) == ("warning", {"nvrd.mqtt": "debug"})


def test_zones_and_masks_expose_polygons(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        ONE_CAMERA
        + """
    objects:
      mask: 0,0,100,0,100,50
      filters:
        person: {mask: ["200,200,300,200,300,300", "0,700,10,700,10,720"]}
    zones:
      yard:
        coordinates: ["0,360", "1280,360", "1280,720", "0,720"]
        objects: [person]
        inertia: 5
        filters:
          person: {min_area: 100}
      porch:
        coordinates: 10,10,20,10,20,20
""",
    )
    cam = cfg.cameras["front"]
    assert cam.zones["yard"].polygon == [(0, 360), (1280, 360), (1280, 720), (0, 720)]
    assert (cam.zones["yard"].inertia, cam.zones["yard"].objects) == (5, ["person"])
    assert cam.zones["yard"].filters["person"].min_area == 100
    assert (cam.zones["porch"].inertia, cam.zones["porch"].polygon[0]) == (3, (10, 10))
    assert cam.objects.mask_polygons == [[(0, 0), (100, 0), (100, 50)]]
    assert len(cam.objects.filters["person"].mask_polygons) == 2
    assert len(cam.objects.label_mask_polygons("person")) == 3
    assert cam.objects.label_mask_polygons("car") == cam.objects.mask_polygons


def test_runtime_fields_can_change_and_are_still_validated() -> None:
    cfg = load_config(CONFIGS / "good" / "minimal.yml")
    cam = cfg.cameras["front"]
    cam.detect.enabled = False
    cam.record.enabled = True
    cam.snapshots.enabled = True
    cam.motion.threshold = 55
    cam.motion.contour_area = 25
    cam.motion.improve_contrast = False
    assert (cam.detect.enabled, cam.record.enabled, cam.snapshots.enabled) == (False, True, True)
    assert (cam.motion.threshold, cam.motion.contour_area, cam.motion.improve_contrast) == (55, 25, False)
    assert cam.record.enabled_in_config is False  # what the file said, for MQTT's `recordings ON` rule
    with pytest.raises(ValueError, match="less than or equal to 255"):
        cam.motion.threshold = 300
    assert cam.motion.threshold == 55


def test_json_config(tmp_path: Path) -> None:
    data = {"cameras": {"front": {"ffmpeg": {"inputs": [{"path": "rtsp://x/y"}]}, "detect": {"fps": 7}}}}
    # Tab indentation is valid JSON but not valid YAML.
    cfg = load_text(tmp_path, json.dumps(data, indent="\t"), "config.json")
    assert cfg.cameras["front"].detect.fps == 7
    error = config_error(tmp_path, '{"cameras": {\n\t"front": }', "config.json")
    assert error.line == 2
    assert "invalid JSON" in str(error)


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        """
        cameras:
          front: &camera
            ffmpeg: {inputs: [{path: rtsp://a}]}
            detect: {fps: 6}
          back:
            <<: *camera
            detect: {fps: 3}
        """,
    )
    assert (cfg.cameras["front"].detect.fps, cfg.cameras["back"].detect.fps) == (6, 3)
    assert cfg.cameras["back"].detect_input.path == "rtsp://a"


def test_split_args() -> None:
    assert split_args("-f rawvideo -vf 'scale=640:360'") == ["-f", "rawvideo", "-vf", "scale=640:360"]
    assert split_args(["-re", "-i"]) == ["-re", "-i"]
    assert split_args(None) == []


# --- errors ---------------------------------------------------------------------------------------

CAMERA_HEAD = """\
mqtt:
  host: 127.0.0.1
cameras:
  front:
    ffmpeg:
      inputs:
"""

ERROR_CASES = {
    "unknown key": (
        CAMERA_HEAD + "        - path: a\n    detect:\n      fsp: 5\n",
        "cameras.front.detect.fsp",
        "unknown key",
        9,
    ),
    "unknown top-level section": (
        "camera: {}\n" + CAMERA_HEAD + "        - path: a\n",
        "camera",
        "unknown key",
        1,
    ),
    "negative fps": (
        CAMERA_HEAD + "        - path: a\n    detect:\n      fps: -1\n",
        "cameras.front.detect.fps",
        "must be greater than 0, got -1",
        9,
    ),
    "zone with two points": (
        CAMERA_HEAD + "        - path: a\n    zones:\n      yard:\n        coordinates: 1,1,5,5\n",
        "cameras.front.zones.yard.coordinates",
        "at least 3 points",
        10,
    ),
    "missing camera path": (
        CAMERA_HEAD + "        - roles: [detect]\n",
        "cameras.front.ffmpeg.inputs.0.path",
        "is required",
        7,
    ),
    "empty camera path": (
        CAMERA_HEAD + "        - path: ' '\n",
        "cameras.front.ffmpeg.inputs.0.path",
        "must not be empty",
        7,
    ),
    "wrong type": (
        CAMERA_HEAD + "        - path: a\n    snapshots:\n      enabled: sometimes\n",
        "cameras.front.snapshots.enabled",
        "must be a valid boolean",
        9,
    ),
    "section not a mapping": (
        CAMERA_HEAD + "        - path: a\n    detect: 5\n",
        "cameras.front.detect",
        "must be a mapping",
        8,
    ),
    "role twice": (
        CAMERA_HEAD
        + "        - path: a\n          roles: [detect, record]\n"
        + "        - path: b\n          roles: [record]\n",
        "cameras.front.ffmpeg.inputs.1.roles",
        "'record' is already given to input 0",
        10,
    ),
    "role twice in one input": (
        CAMERA_HEAD + "        - path: a\n          roles: [detect, detect]\n",
        "cameras.front.ffmpeg.inputs.0.roles",
        "'detect' is given twice",
        8,
    ),
    "no detect role": (
        CAMERA_HEAD + "        - path: a\n          roles: [record]\n",
        "cameras.front.ffmpeg.inputs",
        "one input must have the 'detect' role",
        6,
    ),
    "roles missing with two inputs": (
        CAMERA_HEAD + "        - path: a\n          roles: [detect]\n        - path: b\n",
        "cameras.front.ffmpeg.inputs.1.roles",
        "is required",
        9,
    ),
    "unknown role": (
        CAMERA_HEAD + "        - path: a\n          roles: [detect, clips]\n",
        "cameras.front.ffmpeg.inputs.0.roles.1",
        "'clips'",
        8,
    ),
    "record without record role": (
        CAMERA_HEAD + "        - path: a\n          roles: [detect]\n    record:\n      enabled: true\n",
        "cameras.front.record.enabled",
        "no input has the 'record' role",
        10,
    ),
    "global record without record role": (
        "record: {enabled: true}\n" + CAMERA_HEAD + "        - path: a\n          roles: [detect]\n",
        "cameras.front.record.enabled",
        "no input has the 'record' role",
        1,
    ),
    "zone named like a camera": (
        CAMERA_HEAD
        + "        - path: a\n    zones:\n      back:\n        coordinates: 0,0,9,0,9,9\n"
        + "  back:\n    ffmpeg: {inputs: [{path: b}]}\n",
        "cameras.front.zones.back",
        "zone name 'back' is also a camera name",
        9,
    ),
    "zone point outside the frame": (
        CAMERA_HEAD
        + "        - path: a\n    detect: {width: 640, height: 480}\n"
        + "    zones:\n      yard:\n        coordinates: 0,0,641,0,0,100\n",
        "cameras.front.zones.yard.coordinates",
        "point 641,0 lies outside the 640x480 detect frame",
        11,
    ),
    "motion mask entry outside the frame": (
        CAMERA_HEAD
        + "        - path: a\n    motion:\n      mask:\n        - 0,0,9,0,9,9\n        - 0,0,9,0,9,721\n",
        "cameras.front.motion.mask.1",
        "point 9,721 lies outside the 1280x720 detect frame",
        11,
    ),
    "global object mask outside a small camera": (
        "objects: {mask: '0,0,1000,0,0,10'}\n"
        + CAMERA_HEAD
        + "        - path: a\n    detect: {width: 640, height: 360}\n",
        "cameras.front.objects.mask",
        "point 1000,0 lies outside",
        1,
    ),
    "filter mask outside the frame": (
        CAMERA_HEAD
        + "        - path: a\n    objects:\n      filters:\n        person: {mask: '0,0,2000,0,0,5'}\n",
        "cameras.front.objects.filters.person.mask",
        "lies outside",
        10,
    ),
    "zone object not tracked": (
        CAMERA_HEAD + "        - path: a\n    zones:\n      yard:\n        coordinates: 0,0,9,0,9,9\n"
        "        objects: [person, car]\n",
        "cameras.front.zones.yard.objects.1",
        "'car' is not a tracked object",
        11,
    ),
    "required zone missing": (
        CAMERA_HEAD + "        - path: a\n    snapshots:\n      required_zones: [gate]\n",
        "cameras.front.snapshots.required_zones.0",
        "no zone 'gate'",
        9,
    ),
    "odd width": (
        CAMERA_HEAD + "        - path: a\n    detect: {width: 641, height: 480}\n",
        "cameras.front.detect.width",
        "must be even",
        8,
    ),
    "zero height": (
        CAMERA_HEAD + "        - path: a\n    detect: {width: 640, height: 0}\n",
        "cameras.front.detect.height",
        "greater than 0",
        8,
    ),
    "bad camera name": (
        "cameras:\n  front door:\n    ffmpeg: {inputs: [{path: a}]}\n",
        "cameras.front door.name",
        "may only hold letters, digits",
        2,
    ),
    "no cameras": ("mqtt: {host: x}\n", "cameras", "is required", None),
    "empty cameras": ("cameras: {}\n", "cameras", "at least one camera is required", 1),
    "mqtt user without password": (
        "mqtt:\n  host: x\n  user: bob\n"
        + CAMERA_HEAD[CAMERA_HEAD.index("cameras") :]
        + "        - path: a\n",
        "mqtt.password",
        "user and password must be given together",
        1,
    ),
    "mqtt port": ("mqtt: {port: 70000}\n", "mqtt.port", "less than or equal to 65535", 1),
    "bad edgetpu device": (
        "detectors:\n  coral:\n    type: edgetpu\n    device: usb0\n",
        "detectors.coral.device",
        "must be usb, usb:N, pci or pci:N",
        4,
    ),
    "device on a cpu detector": (
        "detectors:\n  cpu:\n    type: cpu\n    device: usb\n",
        "detectors.cpu.device",
        "only edgetpu detectors take a device",
        4,
    ),
    "detector type": (
        "detectors:\n  gpu:\n    type: tensorrt\n",
        "detectors.gpu.type",
        "'cpu' or 'edgetpu'",
        3,
    ),
    "motion threshold": ("motion:\n  threshold: 256\n", "motion.threshold", "less than or equal to 255", 2),
    "lightning threshold": ("motion:\n  lightning_threshold: 0.1\n", "motion.lightning_threshold", "0.3", 2),
    "min score above one": (
        "objects:\n  filters:\n    cat:\n      min_score: 1.5\n",
        "objects.filters.cat.min_score",
        "less than or equal to 1",
        4,
    ),
    "pre capture": ("record:\n  events:\n    pre_capture: 61\n", "record.events.pre_capture", "60", 3),
    "retain mode": ("record:\n  retain:\n    mode: some\n", "record.retain.mode", "'all', 'motion' or", 3),
    "segment time": ("record:\n  segment_time: 0\n", "record.segment_time", "greater than or equal to 1", 2),
    "snapshot quality": ("snapshots:\n  quality: 101\n", "snapshots.quality", "less than or equal to 100", 2),
    "log level": ("logger:\n  logs:\n    nvrd: loud\n", "logger.logs.nvrd", "'debug', 'info'", 3),
    "mask of numbers": ("motion:\n  mask: 5\n", "motion.mask", "polygon string", 2),
    "mask with odd numbers": ("motion:\n  mask: 1,2,3\n", "motion.mask", "x,y pairs", 2),
    "model size": ("model:\n  width: 0\n", "model.width", "greater than 0", 2),
    "labelmap key": ("model:\n  labelmap:\n    x: cat\n", "model.labelmap.x", "valid integer", 3),
    "timestamp position": ("timestamp_style:\n  position: middle\n", "timestamp_style.position", "'tl'", 2),
    "duplicate key": (
        CAMERA_HEAD + "        - path: a\n    detect: {fps: 5}\n    detect: {fps: 6}\n",
        "cameras.front.detect",
        "duplicate key",
        9,
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES), ids=list(ERROR_CASES))
def test_error_names_key_path_reason_and_line(tmp_path: Path, case: str) -> None:
    text, key_path, reason, line = ERROR_CASES[case]
    if "cameras" not in text and not key_path.startswith("cameras"):
        text += "cameras:\n  front:\n    ffmpeg: {inputs: [{path: a}]}\n"
    error = config_error(tmp_path, text)
    assert error.key_path == key_path, str(error)
    assert reason in error.reason, str(error)
    assert error.line == line, str(error)
    expected_line = f" (line {line})" if line else ""
    assert str(error).startswith(f"{tmp_path / 'config.yml'}: {key_path}: "), str(error)
    assert expected_line in str(error)


@pytest.mark.parametrize(
    ("name", "key_path", "reason", "line"),
    [
        ("unknown_key.yml", "cameras.front.motion.treshold", "unknown key", 10),
        ("negative_fps.yml", "cameras.front.detect.fps", "must be greater than 0, got -5", 12),
        ("zone_two_points.yml", "cameras.front.zones.driveway.coordinates", "at least 3 points", 11),
        ("missing_path.yml", "cameras.front.ffmpeg.inputs.0.path", "is required", 8),
    ],
)
def test_bad_fixture_files(name: str, key_path: str, reason: str, line: int) -> None:
    path = CONFIGS / "bad" / name
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {key_path}: {caught.value.reason} (line {line})"
    assert reason in caught.value.reason


def test_yaml_syntax_error_is_one_line_with_the_parser_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, "cameras:\n  front:\n    ffmpeg: {inputs: [{path: a}]\n    detect: 5\n")
    assert error.reason.startswith("invalid YAML: ")
    assert error.line == 4
    error = config_error(tmp_path, "cameras:\n\tfront: {}\n")
    assert (error.line, error.column) == (2, 1)
    assert "(line 2, column 1)" in str(error)


def test_several_errors_report_the_first_and_count_the_rest(tmp_path: Path) -> None:
    error = config_error(
        tmp_path,
        """
        mqtt: {port: 0}
        motion: {threshold: 0}
        cameras:
          front:
            ffmpeg: {inputs: [{path: a}]}
            detect: {fps: 0}
        """,
    )
    assert error.key_path == "mqtt.port"
    assert str(error).endswith("(line 2) (and 2 more)")


def test_a_bad_global_value_is_reported_once_not_per_camera(tmp_path: Path) -> None:
    error = config_error(
        tmp_path,
        """
        detect: {fps: 0}
        cameras:
          a: {ffmpeg: {inputs: [{path: a}]}}
          b: {ffmpeg: {inputs: [{path: b}]}}
        """,
    )
    assert (error.key_path, error.line, error.more) == ("detect.fps", 2, 0)


def test_file_problems_are_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match=r"nope\.yml: file not found$"):
        load_config(missing)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match=r"config\.yml: the file is empty$"):
        load_text(tmp_path, "\n  \n")
    with pytest.raises(ConfigError, match="no settings"):
        load_text(tmp_path, "# only a comment\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_text(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="cannot read the file: Not a directory"):
        load_config(write(tmp_path, ONE_CAMERA) / "inner.yml")
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"cameras:\n  \xff\xfe: 1\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(binary)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CAMERA)
    path.chmod(0)
    with pytest.raises(ConfigError, match="cannot read the file: Permission denied"):
        load_config(path)


# --- environment ----------------------------------------------------------------------------------


def test_placeholders_are_filled_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRIGATE_RTSP_PASSWORD", "s3cret")
    monkeypatch.setenv("NVR_CAM_USER", "admin")
    monkeypatch.setenv("FRIGATE_MQTT_USER", "broker-user")
    monkeypatch.setenv("NVR_MQTT_PASS", "broker-pass")
    cfg = load_text(
        tmp_path,
        """
        mqtt: {host: x, user: "{FRIGATE_MQTT_USER}", password: "{NVR_MQTT_PASS}"}
        cameras:
          front:
            ffmpeg:
              inputs:
                - path: rtsp://{NVR_CAM_USER}:{FRIGATE_RTSP_PASSWORD}@10.0.0.5:554/{OTHER}
            onvif: {host: 10.0.0.5, user: "{NVR_CAM_USER}", password: "{FRIGATE_RTSP_PASSWORD}"}
        """,
    )
    # Only FRIGATE_/NVR_ names are placeholders; other braces stay as written.
    assert cfg.cameras["front"].detect_input.path == "rtsp://admin:s3cret@10.0.0.5:554/{OTHER}"
    assert (cfg.mqtt.user, cfg.mqtt.password) == ("broker-user", "broker-pass")
    assert (cfg.cameras["front"].onvif.user, cfg.cameras["front"].onvif.password) == ("admin", "s3cret")


def test_unset_placeholder_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NVR_NOT_SET", raising=False)
    error = config_error(
        tmp_path,
        CAMERA_HEAD
        + "        - path: a\n        - path: rtsp://{NVR_NOT_SET}@x\n          roles: [record]\n",
    )
    assert error.key_path == "cameras.front.ffmpeg.inputs.1.path"
    assert error.reason == "environment variable NVR_NOT_SET is not set"
    assert error.line == 8


def test_environment_vars_apply_before_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Set first so that monkeypatch restores (or removes) them after the test.
    monkeypatch.setenv("FRIGATE_CAM_HOST", "before")
    monkeypatch.setenv("NVR_TEST_OFFSET", "before")
    cfg = load_text(
        tmp_path,
        """
        environment_vars:
          FRIGATE_CAM_HOST: 10.1.1.1
          NVR_TEST_OFFSET: 2
        cameras:
          front:
            ffmpeg: {inputs: [{path: "rtsp://{FRIGATE_CAM_HOST}/live"}]}
        """,
    )
    assert cfg.cameras["front"].detect_input.path == "rtsp://10.1.1.1/live"
    assert cfg.environment_vars == {"FRIGATE_CAM_HOST": "10.1.1.1", "NVR_TEST_OFFSET": "2"}
    assert (os.environ["FRIGATE_CAM_HOST"], os.environ["NVR_TEST_OFFSET"]) == ("10.1.1.1", "2")


def test_bad_environment_variable_name(tmp_path: Path) -> None:
    error = config_error(tmp_path, "environment_vars:\n  A=B: 1\n" + ONE_CAMERA)
    assert (error.key_path, error.reason, error.line) == (
        "environment_vars.A=B",
        "not a valid environment variable name",
        2,
    )


def test_mqtt_credentials_from_nvr_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVR_MQTT_USER", "env-user")
    monkeypatch.setenv("NVR_MQTT_PASSWORD", "env-pass")
    cfg = load_text(tmp_path, ONE_CAMERA)
    assert (cfg.mqtt.user, cfg.mqtt.password) == ("env-user", "env-pass")
    cfg = load_text(
        tmp_path, ONE_CAMERA.replace("host: 127.0.0.1", "{host: h, user: file-user, password: p}")
    )
    assert (cfg.mqtt.user, cfg.mqtt.password) == ("file-user", "p")  # the file wins


# --- GET /api/config ------------------------------------------------------------------------------


def test_api_dict_hides_secrets_and_has_frigate_keys(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        """
        mqtt: {host: broker, user: bob, password: hunter2}
        model:
          labelmap: {0: human}
        cameras:
          front:
            ffmpeg:
              inputs:
                - path: rtsp://admin:pa55@10.0.0.5:554/main
                  roles: [record]
                - path: http://10.0.0.5/cgi?user=admin&password=pa55&channel=1
                  roles: [detect]
            onvif: {host: 10.0.0.5, user: admin, password: pa55}
            zones:
              yard: {coordinates: "0,0,10,0,10,10"}
        """,
    )
    view = cfg.api_dict(labelmap={0: "person", 1: "bicycle"})
    text = json.dumps(view)  # JSON-ready: no Paths or other objects left
    assert "hunter2" not in text and "pa55" not in text
    assert "password" not in view["mqtt"]
    assert view["mqtt"]["user"] == "bob"
    for key in ("mqtt", "database", "environment_vars", "ui", "telemetry", "model", "detectors", "logger"):
        assert key in view
    for key in ("record", "snapshots", "rtmp", "live", "go2rtc", "birdseye", "ffmpeg", "objects", "audio"):
        assert key in view
    assert {"motion", "detect", "cameras", "timestamp_style"} <= set(view)
    assert view["plus"] == {"enabled": False}
    assert view["model"]["labelmap"] == {"0": "human", "1": "bicycle"}  # the file's overrides win
    assert view["database"]["path"] == "/var/lib/nvr/nvr.db"
    cam = view["cameras"]["front"]
    assert (cam["name"], cam["ffmpeg_cmds"]) == ("front", [])
    paths = [i["path"] for i in cam["ffmpeg"]["inputs"]]
    assert paths == ["rtsp://*:*@10.0.0.5:554/main", "http://10.0.0.5/cgi?user=*&password=*&channel=1"]
    assert cam["zones"]["yard"] == {
        "coordinates": "0,0,10,0,10,10",
        "filters": {},
        "inertia": 3,
        "objects": [],
    }
    assert cam["detect"]["width"] == 1280
    assert cam["objects"]["mask"] == ""
    # The served dict is a copy: the live config keeps its secrets.
    assert cfg.mqtt.password == "hunter2"
    assert cfg.cameras["front"].record_input.path.startswith("rtsp://admin:pa55@")


def test_api_dict_without_a_label_file() -> None:
    view = load_config(CONFIGS / "good" / "minimal.yml").api_dict()
    assert view["model"]["labelmap"] == {}


@given(
    user=st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12),
    password=st.text(st.characters(blacklist_characters="/@ \t\n\r\x0b\x0c#&"), min_size=1, max_size=16),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mask_credentials_never_leaks_a_password(user: str, password: str) -> None:
    marked = f"Z{password}Z"  # guard against a password that is also part of the fixed text
    url = f"rtsp://{user}:{marked}@192.168.1.2:554/cam?password={marked}&x=1"
    masked = mask_credentials(url)
    assert marked not in masked
    assert masked == "rtsp://*:*@192.168.1.2:554/cam?password=*&x=1"


# --- robustness -----------------------------------------------------------------------------------

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-5, 5), max_size=2),
)
PLACES = [
    ("mqtt",),
    ("mqtt", "port"),
    ("detectors",),
    ("detectors", "x"),
    ("model", "labelmap"),
    ("storage", "root"),
    ("objects", "filters"),
    ("objects", "track"),
    ("motion", "mask"),
    ("detect",),
    ("detect", "fps"),
    ("record", "events"),
    ("cameras",),
    ("cameras", "front", "ffmpeg"),
    ("cameras", "front", "ffmpeg", "inputs"),
    ("cameras", "front", "zones"),
    ("cameras", "front", "zones", "yard"),
    ("cameras", "front", "zones", "yard", "coordinates"),
    ("cameras", "front", "detect", "width"),
    ("cameras", "front", "onvif"),
]


@given(place=st.sampled_from(PLACES), value=ODD_VALUES)
@settings(max_examples=300, deadline=None)
def test_odd_values_anywhere_give_config_error_or_a_config(place: tuple[str, ...], value: object) -> None:
    data: dict = {"cameras": {"front": {"ffmpeg": {"inputs": [{"path": "rtsp://x"}]}}}}
    node = data
    for key in place[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return
    node[place[-1]] = value
    try:
        cfg = config_from_text(json.dumps(data), "fuzz.yml")
    except ConfigError as error:
        assert "\n" not in str(error)
        assert str(error).startswith("fuzz.yml: ")
    else:
        json.dumps(cfg.api_dict())


@pytest.mark.parametrize("name", ["events", "stats", "service", "cameras"])
def test_camera_names_that_the_api_uses_are_refused(tmp_path: Path, name: str) -> None:
    error = config_error(
        tmp_path, f"cameras:\n  {name}:\n    ffmpeg:\n      inputs:\n        - path: rtsp://h/s\n"
    )
    assert f"cameras.{name}.name" in str(error)
    assert "reserved" in str(error)


def test_checking_a_candidate_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NVR_TEST_HOST", raising=False)
    text = (
        "environment_vars:\n  NVR_TEST_HOST: cam.local\n"
        "cameras:\n  door:\n    ffmpeg:\n      inputs:\n        - path: rtsp://{NVR_TEST_HOST}/s\n"
    )
    checked = config_from_text(text, apply_environment=False)
    assert checked.cameras["door"].ffmpeg.inputs[0].path == "rtsp://cam.local/s"
    assert "NVR_TEST_HOST" not in os.environ
    config_from_text(text)
    assert os.environ["NVR_TEST_HOST"] == "cam.local"
