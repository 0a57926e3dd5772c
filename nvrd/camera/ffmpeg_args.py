"""The ffmpeg command line that decodes one camera input into raw I420 frames on stdout.

    ffmpeg <global> <hwaccel> <input args> -i <input> -map 0:v:0 <output args> -vf fps=F,scale=WxH
           -f rawvideo -pix_fmt yuv420p pipe:1

The input's kind follows from its path: rtsp(s)://, http(s)://, /dev/videoN (V4L2), lavfi:<graph>
(an ffmpeg test source), anything else is a local file (played at its own pace and looped). Input
arguments given as the preset name `preset-rtsp-generic` (the config default) expand to sensible
defaults for that kind; any other preset name to its table entry; a literal string or list is used
as given. The frame format (rawvideo, yuv420p, detect size and rate) is ours: the reader depends on it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from enum import Enum

from nvrd.camera.source import CaptureError

Args = str | Sequence[str] | None

DEFAULT_RTSP_INPUT = (
    "-avoid_negative_ts make_zero -fflags +genpts+discardcorrupt -rtsp_transport tcp "
    "-timeout 5000000 -use_wallclock_as_timestamps 1"
)
DEFAULT_HTTP_INPUT = (
    "-avoid_negative_ts make_zero -fflags +genpts+discardcorrupt -rw_timeout 5000000 "
    "-use_wallclock_as_timestamps 1"
)

# Input presets by name. `preset-rtsp-generic` is special: it means "the defaults for this input's kind".
INPUT_PRESETS = {
    "preset-rtsp-restream": DEFAULT_RTSP_INPUT,
    "preset-rtsp-udp": (
        "-avoid_negative_ts make_zero -fflags +genpts+discardcorrupt -rtsp_transport udp "
        "-timeout 5000000 -use_wallclock_as_timestamps 1"
    ),
    "preset-http-mjpeg-generic": DEFAULT_HTTP_INPUT,
    "preset-http-reolink": DEFAULT_HTTP_INPUT,
}
GENERIC_INPUT_PRESET = "preset-rtsp-generic"

# Decoder acceleration presets we can honour on our boards; decoding in software is the fallback.
HWACCEL_PRESETS = {
    "preset-vaapi": "-hwaccel vaapi -hwaccel_device /dev/dri/renderD128 -hwaccel_output_format yuv420p",
    "preset-rpi-64-h264": "-c:v h264_v4l2m2m",
    "preset-rpi-32-h264": "-c:v h264_v4l2m2m",
}

# Output arguments that fix the frame format; ours always win, so these are dropped from the config's.
_FORMAT_OPTIONS = {"-f", "-pix_fmt", "-s", "-r", "-vf", "-filter:v"}

_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+:[^/@\s]*@")
_V4L2_DEVICE = re.compile(r"^/dev/video\d+$")


class InputKind(Enum):
    """How ffmpeg reads a camera path."""

    RTSP = "rtsp"
    HTTP = "http"
    V4L2 = "v4l2"
    LAVFI = "lavfi"
    FILE = "file"


def input_kind(path: str) -> InputKind:
    """The kind of input a camera path names."""
    lowered = path.lower()
    if lowered.startswith(("rtsp://", "rtsps://")):
        return InputKind.RTSP
    if lowered.startswith(("http://", "https://")):
        return InputKind.HTTP
    if lowered.startswith("lavfi:"):
        return InputKind.LAVFI
    if _V4L2_DEVICE.match(path):
        return InputKind.V4L2
    return InputKind.FILE


def split_args(args: Args) -> list[str]:
    """Arguments as a list: a string is split shell-style, a list is kept, None is empty."""
    if args is None:
        return []
    if isinstance(args, str):
        try:
            return shlex.split(args)
        except ValueError as exc:
            raise CaptureError(f"cannot split ffmpeg arguments {args!r}: {exc}") from exc
    return [str(arg) for arg in args]


def _expand_preset(args: Args, presets: dict[str, str], what: str) -> list[str] | None:
    """A preset name's arguments, or None when `args` is not a preset name."""
    if isinstance(args, str) and args.strip().startswith("preset-"):
        name = args.strip()
        if name not in presets:
            known = ", ".join(sorted(presets))
            raise CaptureError(f"unknown ffmpeg {what} preset {name!r} (known: {known})")
        return split_args(presets[name])
    return None


