"""Exports: one MP4 of a camera's recordings over a time range, written in the background.

While it runs the file is `in_progress.<camera>@<start>__<end>.mp4` in the exports folder; on success
it becomes `<camera>_<start>__<end>.mp4` (times in the box's local zone, `%Y_%m_%d_%H_%M`, as Frigate
names them; `-2`, `-3`, ... is added where Frigate would overwrite an export of the same minutes).
`realtime` copies the stream; `timelapse_25x` decodes key frames only and re-encodes them with
`record.export.timelapse_args` (default 25× faster). Exports run one at a time at low CPU priority;
a failure is logged and the partial file removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nvrd.record.children import child_setup
from nvrd.record.clips import ClipError, ClipSource, concat_list, cut_points

log = logging.getLogger(__name__)

Playback = Literal["realtime", "timelapse_25x"]
IN_PROGRESS_PREFIX = "in_progress."
EXPORT_NICE = 10
TIMELAPSE_ENCODER = "-c:v libx264 -preset ultrafast -tune zerolatency"
# Names a user may give an export when renaming it (Frigate's rule), `.mp4` added when missing.
EXPORT_NAME = re.compile(r"^[A-Za-z0-9_:]+(\.mp4)?$")


@dataclass(frozen=True, slots=True)
class ExportJob:
    """One requested export."""

    camera: str
    start: float
    end: float
    playback: Playback
    timelapse_args: str = "-vf setpts=0.04*PTS -r 30"


def export_names(job: ExportJob) -> tuple[str, str]:
    """(name while running, final name) of an export."""
    start = time.strftime("%Y_%m_%d_%H_%M", time.localtime(job.start))
    end = time.strftime("%Y_%m_%d_%H_%M", time.localtime(job.end))
    return f"{IN_PROGRESS_PREFIX}{job.camera}@{start}__{end}.mp4", f"{job.camera}_{start}__{end}.mp4"


def export_command(job: ExportJob, script: Path, output: Path) -> list[str]:
    """The ffmpeg command that writes the export from a concat script."""
    head = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if job.playback == "timelapse_25x":
        return [
            *head, "-an", "-skip_frame", "nokey", "-f", "concat", "-safe", "0", "-i", str(script),
            "-map", "0:v:0", *shlex.split(TIMELAPSE_ENCODER), *shlex.split(job.timelapse_args),
            "-an", "-movflags", "+faststart", "-f", "mp4", str(output),
        ]  # fmt: skip
    return [
        *head, "-f", "concat", "-safe", "0", "-i", str(script),
        "-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(output),
    ]  # fmt: skip


def _unused(path: Path) -> Path:
    """`path`, or `<stem>-2.mp4`, `-3`, ... when taken (two exports of the same minutes keep both)."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


class Exporter:
    """Runs export jobs on one worker thread; submit() returns at once."""

    def __init__(
        self, folder: Path, sources_for: Callable[[str, float, float], Sequence[ClipSource]]
    ) -> None:
        self.folder = Path(folder)
        self._sources_for = sources_for
        self._jobs: queue.Queue[ExportJob | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.running: ExportJob | None = None

    def start(self) -> None:
        """Start the worker."""
        self._thread = threading.Thread(target=self._work, name="record:export", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the job in progress (a long export is cut short by nvrd's exit)."""
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, job: ExportJob) -> None:
        """Queue an export."""
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self.running = job
            try:
                self.run(job)
            except Exception:
                log.exception("export of %s failed unexpectedly", job.camera)
            finally:
                self.running = None

    def run(self, job: ExportJob) -> Path | None:
        """Write one export now (on the calling thread); returns its path, None when it failed."""
        running_name, final_name = export_names(job)
        running = self.folder / running_name
        script = self.folder / f".{running_name}.ffconcat"
        try:
            sources = list(self._sources_for(job.camera, job.start, job.end))
            if not sources:
                raise ClipError("no recordings in that time range")
            self.folder.mkdir(parents=True, exist_ok=True)
            inpoint, outpoint = cut_points(sources, job.start, job.end)
            script.write_text(concat_list(sources, inpoint, outpoint), encoding="utf-8")
            log.info("export of %s %s..%s (%s) started", job.camera, job.start, job.end, job.playback)
            result = subprocess.run(
                export_command(job, script, running),
                capture_output=True,
                text=True,
                timeout=600 + (job.end - job.start),
                check=False,
                preexec_fn=child_setup(nice=EXPORT_NICE),
            )
            if result.returncode != 0 or not running.is_file():
                said = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
                raise ClipError(f"ffmpeg failed: {said[0]}")
            final = _unused(self.folder / final_name)
            os.replace(running, final)
            log.info("export of %s written to %s", job.camera, final)
            return final
        except (ClipError, OSError, subprocess.TimeoutExpired) as exc:
            log.error("export of %s %s..%s failed: %s", job.camera, job.start, job.end, exc)
            with contextlib.suppress(OSError):
                running.unlink()
            return None
        finally:
            with contextlib.suppress(OSError):
                script.unlink()
