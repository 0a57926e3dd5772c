"""Which detectors run: configured ones, Corals as they come and go, and the CPU when nothing else runs.

The DetectorManager owns the membership of the DetectorPool (the pool owns dispatch and restarting
dead CPU detectors). It works on one thread, from a queue of Coral events, and reconciles every
half second:

- a Coral that appears is bound to the first configured `edgetpu` detector that fits it (`usb`,
  `pci:1`, ...) or, with `hotplug.corals`, to a new detector `coral_usb0`, `coral_pci0`, ...; it
  starts without a restart of nvrd, and several Corals share the load through the pool;
- a Coral that disappears is dropped after a short grace (a USB Coral re-enumerates on the same
  port when its firmware loads); one whose detector process dies (libedgetpu aborts on USB errors)
  is dropped at once and retried with back-off while the device is still there;
- while no Coral detector is alive and no CPU detector is configured, a fallback CPU detector runs
  (`hotplug.cpu_fallback`), and it is stopped again once a Coral works.

Every change is logged and published on the bus as DetectorsChanged (the MQTT layer forwards it);
/api/stats `detectors` reads the pool, so it always shows what is in use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nvrd.bus import Bus, DetectorsChanged
from nvrd.detect import DetectorError, DetectorPool, DetectorSettings, detector_settings
from nvrd.hotplug.coral import CoralDevice, coral_from_event
from nvrd.hotplug.events import PRESENT, DeviceEvent

log = logging.getLogger(__name__)

REPLUG_GRACE_S = 3.0  # a USB Coral comes back this fast on the same port after its firmware loads
TICK_S = 0.5
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 60.0
DEFAULT_FALLBACK_THREADS = 2

CORAL_KINDS = ("usb", "pci")


@dataclass(slots=True)
class _Slot:
    """One detector the manager wants: configured, auto-created for a Coral, or the CPU fallback."""

    name: str
    origin: str  # "config", "auto" or "fallback"
    settings: DetectorSettings
    kind: str  # "cpu", "usb", "pci", or "any" (an edgetpu detector configured without a kind)
    index: int | None = None  # a configured "usb:N"/"pci:N"/":N": only the Nth Coral of the kind
    device: str | None = None  # key of the Coral bound to this slot
    retry_at: float = 0.0
    retry_delay: float = 0.0

    @property
    def coral(self) -> bool:
        return self.kind != "cpu"


def _edgetpu_target(device: str | None) -> tuple[str, int | None]:
    """("usb"|"pci"|"any", index or None) from an edgetpu `device` option."""
    if not device:
        return "any", None
    kind, _, index = device.partition(":")
    return (kind or "any"), (int(index) if index else None)


class DetectorManager:
    """Keeps the pool's detectors in line with the configuration and the Corals plugged in."""

    def __init__(
        self,
        pool: DetectorPool,
        configured: Mapping[str, Any],
        *,
        bus: Bus | None = None,
        auto_corals: bool = True,
        cpu_fallback: bool = True,
        fallback_threads: int = DEFAULT_FALLBACK_THREADS,
        replug_grace: float = REPLUG_GRACE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Validate the configured detectors (DetectorError on a bad one); nothing starts yet."""
        self.pool = pool
        self.bus = bus
        self.auto_corals = auto_corals
        self.cpu_fallback = cpu_fallback
        self.replug_grace = replug_grace
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        for name, config in configured.items():
            settings = detector_settings(name, config, pool.model)
            if settings.type == "edgetpu":
                kind, index = _edgetpu_target(settings.device)
                self._slots[name] = _Slot(name, "config", settings, kind, index)
            else:
                self._slots[name] = _Slot(name, "config", settings, "cpu")
        fallback_name = "cpu" if "cpu" not in self._slots else "cpu_fallback"
        self._fallback = _Slot(
            fallback_name,
            "fallback",
            DetectorSettings(fallback_name, "cpu", None, fallback_threads, pool.model),
            "cpu",
        )
        self._present: dict[str, CoralDevice] = {}
        self._gone: dict[str, float] = {}  # key -> when its remove event came
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._changes: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, corals: Iterable[CoralDevice] = ()) -> None:
        """Start what is wanted now (configured CPU detectors, the Corals present, the fallback),
        then keep reconciling on a thread."""
        for coral in corals:
            self._present[coral.key] = coral
        self._drain()  # a device watcher started first has queued what it found
        self.pool.start_supervisor()
        self._reconcile()
        for slot in self._slots.values():
            if slot.coral and slot.device is None:
                log.warning(
                    "detector %s: no Coral (%s) is plugged in; it starts when one is",
                    slot.name,
                    slot.settings.device or "any",
                )
        if not self.in_use():
            log.error("no object detector is running; cameras stream and record without detection")
        self._thread = threading.Thread(target=self._run, name="detector-manager", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the manager's thread (the pool's detectors are stopped by the pool's owner)."""
        self._stop.set()
        self._queue.put(("wake", None))
        if self._thread is not None:
            self._thread.join(timeout)

    # --- input -----------------------------------------------------------------------------------

    def device_event(self, event: DeviceEvent) -> None:
        """Take a usb/apex device event (others are ignored); thread-safe, returns at once."""
        coral = coral_from_event(event)
        if coral is None:
            return
        if event.action in ("add", "bind", "change", PRESENT):
            self._queue.put(("add", coral))
        elif event.action == "remove":
            self._queue.put(("remove", coral))

    def device_snapshot(self, subsystem: str, events: list[DeviceEvent]) -> None:
        """Every Coral of `subsystem` there is now: any other one we know of has gone."""
        corals = [c for c in (coral_from_event(e) for e in events) if c is not None]
        self._queue.put(("snapshot", (subsystem, corals)))

    # --- what is in use --------------------------------------------------------------------------

    def in_use(self) -> dict[str, str]:
        """{name: type} of the detectors in the pool now."""
        found = {}
        for name in self.pool.names:
            try:
                found[name] = self.pool.detector(name).settings.type
            except KeyError:
                continue
        return found

    def corals(self) -> list[CoralDevice]:
        """The Corals plugged in (as far as the last events tell)."""
        return sorted(self._present.values(), key=lambda c: (c.kind, c.order))

    # --- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Empty):
                self._apply(self._queue.get(timeout=TICK_S))
            # Take everything queued before acting: a Coral's remove and re-add while its firmware
            # loads then cancel out instead of starting and stopping the fallback.
            self._drain()
            if self._stop.is_set():
                return
            try:
                self._reconcile()
            except Exception:  # the manager must outlive any one detector's trouble
                log.exception("managing detectors failed")

    def _drain(self) -> None:
        while True:
            try:
                self._apply(self._queue.get_nowait())
            except queue.Empty:
                return

    def _apply(self, item: tuple[str, Any]) -> None:
        what, value = item
        now = self._clock()
        if what == "add":
            coral: CoralDevice = value
            if coral.key in self._gone:
                log.info("%s is back", coral)
            elif coral.key not in self._present:
                log.info("%s plugged in", coral)
            self._present[coral.key] = coral
            self._gone.pop(coral.key, None)
            for slot in self._all_slots():
                if slot.device == coral.key:
                    slot.retry_at = 0.0  # it came back: try at once
        elif what == "remove":
            if value.key in self._present and value.key not in self._gone:
                log.info("%s unplugged", self._present[value.key])
                self._gone[value.key] = now
        elif what == "snapshot":
            subsystem, corals = value
            kind = "usb" if subsystem == "usb" else "pci"
            seen = {c.key for c in corals}
            for key, known in list(self._present.items()):
                if known.kind == kind and key not in seen and key not in self._gone:
                    log.warning("%s is no longer there (its remove event was missed)", known)
                    self._gone[key] = now
            for coral in corals:
                self._apply(("add", coral))

    # --- reconciling -----------------------------------------------------------------------------

    def _all_slots(self) -> list[_Slot]:
        return [*self._slots.values(), self._fallback]

    def _reconcile(self) -> None:
        now = self._clock()
        self._drop_dead_corals(now)
        self._forget_gone_corals(now)
        self._bind_corals()
        for slot in list(self._slots.values()):
            if slot.name in self.pool.names:
                continue
            if not slot.coral or (slot.device is not None and slot.device not in self._gone):
                self._try_start(slot, now)
        self._steer_fallback(now)
        if self._changes:
            reason = "; ".join(self._changes)
            self._changes = []
            detectors = self.in_use()
            log.info("detectors now: %s (%s)", ", ".join(sorted(detectors)) or "none", reason)
            if self.bus is not None:
                self.bus.publish(DetectorsChanged(detectors, reason))

    def _drop_dead_corals(self, now: float) -> None:
        """A Coral detector whose process died leaves the pool; it is retried while its device is
        there (the pool restarts only CPU detectors)."""
        for slot in self._slots.values():
            if not slot.coral or slot.name not in self.pool.names:
                continue
            try:
                detector = self.pool.detector(slot.name)
            except KeyError:
                continue
            if detector.alive:
                continue
            reason = detector.failure or "its process exited"
            self.pool.remove_detector(slot.name)
            self._backoff(slot, now)
            self._changes.append(f"{slot.name} stopped working ({reason})")

    def _forget_gone_corals(self, now: float) -> None:
        for key, since in list(self._gone.items()):
            if now - since < self.replug_grace:
                continue
            coral = self._present.pop(key, None)
            del self._gone[key]
            for slot in list(self._slots.values()):
                if slot.device != key:
                    continue
                if slot.name in self.pool.names:
                    self.pool.remove_detector(slot.name)
                    self._changes.append(f"{slot.name} removed ({coral or key} unplugged)")
                slot.device, slot.retry_at, slot.retry_delay = None, 0.0, 0.0
                if slot.origin == "auto":
                    del self._slots[slot.name]

    def _rank(self, coral: CoralDevice, among_kind: str) -> int:
        """Where the runtime counts this Coral: among its kind ("usb:N") or among all (":N")."""
        candidates = [
            c
            for c in self._present.values()
            if c.key not in self._gone and (among_kind == "any" or c.kind == among_kind)
        ]
        candidates.sort(key=lambda c: (c.kind, c.order))
        return candidates.index(coral) if coral in candidates else len(candidates)

    def _bind_corals(self) -> None:
        bound = {slot.device for slot in self._slots.values() if slot.device}
        for coral in self.corals():
            if coral.key in bound or coral.key in self._gone:
                continue
            slot = self._configured_slot_for(coral)
            if slot is None and self.auto_corals:
                slot = self._auto_slot_for(coral)
            if slot is not None:
                slot.device, slot.retry_at, slot.retry_delay = coral.key, 0.0, 0.0
                bound.add(coral.key)

    def _configured_slot_for(self, coral: CoralDevice) -> _Slot | None:
        for slot in self._slots.values():
            if slot.origin != "config" or not slot.coral or slot.device is not None:
                continue
            if slot.kind not in ("any", coral.kind):
                continue
            if slot.index is None or slot.index == self._rank(coral, slot.kind):
                return slot
        return None

    def _auto_slot_for(self, coral: CoralDevice) -> _Slot:
        taken = set(self._slots) | set(self.pool.names)
        number = 0
        while f"coral_{coral.kind}{number}" in taken:
            number += 1
        name = f"coral_{coral.kind}{number}"
        settings = DetectorSettings(name, "edgetpu", None, 1, self.pool.model)
        slot = _Slot(name, "auto", settings, coral.kind)
        self._slots[name] = slot
        return slot

    def _settings_for(self, slot: _Slot) -> DetectorSettings:
        """The settings to start a slot with; a Coral's device option names it by its place now."""
        if not slot.coral or slot.device is None:
            return slot.settings
        coral = self._present[slot.device]
        if slot.index is not None:
            device = f"{'' if slot.kind == 'any' else slot.kind}:{slot.index}"
        else:
            device = f"{coral.kind}:{self._rank(coral, coral.kind)}"
        return dataclasses.replace(slot.settings, device=device)

    def _try_start(self, slot: _Slot, now: float) -> bool:
        if now < slot.retry_at:
            return False
        settings = self._settings_for(slot)
        try:
            self.pool.add_detector(slot.name, settings)
        except DetectorError as exc:
            self._backoff(slot, now)
            log.error("detector %s did not start: %s (next try in %.0f s)", slot.name, exc, slot.retry_delay)
            return False
        slot.retry_at, slot.retry_delay = 0.0, 0.0
        if slot.coral and slot.device in self._present:
            what = f"{self._present[slot.device]}, device {settings.device}"
        else:
            what = f"{settings.type} detector"
        self._changes.append(f"{slot.name} added ({what})")
        return True

    def _backoff(self, slot: _Slot, now: float) -> None:
        slot.retry_delay = min(slot.retry_delay * 2, MAX_RETRY_S) if slot.retry_delay else FIRST_RETRY_S
        slot.retry_at = now + slot.retry_delay

    def _coral_alive(self) -> bool:
        """True while some Coral detector runs on a Coral that has not been unplugged."""
        for slot in self._slots.values():
            if not slot.coral or slot.device in self._gone or slot.name not in self.pool.names:
                continue
            try:
                if self.pool.detector(slot.name).alive:
                    return True
            except KeyError:
                continue
        return False

    def _steer_fallback(self, now: float) -> None:
        """Run the CPU fallback exactly while it is the only way to detect anything."""
        configured_cpu = any(not s.coral for s in self._slots.values())
        needed = self.cpu_fallback and not configured_cpu and not self._coral_alive()
        running = self._fallback.name in self.pool.names
        if needed and not running:
            if self._try_start(self._fallback, now):
                self._changes[-1] = f"falling back to the CPU ({self._fallback.name} added)"
        elif running and not needed:
            self.pool.remove_detector(self._fallback.name)
            self._fallback.retry_at, self._fallback.retry_delay = 0.0, 0.0
            self._changes.append(f"{self._fallback.name} removed (a Coral took over)")