def input_args_for(kind: InputKind, args: Args, width: int, height: int, fps: float) -> list[str]:
    """The arguments before `-i`: what the kind needs, then the configured (or default) input args."""
    generic = isinstance(args, str) and args.strip() == GENERIC_INPUT_PRESET
    if kind is InputKind.RTSP:
        return split_args(DEFAULT_RTSP_INPUT) if generic else _configured(args)
    if kind is InputKind.HTTP:
        return split_args(DEFAULT_HTTP_INPUT) if generic else _configured(args)
    extra = [] if generic else _configured(args)
    if kind is InputKind.V4L2:
        return ["-f", "v4l2", "-video_size", f"{width}x{height}", "-framerate", _number(fps), *extra]
    if kind is InputKind.LAVFI:
        return ["-re", "-f", "lavfi", *extra]
    return ["-re", "-stream_loop", "-1", *extra]


def _configured(args: Args) -> list[str]:
    preset = _expand_preset(args, INPUT_PRESETS, "input")
    return preset if preset is not None else split_args(args)


def hwaccel_args_for(args: Args) -> list[str]:
    """Decoder arguments: a known preset's, or the literal ones."""
    preset = _expand_preset(args, HWACCEL_PRESETS, "hwaccel")
    return preset if preset is not None else split_args(args)


def output_args_for(args: Args) -> list[str]:
    """The configured detect output arguments without the options that would change the frame format."""
    given = split_args(args)
    kept: list[str] = []
    skip_next = False
    for arg in given:
        if skip_next:
            skip_next = False
        elif arg in _FORMAT_OPTIONS:
            skip_next = True
        else:
            kept.append(arg)
    return kept


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def input_source(path: str) -> str:
    """What follows ffmpeg's `-i` for a configured input path (`lavfi:<graph>` gives the graph).

    Raises CaptureError for an empty path.
    """
    source = path[len("lavfi:") :] if input_kind(path) is InputKind.LAVFI else path
    if not source.strip():
        raise CaptureError(f"empty input path {path!r}")
    return source


def detect_command(
    path: str,
    width: int,
    height: int,
    fps: float,
    *,
    global_args: Args = None,
    hwaccel_args: Args = None,
    input_args: Args = GENERIC_INPUT_PRESET,
    output_args: Args = None,
) -> list[str]:
    """The full ffmpeg command that writes `width`x`height` I420 frames at `fps` to stdout."""
    kind = input_kind(path)
    source = input_source(path)
    return [
        "ffmpeg",
        *split_args(global_args),
        *hwaccel_args_for(hwaccel_args),
        *input_args_for(kind, input_args, width, height, fps),
        "-i",
        source,
        "-map", "0:v:0",
        *output_args_for(output_args),
        # Dropping frames before scaling keeps the scaler's work to the frames we keep.
        "-vf", f"fps={_number(fps)},scale={width}:{height}",
        "-f", "rawvideo",
        "-pix_fmt", "yuv420p",
        "pipe:1",
    ]  # fmt: skip


def mask_credentials(text: str) -> str:
    """`rtsp://user:pass@host` becomes `rtsp://*:*@host` (as Frigate shows commands and paths)."""
    return _CREDENTIALS.sub(r"\g<scheme>*:*@", text)


def masked_command_line(command: Sequence[str]) -> str:
    """A command as one shell-quoted line with credentials masked, for the API."""
    return mask_credentials(shlex.join(command))
