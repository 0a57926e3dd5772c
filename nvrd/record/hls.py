"""HLS playlists over recorded segments, written natively (Frigate serves them through nginx-vod).

Each recorded MPEG-TS file is one HLS segment, served as it is, so EXTINF is the file's own length.
Files of one ffmpeg run share a timeline; where a gap (or a new run) starts, `#EXT-X-DISCONTINUITY`
tells the player to re-anchor its clock. URLs are relative (`index-v1.m3u8`, `seg-<n>-v1.ts`, n from 1,
as nginx-vod names them), and a query string of the request is carried into them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nvrd.record.probe import VideoInfo

GAP_TOLERANCE_S = 0.5  # segments further apart than this are not one continuous stream
MIN_TARGET_DURATION = 10
MAX_SEGMENT_S = 600.0
VARIANT_URI = "index-v1.m3u8"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/MP2T"

# ffprobe's H.264 profile names -> (profile_idc, constraint flags byte) of the `avc1.PPCCLL` codec tag.
_AVC_PROFILES = {
    "Constrained Baseline": (66, 0xE0),
    "Baseline": (66, 0x00),
    "Main": (77, 0x40),
    "Extended": (88, 0x00),
    "High": (100, 0x00),
    "High 10": (110, 0x00),
    "High 4:2:2": (122, 0x00),
    "High 4:4:4 Predictive": (244, 0x00),
}


@dataclass(frozen=True, slots=True)
class VodSegment:
    """One recording file in a playlist."""

    path: str
    start_time: float
    duration: float
    size: int = 0  # bytes, for the bandwidth figure; 0 when unknown


def playable(segments: Sequence[VodSegment]) -> list[VodSegment]:
    """The segments a playlist may list (0 < duration < 600 s, as Frigate's mapping)."""
    return [s for s in segments if 0 < s.duration < MAX_SEGMENT_S]


def _with_query(uri: str, query: str) -> str:
    return f"{uri}?{query}" if query else uri


def media_playlist(segments: Sequence[VodSegment], query: str = "") -> str:
    """The VOD media playlist of these segments (oldest first)."""
    target = max(MIN_TARGET_DURATION, *(math.ceil(s.duration) for s in segments)) if segments else 10
    lines = [
        "#EXTM3U",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-ALLOW-CACHE:YES",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-VERSION:3",
        "#EXT-X-MEDIA-SEQUENCE:1",
    ]
    previous_end: float | None = None
    for number, segment in enumerate(segments, start=1):
        if previous_end is not None and abs(segment.start_time - previous_end) > GAP_TOLERANCE_S:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        lines.append(_with_query(segment_uri(number), query))
        previous_end = segment.start_time + segment.duration
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def segment_uri(number: int) -> str:
    """The relative URL of the n-th segment (from 1)."""
    return f"seg-{number}-v1.ts"


def codec_tag(video: VideoInfo) -> str:
    """The RFC 6381 codec tag of the video stream, as far as ffprobe's description allows."""
    if video.codec == "h264":
        profile_idc, constraints = _AVC_PROFILES.get(video.profile, (100, 0x00))
        return f"avc1.{profile_idc:02X}{constraints:02X}{max(0, video.level):02X}"
    if video.codec == "hevc":
        profile = 2 if "10" in video.profile else 1
        return f"hvc1.{profile}.6.L{max(0, video.level)}.B0"
    return video.codec


def bandwidth(segments: Sequence[VodSegment]) -> int:
    """Peak bits per second over the segments (HLS's BANDWIDTH), at least 1."""
    rates = [s.size * 8 / s.duration for s in segments if s.duration > 0 and s.size > 0]
    return max(1, math.ceil(max(rates))) if rates else 1


def master_playlist(video: VideoInfo | None, segments: Sequence[VodSegment], query: str = "") -> str:
    """The master playlist naming the one variant, with what a player needs to choose it."""
    attributes = [f"PROGRAM-ID=1,BANDWIDTH={bandwidth(segments)}"]
    if video is not None and video.width and video.height:
        attributes.append(f"RESOLUTION={video.width}x{video.height}")
    if video is not None and video.fps > 0:
        attributes.append(f"FRAME-RATE={video.fps:.3f}")
    if video is not None and video.codec:
        attributes.append(f'CODECS="{codec_tag(video)}"')
    return (
        "\n".join(["#EXTM3U", f"#EXT-X-STREAM-INF:{','.join(attributes)}", _with_query(VARIANT_URI, query)])
        + "\n\n"
    )
