"""Device events from the kernel via pyudev: a netlink monitor on a thread, plus enumeration.

On the appliance the monitor listens to udevd ("udev" source): events arrive after the rules ran, so
permissions are set and filesystem labels (ID_FS_LABEL) are known. The raw "kernel" source is there
for machines without udevd. The monitor starts before the devices already there are enumerated,
so nothing plugged in between the two is missed; netlink can still drop events when its buffer
overflows, so the enumeration is repeated every `rescan_every` seconds and handed over as a
snapshot that the handlers reconcile with what they believe is there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import pyudev

from nvrd.hotplug.events import DeviceEvent

log = logging.getLogger(__name__)

RESCAN_S = 60.0
_POLL_S = 0.5  # how often the thread looks at its stop flag while no event comes

EventHandler = Callable[[DeviceEvent], None]
SnapshotHandler = Callable[[str, list[DeviceEvent]], None]


class UdevError(RuntimeError):
    """The netlink monitor cannot be opened (no permission, no netlink in this sandbox)."""


class UdevWatcher:
    """Delivers device events of some subsystems to a handler, on its own thread."""

    def __init__(
        self,
        subsystems: Iterable[str],
        on_event: EventHandler,
        *,
        on_snapshot: SnapshotHandler | None = None,
        source: str = "udev",
        rescan_every: float = RESCAN_S,
    ) -> None:
        """`on_snapshot(subsystem, devices)` gets every full enumeration (at start and each rescan)."""
        self.subsystems = tuple(subsystems)
        self.on_event = on_event
        self.on_snapshot = on_snapshot
        self.source = source
        self.rescan_every = rescan_every
        self.context = pyudev.Context()
        self._monitor: pyudev.Monitor | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open the monitor (UdevError when it cannot), enumerate once, then watch on a thread."""
        try:
            monitor = pyudev.Monitor.from_netlink(self.context, source=self.source)
            for subsystem in self.subsystems:
                monitor.filter_by(subsystem)
            monitor.start()
        except (OSError, ValueError) as exc:
            raise UdevError(f"cannot listen for {self.source} device events: {exc}") from exc
        self._monitor = monitor
        self._snapshot()
        self._thread = threading.Thread(
            target=self._run, name=f"udev:{','.join(self.subsystems)}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close the monitor."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._monitor = None

    def devices(self, subsystem: str) -> list[DeviceEvent]:
        """The devices of a subsystem that are there now, as PRESENT events."""
        found = []
        for device in self.context.list_devices(subsystem=subsystem):
            try:
                found.append(DeviceEvent.from_pyudev(device))
            except (OSError, KeyError, ValueError) as exc:  # gone while we looked
                log.debug("skipping %s: %s", device, exc)
        return found

    def _snapshot(self) -> None:
        for subsystem in self.subsystems:
            devices = self.devices(subsystem)
            if self.on_snapshot is not None:
                self._deliver(self.on_snapshot, subsystem, devices)
            else:
                for device in devices:
                    self._deliver(self.on_event, device)

    def _run(self) -> None:
        monitor = self._monitor
        next_rescan = time.monotonic() + self.rescan_every
        while not self._stop.is_set() and monitor is not None:
            try:
                device = monitor.poll(timeout=_POLL_S)
            except OSError as exc:  # ENOBUFS: the kernel dropped events; the rescan catches up
                log.warning("device events were lost (%s); rescanning", exc)
                device, next_rescan = None, 0.0
            if device is not None:
                self._deliver(self.on_event, DeviceEvent.from_pyudev(device))
            if time.monotonic() >= next_rescan:
                next_rescan = time.monotonic() + self.rescan_every
                self._snapshot()

    @staticmethod
    def _deliver(handler: Callable[..., None], *args: object) -> None:
        try:
            handler(*args)
        except Exception:  # one bad handler call must not end device watching
            log.exception("handling a device event failed")
