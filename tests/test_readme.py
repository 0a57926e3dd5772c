"""The README's examples are real: its example config is accepted by nvrd's own loader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nvrd.config import config_from_text

README = Path(__file__).resolve().parents[1] / "README.md"


def yaml_blocks_of(section: str) -> list[str]:
    text = README.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", body, flags=re.S)


def test_configuration_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRIGATE_RTSP_USER", "viewer")
    monkeypatch.setenv("FRIGATE_RTSP_PASSWORD", "secret")
    (example,) = yaml_blocks_of("Configuration")
    config = config_from_text(example, source="README")
    camera = config.cameras["driveway"]
    assert camera.detect_input.path.endswith("/sub")
    assert camera.record_input.path.startswith("rtsp://viewer:secret@")
    assert camera.zones["porch"].objects == ["person"]
    assert config.detectors["coral"].type == "edgetpu"
