"""Every MQTT topic nvrd uses, built from the configured prefix (Frigate's names, §11 of the spec)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters Home Assistant accepts in discovery node and object ids.
_NOT_AN_ID_CHARACTER = re.compile(r"[^a-zA-Z0-9_-]")


def id_word(text: str) -> str:
    """`text` as a discovery id or unique-id part: anything but letters, digits, `_` and `-` becomes `_`."""
    return _NOT_AN_ID_CHARACTER.sub("_", text)


@dataclass(frozen=True)
class CameraCommand:
    """A `<prefix>/<camera>/<feature>/set` topic, split."""

    camera: str
    feature: str


@dataclass(frozen=True)
class Topics:
    """Topic names under `prefix` (Frigate's `mqtt.topic_prefix`) and Home Assistant's `discovery_prefix`."""

    prefix: str
    discovery_prefix: str = "homeassistant"

    @property
    def available(self) -> str:
        return f"{self.prefix}/available"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    @property
    def stats(self) -> str:
        return f"{self.prefix}/stats"

    @property
    def restart(self) -> str:
        return f"{self.prefix}/restart"

    @property
    def command_filter(self) -> str:
        """The subscription that catches every camera command."""
        return f"{self.prefix}/+/+/set"

    def count(self, camera_or_zone: str, label: str) -> str:
        """Object count of a label (or `all`) on a camera or in a zone."""
        return f"{self.prefix}/{camera_or_zone}/{label}"

    def motion(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/motion"

    def snapshot(self, camera: str, label: str) -> str:
        return f"{self.prefix}/{camera}/{label}/snapshot"

    def feature_set(self, camera: str, feature: str) -> str:
        return f"{self.prefix}/{camera}/{feature}/set"

    def feature_state(self, camera: str, feature: str) -> str:
        return f"{self.prefix}/{camera}/{feature}/state"

    def parse_command(self, topic: str) -> CameraCommand | None:
        """The camera and feature of a `<prefix>/<camera>/<feature>/set` topic, else None."""
        head = f"{self.prefix}/"
        if not topic.startswith(head) or not topic.endswith("/set"):
            return None
        parts = topic[len(head) : -len("/set")].split("/")
        if len(parts) != 2 or not all(parts):
            return None
        return CameraCommand(camera=parts[0], feature=parts[1])

    # --- Home Assistant --------------------------------------------------------------------------

    @property
    def ha_status(self) -> str:
        """Where Home Assistant announces `online` after it (re)starts."""
        return f"{self.discovery_prefix}/status"

    def discovery(self, component: str, node_id: str, object_id: str) -> str:
        """A discovery config topic: `<discovery_prefix>/<component>/<node_id>/<object_id>/config`."""
        return f"{self.discovery_prefix}/{component}/{node_id}/{object_id}/config"

    def discovery_filter(self, node_id: str) -> str:
        """The subscription that catches every discovery config this node has left on the broker."""
        return f"{self.discovery_prefix}/+/{node_id}/+/config"
