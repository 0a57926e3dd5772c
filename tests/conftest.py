"""Fixtures shared by the tests: where ../shared is, and real nvrd processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NVR_SHARED", ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared: the real model, media and specs."""
    if not (SHARED / "models").is_dir():
        pytest.fail(f"../shared is missing at {SHARED}; tests need its model and media (set NVR_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def model_path(shared_dir: Path) -> Path:
    return shared_dir / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite"


@pytest.fixture(scope="session")
def labels_path(shared_dir: Path) -> Path:
    return shared_dir / "models" / "coco_labels.txt"
