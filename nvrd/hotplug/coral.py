"""Which devices are Coral Edge TPUs, and how the Edge TPU runtime numbers them.

A USB Coral enumerates as 1a6e:089a (Global Unichip) until the runtime has loaded its firmware,
then as 18d1:9302 (Google) on the same port. A PCIe/M.2 Coral is /dev/apex_N (gasket/apex driver).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nvrd.hotplug.events import DeviceEvent

# (vendor, product) -> what that id means
USB_CORAL_IDS = {
    (0x1A6E, 0x089A): "Coral USB (firmware not loaded yet)",
    (0x18D1, 0x9302): "Coral USB",
}
CORAL_SUBSYSTEMS = ("usb", "apex")
_APEX_NAME = re.compile(r"^apex_(\d+)$")


@dataclass(frozen=True, slots=True)
class CoralDevice:
    """One Coral: `key` (its device path) identifies it across its firmware re-enumeration."""

    key: str
    kind: str  # "usb" or "pci": the prefix of the runtime's device option ("usb:0", "pci:1")
    name: str  # the kernel's name: USB port ("2-1.3") or "apex_0"
    description: str
    order: tuple[int, ...]  # sorts Corals of one kind the way the runtime numbers them

    def __str__(self) -> str:
        return f"{self.description} at {self.name}"


def usb_ids(product: str) -> tuple[int, int] | None:
    """(vendor, product) from a uevent's PRODUCT ("18d1/9302/100": hex without leading zeros)."""
    parts = product.split("/")
    if len(parts) < 2:
        return None
    try:
        return int(parts[0], 16), int(parts[1], 16)
    except ValueError:
        return None


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def coral_from_event(event: DeviceEvent) -> CoralDevice | None:
    """The Coral an event is about, or None for every other device (and for USB interfaces)."""
    if event.subsystem == "usb":
        if event.devtype != "usb_device":
            return None
        ids = usb_ids(event.properties.get("PRODUCT", ""))
        description = USB_CORAL_IDS.get(ids) if ids else None
        if description is None:
            return None
        # The runtime lists USB devices in bus/port order; the port name ("2-1.3") gives that order.
        return CoralDevice(event.devpath, "usb", event.sysname, description, _numbers(event.sysname))
    if event.subsystem == "apex":
        match = _APEX_NAME.match(event.sysname)
        if match is None:
            return None
        return CoralDevice(event.devpath, "pci", event.sysname, "Coral PCIe", (int(match.group(1)),))
    return None
