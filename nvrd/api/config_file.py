"""The config file over HTTP: `GET /api/config/raw` reads it, `POST /api/config/save` checks new text
with nvrd.config and replaces the file atomically, then optionally restarts the daemon."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from nvrd.api.base import BadParameter, BaseHandler
from nvrd.config import ConfigError, config_from_text

log = logging.getLogger(__name__)

# A Frigate config with dozens of cameras is a few tens of KiB; anything near this is not a config.
MAX_CONFIG_BYTES = 1024 * 1024
SAVE_OPTIONS = ("saveonly", "restart")
SAVED = "Config successfully saved."
SAVED_RESTARTING = "Config successfully saved, restarting (this can take up to one minute)..."


def config_file_path(daemon) -> Path | None:
    """The file the daemon was started with (symlinks followed), or None when it has none."""
    if daemon.config_path is None:
        return None
    return Path(daemon.config_path).resolve()


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a reader or a power cut sees the old file or the new one,
    never a mix: a temporary file beside it, fsync, rename over, fsync the folder.

    The file keeps its permission bits (it may hold camera passwords).
    """
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as temp:
            temp.write(text)
            temp.flush()
            os.fchmod(temp.fileno(), mode)
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)  # makes the rename itself durable
    finally:
        os.close(folder)


class ConfigRawHandler(BaseHandler):
    """`GET /api/config/raw`: the config file's text as it is on disk."""

    def get(self) -> None:
        path = config_file_path(self.daemon)
        try:
            if path is None:
                raise FileNotFoundError
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            self.write_message(False, "Could not find file", 404)
            return
        except (OSError, UnicodeDecodeError) as exc:
            log.error("cannot read the config file %s: %s", path, exc)
            self.write_message(False, f"Could not read the config file: {exc}", 500)
            return
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(text)


class ConfigSaveHandler(BaseHandler):
    """`POST /api/config/save?save_option=saveonly|restart`, the body being the new YAML text.

    Text that nvrd.config refuses is answered 400 with its one-line reason and the file is left as
    it was. `restart` stops the daemon cleanly after answering; the service manager starts it again.
    """

    def post(self) -> None:
        option = self.arg_str("save_option", "saveonly")
        if option not in SAVE_OPTIONS:
            raise BadParameter("save_option", f"must be one of {', '.join(SAVE_OPTIONS)}")
        path = config_file_path(self.daemon)
        if path is None:
            self.write_message(False, "Could not find file", 404)
            return
        text = self._body_text()
        try:
            config_from_text(text, source=path.name, base_dir=path.parent, apply_environment=False)
        except ConfigError as exc:
            self.write_message(False, str(exc), 400)
            return
        try:
            write_atomically(path, text)
        except OSError as exc:
            log.error("cannot write the config file %s: %s", path, exc)
            self.write_message(False, f"Could not write the config file: {exc.strerror or exc}", 500)
            return
        log.info("config file %s saved over the API", path)
        if option == "restart":
            self.write_message(True, SAVED_RESTARTING)
            self.daemon.request_restart()
        else:
            self.write_message(True, SAVED)

    def _body_text(self) -> str:
        raw = self.request.body
        if not raw or not raw.strip():
            raise BadParameter("body", "Config with body param is required")
        if len(raw) > MAX_CONFIG_BYTES:
            raise BadParameter("body", f"larger than {MAX_CONFIG_BYTES // 1024} KiB")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadParameter("body", f"not UTF-8 text (bad byte at offset {exc.start})") from None
