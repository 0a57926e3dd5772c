"""Hot-plug: Coral accelerators and the recordings disk coming and going while nvrd runs.

udev events (pyudev) feed a DetectorManager, which adds and drops detectors in the DetectorPool and
falls back to the CPU, and a StorageMonitor, which follows the disk systemd mounts at storage.root
and tells the recorder when to pause and resume.
"""

from nvrd.hotplug.coral import USB_CORAL_IDS, CoralDevice, coral_from_event
from nvrd.hotplug.detectors import DetectorManager
from nvrd.hotplug.events import PRESENT, DeviceEvent
from nvrd.hotplug.service import Hotplug
from nvrd.hotplug.storage import (
    DiskState,
    RecordingStorage,
    StorageMonitor,
    read_mounts,
    recording_storage,
    write_label_file,
)
from nvrd.hotplug.udev import UdevError, UdevWatcher

__all__ = [
    "PRESENT",
    "USB_CORAL_IDS",
    "CoralDevice",
    "DetectorManager",
    "DeviceEvent",
    "DiskState",
    "Hotplug",
    "RecordingStorage",
    "StorageMonitor",
    "UdevError",
    "UdevWatcher",
    "coral_from_event",
    "read_mounts",
    "recording_storage",
    "write_label_file",
]
