"""Hot-plug in a real nvrd process: the recordings disk (a labelled ext4 loop device, mounted and
unmounted as systemd-mount would, its removal a real kernel uevent) pauses and resumes recording as
/api/stats and systemd's STATUS show, and with only a Coral configured and none plugged in the
CPU fallback is what /api/stats lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nvrd_process import NvrdProcess
from tests.test_hotplug_storage import LoopDisk, attached_disk, needs_root
from tests.test_supervise import NotifySocket


@pytest.fixture()
def disk(tmp_path: Path) -> Iterator[LoopDisk]:
    with attached_disk(tmp_path) as loop:
        yield loop


def recording(nvrd: NvrdProcess) -> dict:
    return nvrd.get("/api/stats").json()["service"]["recording"]


@needs_root
def test_nvrd_follows_the_recordings_disk_and_reports_the_detector_in_use(
    disk: LoopDisk, tmp_path: Path, model_path: Path, labels_path: Path
) -> None:
    config = tmp_path / "config.yml"
    config.write_text(f"""\
mqtt: {{enabled: false}}
database: {{path: {tmp_path}/nvr.db}}
storage: {{root: {disk.where}, cache: {tmp_path}/cache, label: CAMS}}
model: {{path: {model_path}, labelmap_path: {labels_path}, width: 300, height: 300}}
detectors: {{coral: {{type: edgetpu, device: usb}}}}
hotplug: {{events: kernel, label_file: {tmp_path}/storage-label, fallback_threads: 1}}
cameras:
  cam:
    ffmpeg: {{inputs: [{{path: "lavfi:testsrc2=size=320x180:rate=5", roles: [detect]}}]}}
    detect: {{width: 320, height: 180, fps: 5}}
""")
    disk.mount()
    notify = NotifySocket()
    nvrd = NvrdProcess(config, env={"NOTIFY_SOCKET": notify.path})
    try:
        nvrd.start()
        assert (tmp_path / "storage-label").read_text() == "CAMS\n"  # for the udev rule's helper
        detectors = nvrd.get("/api/stats").json()["detectors"]
        assert list(detectors) == ["cpu"] and detectors["cpu"]["pid"] > 0  # no Coral: the fallback
        nvrd.wait_for(lambda: recording(nvrd)["storage_available"], 10, what="recording to the disk")
        notify.wait("STATUS", lambda s: f"storage {disk.where} on {disk.node}" in s, timeout=10)

        disk.uevent("remove")  # pulled
        nvrd.wait_for(lambda: not recording(nvrd)["storage_available"], 3, interval=0.1, what="the pause")
        assert f"disk {disk.node} was removed" in recording(nvrd)["storage_reason"]
        notify.wait("STATUS", lambda s: "removed, recording paused" in s, timeout=10)
        disk.unmount()  # systemd's unmount follows
        notify.wait("STATUS", lambda s: f"storage {disk.where}: no disk (plug in one labelled CAMS)" in s)
        assert not recording(nvrd)["storage_available"]

        disk.mount()
        nvrd.wait_for(lambda: recording(nvrd)["storage_available"], 10, what="recording again")
        assert nvrd.stop() == 0
    finally:
        nvrd.stop()
        notify.close()
