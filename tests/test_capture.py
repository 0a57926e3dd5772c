"""Capture: real ffmpeg decoding real streams (the test RTSP server, files, lavfi) into pooled buffers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nvrd.camera import Capture, CaptureError, FfmpegSource, FramePool, PiCameraSource, detect_command
from nvrd.camera.ffmpeg_args import DEFAULT_RTSP_INPUT, masked_command_line, split_args
from nvrd.camera.picamera_source import PICAMERA_MISSING
from nvrd.config import CameraConfig, config_from_text
from nvrd.frame import Frame, i420_size
from tests.support.rtsp_server import RtspServer, rtsp_answers

PERSON_CLIP = "one-by-one-person-detection.mp4"  # h264 768x432, 10 fps
CAR_CLIP = "car-detection.mp4"  # h264 768x432, 12.5 fps, with an AAC track


def camera_config(
    path: str, width: int = 320, height: int = 180, fps: int = 5, retry: float = 3
) -> CameraConfig:
    """A real, validated camera config with one detect input."""
    text = f"""
mqtt: {{enabled: false}}
ffmpeg: {{retry_interval: {retry}}}
cameras:
  cam:
    ffmpeg:
      inputs:
        - path: "{path}"
          roles: [detect]
    detect: {{width: {width}, height: {height}, fps: {fps}}}
"""
    return config_from_text(text).cameras["cam"]


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def take_frames(capture: Capture, count: int, timeout: float = 20) -> list[Frame]:
    """`count` frames from the capture, each copied and released at once."""
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        assert time.monotonic() < deadline, f"only {len(frames)} of {count} frames in {timeout} s"
        frame = capture.next_frame(timeout=1)
        if frame is not None:
            frames.append(frame.copy())
            capture.release(frame)
    return frames


def reference_frames(media: Path, width: int, height: int, fps: int, count: int) -> list[np.ndarray]:
    """ffmpeg's own decode of the first `count` frames at the same size and rate."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(media), "-map", "0:v:0",
           "-vf", f"fps={fps},scale={width}:{height}", "-frames:v", str(count),
           "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]  # fmt: skip
    raw = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout
    size = i420_size(width, height)
    return [np.frombuffer(raw[i * size : (i + 1) * size], dtype=np.uint8) for i in range(count)]


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def captures():
    """Captures a test starts; all are stopped at the end, whatever happens."""
    started: list[Capture] = []

    def start(capture: Capture) -> Capture:
        started.append(capture)
        capture.start()
        return capture

    yield start
    for capture in started:
        capture.stop(timeout=10)


# --- the command line --------------------------------------------------------------------------


