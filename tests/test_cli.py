"""The command line: bad configs give one clear line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "configs" / "bad"


def run_nvrd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nvrd", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unknown_key.yml", "cameras.front"),
        ("negative_fps.yml", "detect.fps"),
        ("zone_two_points.yml", "zones"),
        ("missing_path.yml", "path"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(name: str, expected: str) -> None:
    result = run_nvrd("--config", str(BAD / name))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nvrd: bad config:")
    assert name in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = run_nvrd("--config", str(tmp_path / "nope.yml"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_port_is_refused() -> None:
    result = run_nvrd("--config", str(BAD / "unknown_key.yml"), "--port", "70000")
    assert result.returncode == 2
    assert "--port" in result.stderr


def test_check_accepts_a_good_config() -> None:
    result = run_nvrd("--check", "--config", str(ROOT / "tests" / "configs" / "good" / "minimal.yml"))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
