"""Home Assistant MQTT discovery: the entities a user gets without the Frigate integration.

One device for the NVR (restart button, detector sensors) and one per camera, linked to it:
switches and numbers for the features MQTT can set, a motion binary sensor, an occupancy binary
sensor and a count sensor per tracked label (and per zone label), fps sensors read from the stats
topic, and a camera entity per label on its snapshot topic. Every entity follows `<prefix>/available`.
The entities only point at nvrd's Frigate topics; nothing is published twice for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nvrd.mqtt.connection import OFFLINE, ONLINE
from nvrd.mqtt.counts import ALL
from nvrd.mqtt.features import OFF, ON
from nvrd.mqtt.topics import Topics, id_word

# Payloads carry plain dicts; Home Assistant reads the full key names.
Config = dict[str, Any]

MOTION_CONTOUR_AREA_MAX = 1000
_OCCUPIED = "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}"


def node_id(client_id: str) -> str:
    """The discovery node id (and unique-id stem) of this nvrd: stable as long as `client_id` is."""
    return f"nvrd_{id_word(client_id)}"


def discovery_configs(
    config: Any, cameras: Iterable[str], topics: Topics, node: str, version: str
) -> dict[str, Config]:
    """Every discovery config topic of this nvrd and its payload, for the active `cameras`."""
    builder = _Builder(topics, node, version)
    builder.nvr_entities(list(config.detectors))
    zones_done: set[str] = set()
    for name in cameras:
        camera = config.cameras[name]
        builder.camera_entities(name, camera)
        for zone_name, zone in camera.zones.items():
            # A zone name shared by several cameras is one set of topics (counts are summed), so
            # its entities belong to the first camera that has it.
            if zone_name in zones_done:
                continue
            zones_done.add(zone_name)
            builder.zone_entities(name, zone_name, list(zone.objects) or list(camera.objects.track))
    return builder.configs


def _title(word: str) -> str:
    text = word.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


class _Builder:
    """Collects discovery configs; one method per device or group of entities."""

    def __init__(self, topics: Topics, node: str, version: str) -> None:
        self.topics = topics
        self.node = node
        self.version = version
        self.configs: dict[str, Config] = {}

    def add(self, component: str, object_id: str, device: Config, entity: Config) -> None:
        object_id = id_word(object_id)
        self.configs[self.topics.discovery(component, self.node, object_id)] = {
            **entity,
            "unique_id": f"{self.node}_{component}_{object_id}",
            "availability_topic": self.topics.available,
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "device": device,
        }

    # --- the NVR itself --------------------------------------------------------------------------

    def nvr_device(self) -> Config:
        return {
            "identifiers": [self.node],
            "name": "NVR",
            "manufacturer": "nvrd",
            "model": "nvrd network video recorder",
            "sw_version": self.version,
        }

    def nvr_entities(self, detectors: list[str]) -> None:
        device = self.nvr_device()
        self.add("button", "restart", device, {
            "name": "Restart",
            "command_topic": self.topics.restart,
            "payload_press": "restart",
            "device_class": "restart",
            "entity_category": "config",
        })  # fmt: skip
        self.add("sensor", "detection_fps", device, {
            "name": "Detection fps",
            "state_topic": self.topics.stats,
            "value_template": "{{ value_json.detection_fps }}",
            "unit_of_measurement": "fps",
            "state_class": "measurement",
            "entity_category": "diagnostic",
        })  # fmt: skip
        for detector in detectors:
            self.add("sensor", f"{detector}_inference_speed", device, {
                "name": f"{_title(detector)} inference speed",
                "state_topic": self.topics.stats,
                "value_template": f"{{{{ value_json.detectors['{detector}'].inference_speed }}}}",
                "unit_of_measurement": "ms",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            })  # fmt: skip

    # --- cameras ---------------------------------------------------------------------------------

    def camera_device(self, camera: str) -> Config:
        return {
            "identifiers": [f"{self.node}_{id_word(camera)}"],
            "name": _title(camera),
            "manufacturer": "nvrd",
            "model": "Camera",
            "sw_version": self.version,
            "via_device": self.node,
        }

    def camera_entities(self, name: str, camera: Any) -> None:
        device = self.camera_device(name)
        topics = self.topics
        switches = [("detect", "Detect", None), ("snapshots", "Snapshots", None)]
        if camera.record.enabled_in_config:
            # Recording can only be switched on when the file enabled it; elsewhere it is no switch.
            switches.append(("recordings", "Recordings", None))
        switches += [
            ("motion", "Motion detection", "config"),
            ("improve_contrast", "Improve contrast", "config"),
        ]
        for feature, title, category in switches:
            entity: Config = {
                "name": title,
                "command_topic": topics.feature_set(name, feature),
                "state_topic": topics.feature_state(name, feature),
                "payload_on": ON,
                "payload_off": OFF,
                "state_on": ON,
                "state_off": OFF,
            }
            if category:
                entity["entity_category"] = category
            self.add("switch", f"{name}_{feature}", device, entity)
        numbers = [
            ("motion_threshold", "Motion threshold", 1, 255),
            ("motion_contour_area", "Motion contour area", 0,
             max(MOTION_CONTOUR_AREA_MAX, camera.motion.contour_area)),
        ]  # fmt: skip
        for feature, title, low, high in numbers:
            self.add("number", f"{name}_{feature}", device, {
                "name": title,
                "command_topic": topics.feature_set(name, feature),
                "command_template": "{{ value | int }}",
                "state_topic": topics.feature_state(name, feature),
                "min": low,
                "max": high,
                "step": 1,
                "mode": "box",
                "entity_category": "config",
            })  # fmt: skip
        self.add("binary_sensor", f"{name}_motion", device, {
            "name": "Motion",
            "state_topic": topics.motion(name),
            "payload_on": ON,
            "payload_off": OFF,
            "device_class": "motion",
        })  # fmt: skip
        labels = list(camera.objects.track)
        self.count_entities(device, name, name, labels)
        if camera.mqtt.enabled:
            for label in labels:
                self.add("camera", f"{name}_{label}_snapshot", device, {
                    "name": f"{_title(label)} snapshot",
                    "topic": topics.snapshot(name, label),
                })  # fmt: skip
        for key, title in (("camera_fps", "Camera fps"), ("process_fps", "Process fps"),
                           ("detection_fps", "Detection fps")):  # fmt: skip
            self.add("sensor", f"{name}_{key}", device, {
                "name": title,
                "state_topic": topics.stats,
                "value_template": f"{{{{ value_json.cameras['{name}'].{key} }}}}",
                "unit_of_measurement": "fps",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            })  # fmt: skip

    def zone_entities(self, camera: str, zone: str, labels: list[str]) -> None:
        self.count_entities(self.camera_device(camera), zone, f"zone_{zone}", labels, title=_title(zone))

    def count_entities(
        self, device: Config, topic_name: str, id_stem: str, labels: list[str], title: str = ""
    ) -> None:
        """Occupancy and count per label, and the `all` count, of a camera or zone."""
        prefix = f"{title} " if title else ""
        for label in labels:
            state_topic = self.topics.count(topic_name, label)
            self.add("binary_sensor", f"{id_stem}_{label}_occupancy", device, {
                "name": f"{prefix}{_title(label)} occupancy".strip().capitalize(),
                "state_topic": state_topic,
                "value_template": _OCCUPIED,
                "payload_on": ON,
                "payload_off": OFF,
                "device_class": "occupancy",
            })  # fmt: skip
            self.add("sensor", f"{id_stem}_{label}_count", device, _count_sensor(
                f"{prefix}{_title(label)} count", state_topic
            ))  # fmt: skip
        self.add("sensor", f"{id_stem}_all_count", device, _count_sensor(
            f"{prefix}all objects count", self.topics.count(topic_name, ALL)
        ))  # fmt: skip


def _count_sensor(name: str, state_topic: str) -> Config:
    return {
        "name": name.strip().capitalize(),
        "state_topic": state_topic,
        "unit_of_measurement": "objects",
        "state_class": "measurement",
    }
