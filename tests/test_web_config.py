"""`GET /api/config/raw` and `POST /api/config/save` against a real nvrd, and the atomic write itself.

nvrd runs as a real process on a `lavfi:` test camera; the config file is a real file in tmp.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nvrd.api.config_file import write_atomically
from nvrd.app import EXIT_RESTART
from nvrd.config import load_config
from tests.support.configs import daemon_sections
from tests.support.nvrd_process import NvrdProcess

pytestmark = pytest.mark.slow


def config_text(tmp: Path, shared: Path, *, fps: int = 2) -> str:
    return f"""\
# The web test's config: one synthetic camera.
mqtt:
  enabled: false
{daemon_sections(tmp, shared)}cameras:
  yard:
    ffmpeg:
      inputs:
        - path: "lavfi:testsrc2=size=320x180:rate={fps}"
          roles: [detect]
    detect:
      width: 320
      height: 180
      fps: {fps}
"""


def write_config(tmp: Path, shared: Path) -> Path:
    path = tmp / "config.yml"
    path.write_text(config_text(tmp, shared))
    path.chmod(0o640)  # it may hold camera passwords: a save must keep the bits
    return path


@pytest.fixture(scope="module")
def running(tmp_path_factory, shared_dir: Path):
    """One nvrd for the module's save/raw tests (each test restores the file it changes)."""
    tmp = tmp_path_factory.mktemp("web-config")
    config = write_config(tmp, shared_dir)
    nvrd = NvrdProcess(config).start()
    try:
        yield nvrd, config
    finally:
        assert nvrd.stop() == 0


@pytest.fixture
def nvrd_and_config(running):
    nvrd, config = running
    original = config.read_text()
    yield nvrd, config
    config.write_text(original)


def folder_listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_raw_is_the_file_text(nvrd_and_config) -> None:
    nvrd, config = nvrd_and_config
    answer = nvrd.get("/api/config/raw")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.body == config.read_bytes()
    assert answer.text.startswith("# The web test's config")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("fps: 2\n", "fps: -5\n"), "config.yml: cameras.yard.detect.fps: "),
        (("    detect:\n", "    detect: [\n"), "config.yml: "),
        (("mqtt:\n", "mqtt:\n  no_such_key: 1\n"), "config.yml: mqtt.no_such_key: "),
    ],
    ids=["bad value", "broken yaml", "unknown key"],
)
def test_a_bad_config_is_refused_with_one_line_and_the_file_is_untouched(
    nvrd_and_config, edit: tuple[str, str], expected: str
) -> None:
    nvrd, config = nvrd_and_config
    before = config.read_bytes()
    before_stat = config.stat()
    listing = folder_listing(config)
    text = before.decode().replace(*edit, 1)
    assert text != before.decode()

    answer = nvrd.request("POST", "/api/config/save?save_option=saveonly", text.encode())

    assert answer.status == 400
    body = answer.json()
    assert body["success"] is False
    assert body["message"].startswith(expected)
    assert "\n" not in body["message"]
    assert "(line " in body["message"]
    assert config.read_bytes() == before
    assert config.stat().st_ino == before_stat.st_ino
    assert config.stat().st_mtime_ns == before_stat.st_mtime_ns
    assert folder_listing(config) == listing  # no temporary file left behind


def test_a_good_config_is_saved_atomically(nvrd_and_config, shared_dir: Path) -> None:
    nvrd, config = nvrd_and_config
    before_stat = config.stat()
    listing = folder_listing(config)
    text = config_text(config.parent, shared_dir, fps=3).replace("one synthetic camera", "edited over HTTP")

    answer = nvrd.request(
        "POST",
        "/api/config/save?save_option=saveonly",
        text.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )

    assert answer.status == 200, answer.text
    assert answer.json() == {"success": True, "message": "Config successfully saved."}
    assert config.read_text() == text
    assert load_config(config).cameras["yard"].detect.fps == 3
    after = config.stat()
    assert after.st_ino != before_stat.st_ino  # replaced by rename, not rewritten in place
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert folder_listing(config) == listing
    assert nvrd.get("/api/config/raw").text == text
    # saveonly: the running daemon keeps its config until it restarts
    assert nvrd.get("/api/config").json()["cameras"]["yard"]["detect"]["fps"] == 2
    assert nvrd.proc.poll() is None


