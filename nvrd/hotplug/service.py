"""The daemon's hot-plug side in one place: one udev watcher feeding the detector manager (usb, apex)
and the storage monitor (block).

    hotplug = Hotplug(config, pool, bus, recording=lambda: daemon.recorder)
    hotplug.start()   # before the cameras: detectors are running when it returns
    ...
    hotplug.stop()    # before the pool is stopped
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nvrd.bus import Bus
from nvrd.detect import DetectorPool
from nvrd.hotplug.coral import CORAL_SUBSYSTEMS
from nvrd.hotplug.detectors import DetectorManager
from nvrd.hotplug.events import DeviceEvent
from nvrd.hotplug.storage import StorageMonitor, write_label_file
from nvrd.hotplug.udev import UdevError, UdevWatcher

log = logging.getLogger(__name__)

STORAGE_SUBSYSTEMS = ("block",)


class Hotplug:
    """Owns the DetectorManager, the StorageMonitor and the UdevWatcher that feeds both."""

    def __init__(
        self,
        config: Any,
        pool: DetectorPool,
        bus: Bus | None,
        *,
        recording: Callable[[], Any] = lambda: None,
    ) -> None:
        """Validate the detector config (DetectorError on a bad entry); nothing starts yet."""
        settings = config.hotplug
        self.detectors = DetectorManager(
            pool,
            config.detectors,
            bus=bus,
            auto_corals=settings.corals,
            cpu_fallback=settings.cpu_fallback,
            fallback_threads=settings.fallback_threads,
        )
        self.label_file: Path | None = Path(settings.label_file) if settings.storage else None
        self.storage: StorageMonitor | None = None
        if settings.storage:
            root, label = Path(config.storage.root), config.storage.label
            self.storage = StorageMonitor(root, label, recording=recording)
        self.label = config.storage.label
        subsystems = CORAL_SUBSYSTEMS + (STORAGE_SUBSYSTEMS if self.storage else ())
        self.watcher = UdevWatcher(
            subsystems, self._on_event, on_snapshot=self._on_snapshot, source=settings.events
        )
        self._watching = False

    def start(self) -> None:
        """Watch devices, start the detectors wanted now, follow the recordings disk."""
        try:
            self.watcher.start()  # its first enumeration queues the Corals already plugged in
            self._watching = True
        except UdevError as exc:
            log.warning("%s: devices plugged in later are not noticed until nvrd restarts", exc)
            for subsystem in self.watcher.subsystems:
                self._on_snapshot(subsystem, self.watcher.devices(subsystem))
        self.detectors.start()
        if self.storage is not None:
            if self.label_file is not None:
                write_label_file(self.label_file, self.label)
            self.storage.start()

    def stop(self) -> None:
        """Stop watching; the detectors stay in the pool for its owner to stop."""
        if self._watching:
            self.watcher.stop()
            self._watching = False
        self.detectors.stop()
        if self.storage is not None:
            self.storage.stop()

    def storage_text(self) -> str | None:
        """The storage phrase of the status line, None when storage is not followed."""
        return self.storage.describe() if self.storage is not None else None

    def _on_event(self, event: DeviceEvent) -> None:
        if event.subsystem in STORAGE_SUBSYSTEMS:
            if self.storage is not None:
                self.storage.device_event(event)
        else:
            self.detectors.device_event(event)

    def _on_snapshot(self, subsystem: str, events: list[DeviceEvent]) -> None:
        if subsystem in STORAGE_SUBSYSTEMS:
            if self.storage is not None:
                self.storage.device_snapshot(subsystem, events)
        else:
            self.detectors.device_snapshot(subsystem, events)
