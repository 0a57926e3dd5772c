"""nvrd on MQTT: the core's state out on Frigate's topics, commands in, Home Assistant discovery.

The bridge listens to the core's bus (on camera threads, so it only queues), keeps the newest value
of every state topic, and publishes through its outbox thread. paho's own thread connects, and
reconnects with backoff when the broker is down at start or goes away; every (re)connect publishes
`online`, every remembered state and the discovery configs again. Commands arrive on paho's thread
and only change fields of the live config (nvrd.mqtt.features), so they never wait on the core.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt

from nvrd.bus import BestSnapshot, Bus, DetectorsChanged, EventChanged, MotionChanged, ObjectCounts
from nvrd.mqtt.connection import ONLINE, build_client, describe_broker
from nvrd.mqtt.counts import CountBook
from nvrd.mqtt.discovery import discovery_configs, node_id
from nvrd.mqtt.features import FEATURES, OFF, ON, CommandError, apply_feature, feature_states, parse_payload
from nvrd.mqtt.outbox import Outbox, Outgoing
from nvrd.mqtt.topics import Topics

log = logging.getLogger(__name__)

FIRST_STATS_AFTER_S = 10.0
STOP_FLUSH_S = 2.0


class MqttBridge:
    """One connection to the configured broker for the whole daemon; start() once, stop() once."""

    def __init__(
        self,
        config: Any,
        bus: Bus,
        *,
        cameras: Iterable[str],
        stats: Callable[[], dict[str, Any]],
        version: str,
        restart: Callable[[], None],
    ) -> None:
        """`config`: the whole NvrConfig (its `mqtt` section and the cameras' live configs);
        `cameras`: the names of the cameras that run; `stats`: the `/api/stats` payload;
        `restart`: asks the daemon for a clean restart (must return at once)."""
        self._config = config
        self._settings = config.mqtt
        self._bus = bus
        self._cameras = {name: config.cameras[name] for name in cameras}
        self._stats = stats
        self._version = version
        self._restart = restart
        self.topics = Topics(self._settings.topic_prefix, self._settings.discovery_prefix)
        self._node = node_id(self._settings.client_id)
        self._client = build_client(self._settings, self.topics.available)
        self._outbox = Outbox(self._send, self._client.is_connected)
        self._counts = CountBook(self._cameras)
        self._counts_lock = threading.Lock()
        self._discovery = (
            discovery_configs(config, self._cameras, self.topics, self._node, version)
            if self._settings.discovery
            else {}
        )
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = threading.Event()
        self._stats_thread: threading.Thread | None = None
        self._outage_logged = False
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting in the background; returns at once, whether or not the broker is up."""
        if self._started:
            return
        self._started = True
        self._remember_initial_state()
        self._unsubscribe = self._bus.subscribe(self._on_bus_message)
        client = self._client
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._outbox.start()
        client.connect_async(self._settings.host, self._settings.port, keepalive=60)
        client.loop_start()
        self._stats_thread = threading.Thread(target=self._stats_loop, name="mqtt-stats", daemon=True)
        self._stats_thread.start()
        log.info("mqtt: connecting to %s as %s", describe_broker(self._settings), self._settings.client_id)

    def stop(self) -> None:
        """Send what is queued, announce `offline` (retained), disconnect. Safe to call twice."""
        if not self._started or self._stopping.is_set():
            return
        self._stopping.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._stats_thread is not None:
            self._stats_thread.join(2)
        self._outbox.flush(STOP_FLUSH_S)
        self._outbox.stop()
        if self._client.is_connected():
            try:
                info = self._client.publish(self.topics.available, "offline", qos=1, retain=True)
                info.wait_for_publish(STOP_FLUSH_S)
            except (RuntimeError, ValueError) as exc:
                log.warning("mqtt: could not announce offline: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        log.info("mqtt: disconnected")

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._client.is_connected()

    # --- state out -------------------------------------------------------------------------------

    def _remember_initial_state(self) -> None:
        """What every connect announces before anything happens: features, motion OFF, zero counts."""
        for name, camera in self._cameras.items():
            for feature, state in feature_states(camera).items():
                self._outbox.keep(Outgoing(self.topics.feature_state(name, feature), state, retain=True))
            self._outbox.keep(Outgoing(self.topics.motion(name), OFF))
        for (name, label), count in self._counts.current().items():
            self._outbox.keep(Outgoing(self.topics.count(name, label), str(count)))
        for topic, payload in self._discovery.items():
            self._outbox.keep(Outgoing(topic, payload, retain=True))

    def _on_bus_message(self, message: object) -> None:
        # Camera threads: queue only.
        if isinstance(message, EventChanged):
            payload = {"type": message.type, "before": message.before, "after": message.after}
            self._outbox.put(Outgoing(self.topics.events, payload))
        elif isinstance(message, ObjectCounts):
            with self._counts_lock:
                for (name, label), count in self._counts.update(message).items():
                    self._outbox.put(Outgoing(self.topics.count(name, label), str(count)), remember=True)
        elif isinstance(message, MotionChanged):
            state = ON if message.active else OFF
            self._outbox.put(Outgoing(self.topics.motion(message.camera), state), remember=True)
        elif isinstance(message, BestSnapshot):
            topic = self.topics.snapshot(message.camera, message.label)
            self._outbox.put(Outgoing(topic, message.jpeg, retain=True), remember=True)
        elif isinstance(message, DetectorsChanged):
            # A Coral came or went (published by hot-plug, not a camera thread): send the stats at
            # once so Home Assistant's detector sensors follow without waiting for stats_interval.
            log.info("mqtt: detectors now %s (%s)", message.detectors, message.reason)
            if self._client.is_connected():
                try:
                    self._outbox.put(Outgoing(self.topics.stats, self._stats()))
                except Exception:
                    log.exception("mqtt: gathering stats failed")

    def _stats_loop(self) -> None:
        interval = float(self._settings.stats_interval)
        wait = min(FIRST_STATS_AFTER_S, interval)
        while not self._stopping.wait(wait):
            wait = interval
            if not self._client.is_connected():
                continue
            try:
                self._outbox.put(Outgoing(self.topics.stats, self._stats()))
            except Exception:
                log.exception("mqtt: gathering stats failed")

    def _send(self, message: Outgoing, payload: bytes | str | None) -> mqtt.MQTTMessageInfo:
        return self._client.publish(message.topic, payload, qos=message.qos, retain=message.retain)

    # --- paho's thread ---------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self._log_outage(f"the broker at {describe_broker(self._settings)} refused us: {reason_code}")
            return
        self._outage_logged = False
        log.info("mqtt: connected to %s", describe_broker(self._settings))
        client.publish(self.topics.available, ONLINE, qos=1, retain=True)
        # Commands left retained on the broker would be replayed at every start: clear them first.
        for name in self._cameras:
            for feature in FEATURES:
                client.publish(self.topics.feature_set(name, feature), None, qos=1, retain=True)
        client.publish(self.topics.restart, None, qos=1, retain=True)
        client.subscribe(
            [
                (self.topics.command_filter, 1),
                (self.topics.restart, 1),
                (self.topics.ha_status, 1),
                (self.topics.discovery_filter(self._node), 1),
            ]
        )
        self._outbox.replay()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata) -> None:
        self._log_outage(f"cannot reach the broker at {describe_broker(self._settings)}; retrying")

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if not self._stopping.is_set():
            broker = describe_broker(self._settings)
            self._log_outage(f"lost the broker at {broker} ({reason_code}); retrying")

    def _log_outage(self, text: str) -> None:
        # One warning per outage; the retries that follow are logged at debug level.
        if self._outage_logged:
            log.debug("mqtt: %s", text)
        else:
            log.warning("mqtt: %s", text)
            self._outage_logged = True

    def _on_message(self, _client: mqtt.Client, _userdata, message: mqtt.MQTTMessage) -> None:
        # An exception here would end paho's network thread: nothing may escape.
        try:
            self._handle_message(message.topic, bytes(message.payload), bool(message.retain))
        except Exception:
            log.exception("mqtt: handling a message on %s failed", message.topic)

    def _handle_message(self, topic: str, payload: bytes, retained: bool) -> None:
        topics = self.topics
        if topic == topics.ha_status:
            if payload.strip() == b"online":
                log.info("mqtt: Home Assistant is online; announcing entities and state again")
                self._outbox.replay()
            return
        if topic.startswith(f"{topics.discovery_prefix}/") and topic.endswith("/config"):
            self._remove_stale_entity(topic, payload)
            return
        if retained:
            # A command kept by the broker is from the past (we clear ours at connect); never replay it.
            log.info("mqtt: ignoring the retained command on %s", topic)
            return
        if topic == topics.restart:
            log.warning("mqtt: restart requested on %s", topic)
            self._restart()
            return
        command = topics.parse_command(topic)
        if command is not None:
            self._apply_command(command.camera, command.feature, payload)

    def _apply_command(self, camera_name: str, feature: str, payload: bytes) -> None:
        camera = self._cameras.get(camera_name)
        if camera is None:
            log.warning("mqtt: command for unknown or disabled camera %r ignored", camera_name)
            return
        if not payload:
            return  # our own clearing of retained commands, or an empty message: nothing to do
        try:
            echo = apply_feature(camera, feature, parse_payload(feature, payload))
        except CommandError as exc:
            log.warning("mqtt: %s: command ignored: %s", camera_name, exc)
            return
        for name, state in echo.items():
            log.info("mqtt: %s: %s set to %s", camera_name, name, state)
            self._outbox.put(
                Outgoing(self.topics.feature_state(camera_name, name), state, retain=True), remember=True
            )

    def _remove_stale_entity(self, topic: str, payload: bytes) -> None:
        """A discovery config of ours that is no longer wanted (its camera left the config): delete it."""
        if not payload or topic in self._discovery:
            return
        log.info("mqtt: removing the Home Assistant entity %s", topic)
        self._outbox.put(Outgoing(topic, None, retain=True))