def test_rtsp_command_uses_the_rtsp_defaults_and_our_frame_format():
    cmd = detect_command("rtsp://user:secret@10.0.0.5:554/live", 640, 360, 5,
                         global_args="-hide_banner -loglevel warning", input_args="preset-rtsp-generic",
                         output_args="-threads 2 -f rawvideo -pix_fmt yuv420p")  # fmt: skip
    i = cmd.index("-i")
    assert cmd[i + 1] == "rtsp://user:secret@10.0.0.5:554/live"
    assert cmd[1:i] == ["-hide_banner", "-loglevel", "warning", *split_args(DEFAULT_RTSP_INPUT)]
    assert cmd[cmd.index("-rtsp_transport") + 1] == "tcp"
    assert "-timeout" in cmd[:i]  # a dead camera is noticed by ffmpeg itself
    tail = cmd[i + 2 :]
    assert tail == ["-map", "0:v:0", "-threads", "2", "-vf", "fps=5,scale=640:360",
                    "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]  # fmt: skip
    shown = masked_command_line(cmd)
    assert "secret" not in shown and "rtsp://*:*@10.0.0.5:554/live" in shown


def test_literal_args_are_used_as_given_and_format_options_stay_ours():
    cmd = detect_command(
        "rtsp://cam/live", 320, 180, 2.5, input_args=["-rtsp_transport", "udp"],
        hwaccel_args="-hwaccel auto", output_args="-f mjpeg -pix_fmt nv12 -r 30 -an",
    )  # fmt: skip
    i = cmd.index("-i")
    assert cmd[1:i] == ["-hwaccel", "auto", "-rtsp_transport", "udp"]
    tail = cmd[i + 2 :]
    assert tail == ["-map", "0:v:0", "-an", "-vf", "fps=2.5,scale=320:180",
                    "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]  # fmt: skip


def test_input_kinds_get_what_they_need():
    file_cmd = detect_command("/media/clip.mp4", 320, 180, 5)
    assert file_cmd[1:4] == ["-re", "-stream_loop", "-1"] and "-rtsp_transport" not in file_cmd
    lavfi_cmd = detect_command("lavfi:testsrc2=size=1280x720:rate=5", 320, 180, 5)
    assert lavfi_cmd[1:6] == ["-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=5"]
    v4l2_cmd = detect_command("/dev/video0", 640, 480, 10)
    assert v4l2_cmd[1:8] == ["-f", "v4l2", "-video_size", "640x480", "-framerate", "10", "-i"]
    http_cmd = detect_command("https://cam/stream.mjpeg", 320, 180, 5)
    assert "-rw_timeout" in http_cmd and "-rtsp_transport" not in http_cmd
    with pytest.raises(CaptureError, match="unknown ffmpeg input preset"):
        detect_command("rtsp://cam/live", 320, 180, 5, input_args="preset-no-such-thing")


# --- the frame pool ----------------------------------------------------------------------------


def test_pool_holds_pins_and_reuses_buffers():
    pool = FramePool(32, 16, count=2)
    first, second = pool.acquire(), pool.acquire()
    assert first is not None and second is not None and first is not second
    assert pool.acquire() is None and pool.free == 0
    assert pool.hold(first) and pool.holds(first) == 2  # pinned while its consumer still has it
    assert pool.drop(first) and pool.acquire() is None  # still pinned
    assert pool.drop(first) and pool.holds(first) == 0
    assert pool.acquire() is first
    foreign = np.zeros_like(first)
    assert not pool.drop(foreign) and not pool.hold(foreign) and pool.holds(foreign) == -1
    assert pool.drop(second) and not pool.drop(second)  # one hold, dropped twice: ignored, not negative


# --- real streams --------------------------------------------------------------------------------


def test_lavfi_colour_gives_the_expected_i420_planes(captures):
    # Pure red in BT.601 limited range is Y=81, U=90, V=240: checks plane order and sizes.
    capture = captures(Capture("cam", camera_config("lavfi:color=c=red:size=640x360:rate=10", 320, 180)))
    frames = take_frames(capture, 3)
    for frame in frames:
        assert (frame.width, frame.height, frame.data.size) == (320, 180, i420_size(320, 180))
        assert abs(float(frame.y.mean()) - 81) <= 2
        assert abs(float(frame.u.mean()) - 90) <= 2
        assert abs(float(frame.v.mean()) - 240) <= 2
    assert capture.state == "streaming"


def test_file_frames_match_ffmpegs_own_decode(captures, shared_dir):
    media = shared_dir / "media" / CAR_CLIP  # has an audio track: must not leak into the frames
    capture = captures(Capture("cam", camera_config(str(media), 384, 216, 5)))
    frames = take_frames(capture, 8)
    reference = reference_frames(media, 384, 216, 5, 12)
    assert frames[0].index == 0
    for frame in frames:
        expected = reference[frame.index]
        diff = np.abs(frame.data.astype(np.int16) - expected.astype(np.int16))
        assert float(diff.mean()) < 1.0, f"frame {frame.index} differs from ffmpeg's decode"


def test_rtsp_frames_arrive_at_detect_size_and_rate(captures, shared_dir):
    media = shared_dir / "media" / PERSON_CLIP
    with RtspServer(media, start_s=75, duration_s=10) as server:
        capture = captures(Capture("cam", camera_config(server.url, 384, 216, 5)))
        take_frames(capture, 2, timeout=20)  # connected and decoding
        time.sleep(1)  # ffmpeg hands over what it buffered while probing the stream in one burst
        started, first = time.monotonic(), capture.frames_read
        frames = take_frames(capture, 15, timeout=20)
        rate = (capture.frames_read - first) / (time.monotonic() - started)
        assert 4.0 <= rate <= 6.0, f"{rate:.2f} frames/s from a 5 fps detect stream"
        assert all((f.width, f.height) == (384, 216) for f in frames)
        reference = reference_frames(media, 384, 216, 5, 1)[0]
        # A real picture of that room: luma statistics close to ffmpeg's decode of the clip.
        ref_mean = float(reference[: 384 * 216].mean())
        assert all(abs(float(f.y.mean()) - ref_mean) < 25 for f in frames)
        assert capture.state == "streaming" and capture.capture_pid is not None
        assert not process_gone(capture.capture_pid)
        assert capture.camera_fps() > 0
        assert "-rtsp_transport" in capture.command and server.url in capture.command


def test_rtsp_server_death_backs_off_and_recovers(captures, shared_dir):
    server = RtspServer(shared_dir / "media" / PERSON_CLIP, start_s=75, duration_s=10)
    server.start()
    try:
        capture = captures(Capture("cam", camera_config(server.url, 320, 180, 5, retry=3)))
        take_frames(capture, 3)
        pid = capture.capture_pid
        server.stop()
        wait_until(lambda: capture.state == "backoff", 15, "backoff after the server died")
        assert capture.last_error and capture.backoff_until is not None
        assert pid is not None and process_gone(pid)
        seen = capture.frames_read
        server.start()  # same port, same path
        wait_until(lambda: capture.frames_read > seen + 2, 30, "frames after the server came back")
        assert capture.state == "streaming"
        frame = capture.next_frame(timeout=5)
        assert frame is not None and frame.index >= seen
        capture.release(frame)
    finally:
        server.close()


def test_the_test_camera_comes_back_after_a_crash_but_not_after_stop(shared_dir):
    server = RtspServer(shared_dir / "media" / PERSON_CLIP, start_s=75, duration_s=10)
    server.start()
    try:
        port, crashed = server.port, server.pid
        os.kill(crashed, signal.SIGABRT)  # what a GStreamer assertion does
        wait_until(lambda: server.restarts == 1 and server.pid not in (None, crashed), 20, "restart")
        assert server.port == port and rtsp_answers(server.url)
        server.stop()
        time.sleep(1)
        assert server.pid is None and server.restarts == 1 and not rtsp_answers(server.url, timeout=2)
    finally:
        server.close()


def test_unreachable_camera_backs_off_with_doubling_delay(captures):
    with ClosedPort() as port:
        capture = captures(Capture("cam", camera_config(f"rtsp://127.0.0.1:{port}/cam", retry=3)))
        delays: list[float] = []
        deadline = time.monotonic() + 15
        last_until = None
        while len(delays) < 2 and time.monotonic() < deadline:
            until = capture.backoff_until
            if capture.state == "backoff" and until is not None and until != last_until:
                delays.append(until - time.time())
                last_until = until
            time.sleep(0.02)
        assert len(delays) == 2, f"saw back-offs {delays}"
        assert 0.7 <= delays[0] <= 1.05 and 1.7 <= delays[1] <= 2.05
        assert capture.last_error and "refused" in capture.last_error.lower()
        assert capture.next_frame(timeout=0.1) is None


class ClosedPort:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, never listening)."""

    def __enter__(self) -> int:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return self._sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def test_missing_file_backs_off_with_the_reason(captures, tmp_path):
    missing = tmp_path / "no-such-clip.mp4"
    capture = captures(Capture("cam", camera_config(str(missing))))
    wait_until(lambda: capture.state == "backoff", 5, "backoff")
    assert capture.last_error == f"no such file: {missing}"
    assert capture.capture_pid is None and capture.backoff_until is not None


def test_frozen_camera_is_noticed_as_a_stall(captures, shared_dir):
    # A camera that freezes keeps its connection open and sends nothing: SIGSTOP the RTSP server.
    with RtspServer(shared_dir / "media" / PERSON_CLIP, start_s=75, duration_s=10) as server:
        capture = captures(Capture("cam", camera_config(server.url, retry=1.5)))
        take_frames(capture, 2)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: capture.state == "backoff", 10, "backoff after a stall")
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert capture.last_error == "no frame from ffmpeg for 1.5 s"


def test_pi_camera_without_picamera2_fails_clearly_for_that_camera_only(captures):
    source = PiCameraSource("picamera:0", 640, 480, 5)
    with pytest.raises(CaptureError) as raised:
        source.start()
    assert str(raised.value) == PICAMERA_MISSING
    pi = captures(Capture("pi", camera_config("picamera:0")))
    other = captures(Capture("other", camera_config("lavfi:testsrc2=size=320x180:rate=10")))
    wait_until(lambda: pi.state == "backoff", 5, "the Pi camera to back off")
    assert pi.last_error == PICAMERA_MISSING and pi.command == []
    assert take_frames(other, 2)


def test_frames_land_in_the_preallocated_pool_without_allocating(captures):
    capture = captures(Capture("cam", camera_config("lavfi:testsrc2=size=1280x720:rate=10", 1280, 720, 10)))
    take_frames(capture, 2)
    pool_ids = {id(buffer) for buffer in capture.pool.buffers}
    tracemalloc.start()
    try:
        for _ in range(12):
            frame = capture.next_frame(timeout=5)
            assert frame is not None
            assert id(frame.data) in pool_ids  # the very buffer ffmpeg's output was read into
            capture.release(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < i420_size(1280, 720) // 10, f"{peak} bytes allocated while reading 720p frames"


def test_pinned_frame_keeps_its_pixels_while_capture_goes_on(captures):
    capture = captures(Capture("cam", camera_config("lavfi:testsrc2=size=320x180:rate=10", fps=10)))
    take_frames(capture, 1)
    frame = capture.next_frame(timeout=5)
    assert frame is not None
    capture.pin(frame)
    capture.release(frame)
    kept = frame.data.copy()
    for later in take_frames(capture, 2 * len(capture.pool.buffers)):
        assert later.index > frame.index
    assert np.array_equal(frame.data, kept)  # testsrc2 moves: a reused buffer would have changed
    capture.unpin(frame)
    assert capture.pool.holds(frame.data) in (0, 1)  # free, or refilled by the capture thread


def test_slow_consumer_gets_the_newest_frame_and_skips_are_counted(captures):
    capture = captures(Capture("cam", camera_config("lavfi:testsrc2=size=320x180:rate=10", fps=10)))
    take_frames(capture, 1)
    time.sleep(1.0)  # ~10 frames arrive meanwhile; only the newest is kept
    frame = capture.next_frame(timeout=5)
    assert frame is not None
    assert capture.frames_read - 1 - frame.index <= 1
    capture.release(frame)
    assert capture.skipped_fps() > 0


def test_stop_kills_ffmpeg_and_wakes_the_consumer(shared_dir):
    capture = Capture("cam", camera_config("lavfi:testsrc2=size=320x180:rate=10"))
    capture.start()
    try:
        take_frames(capture, 1)
        pid = capture.capture_pid
        assert pid is not None
    finally:
        capture.stop(timeout=10)
    assert capture.state == "stopped" and capture.capture_pid is None
    assert process_gone(pid)
    started = time.monotonic()
    assert capture.next_frame(timeout=5) is None
    assert time.monotonic() - started < 1


def test_ffmpeg_source_refuses_a_wrong_buffer():
    source = FfmpegSource("lavfi:testsrc2", 320, 180, 5)
    with pytest.raises(ValueError):
        source.read_into(np.zeros(10, dtype=np.uint8), 1)
    with pytest.raises(ValueError):
        FfmpegSource("lavfi:testsrc2", 321, 180, 5)
