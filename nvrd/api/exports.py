"""Export endpoints (0.13): start an export, rename or delete one; the files are under `/exports/`."""

from __future__ import annotations

import os
from pathlib import Path

from nvrd.api.base import BaseHandler
from nvrd.api.media import path_inside
from nvrd.record.export import EXPORT_NAME, IN_PROGRESS_PREFIX


class ExportStartHandler(BaseHandler):
    """`POST /api/export/<camera>/start/<ts>/end/<ts>` with optional `{"playback": ...}`; answers at once."""

    def post(self, camera_name: str, start: str, end: str) -> None:
        if camera_name not in self.daemon.config.cameras:
            self.write_message(False, f"{camera_name} is not a valid camera.", 404)
            return
        try:
            begin, finish = int(float(start)), int(float(end))
        except ValueError:
            self.write_message(False, "start and end must be numbers", 400)
            return
        # Frigate takes anything but `timelapse_25x` (a missing body too) as real time.
        playback = "timelapse_25x" if self.json_body().get("playback") == "timelapse_25x" else "realtime"
        if finish <= begin or not self.daemon.recorder.clip_sources(camera_name, begin, finish):
            self.write_message(False, "No recordings found for time range", 400)
            return
        self.daemon.recorder.export(camera_name, begin, finish, playback)
        self.write_message(True, "Starting export of recording.")


def _export_path(handler: BaseHandler, name: str) -> Path | None:
    return path_inside(Path(handler.daemon.config.storage.exports), name)


class ExportRenameHandler(BaseHandler):
    """`PATCH /api/export/<current>/<new>`."""

    def patch(self, current: str, new: str) -> None:
        source = _export_path(self, current)
        if source is None or not source.is_file():
            self.write_message(False, f"{current} not found.", 404)
            return
        if new.startswith(IN_PROGRESS_PREFIX) or not EXPORT_NAME.match(new):
            self.write_message(False, f"{new} contains illegal characters.", 400)
            return
        target = _export_path(self, new if new.endswith(".mp4") else f"{new}.mp4")
        if target is None:
            self.write_message(False, f"{new} contains illegal characters.", 400)
            return
        if target.exists():
            self.write_message(False, f"{new} already exists.", 400)
            return
        os.rename(source, target)
        self.write_message(True, "Successfully renamed file.")


class ExportDeleteHandler(BaseHandler):
    """`DELETE /api/export/<name>`."""

    def delete(self, name: str) -> None:
        path = _export_path(self, name)
        if path is None or not path.is_file():
            self.write_message(False, f"{name} not found.", 404)
            return
        path.unlink()
        self.write_message(True, "Successfully deleted file.")
