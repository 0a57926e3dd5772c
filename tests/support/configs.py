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
