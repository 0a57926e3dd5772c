"""Coral hot-plug: the detector manager driven by device events, with real detector processes.

There is no Coral here, so the seam is the Edge TPU runtime itself: a stand-in libedgetpu.so.1
(compiled from the C below, found through LD_LIBRARY_PATH by the detector processes) offers the
TFLite external-delegate entry points, opens only the devices listed in a file the test edits (as
if plugged in), and takes no node of the graph, so the CPU model runs for real. Everything else is
real: spawned detector processes, the pool, the manager's thread, the bus. Device events have the
shape the kernel gives them (PRODUCT, DEVTYPE, DEVPATH); the pyudev plumbing is tested against real
kernel events in test_hotplug_storage.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nvrd.bus import Bus, DetectorsChanged
from nvrd.detect import DetectorError, DetectorPool
from nvrd.hotplug import PRESENT, DetectorManager, DeviceEvent, coral_from_event
from nvrd.hotplug.coral import usb_ids

FAKE_EDGETPU_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TfLiteDelegate's layout: data, Prepare, three buffer-handle hooks, flags, opaque builder. */
typedef struct Delegate {
    void *data;
    int (*prepare)(void *context, struct Delegate *delegate);
    void *copy_from_buffer_handle, *copy_to_buffer_handle, *free_buffer_handle;
    int64_t flags;
    void *opaque_delegate_builder;
} Delegate;

static int take_no_node(void *context, Delegate *delegate) { (void)context; (void)delegate; return 0; }

static int plugged_in(const char *device) {
    const char *path = getenv("FAKE_EDGETPU_DEVICES");
    FILE *file = path ? fopen(path, "r") : NULL;
    char line[128];
    int found = 0;
    if (!file) return 0;
    while (!found && fgets(line, sizeof line, file)) {
        line[strcspn(line, "\r\n")] = '\0';
        found = strcmp(line, device) == 0;
    }
    fclose(file);
    return found;
}

Delegate *tflite_plugin_create_delegate(char **keys, char **values, size_t count,
                                        void (*report_error)(const char *)) {
    const char *device = "", *log_path = getenv("FAKE_EDGETPU_LOG");
    for (size_t i = 0; i < count; i++)
        if (strcmp(keys[i], "device") == 0) device = values[i];
    if (!plugged_in(device)) {
        report_error("Failed to load delegate from libedgetpu.so.1");
        return NULL;
    }
    FILE *log = log_path ? fopen(log_path, "a") : NULL;
    if (log) { fprintf(log, "%s\n", device); fclose(log); }
    Delegate *delegate = calloc(1, sizeof *delegate);
    if (delegate) delegate->prepare = take_no_node;
    return delegate;
}

void tflite_plugin_destroy_delegate(Delegate *delegate) { free(delegate); }
"""

USB_BUS = "/devices/pci0000:00/0000:00:14.0/usb2"
CORAL = "18d1/9302/100"  # PRODUCT as the kernel writes it: hex ids without leading zeros
CORAL_NO_FIRMWARE = "1a6e/89a/100"


# --- the stand-in runtime and device events ------------------------------------------------------


@pytest.fixture(scope="session")
def fake_libedgetpu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the stand-in libedgetpu.so.1 (built with the system C compiler)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the stand-in Edge TPU runtime")
    folder = tmp_path_factory.mktemp("edgetpu")
    source = folder / "fake_edgetpu.c"
    source.write_text(FAKE_EDGETPU_C)
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(folder / "libedgetpu.so.1"), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return folder


class Corals:
    """The stand-in runtime's view of the world: which Edge TPU devices can be opened."""

    def __init__(self, folder: Path) -> None:
        self.devices_file = folder / "devices"
        self.log_file = folder / "opened"
        self.devices_file.write_text("")

    def plug(self, *devices: str) -> None:
        """Let the runtime open these devices ("usb:0", "pci:0")."""
        self.devices_file.write_text("".join(f"{d}\n" for d in devices))

    def opened(self) -> list[str]:
        """Every device the runtime opened, in order."""
        return self.log_file.read_text().split() if self.log_file.exists() else []


