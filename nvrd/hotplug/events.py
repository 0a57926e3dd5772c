"""A device event as plain data: what the kernel (or udevd) said about one device.

The hot-plug logic works on DeviceEvent rather than on pyudev objects, so the same code takes events
from a live netlink monitor, from enumerating /sys at start-up, and from tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The action of an event made by enumerating the devices that are there (not a netlink event).
PRESENT = "present"


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One device's add/remove/change (or PRESENT), with the properties of its uevent."""

    action: str
    subsystem: str
    devpath: str  # /devices/...: stays the same while a device is re-enumerated on the same port
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def devtype(self) -> str:
        """DEVTYPE (usb_device, usb_interface, disk, partition, ...), '' when none."""
        return self.properties.get("DEVTYPE", "")

    @property
    def sysname(self) -> str:
        """The last part of the device path (`2-1.3`, `sda1`, `apex_0`)."""
        return self.devpath.rstrip("/").rsplit("/", 1)[-1]

    @property
    def devnode(self) -> str | None:
        """The device node (/dev/sda1), None when the device has none."""
        name = self.properties.get("DEVNAME")
        if not name:
            return None
        return name if name.startswith("/") else f"/dev/{name}"

    @classmethod
    def from_pyudev(cls, device: Any, action: str | None = None) -> DeviceEvent:
        """From a pyudev Device (a monitor's, whose action is set, or an enumerated one)."""
        return cls(
            action=action or device.action or PRESENT,
            subsystem=device.subsystem or "",
            devpath=device.device_path,
            properties={str(key): str(value) for key, value in device.properties.items()},
        )
