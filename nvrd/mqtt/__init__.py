"""MQTT to the home hub: Frigate's topics through paho-mqtt, and Home Assistant discovery.

The daemon calls start_mqtt() once its cameras exist and stops the bridge when it stops.
"""

from __future__ import annotations

import logging
from typing import Any

from nvrd.mqtt.bridge import MqttBridge
from nvrd.mqtt.connection import MqttSetupError

__all__ = ["MqttBridge", "MqttSetupError", "start_mqtt"]

log = logging.getLogger(__name__)


def start_mqtt(daemon: Any) -> MqttBridge | None:
    """Start the daemon's MQTT bridge, or return None when MQTT is off or its settings are unusable.

    `daemon` is nvrd.app.Daemon: its config, bus, cameras, stats() and request_restart() are used.
    A broken MQTT setup (say, a missing TLS file) is logged and leaves the rest of nvrd running.
    """
    settings = daemon.config.mqtt
    if not settings.enabled:
        log.info("mqtt: disabled in the config")
        return None
    if not settings.host:
        log.info("mqtt: no broker configured (mqtt.host); MQTT is off")
        return None
    try:
        bridge = MqttBridge(
            daemon.config,
            daemon.bus,
            cameras=list(daemon.cameras),
            stats=daemon.stats,
            version=daemon.version,
            restart=daemon.request_restart,
        )
    except MqttSetupError as exc:
        log.error("mqtt: cannot use the MQTT settings, MQTT is off: %s", exc)
        return None
    bridge.start()
    return bridge
