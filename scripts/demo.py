#!/usr/bin/env python3
"""`make run`: start nvrd on a demo camera so a new user sees it work within a minute.

The model comes from ../shared/models when that folder is there, otherwise from its upstream URL,
checked against its sha256. The camera is the shared walking-people clip played in a loop at its own
pace, or an ffmpeg test pattern when the clip is not there. Everything it writes stays in ./demo/.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
SHARED = Path(os.environ.get("NVR_SHARED", ROOT.parent / "shared"))

# The Coral project's SSD MobileNet v2 (COCO) files, by commit so the bytes never change under us.
UPSTREAM = "https://raw.githubusercontent.com/google-coral/edgetpu/7ee21c088a2aad006e03d2b741dcc3d929527da7/test_data"
MODEL_FILES = {
    "mobilenet_ssd_v2_coco_quant_postprocess.tflite": (
        "7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd"
    ),
    "coco_labels.txt": "93f235896748537fc71325a070ee32e9a0afda2481ceb943559325619763fa6d",
}
DEMO_CLIP = "one-by-one-person-detection.mp4"


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_dir() -> Path:
    """A folder holding the model and labels: the shared one, or a verified download."""
    shared = SHARED / "models"
    if all((shared / name).is_file() for name in MODEL_FILES):
        return shared
    target = DEMO / "models"
    target.mkdir(parents=True, exist_ok=True)
    for name, expected in MODEL_FILES.items():
        path = target / name
        if path.is_file() and sha256(path) == expected:
            continue
        print(f"demo: downloading {name}", file=sys.stderr)
        tmp = path.with_suffix(".part")
        urllib.request.urlretrieve(f"{UPSTREAM}/{name}", tmp)
        if sha256(tmp) != expected:
            tmp.unlink()
            raise SystemExit(f"demo: {name} does not match its sha256; refusing to use it")
        tmp.rename(path)
    return target


def camera_path() -> tuple[str, int, int]:
    """The demo camera's input and its detect size."""
    clip = SHARED / "media" / DEMO_CLIP
    if clip.is_file():
        return str(clip), 768, 432
    return "lavfi:testsrc2=size=1280x720:rate=5", 1280, 720


def write_config(port: int) -> Path:
    """Write demo/config.yml and return its path."""
    models = model_dir()
    path, width, height = camera_path()
    DEMO.mkdir(exist_ok=True)
    config = DEMO / "config.yml"
    config.write_text(f"""\
# Written by `make run` (scripts/demo.py); edit /etc/nvr/config.yml on the appliance instead.
mqtt:
  enabled: false
database:
  path: {DEMO}/nvr.db
storage:
  root: {DEMO}/media
  cache: {DEMO}/cache
model:
  path: {models}/mobilenet_ssd_v2_coco_quant_postprocess.tflite
  labelmap_path: {models}/coco_labels.txt
detectors:
  cpu:
    type: cpu
    num_threads: 2
snapshots:
  enabled: true
cameras:
  demo:
    ffmpeg:
      inputs:
        - path: {path}
          roles: [detect]
    detect:
      width: {width}
      height: {height}
      fps: 5
""")
    return config


def main() -> int:
    """Write the demo config and replace this process with nvrd."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    config = write_config(args.port)
    print(
        f"demo: nvrd on http://localhost:{args.port}/api/demo/latest.jpg (config {config})", file=sys.stderr
    )
    os.execv(
        sys.executable, [sys.executable, "-m", "nvrd", "--config", str(config), "--port", str(args.port)]
    )


if __name__ == "__main__":
    raise SystemExit(main())
