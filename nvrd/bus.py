"""The core's outbound notices, for the layers that read the core (MQTT, the API's live views).

The core publishes typed messages; outer layers subscribe. Dependencies point one way: nothing in
the core imports the API or MQTT, they register here. Subscribers are called on the publishing
thread (a camera's processing thread) and must not block: hand work to your own queue or thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EventChanged:
    """A tracked object's event began, changed or ended (Frigate's `<prefix>/events` payload)."""

    type: str  # "new" | "update" | "end"
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ObjectCounts:
    """True-positive object counts of one camera now, per label, and per zone and label."""

    camera: str
    labels: dict[str, int]
    zones: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MotionChanged:
    """A camera's motion state flipped."""

    camera: str
    active: bool


@dataclass(frozen=True, slots=True)
class BestSnapshot:
    """A new best picture of `label` on `camera` (Frigate's `<camera>/<label>/snapshot` topic)."""

    camera: str
    label: str
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class DetectorsChanged:
    """The set of detectors in use changed (a Coral came or went, or fell back to the CPU)."""

    detectors: dict[str, str]  # name -> type
    reason: str


Subscriber = Callable[[object], None]


class Bus:
    """A tiny synchronous publish/subscribe hub; one per daemon."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register a callback for every message; returns a function that unregisters it."""
        with self._lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def publish(self, message: object) -> None:
        """Deliver a message to every subscriber; a failing subscriber is logged, never raised."""
        for callback in self._subscribers:
            try:
                callback(message)
            except Exception:
                log.exception("bus subscriber %r failed on %s", callback, type(message).__name__)