@pytest.fixture()
def corals(fake_libedgetpu: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Corals:
    """Detector processes spawned from now on load the stand-in runtime."""
    world = Corals(tmp_path)
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{fake_libedgetpu}:{os.environ.get('LD_LIBRARY_PATH', '')}")
    monkeypatch.setenv("FAKE_EDGETPU_DEVICES", str(world.devices_file))
    monkeypatch.setenv("FAKE_EDGETPU_LOG", str(world.log_file))
    return world


def usb_event(action: str, port: str, product: str = CORAL, devtype: str = "usb_device") -> DeviceEvent:
    """A usb uevent as the kernel sends it for the device on `port` ("2-1")."""
    devpath = f"{USB_BUS}/{port}" + (f"/{port}:1.0" if devtype == "usb_interface" else "")
    properties = {"ACTION": action, "DEVPATH": devpath, "SUBSYSTEM": "usb", "DEVTYPE": devtype}
    properties["PRODUCT"] = product
    if devtype == "usb_device":
        properties.update({"DEVNAME": "bus/usb/002/003", "BUSNUM": "002", "DEVNUM": "003"})
    return DeviceEvent(action, "usb", devpath, properties)


def apex_event(action: str, number: int) -> DeviceEvent:
    devpath = f"/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/apex/apex_{number}"
    properties = {"DEVNAME": f"apex_{number}", "MAJOR": "120", "MINOR": str(number)}
    return DeviceEvent(action, "apex", devpath, properties)


# --- pools, managers and the bus -----------------------------------------------------------------


@pytest.fixture()
def make_pool(model_path: Path) -> Iterator[Callable[..., DetectorPool]]:
    """DetectorPools whose Edge TPU detectors load the CPU model (the stand-in runs it); stopped after."""
    pools: list[DetectorPool] = []

    def make(**kwargs: float) -> DetectorPool:
        pool = DetectorPool({}, {"path": str(model_path), "edgetpu_path": str(model_path)}, **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.stop()


class Changes:
    """Every DetectorsChanged published on a bus."""

    def __init__(self, bus: Bus) -> None:
        self.seen: list[DetectorsChanged] = []
        bus.subscribe(lambda m: self.seen.append(m) if isinstance(m, DetectorsChanged) else None)

    @property
    def reasons(self) -> str:
        return " | ".join(change.reason for change in self.seen)

    def wait(self, text: str, timeout: float = 10) -> None:
        """Until a published reason mentions `text` (the manager publishes after it acted)."""
        wait_for(lambda: text in self.reasons, timeout, f"a DetectorsChanged saying {text!r}")


@pytest.fixture()
def managers() -> Iterator[list[DetectorManager]]:
    started: list[DetectorManager] = []
    yield started
    for manager in started:
        manager.stop()


def start_manager(
    managers: list[DetectorManager], pool: DetectorPool, configured: dict, bus: Bus, **kwargs
) -> DetectorManager:
    found = kwargs.pop("corals", ())
    manager = DetectorManager(pool, configured, bus=bus, fallback_threads=1, **kwargs)
    managers.append(manager)
    manager.start(found)
    return manager


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Poll until `predicate()` is truthy; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def image_tensor(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB").resize((300, 300)), dtype=np.uint8)


# --- which devices are Corals --------------------------------------------------------------------


def test_corals_are_recognised_from_their_uevents_and_nothing_else_is() -> None:
    assert usb_ids("18d1/9302/100") == (0x18D1, 0x9302)
    assert usb_ids("1a6e/89a/100") == (0x1A6E, 0x089A)
    assert usb_ids("garbage") is None and usb_ids("zz/yy/1") is None

    ready = coral_from_event(usb_event("add", "2-1.3"))
    assert ready is not None and ready.kind == "usb" and ready.name == "2-1.3" and ready.order == (2, 1, 3)
    fresh = coral_from_event(usb_event("add", "2-1.3", CORAL_NO_FIRMWARE))
    assert fresh is not None and fresh.key == ready.key  # one port, one Coral, before and after DFU
    assert "firmware" in fresh.description

    assert coral_from_event(usb_event("add", "2-1", devtype="usb_interface")) is None
    assert coral_from_event(usb_event("add", "2-2", product="46d/825/10")) is None  # a webcam
    pcie = coral_from_event(apex_event("add", 1))
    assert pcie is not None and pcie.kind == "pci" and pcie.order == (1,) and pcie.name == "apex_1"
    assert coral_from_event(DeviceEvent("add", "block", "/devices/virtual/block/loop0", {})) is None


def test_a_bad_detector_entry_is_a_clear_error(make_pool) -> None:
    with pytest.raises(DetectorError, match="not supported"):
        DetectorManager(make_pool(), {"tpu": {"type": "tensorrt"}})
    with pytest.raises(DetectorError, match="usb, usb:N"):
        DetectorManager(make_pool(), {"coral": {"type": "edgetpu", "device": "firewire"}})


# --- plugging in and out -------------------------------------------------------------------------


def test_without_a_coral_the_cpu_takes_over_and_a_coral_plugged_in_replaces_it(
    corals: Corals, make_pool, managers, shared_dir: Path
) -> None:
    bus = Bus()
    changes = Changes(bus)
    pool = make_pool()
    manager = start_manager(managers, pool, {"coral": {"type": "edgetpu", "device": "usb"}}, bus)

    assert manager.in_use() == {"cpu": "cpu"}
    assert "falling back to the CPU" in changes.reasons
    grace = image_tensor(shared_dir / "media" / "grace_hopper.bmp")
    assert 0 in pool.detect(grace)[:, 0]  # COCO 0 = person, found by the CPU detector

    corals.plug("usb:0")
    manager.device_event(usb_event("add", "2-1"))
    took = wait_for(lambda: manager.in_use() == {"coral": "edgetpu"}, 10, "the Coral replacing the CPU")
    assert took < 5
    assert corals.opened() == ["usb:0"]
    people = [row for row in pool.detect(grace) if row[0] == 0]
    assert people and people[0][1] > 0.5  # the Coral detector answers (the stand-in runs the model)
    assert pool.stats()["coral"]["pid"] > 0 and "cpu" not in pool.stats()
    changes.wait("cpu removed (a Coral took over)")
    assert "coral added (Coral USB at 2-1, device usb:0)" in changes.reasons
    assert changes.seen[-1].detectors == {"coral": "edgetpu"}


def test_an_unplugged_coral_is_dropped_and_the_cpu_takes_over_within_5_s(
    corals: Corals, make_pool, managers
) -> None:
    bus = Bus()
    changes = Changes(bus)
    corals.plug("usb:0")
    pool = make_pool()
    manager = start_manager(managers, pool, {}, bus, corals=[coral_from_event(usb_event("add", "2-1"))])
    assert manager.in_use() == {"coral_usb0": "edgetpu"}

    corals.plug()
    manager.device_event(usb_event("remove", "2-1"))
    took = wait_for(lambda: manager.in_use() == {"cpu": "cpu"}, 10, "the CPU fallback")
    assert took < 5, f"the CPU took over after {took:.1f} s"
    assert pool.detect(np.zeros((300, 300, 3), np.uint8)).shape[1] == 6
    changes.wait("falling back to the CPU (cpu added)")
    changes.wait("coral_usb0 removed (Coral USB at 2-1 unplugged)")
    assert manager.corals() == []


def test_a_coral_detector_killed_mid_inference_falls_back_and_comes_back(
    corals: Corals, make_pool, managers, shared_dir: Path
) -> None:
    bus = Bus()
    changes = Changes(bus)
    corals.plug("usb:0")
    pool = make_pool()
    manager = start_manager(managers, pool, {}, bus, corals=[coral_from_event(usb_event("add", "2-1"))])
    grace = image_tensor(shared_dir / "media" / "grace_hopper.bmp")
    results = {"ok": 0, "failed": 0, "ok_after_kill": 0}
    killed_at: list[float] = []
    first_ok_after_kill: list[float] = []
    stop = threading.Event()

    def camera() -> None:  # a camera thread asking for detections all along
        while not stop.is_set():
            try:
                pool.detect(grace)
            except DetectorError:
                results["failed"] += 1  # that frame goes without detection
                time.sleep(0.05)
                continue
            results["ok"] += 1
            if killed_at:
                results["ok_after_kill"] += 1
                if not first_ok_after_kill:
                    first_ok_after_kill.append(time.monotonic())

    worker = threading.Thread(target=camera)
    worker.start()
    try:
        wait_for(lambda: results["ok"] >= 3, 10, "detections on the Coral")
        coral = pool.detector("coral_usb0")
        wait_for(lambda: coral.detection_start > 0, 5, "an inference in flight")
        os.kill(coral.pid, signal.SIGKILL)  # what libedgetpu's abort on a USB error looks like
        killed_at.append(time.monotonic())
        took = wait_for(lambda: manager.in_use() == {"cpu": "cpu"}, 10, "the CPU fallback")
        assert took < 5
        wait_for(lambda: results["ok_after_kill"] >= 3, 10, "detections on the CPU")
        # The Coral is still plugged in: it is retried after a short back-off and takes over again.
        wait_for(lambda: manager.in_use() == {"coral_usb0": "edgetpu"}, 15, "the Coral back in use")
    finally:
        stop.set()
        worker.join(10)
    assert first_ok_after_kill[0] - killed_at[0] < 5, "detection was down for 5 s or more"
    changes.wait("coral_usb0 added")
    assert "coral_usb0 stopped working" in changes.reasons
    assert "falling back to the CPU" in changes.reasons
    assert corals.opened() == ["usb:0", "usb:0"]


def test_several_corals_share_the_load_and_all_gone_leaves_the_cpu_with_no_change_lost(
    corals: Corals, make_pool, managers
) -> None:
    bus = Bus()
    changes = Changes(bus)
    pool = make_pool()
    manager = start_manager(managers, pool, {}, bus)
    corals.plug("usb:0", "usb:1", "pci:0")
    manager.device_event(usb_event("add", "2-1"))
    manager.device_event(usb_event("add", "2-1", devtype="usb_interface"))  # ignored
    manager.device_event(usb_event("add", "2-2"))
    manager.device_event(apex_event("add", 0))
    everyone = {"coral_usb0": "edgetpu", "coral_usb1": "edgetpu", "coral_pci0": "edgetpu"}
    wait_for(lambda: manager.in_use() == everyone, 15, "three Corals in use")
    assert sorted(corals.opened()) == ["pci:0", "usb:0", "usb:1"]

    tensor = np.zeros((300, 300, 3), np.uint8)
    threads = [threading.Thread(target=lambda: [pool.detect(tensor) for _ in range(15)]) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(stats["inference_speed"] > 0 for stats in pool.stats().values()), pool.stats()

    corals.plug()
    for event in (usb_event("remove", "2-2"), apex_event("remove", 0), usb_event("remove", "2-1")):
        manager.device_event(event)
    took = wait_for(lambda: manager.in_use() == {"cpu": "cpu"}, 10, "the CPU fallback")
    assert took < 5
    for name in everyone:
        changes.wait(f"{name} removed")
    assert changes.seen[-1].detectors == {"cpu": "cpu"}


def test_a_usb_coral_loading_its_firmware_keeps_its_detector(corals: Corals, make_pool, managers) -> None:
    bus = Bus()
    corals.plug("usb:0")
    pool = make_pool()
    configured = {"coral": {"type": "edgetpu", "device": "usb"}}
    manager = start_manager(managers, pool, configured, bus, replug_grace=1.0)
    manager.device_event(usb_event("add", "1-1", CORAL_NO_FIRMWARE))
    wait_for(lambda: manager.in_use() == {"coral": "edgetpu"}, 10, "the Coral in use")
    pid = pool.detector("coral").pid
    # The runtime has loaded the firmware: the device leaves and comes back as 18d1:9302.
    manager.device_event(usb_event("remove", "1-1", CORAL_NO_FIRMWARE))
    manager.device_event(usb_event("add", "1-1", CORAL))
    time.sleep(2.5)  # well past the re-plug grace
    assert manager.in_use() == {"coral": "edgetpu"}
    assert pool.detector("coral").pid == pid
    assert corals.opened() == ["usb:0"]


def test_configured_coral_waits_for_its_own_device(corals: Corals, make_pool, managers) -> None:
    bus = Bus()
    pool = make_pool()
    configured = {"second": {"type": "edgetpu", "device": "usb:1"}}
    manager = start_manager(managers, pool, configured, bus, auto_corals=False)
    corals.plug("usb:0", "usb:1")
    manager.device_event(usb_event("add", "3-1"))
    time.sleep(1.5)
    assert manager.in_use() == {"cpu": "cpu"}  # the first Coral is not the one configured
    manager.device_event(usb_event("add", "3-2"))
    wait_for(lambda: manager.in_use() == {"second": "edgetpu"}, 10, "the second Coral in use")
    assert corals.opened() == ["usb:1"]


def test_a_coral_that_cannot_be_opened_is_retried_and_a_missed_remove_is_caught(
    corals: Corals, make_pool, managers, caplog: pytest.LogCaptureFixture
) -> None:
    bus = Bus()
    changes = Changes(bus)
    pool = make_pool()
    manager = start_manager(managers, pool, {}, bus)
    manager.device_event(usb_event("add", "2-1"))  # the runtime cannot open it yet
    wait_for(lambda: "no Coral found or it cannot be opened" in caplog.text, 10, "the open failure")
    assert manager.in_use() == {"cpu": "cpu"}
    corals.plug("usb:0")
    wait_for(lambda: manager.in_use() == {"coral_usb0": "edgetpu"}, 10, "the retried Coral in use")

    # A rescan that no longer finds the Coral stands for a remove event netlink dropped.
    corals.plug()
    manager.device_snapshot("usb", [])
    wait_for(lambda: manager.in_use() == {"cpu": "cpu"}, 10, "the CPU after the rescan")
    changes.wait("coral_usb0 removed")


def test_enumerated_corals_are_used_from_the_start_without_a_fallback(
    corals: Corals, make_pool, managers
) -> None:
    bus = Bus()
    changes = Changes(bus)
    corals.plug("usb:0")
    pool = make_pool()
    manager = DetectorManager(pool, {"cpu1": {"type": "cpu", "num_threads": 1}}, bus=bus)
    managers.append(manager)
    manager.device_snapshot("usb", [present("2-1")])  # what the device watcher's first scan queues
    manager.start()
    # A configured CPU detector stays; the Coral found at start joins it; no fallback is needed.
    assert manager.in_use() == {"cpu1": "cpu", "coral_usb0": "edgetpu"}
    assert "falling back" not in changes.reasons


def present(port: str) -> DeviceEvent:
    event = usb_event("add", port)
    return DeviceEvent(PRESENT, event.subsystem, event.devpath, event.properties)
