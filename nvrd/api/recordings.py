"""Recording endpoints: the summary and segment list, a recorded frame, event and range clips, and the
0.8 `/clips/` files. Clips are built from the recorded segments off the event loop and streamed."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path

from nvrd.api.base import BadParameter, BaseHandler, NotFound
from nvrd.api.media import MediaFolderHandler, send_file
from nvrd.record import ClipError, FrameError
from nvrd.store.recordings import RECORDING_API_COLUMNS
from nvrd.store.timezones import current_utc_offset_seconds

# `<camera>-<event id>.mp4`, the id being `<epoch>-<6 chars>` (cameras may contain '-' themselves).
LEGACY_CLIP = re.compile(r"^(?P<camera>[A-Za-z0-9_-]+)-(?P<event_id>\d+(?:\.\d+)?-[a-z0-9]{6})\.mp4$")
CLIP_HEADERS = {"Cache-Control": "no-cache", "Content-Description": "File Transfer"}


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadParameter(name, f"{text!r} is not a number") from None


async def _in_thread(function, *args):
    """Run blocking work (ffmpeg, probes) on the loop's executor."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


class RecordingsSummaryHandler(BaseHandler):
    """`GET /api/<camera>/recordings/summary?timezone=`: per day and hour (the camera is not checked)."""

    def get(self, camera_name: str) -> None:
        zone = self.arg_str("timezone", "utc")
        try:
            offset = current_utc_offset_seconds(zone)
        except ValueError as exc:
            raise BadParameter("timezone", str(exc)) from None
        self.write_json(self.daemon.store.recordings_summary(camera_name, offset))


class RecordingsHandler(BaseHandler):
    """`GET /api/<camera>/recordings?after=&before=`: segments in the range, oldest first."""

    def get(self, camera_name: str) -> None:
        now = time.time()
        after = self.arg_float("after", now - 3600)
        before = self.arg_float("before", now)
        rows = self.daemon.store.recordings_overlapping(
            camera_name, after, before, columns=RECORDING_API_COLUMNS
        )
        self.write_json(rows)


class RecordingSnapshotHandler(BaseHandler):
    """`GET /api/<camera>/recordings/<frame_time>/snapshot.png`: the recorded frame at that instant."""

    async def get(self, camera_name: str, frame_time: str) -> None:
        if camera_name not in self.daemon.config.cameras:
            raise NotFound("Camera not found")
        moment = _number("frame_time", frame_time)
        try:
            png = await _in_thread(self.daemon.recorder.frame_at, camera_name, moment)
        except FrameError as exc:
            # A damaged segment is told as missing footage: no request may end in a server error.
            raise NotFound(f"Recording at {frame_time} cannot be decoded: {exc}") from None
        if png is None:
            raise NotFound(f"Recording not found at {frame_time}")
        self.write_image(png, "image/png")


async def send_clip(handler: BaseHandler, camera: str, start: float, end: float, name: str) -> None:
    """Build (or reuse) the clip of [start, end] and stream it.

    No footage is a 404 with Frigate's message (Frigate answers 500 there; no request may end in a
    server error here)."""
    try:
        path = await _in_thread(handler.daemon.recorder.build_clip, camera, start, end)
    except ClipError:
        handler.write_message(False, "Could not create clip from recordings", 404)
        return
    download = name if handler.arg_present("download") else None
    await send_file(handler, path, content_type="video/mp4", download_name=download, headers=CLIP_HEADERS)


class RangeClipHandler(BaseHandler):
    """`GET /api/<camera>/start/<start>/end/<end>/clip.mp4`."""

    async def get(self, camera_name: str, start: str, end: str) -> None:
        begin, finish = _number("start", start), _number("end", end)
        if finish <= begin:
            raise BadParameter("end", "must be after start")
        await send_clip(self, camera_name, begin, finish, f"clip_{camera_name}_{start}-{end}.mp4")


async def send_event_clip(handler: BaseHandler, event_id: str, *, text_errors: bool = False) -> None:
    """The clip of an event: a legacy clip file when there is one, else built from the recordings
    over the event's stored times (pre/post capture included; an event in progress ends now)."""
    event = handler.daemon.store.get_event(event_id)
    if event is None:
        raise NotFound("Event not found", text=text_errors)
    if not event.get("has_clip"):
        raise NotFound("Clip not available", text=text_errors)
    camera = event["camera"]
    legacy = Path(handler.daemon.config.storage.clips) / f"{camera}-{event_id}.mp4"
    download = f"{camera}-{event_id}.mp4" if handler.arg_present("download") else None
    if legacy.is_file():
        await send_file(
            handler, legacy, content_type="video/mp4", download_name=download, headers=CLIP_HEADERS
        )
        return
    start = event["start_time"]
    end = event["end_time"] if event["end_time"] is not None else time.time()
    await send_clip(handler, camera, start, end, download or f"{camera}-{event_id}.mp4")


class EventClipHandler(BaseHandler):
    """`GET /api/events/<id>/clip.mp4[?download=1]`."""

    async def get(self, event_id: str) -> None:
        await send_event_clip(self, event_id)


class ClipsFolderHandler(MediaFolderHandler):
    """`GET /clips/<file>`: snapshots and other files of the clips folder; `<camera>-<id>.mp4` (0.8's
    event clip) is built from the recordings when no such file exists."""

    async def serve(self, path: Path) -> None:
        if path.is_file():
            await send_file(self, path)
            return
        match = LEGACY_CLIP.match(path.name)
        if match is None:
            raise NotFound("Not found", text=True)
        event = self.daemon.store.get_event(match["event_id"])
        if event is None or event["camera"] != match["camera"]:
            raise NotFound("Not found", text=True)
        await send_event_clip(self, match["event_id"], text_errors=True)


class RecordingsStorageHandler(BaseHandler):
    """`GET /api/recordings/storage`: per camera MiB stored, MiB per hour, and share of the disk."""

    def get(self) -> None:
        usage = self.daemon.store.recordings_usage()
        try:
            total_mib = shutil.disk_usage(self.daemon.config.storage.recordings).total / 2**20
        except OSError:
            total_mib = 0.0
        for entry in usage.values():
            entry["usage_percent"] = round(entry["usage"] / total_mib * 100, 4) if total_mib else 0.0
        self.write_json(usage)