def test_save_without_option_means_save_only(nvrd_and_config) -> None:
    nvrd, config = nvrd_and_config
    text = config.read_text() + "# a comment added\n"
    answer = nvrd.request("POST", "/api/config/save", text.encode())
    assert answer.status == 200
    assert answer.json()["message"] == "Config successfully saved."
    assert config.read_text() == text
    assert nvrd.proc.poll() is None


@pytest.mark.parametrize(
    ("query", "body", "parameter"),
    [
        ("?save_option=saveonly", b"", "body"),
        ("?save_option=saveonly", b"  \n", "body"),
        ("?save_option=saveonly", b"mqtt:\n  host: \xff\xfe\n", "body"),
        ("?save_option=later", b"mqtt:\n  enabled: false\n", "save_option"),
    ],
    ids=["empty", "blank", "not utf-8", "bad option"],
)
def test_bad_requests_name_the_parameter(nvrd_and_config, query: str, body: bytes, parameter: str) -> None:
    nvrd, config = nvrd_and_config
    before = config.read_bytes()
    answer = nvrd.request("POST", f"/api/config/save{query}", body)
    assert answer.status == 400
    assert answer.json()["success"] is False
    assert answer.json()["message"].startswith(f"Invalid parameter {parameter}: ")
    assert config.read_bytes() == before


def test_a_huge_body_is_refused(nvrd_and_config) -> None:
    nvrd, config = nvrd_and_config
    before = config.read_bytes()
    text = config.read_text() + "#" * (1024 * 1024 + 1) + "\n"
    answer = nvrd.request("POST", "/api/config/save", text.encode())
    assert answer.status == 400
    assert "larger than" in answer.json()["message"]
    assert config.read_bytes() == before


def test_get_is_not_a_save(nvrd_and_config) -> None:
    nvrd, _ = nvrd_and_config
    assert nvrd.get("/api/config/save").status == 405


def test_save_and_restart_stops_cleanly_with_the_restart_code(tmp_path: Path, shared_dir: Path) -> None:
    config = write_config(tmp_path, shared_dir)
    nvrd = NvrdProcess(config).start()
    try:
        text = config_text(tmp_path, shared_dir, fps=1)
        answer = nvrd.request("POST", "/api/config/save?save_option=restart", text.encode())
        assert answer.status == 200
        assert answer.json() == {
            "success": True,
            "message": "Config successfully saved, restarting (this can take up to one minute)...",
        }
        assert nvrd.proc.wait(30) == EXIT_RESTART
        assert config.read_text() == text
        assert "restart requested" in nvrd.log()
        # what systemd's Restart= does next: the new config is the one running
        nvrd.start()
        assert nvrd.get("/api/config").json()["cameras"]["yard"]["detect"]["fps"] == 1
    finally:
        nvrd.stop()


def test_a_refused_restart_keeps_the_daemon_running(nvrd_and_config) -> None:
    nvrd, config = nvrd_and_config
    before = config.read_bytes()
    bad = before.decode().replace("fps: 2\n", "fps: zero\n", 1)
    answer = nvrd.request("POST", "/api/config/save?save_option=restart", bad.encode())
    assert answer.status == 400
    assert "cameras.yard.detect.fps" in answer.json()["message"]
    assert config.read_bytes() == before
    assert nvrd.get("/api/version").status == 200
    assert nvrd.proc.poll() is None


# --- the atomic write on its own ---------------------------------------------------------------


def test_write_atomically_replaces_and_keeps_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("old: 1\n")
    path.chmod(0o600)
    write_atomically(path, "new: 2\n")
    assert path.read_text() == "new: 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["config.yml"]


def test_write_atomically_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("old: 1\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(path, "new: \udcff\n")  # a lone surrogate cannot be written as UTF-8
    assert path.read_text() == "old: 1\n"
    assert os.listdir(tmp_path) == ["config.yml"]


def test_a_symlinked_config_is_written_through_the_link(tmp_path: Path, shared_dir: Path) -> None:
    real = write_config(tmp_path, shared_dir)
    link = tmp_path / "link.yml"
    link.symlink_to(real.name)
    nvrd = NvrdProcess(link).start()
    try:
        text = config_text(tmp_path, shared_dir, fps=4)
        assert nvrd.request("POST", "/api/config/save", text.encode()).status == 200
        assert link.is_symlink()
        assert real.read_text() == text
    finally:
        assert nvrd.stop() == 0
