"""`GET /api/ffprobe?paths=`: what ffprobe sees of camera streams (codec, size, frame rate).

`paths` is a comma-separated list of stream URLs, or `camera:<name>` for every input of a configured
camera. Only network stream URLs are probed for a client: a path that names a local file or an
ffmpeg pseudo-protocol (`file:`, `concat:`, ...) is refused, so the endpoint reads nothing on disk.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from urllib.parse import urlsplit

from nvrd.api.base import BadParameter, BaseHandler, NotFound

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp"})
STREAM_ENTRIES = "stream=codec_long_name,width,height,bit_rate,duration,display_aspect_ratio,avg_frame_rate"
SOCKET_TIMEOUT_US = 1_000_000  # Frigate's 1 s socket timeout
PROBE_TIMEOUT_S = 15.0
MAX_PATHS = 8
CAMERA_PREFIX = "camera:"


def probe_command(path: str) -> list[str]:
    """The ffprobe command line for one stream (the path is given after `-i`, never as an option)."""
    return [
        "ffprobe", "-hide_banner", "-loglevel", "error", "-timeout", str(SOCKET_TIMEOUT_US),
        "-print_format", "json", "-show_entries", STREAM_ENTRIES, "-i", path,
    ]  # fmt: skip


def probe(path: str) -> dict:
    """Frigate's answer for one path: `return_code`, `stderr` and `stdout` (parsed JSON when it worked)."""
    try:
        result = subprocess.run(
            probe_command(path), capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return {
            "return_code": -1,
            "stderr": f"ffprobe gave no answer within {PROBE_TIMEOUT_S:g} s",
            "stdout": "",
        }
    except OSError as exc:
        return {"return_code": -1, "stderr": f"ffprobe could not be run: {exc}", "stdout": ""}
    stdout: object = ""
    if result.returncode == 0:
        try:
            stdout = json.loads(result.stdout or "{}")
        except ValueError:
            stdout = ""
    return {"return_code": result.returncode, "stderr": result.stderr.strip(), "stdout": stdout}


def check_stream_url(path: str) -> None:
    """Raise BadParameter unless `path` is a network stream URL."""
    scheme = urlsplit(path).scheme.lower()
    if scheme not in STREAM_SCHEMES or not urlsplit(path).netloc:
        raise BadParameter(
            "paths", f"{path!r} is not a stream URL ({', '.join(sorted(STREAM_SCHEMES))}) or camera:<name>"
        )


class FfprobeHandler(BaseHandler):
    """`GET /api/ffprobe?paths=<url>[,<url>...]|camera:<name>`."""

    async def get(self) -> None:
        value = self.arg_str("paths", "")
        if not value:
            raise NotFound("Path needs to be provided.")
        if value.startswith(CAMERA_PREFIX):
            name = value[len(CAMERA_PREFIX) :]
            camera = self.daemon.config.cameras.get(name)
            if camera is None:
                raise NotFound(f"{name} is not a valid camera.")
            if not camera.enabled:
                raise NotFound(f"{name} is not enabled.")
            paths = [camera_input.path for camera_input in camera.ffmpeg.inputs]
        else:
            paths = [path.strip() for path in value.split(",") if path.strip()]
            if len(paths) > MAX_PATHS:
                raise BadParameter("paths", f"at most {MAX_PATHS} paths at a time")
            for path in paths:
                check_stream_url(path)
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(loop.run_in_executor(None, probe, path) for path in paths))
        self.write_json(list(results))
