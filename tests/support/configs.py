"""Config text for the nvrd processes the tests start."""

from __future__ import annotations

from pathlib import Path


def daemon_sections(tmp: Path, shared: Path, *, threads: int = 1) -> str:
    """The YAML sections every test daemon shares: its database and media under `tmp`, the real model
    from ../shared, one CPU detector. Ends with a newline, so the caller's sections follow."""
    models = shared / "models"
    return f"""\
database:
  path: {tmp}/nvr.db
storage:
  root: {tmp}/media
  cache: {tmp}/cache
model:
  path: {models}/mobilenet_ssd_v2_coco_quant_postprocess.tflite
  labelmap_path: {models}/coco_labels.txt
detectors:
  cpu:
    type: cpu
    num_threads: {threads}
"""


def supervised_config(folder: Path, model: Path, labels: Path, *, retry_interval: int) -> str:
    """A daemon with one small synthetic camera and kernel hot-plug events, for the supervision tests."""
    return f"""\
mqtt: {{enabled: false}}
database: {{path: {folder}/nvr.db}}
storage: {{root: {folder}/media, cache: {folder}/cache}}
model: {{path: {model}, labelmap_path: {labels}, width: 300, height: 300}}
detectors: {{cpu: {{type: cpu, num_threads: 1}}}}
hotplug: {{events: kernel, label_file: {folder}/storage-label}}
ffmpeg: {{retry_interval: {retry_interval}}}
cameras:
  cam:
    ffmpeg: {{inputs: [{{path: "lavfi:testsrc2=size=320x180:rate=5", roles: [detect]}}]}}
    detect: {{width: 320, height: 180, fps: 5}}
"""
