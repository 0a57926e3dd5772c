"""The paho-mqtt client for the configured broker: identity, credentials, TLS, last will, backoff.

Credentials go to paho and nowhere else: nothing here logs or formats them.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

KEEPALIVE_S = 60
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 60
OFFLINE = "offline"
ONLINE = "online"


class MqttSetupError(Exception):
    """The MQTT settings cannot be used (a TLS file is missing or unreadable, ...)."""


def uses_tls(cfg: Any) -> bool:
    """TLS is on when a CA or a client certificate is configured."""
    return bool(cfg.tls_ca_certs or cfg.tls_client_cert)


def describe_broker(cfg: Any) -> str:
    """`host:port`, with `(TLS)` when encrypted: what logs may say about the broker."""
    return f"{cfg.host}:{cfg.port}" + (" (TLS)" if uses_tls(cfg) else "")


def build_client(cfg: Any, will_topic: str) -> mqtt.Client:
    """A paho client for `cfg` (the `mqtt` config section), not yet connected.

    The last will marks nvrd `offline` (QoS 1, retained) if the connection drops without a clean
    stop; paho reconnects by itself with a delay that doubles from 1 s up to 60 s.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=cfg.client_id,
        protocol=mqtt.MQTTv311,
        clean_session=True,
    )
    if cfg.user is not None:
        client.username_pw_set(cfg.user, cfg.password)
    if uses_tls(cfg):
        _set_tls(client, cfg)
    client.will_set(will_topic, OFFLINE, qos=1, retain=True)
    client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
    return client


def _set_tls(client: mqtt.Client, cfg: Any) -> None:
    if cfg.tls_client_key and not cfg.tls_client_cert:
        raise MqttSetupError("mqtt.tls_client_key is set without mqtt.tls_client_cert")
    for key in ("tls_ca_certs", "tls_client_cert", "tls_client_key"):
        path = getattr(cfg, key)
        if path and not Path(path).is_file():
            raise MqttSetupError(f"mqtt.{key}: no such file {path}")
    try:
        client.tls_set(
            ca_certs=cfg.tls_ca_certs or None,  # None: the system's trusted CAs
            certfile=cfg.tls_client_cert or None,
            keyfile=cfg.tls_client_key or None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    except (OSError, ssl.SSLError, ValueError) as exc:
        files = ", ".join(f for f in (cfg.tls_ca_certs, cfg.tls_client_cert, cfg.tls_client_key) if f)
        raise MqttSetupError(f"TLS files ({files}) cannot be used: {exc}") from None
    if cfg.tls_insecure:
        # The broker's certificate is still checked against the CA; only its host name is not.
        client.tls_insecure_set(True)
