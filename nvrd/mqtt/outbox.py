"""Outgoing MQTT messages: queued by any thread in O(1), published by one thread of their own.

Camera threads hand messages over and return at once; they never wait for the network, a lock held
by paho, or a JSON encoder. While the broker is away, messages are dropped (as Frigate drops them),
but the newest value of every remembered topic (retained state, motion, counts, discovery) is kept
and published again as soon as the connection is back.

Memory stays bounded when the broker stalls without disconnecting: at most MAX_IN_FLIGHT_BYTES are
handed to paho before its socket takes them, and at most MAX_QUEUED_BYTES wait here; beyond that new
messages are dropped (with a warning) until the broker reads again or the keepalive gives up on it;
if a remembered topic's newest value was among them, every remembered value is sent again once the
queue has drained.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

Payload = bytes | str | dict[str, Any] | None

MAX_QUEUED_BYTES = 8 * 1024 * 1024
MAX_IN_FLIGHT_BYTES = 4 * 1024 * 1024
# JSON payloads are sized before encoding by this guess (events and stats are 1-3 kB).
JSON_SIZE_GUESS = 2048


class Delivery(Protocol):
    """What paho's publish() returns: MQTTMessageInfo."""

    rc: int  # 0 when paho took the message

    def is_published(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish; a dict payload is sent as JSON."""

    topic: str
    payload: Payload
    retain: bool = False
    qos: int = 0


class Outbox:
    """A bounded queue of outgoing messages and the thread that publishes them."""

    def __init__(
        self,
        publish: Callable[[Outgoing, bytes | str | None], Delivery],
        connected: Callable[[], bool],
        *,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        max_in_flight_bytes: int = MAX_IN_FLIGHT_BYTES,
    ) -> None:
        """`publish(message, encoded_payload)` hands one message to paho; `connected()` tells
        whether sending makes sense right now."""
        self._publish = publish
        self._connected = connected
        self._max_queued_bytes = max_queued_bytes
        self._max_in_flight_bytes = max_in_flight_bytes
        self._queue: collections.deque[Outgoing] = collections.deque()
        self._queued_bytes = 0
        self._in_flight: collections.deque[tuple[Delivery, int]] = collections.deque()
        self._in_flight_bytes = 0
        self._remembered: dict[str, Outgoing] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._dropped = 0
        self._last_drop_log = 0.0
        self._stale = False  # a remembered value was dropped: replay once the queue drains

    # --- any thread ----------------------------------------------------------------------------

    def put(self, message: Outgoing, *, remember: bool = False) -> None:
        """Queue a message; `remember` keeps it to be sent again after every reconnect."""
        with self._cond:
            if remember:
                self._remembered[message.topic] = message
            self._enqueue(message)
            self._cond.notify()

    def keep(self, message: Outgoing) -> None:
        """Remember a message without sending it now: it goes out with the next replay()."""
        with self._cond:
            self._remembered[message.topic] = message

    def replay(self) -> None:
        """Queue every remembered message again (after a reconnect), in the order they were first set."""
        with self._cond:
            for message in self._remembered.values():
                self._enqueue(message)
            self._cond.notify()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued has been handed to paho; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
        return True

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the publishing thread (call flush() first to send what is queued)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the publishing thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    self._queue.clear()
                    self._cond.notify_all()
                    return
                message = self._queue.popleft()
                self._queued_bytes -= payload_size(message.payload)
                self._busy = True
            try:
                if self._connected() and self._room_in_flight():
                    delivery = self._publish(message, encode(message.payload))
                    if delivery.rc == 0:  # else paho refused it (connection just lost): nothing to wait for
                        size = payload_size(message.payload)
                        self._in_flight.append((delivery, size))
                        self._in_flight_bytes += size
            except Exception:
                log.exception("mqtt: publishing on %s failed", message.topic)
            finally:
                with self._cond:
                    self._busy = False
                    if self._stale and not self._queue:
                        self._stale = False
                        for remembered in self._remembered.values():
                            self._enqueue(remembered)
                    self._cond.notify_all()

    def _enqueue(self, message: Outgoing) -> None:
        # Called with the lock held.
        size = payload_size(message.payload)
        if self._queue and self._queued_bytes + size > self._max_queued_bytes:
            self._note_drop()
            if self._remembered.get(message.topic) is message:
                self._stale = True
            return
        self._queue.append(message)
        self._queued_bytes += size

    def _room_in_flight(self) -> bool:
        """Wait while paho holds too much unsent data; False if the connection or the bridge went."""
        while True:
            while self._in_flight and self._in_flight[0][0].is_published():
                self._in_flight_bytes -= self._in_flight.popleft()[1]
            if self._in_flight_bytes <= self._max_in_flight_bytes:
                return True
            if self._stopping or not self._connected():
                # paho marks what it could not send as done when it reconnects.
                return False
            time.sleep(0.02)

    def _note_drop(self) -> None:
        # Called with the lock held. Logged at most every 10 s: a stalled broker must not flood the log.
        self._dropped += 1
        now = time.monotonic()
        if now - self._last_drop_log >= 10:
            log.warning("mqtt: outgoing queue full, %d message(s) dropped so far", self._dropped)
            self._last_drop_log = now


def encode(payload: Payload) -> bytes | str | None:
    """The wire form of a payload: dicts become compact JSON (numpy numbers as plain numbers)."""
    if isinstance(payload, dict):
        return json.dumps(payload, separators=(",", ":"), default=_plain)
    return payload


def payload_size(payload: Payload) -> int:
    """Bytes a payload takes (JSON payloads by estimate)."""
    if payload is None:
        return 0
    if isinstance(payload, dict):
        return JSON_SIZE_GUESS
    return len(payload)


def _plain(value: Any) -> Any:
    # numpy scalars and arrays (scores, boxes) have .tolist(); anything else is a bug to report.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
