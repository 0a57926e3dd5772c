"""A real RTSP camera for tests: gst-rtsp-server serving an mp4's h264 track at the clip's own pace.

    with RtspServer(shared / "media" / "one-by-one-person-detection.mp4", start_s=70, duration_s=20) as cam:
        ... connect to cam.url (rtsp://127.0.0.1:<port>/cam) ...

The server runs as a child process of the system python (/usr/bin/python3, which has python3-gi),
listens on 127.0.0.1 only, and shares one media pipeline among all clients. A clip cut with
`start_s`/`duration_s` is stream-copied into a temporary file first (no re-encoding).

gst-rtsp-server can abort on a race of its own when clients come and go on a loaded machine
(an assertion in gst_rtsp_media_get_rates). A server that dies without stop() is started again
on the same port, as a camera that reboots would be: the tests are about nvrd, which reconnects.
"""

from __future__ import annotations

import contextlib
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

SYSTEM_PYTHON = "/usr/bin/python3"
SERVE_SCRIPT = Path(__file__).resolve().with_name("gst_rtsp_serve.py")


class RtspServerError(RuntimeError):
    """The test RTSP server could not be started."""


def cut_clip(media: Path, start_s: float | None, duration_s: float | None, out: Path) -> None:
    """Stream-copy a stretch of `media`'s video into `out` (cuts land on keyframes)."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if start_s is not None:
        cmd += ["-ss", f"{start_s:.3f}"]
    cmd += ["-i", str(media)]
    if duration_s is not None:
        cmd += ["-t", f"{duration_s:.3f}"]
    cmd += ["-map", "0:v:0", "-c", "copy", "-an", "-avoid_negative_ts", "make_zero", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RtspServerError(f"cutting {media} failed: {result.stderr.strip()}")


def rtsp_answers(url: str, timeout: float = 5.0) -> bool:
    """True when an RTSP client (ffprobe over TCP) can open `url` and see its video stream."""
    # The codec comes from the SDP: no need to analyse seconds of video.
    cmd = [
        "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-timeout", str(int(timeout * 1_000_000)),
        "-analyzeduration", "0", "-probesize", "32",
        "-select_streams", "v:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0", url,
    ]  # fmt: skip
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and "h264" in result.stdout


class RtspServer:
    """One RTSP mount serving one clip; start() it, connect to `url`, stop() it."""

    def __init__(
        self,
        media: Path,
        *,
        port: int | None = None,
        path: str = "cam",
        loop: bool = True,
        start_s: float | None = None,
        duration_s: float | None = None,
    ) -> None:
        self.media = Path(media)
        self.port = port
        self.path = path.strip("/")
        self.loop = loop
        self.start_s = start_s
        self.duration_s = duration_s
        self._process: subprocess.Popen[str] | None = None
        self._tmpdir: str | None = None
        self._lock = threading.RLock()  # start/stop against the watcher's restart
        self.restarts = 0  # times the server died on its own and was started again

    @property
    def url(self) -> str:
        """rtsp://127.0.0.1:<port>/<path>; the port is known once started (or given)."""
        if self.port is None:
            raise RtspServerError("the server picks its port when started: call start() first")
        return f"rtsp://127.0.0.1:{self.port}/{self.path}"

    @property
    def pid(self) -> int | None:
        """The server process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 10) -> None:
        """Start serving; returns once an RTSP client can open the stream, else raises RtspServerError."""
        with self._lock:
            self._start(timeout)
            process = self._process
        threading.Thread(target=self._watch, args=(process,), name="rtsp-server-watch", daemon=True).start()

    def _watch(self, process: subprocess.Popen[str]) -> None:
        """Start the server again if it dies while it should be serving."""
        status = process.wait()
        with self._lock:
            if self._process is not process:
                return  # stopped on purpose
            self._process = None
            self._close_streams(process)
            print(
                f"rtsp_server: the server on port {self.port} died (status {status}); starting it again",
                file=sys.stderr,
                flush=True,
            )
            self.restarts += 1
            try:
                self._start(10)
            except RtspServerError as exc:
                print(f"rtsp_server: could not start it again: {exc}", file=sys.stderr, flush=True)
                return
            process = self._process
        self._watch(process)

    def _start(self, timeout: float) -> None:
        if self._process is not None:
            raise RtspServerError("already started")
        if not self.media.is_file():
            raise RtspServerError(f"no such media file: {self.media}")
        deadline = time.monotonic() + timeout
        media = self.media
        if self.start_s is not None or self.duration_s is not None:
            if self._tmpdir is None:
                self._tmpdir = tempfile.mkdtemp(prefix="nvrd-rtsp-")
            media = Path(self._tmpdir) / "clip.mp4"
            if not media.exists():
                cut_clip(self.media, self.start_s, self.duration_s, media)

        cmd = [SYSTEM_PYTHON, str(SERVE_SCRIPT), "--media", str(media), "--path", self.path,
               "--port", str(self.port or 0)]  # fmt: skip
        if self.loop:
            cmd.append("--loop")
        # stdin stays an open pipe: the server exits when it closes, so it never outlives us.
        self._process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True
        )
        try:
            self.port = self._read_port(deadline)
            while not rtsp_answers(self.url, timeout=max(1.0, min(5.0, deadline - time.monotonic()))):
                if self._process.poll() is not None:
                    raise RtspServerError(f"RTSP server exited with status {self._process.returncode}")
                if time.monotonic() > deadline:
                    raise RtspServerError(f"RTSP server at {self.url} did not answer within {timeout} s")
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def _read_port(self, deadline: float) -> int:
        """Wait for the server's "PORT <n>" line."""
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = stdout.readline()
            if not line:
                raise RtspServerError(f"RTSP server exited before listening (status {self._process.wait(5)})")
            if line.startswith("PORT "):
                return int(line.split()[1])
        raise RtspServerError("RTSP server did not report its port in time")

    def stop(self) -> None:
        """Kill the server and reap it; safe to call twice. The port stays, so start() reuses it."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=10)
            self._close_streams(process)

    @staticmethod
    def _close_streams(process: subprocess.Popen[str]) -> None:
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def close(self) -> None:
        """stop() and remove the temporary cut clip."""
        self.stop()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Last resort for a forgotten server; normal code calls stop()/close() or uses `with`.
        with contextlib.suppress(Exception):
            self.close()
