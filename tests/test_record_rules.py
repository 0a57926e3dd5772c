"""The recorder's pure parts: the ffmpeg command, the disk layout, retention verdicts, HLS text, ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from nvrd.api.media import RangeNotSatisfiable, parse_range, path_inside
from nvrd.camera.ffmpeg_args import InputKind
from nvrd.camera.source import CaptureError
from nvrd.record.activity import ActivityLog
from nvrd.record.command import record_command, record_output_args
from nvrd.record.hls import VodSegment, codec_tag, master_playlist, media_playlist, playable
from nvrd.record.layout import parse_segment_path, segment_path
from nvrd.record.probe import VideoInfo
from nvrd.record.retention import (
    DAY_S,
    SETTLE_S,
    CameraRetention,
    Span,
    Verdict,
    ingest_verdict,
    kept_after_expiry,
)

NOW = 1_700_000_000.0

# --- the ffmpeg command -------------------------------------------------------------------------


def _command(path: str = "rtsp://u:p@cam/stream", **kw) -> list[str]:
    return record_command(path, camera="door", run=7, cache_dir=Path("/cache"), segment_time=10, **kw)


def test_rtsp_record_command_copies_into_mpegts_segments_with_a_list() -> None:
    cmd = _command()
    joined = " ".join(cmd)
    assert cmd[0] == "ffmpeg"
    assert "-c copy -an" in joined
    assert "-f segment -segment_time 10 -segment_format mpegts" in joined
    assert "-segment_list /cache/door@7.csv -segment_list_type csv" in joined
    assert cmd[-1] == "/cache/door@7-%06d.ts"
    assert "-rtsp_transport tcp" in joined
    # Arrival-time stamps break B-frame streams; the recorder never asks for them.
    assert "-use_wallclock_as_timestamps" not in cmd


def test_configured_output_args_lose_the_segment_options_we_own() -> None:
    given = "-f segment -segment_time 60 -segment_format mp4 -reset_timestamps 1 -strftime 1 -c copy -an"
    assert record_output_args(given, InputKind.RTSP) == ["-c", "copy", "-an"]
    assert record_output_args("preset-record-generic-audio-aac", InputKind.RTSP) == [
        "-c:v",
        "copy",
        "-c:a",
        "aac",
    ]


def test_user_input_args_keep_their_options_but_not_wallclock_stamps() -> None:
    cmd = _command(input_args="-rtsp_transport udp -use_wallclock_as_timestamps 1 -timeout 1000")
    assert cmd[cmd.index("-i") - 4 : cmd.index("-i")] == ["-rtsp_transport", "udp", "-timeout", "1000"]


def test_test_sources_are_encoded_and_local_cameras_refused() -> None:
    assert "libx264" in _command("lavfi:testsrc=size=320x240:rate=5")
    with pytest.raises(CaptureError, match="unknown ffmpeg record preset"):
        _command(output_args="preset-record-nope")
    for path in ("picamera:0", "/dev/video0"):
        with pytest.raises(CaptureError, match="not recorded"):
            _command(path)


# --- layout --------------------------------------------------------------------------------------


def test_segment_paths_follow_utc_date_hour_camera_minute_second() -> None:
    root = Path("/media/nvr/recordings")
    start = 1_700_000_123.456  # 2023-11-14 22:15:23.456 UTC
    path = segment_path(root, "door", start)
    assert path == root / "2023-11-14" / "22" / "door" / "15.23.ts"
    assert segment_path(root, "door", start, duplicate=2).name == "15.23-2.ts"
    assert parse_segment_path(root, path) == ("door", 1_700_000_123.0)
    assert parse_segment_path(root, root / "2023-11-14" / "22" / "door" / "notes.txt") is None
    assert parse_segment_path(root, Path("/elsewhere/2023-11-14/22/door/15.23.ts")) is None


# --- retention -----------------------------------------------------------------------------------

CONTINUOUS = CameraRetention(days=1, mode="all", events_mode="motion", pre_capture=5)
EVENTS_ONLY = CameraRetention(days=0, mode="all", events_mode="motion", pre_capture=5)


def _verdict(rules, span, processed, events=()) -> Verdict:
    return ingest_verdict(rules, span, now=span.end + 1, processed_until=processed, clip_events=list(events))


def test_continuous_all_keeps_at_once_and_disabled_drops() -> None:
    span = Span(NOW, NOW + 10)
    assert _verdict(CONTINUOUS, span, None) is Verdict.KEEP
    disabled = CameraRetention(enabled=False, days=1)
    assert _verdict(disabled, span, NOW + 100) is Verdict.DROP


def test_segment_without_event_waits_for_a_late_event_then_goes() -> None:
    span = Span(NOW, NOW + 10, motion=500, objects=0)
    assert _verdict(EVENTS_ONLY, span, span.end + 1) is Verdict.WAIT
    assert _verdict(EVENTS_ONLY, span, span.end + 5 + SETTLE_S) is Verdict.DROP


def test_event_overlap_keeps_by_the_events_mode_once_activity_is_known() -> None:
    event = [(NOW + 8, None)]
    moving = Span(NOW, NOW + 10, motion=500, objects=1)
    still = Span(NOW, NOW + 10, motion=0, objects=0)
    assert _verdict(EVENTS_ONLY, moving, NOW + 5, event) is Verdict.WAIT  # frames after it not seen yet
    assert _verdict(EVENTS_ONLY, moving, NOW + 11, event) is Verdict.KEEP
    assert _verdict(EVENTS_ONLY, still, NOW + 11, event) is Verdict.WAIT  # not kept; may still be dropped
    assert _verdict(EVENTS_ONLY, still, NOW + 40, event) is Verdict.DROP
    # Continuous `all` keeps it whatever the events mode says.
    assert _verdict(CONTINUOUS, still, NOW + 11, event) is Verdict.KEEP


def test_unknown_activity_never_loses_footage() -> None:
    rules = CameraRetention(days=1, mode="motion", events_mode="motion", pre_capture=5)
    span = Span(NOW, NOW + 10)  # no frames processed: motion unknown
    late = ingest_verdict(rules, span, now=span.end + 200, processed_until=None, clip_events=[])
    assert late is Verdict.KEEP


def test_expiry_keeps_the_window_and_event_footage_with_motion() -> None:
    rules = CameraRetention(days=2, mode="all", events_mode="motion")
    now = NOW + 10 * DAY_S
    fresh = Span(now - DAY_S, now - DAY_S + 10, 0, 0)
    old_moving = Span(NOW, NOW + 10, 100, 0)
    old_still = Span(NOW, NOW + 10, 0, 0)
    event = [(NOW + 5, NOW + 30)]
    assert kept_after_expiry(rules, fresh, now=now, clip_events=[])
    assert kept_after_expiry(rules, old_moving, now=now, clip_events=event)
    assert not kept_after_expiry(rules, old_still, now=now, clip_events=event)
    assert not kept_after_expiry(rules, old_moving, now=now, clip_events=[])


def test_event_days_per_label() -> None:
    rules = CameraRetention(events_days=10, events_days_by_label={"car": 2})
    assert rules.event_days("car") == 2
    assert rules.event_days("person") == 10


# --- activity ------------------------------------------------------------------------------------


def test_activity_sums_frames_inside_the_span() -> None:
    log = ActivityLog(horizon_s=60)
    for i in range(20):
        log.frame_processed("door", NOW + i * 0.5, motion_area=10 * i, active_objects=1 if i >= 10 else 0)
    assert log.processed_until("door") == NOW + 9.5
    inside = log.between("door", NOW + 2, NOW + 6)  # frames 4..11
    assert inside.motion == 10 * sum(range(4, 12))
    assert inside.objects == 2
    assert log.between("door", NOW + 100, NOW + 110).motion is None
    assert log.processed_until("yard") is None


# --- HLS -----------------------------------------------------------------------------------------


def test_media_playlist_lists_each_file_with_three_decimals_and_marks_gaps() -> None:
    segments = [
        VodSegment("/r/a.ts", NOW, 10.01),
        VodSegment("/r/b.ts", NOW + 10.01, 9.99),
        VodSegment("/r/c.ts", NOW + 60, 4.2),  # after a gap: a new timeline
    ]
    text = media_playlist(segments, query="t=1")
    lines = text.splitlines()
    assert lines[:6] == [
        "#EXTM3U",
        "#EXT-X-TARGETDURATION:11",
        "#EXT-X-ALLOW-CACHE:YES",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-VERSION:3",
        "#EXT-X-MEDIA-SEQUENCE:1",
    ]
    assert lines[6:] == [
        "#EXTINF:10.010,",
        "seg-1-v1.ts?t=1",
        "#EXTINF:9.990,",
        "seg-2-v1.ts?t=1",
        "#EXT-X-DISCONTINUITY",
        "#EXTINF:4.200,",
        "seg-3-v1.ts?t=1",
        "#EXT-X-ENDLIST",
    ]
    assert playable([VodSegment("x", NOW, 0), VodSegment("y", NOW, 700), segments[0]]) == [segments[0]]


def test_master_playlist_describes_the_stream() -> None:
    video = VideoInfo(codec="h264", profile="Main", level=31, width=768, height=432, fps=10.0)
    assert codec_tag(video) == "avc1.4D401F"
    text = master_playlist(video, [VodSegment("/r/a.ts", NOW, 2.0, size=50_000)])
    assert text.splitlines() == [
        "#EXTM3U",
        '#EXT-X-STREAM-INF:PROGRAM-ID=1,BANDWIDTH=200000,RESOLUTION=768x432,FRAME-RATE=10.000,CODECS="avc1.4D401F"',
        "index-v1.m3u8",
        "",
    ]


# --- ranges and paths ----------------------------------------------------------------------------


def test_byte_ranges() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=50-500", 100) == (50, 99)
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=100-", 100)


def test_paths_from_urls_stay_in_their_folder(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert path_inside(tmp_path, "a/x.mp4") == (tmp_path / "a" / "x.mp4").resolve()
    for bad in ("../etc/passwd", "a/../../x", "/etc/passwd", ".hidden", "a/.nvrd-write-test"):
        assert path_inside(tmp_path, bad) is None
