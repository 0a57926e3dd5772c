"""HLS video on demand over the recordings (Frigate's `/vod/` paths), generated natively.

Three ways to name the footage, each followed by one of the files of a playlist set:
    /vod/<YYYY-MM>/<DD>/<HH>/<camera>[/<tz, '/' written ','>]/   one hour (the zone's current offset)
    /vod/event/<id>/                                            an event's stored span
    /vod/<camera>/start/<ts>/end/<ts>/                          any range
    ... master.m3u8 | index.m3u8 | index-v1.m3u8 | seg-<n>-v1.ts
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from nvrd.api.base import BadParameter, BaseHandler, NotFound
from nvrd.api.media import send_file
from nvrd.record.hls import (
    PLAYLIST_TYPE,
    SEGMENT_TYPE,
    VodSegment,
    master_playlist,
    media_playlist,
)
from nvrd.record.probe import ProbeError
from nvrd.store.timezones import current_utc_offset_seconds

# An event whose span has no footage this long after it started loses has_clip (as Frigate does).
NO_FOOTAGE_GRACE_S = 300.0
VOD_FILE = r"(?P<file>master\.m3u8|index\.m3u8|index-v1\.m3u8|seg-(?P<number>\d+)-v1\.ts)"


class VodHandler(BaseHandler):
    """The playlist files of one span of footage; subclasses say which span."""

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")

    def span(self, **kwargs: str | None) -> tuple[str, float, float]:
        """(camera, start, end) of the footage the URL names; raises NotFound / BadParameter."""
        raise NotImplementedError

    async def get(self, file: str, number: str | None = None, **kwargs: str | None) -> None:
        camera, start, end = self.span(**kwargs)
        segments = self.daemon.recorder.vod_segments(camera, start, end, file_sizes=file == "master.m3u8")
        if not segments:
            self.no_footage()
            raise NotFound("No recordings found.")
        query = self.request.query
        if file == "master.m3u8":
            video = await self._video_info(segments[0])
            self.set_header("Content-Type", PLAYLIST_TYPE)
            self.finish(master_playlist(video, segments, query))
        elif file in ("index.m3u8", "index-v1.m3u8"):
            self.set_header("Content-Type", PLAYLIST_TYPE)
            self.finish(media_playlist(segments, query))
        else:
            index = int(number or 0) - 1
            if not 0 <= index < len(segments):
                raise NotFound("Segment not found")
            await send_file(self, Path(segments[index].path), content_type=SEGMENT_TYPE)

    def no_footage(self) -> None:
        """Hook: what to do when the span has no recordings (before the 404)."""

    async def _video_info(self, segment: VodSegment):
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self.daemon.recorder.video_info, segment.path)
        except ProbeError:
            return None  # the playlist still plays; players probe the stream themselves


class HourVodHandler(VodHandler):
    """`/vod/<YYYY-MM>/<DD>/<HH>/<camera>[/<tz>]/...`: one wall-clock hour."""

    def span(self, year_month: str, day: str, hour: str, camera_name: str, tz: str | None = None):
        year, month = (int(part) for part in year_month.split("-"))
        zone = tz.replace(",", "/") if tz else None
        try:
            offset = current_utc_offset_seconds(zone) if zone else time.localtime().tm_gmtoff
            start = datetime(year, month, int(day), int(hour), tzinfo=UTC).timestamp() - offset
        except ValueError as exc:
            raise BadParameter("tz" if zone else "date", str(exc)) from None
        return camera_name, start, start + 3600 - 0.001


class RangeVodHandler(VodHandler):
    """`/vod/<camera>/start/<ts>/end/<ts>/...`."""

    def span(self, camera_name: str, start: str, end: str):
        try:
            begin, finish = float(start), float(end)
        except ValueError:
            raise BadParameter("start", "start and end must be numbers") from None
        return camera_name, begin, finish


class EventVodHandler(VodHandler):
    """`/vod/event/<id>/...`: the event's stored span (an event in progress ends now)."""

    def span(self, event_id: str):
        event = self.daemon.store.get_event(event_id)
        if event is None:
            raise NotFound("Event not found.")
        if not event.get("has_clip"):
            raise NotFound("Recordings not available.")
        self._event = event
        end = event["end_time"] if event["end_time"] is not None else time.time()
        return event["camera"], event["start_time"], end

    def no_footage(self) -> None:
        event = self._event
        if time.time() - event["start_time"] > NO_FOOTAGE_GRACE_S:
            self.daemon.store.set_event_fields(event["id"], has_clip=False)
