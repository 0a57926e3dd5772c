"""The ffmpeg command that copies one camera's `record` input into MPEG-TS segments in the cache.

    ffmpeg <global> <input args> -i <input> -map 0:v:0 -map 0:a:0? <record output args>
           -f segment -segment_time T -segment_format mpegts -segment_format_options flush_packets=1
           -segment_list <cache>/<camera>@<run>.csv -segment_list_type csv <cache>/<camera>@<run>-%06d.ts

Why MPEG-TS: a segment cut short by a crash or a pulled plug is still playable up to its last packet,
and HLS players take the files as they are (no remux). Timestamps are not reset per segment, so the
segments of one ffmpeg run form one continuous timeline. ffmpeg appends `file,start,end` to the csv
list as each segment closes: that line is the signal that a segment is finished, and its length.

The output format is ours (as the detect command's rawvideo is): segment options in configured
output args are dropped. `-use_wallclock_as_timestamps` is dropped from the input args: arrival
times as timestamps break streams with B-frames, and segment wall times come from the files instead.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from nvrd.camera.ffmpeg_args import (
    GENERIC_INPUT_PRESET,
    Args,
    InputKind,
    input_args_for,
    input_kind,
    input_source,
    split_args,
)
from nvrd.camera.picamera_source import is_picamera_path
from nvrd.camera.source import CaptureError

SEGMENT_EXTENSION = ".ts"
LIST_EXTENSION = ".csv"

# Codec choices per preset; the segment format around them is always ours. Frigate's names.
RECORD_PRESETS = {
    "preset-record-generic": "-c copy -an",
    "preset-record-generic-audio-copy": "-c copy",
    "preset-record-generic-audio-aac": "-c:v copy -c:a aac",
    "preset-record-mjpeg": "-c:v libx264 -preset ultrafast -an",
    "preset-record-jpeg": "-c:v libx264 -preset ultrafast -an",
    "preset-record-ubiquiti": "-c:v copy -ar 44100 -c:a aac",
}
DEFAULT_RECORD_PRESET = "preset-record-generic"
# Test sources (lavfi) deliver raw pictures, which cannot be stream-copied.
ENCODE_ARGS = "-c:v libx264 -preset ultrafast -tune zerolatency -force_key_frames expr:gte(t,n_forced) -an"
# Some servers send the first packet without timestamps, which the MPEG-TS muxer refuses; it gets
# its decode time as presentation time (a no-op for every packet that has one).
FILL_MISSING_PTS = "setts=pts=if(eq(PTS\\,NOPTS)\\,DTS\\,PTS)"

# Options of the segment output that belong to us; configured values are dropped (value included).
_OWNED_OUTPUT_OPTIONS = {
    "-f",
    "-segment_time",
    "-segment_format",
    "-segment_format_options",
    "-segment_list",
    "-segment_list_type",
    "-segment_list_flags",
    "-segment_list_size",
    "-segment_atclocktime",
    "-segment_wrap",
    "-reset_timestamps",
    "-strftime",
}
_DROPPED_INPUT_OPTIONS = {"-use_wallclock_as_timestamps"}


def _without(args: list[str], options: set[str]) -> list[str]:
    """`args` without the given options and the value after each."""
    kept: list[str] = []
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg in options:
            skip_next = True
        else:
            kept.append(arg)
    return kept


def _video_codec(args: list[str]) -> str | None:
    """The video codec the arguments choose (the last one given wins, as in ffmpeg), or None."""
    codec = None
    for option, value in itertools.pairwise(args):
        if option in ("-c", "-codec", "-c:v", "-codec:v", "-vcodec"):
            codec = value
    return codec


def record_output_args(args: Args, kind: InputKind) -> list[str]:
    """The codec arguments of the record output: a preset's, or the configured ones minus ours."""
    if kind is InputKind.LAVFI and (args is None or args == DEFAULT_RECORD_PRESET):
        return split_args(ENCODE_ARGS)
    if args is None:
        args = DEFAULT_RECORD_PRESET
    if isinstance(args, str) and args.strip().startswith("preset-"):
        name = args.strip()
        if name not in RECORD_PRESETS:
            known = ", ".join(sorted(RECORD_PRESETS))
            raise CaptureError(f"unknown ffmpeg record preset {name!r} (known: {known})")
        return split_args(RECORD_PRESETS[name])
    return _without(split_args(args), _OWNED_OUTPUT_OPTIONS)


def segment_pattern(cache_dir: Path, camera: str, run: int) -> Path:
    """ffmpeg's output name pattern for one run: `<camera>@<run>-%06d.ts` ('%' in folders escaped)."""
    folder = str(cache_dir).replace("%", "%%")
    return Path(folder) / f"{camera}@{run}-%06d{SEGMENT_EXTENSION}"


def segment_list_path(cache_dir: Path, camera: str, run: int) -> Path:
    """The csv list ffmpeg appends `name,start,end` to as each segment of the run closes."""
    return cache_dir / f"{camera}@{run}{LIST_EXTENSION}"


def record_command(
    path: str,
    *,
    camera: str,
    run: int,
    cache_dir: Path,
    segment_time: int,
    global_args: Args = None,
    input_args: Args = GENERIC_INPUT_PRESET,
    output_args: Args = DEFAULT_RECORD_PRESET,
) -> list[str]:
    """The full ffmpeg command of one recording run (`run` names its files; use a unique number)."""
    kind = input_kind(path)
    if is_picamera_path(path) or kind is InputKind.V4L2:
        # The detect reader holds the device; a second reader cannot open it.
        raise CaptureError(f"cannot record {path}: local cameras are not recorded yet (use an RTSP input)")
    source = input_source(path)
    if segment_time < 1:
        raise ValueError(f"segment_time must be at least 1 s, got {segment_time}")
    # Size and rate only matter to V4L2 inputs, which are refused above.
    inputs = _without(input_args_for(kind, input_args, 0, 0, 1), _DROPPED_INPUT_OPTIONS)
    outputs = record_output_args(output_args, kind)
    copies_video = _video_codec(outputs) == "copy"
    return [
        "ffmpeg",
        "-nostdin",
        *split_args(global_args),
        *inputs,
        "-i", source,
        "-map", "0:v:0",
        "-map", "0:a:0?",
        *outputs,
        *(["-bsf:v", FILL_MISSING_PTS] if copies_video else []),
        "-f", "segment",
        "-segment_time", str(int(segment_time)),
        "-segment_format", "mpegts",
        # Every packet goes to the file as it comes: a crash loses nothing already received.
        "-segment_format_options", "flush_packets=1",
        "-segment_list", str(segment_list_path(cache_dir, camera, run)),
        "-segment_list_type", "csv",
        "-y",
        str(segment_pattern(cache_dir, camera, run)),
    ]  # fmt: skip
