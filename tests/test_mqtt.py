"""MQTT to the home hub, against a real mosquitto broker and a real MQTT client.

The first part drives nvrd's MQTT bridge in-process with real config objects and a real bus (the
messages the core would publish); the last part runs nvrd itself on a real RTSP camera stream.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from nvrd.bus import BestSnapshot, Bus, DetectorsChanged, EventChanged, MotionChanged, ObjectCounts
from nvrd.config.loader import config_from_text
from nvrd.mqtt import MqttBridge, MqttSetupError
from nvrd.mqtt.counts import CountBook
from nvrd.mqtt.features import CommandError, apply_feature, feature_states, parse_payload
from nvrd.mqtt.topics import CameraCommand, Topics
from tests.support.configs import daemon_sections
from tests.support.mosquitto import Mosquitto, Recorder, TlsFiles, make_certificates
from tests.support.nvrd_process import NvrdProcess
from tests.support.rtsp_server import RtspServer

VERSION = "0.13.2-nvrd0.1.0"
FEATURE_STATES = {
    "detect": "ON",
    "recordings": "OFF",
    "snapshots": "OFF",
    "motion": "ON",
    "improve_contrast": "ON",
    "motion_threshold": "30",
    "motion_contour_area": "10",
}
# A JPEG's first and last bytes are enough for the broker; the bridge never decodes it.
FAKE_JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"


def config_text(port: int, *, mqtt_extra: str = "", hall: bool = False) -> str:
    """A config with camera `door` (zone `table`), optionally camera `hall` (also a zone `table`)."""
    hall_camera = """
  hall:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:9/hall
          roles: [detect]
    detect: {width: 640, height: 360}
    objects: {track: [person, dog]}
    zones:
      table: {coordinates: "0,0,320,0,320,360,0,360"}
"""
    return f"""
mqtt:
  host: 127.0.0.1
  port: {port}
  client_id: nvrd-test
  discovery: true
{mqtt_extra}
cameras:
  door:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:9/door
          roles: [detect]
    detect: {{width: 640, height: 360}}
    zones:
      table: {{coordinates: "0,0,320,0,320,360,0,360"}}
{hall_camera if hall else ""}"""


class Harness:
    """Bridges built on real config objects and a real bus; stopped at the end of the test."""

    def __init__(self) -> None:
        self.bridges: list[MqttBridge] = []
        self.restarts = threading.Event()

    def bridge(self, text: str, *, stats: Callable[[], dict] | None = None, start: bool = True):
        config = config_from_text(text)
        bus = Bus()
        bridge = MqttBridge(
            config,
            bus,
            cameras=list(config.cameras),
            stats=stats or (lambda: {"detection_fps": 0.0, "cameras": {}}),
            version=VERSION,
            restart=self.restarts.set,
        )
        self.bridges.append(bridge)
        if start:
            bridge.start()
        return config, bus, bridge

    def stop(self) -> None:
        for bridge in self.bridges:
            bridge.stop()


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path_factory.mktemp("broker")) as b:
        yield b


@pytest.fixture
def recorder(broker: Mosquitto) -> Iterator[Recorder]:
    with Recorder(broker, ["frigate/#", "homeassistant/#"]) as r:
        yield r


def retained_now(broker: Mosquitto, topics: list[str], settle: float = 0.5, **login) -> dict[str, bytes]:
    """What a client subscribing now gets as retained messages on `topics`."""
    with Recorder(broker, topics, **login) as late:
        time.sleep(settle)
        return {m.topic: m.payload for m in late.messages if m.retain}


def settled(recorder: Recorder, quiet: float = 0.4, timeout: float = 10.0) -> int:
    """Wait until nothing has arrived for `quiet` seconds (the connect-time burst is over); a mark."""
    deadline = time.monotonic() + timeout
    count = recorder.mark()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = recorder.mark()
        if now == count:
            return now
        count = now
    raise TimeoutError("messages kept coming")


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


# --- pure parts ------------------------------------------------------------------------------------


def test_topics_follow_the_prefix() -> None:
    topics = Topics("nvr", "ha")
    assert topics.available == "nvr/available"
    assert topics.count("table", "all") == "nvr/table/all"
    assert topics.snapshot("door", "person") == "nvr/door/person/snapshot"
    assert topics.feature_state("door", "detect") == "nvr/door/detect/state"
    assert topics.parse_command("nvr/door/motion_threshold/set") == CameraCommand("door", "motion_threshold")
    assert topics.parse_command("nvr/door/detect/state") is None
    assert topics.parse_command("other/door/detect/set") is None
    assert topics.parse_command("nvr/a/b/c/set") is None
    assert topics.discovery("switch", "nvrd_x", "door_detect") == "ha/switch/nvrd_x/door_detect/config"


def test_command_payloads_are_strict() -> None:
    assert parse_payload("detect", b"ON") is True
    assert parse_payload("detect", b"OFF") is False
    assert parse_payload("motion_threshold", b"45") == 45
    assert parse_payload("motion_threshold", b"45.0") == 45  # Home Assistant number entities
    for feature, payload in [
        ("detect", b"on"),
        ("detect", b"1"),
        ("snapshots", b""),
        ("motion_threshold", b"abc"),
        ("motion_threshold", b"4.5"),
        ("motion_threshold", b"\xff\xfe"),
        ("nonsense", b"ON"),
    ]:
        with pytest.raises(CommandError):
            parse_payload(feature, payload)


def test_feature_rules_follow_frigate() -> None:
    camera = config_from_text(config_text(1883)).cameras["door"]
    assert feature_states(camera) == FEATURE_STATES
    with pytest.raises(CommandError, match="while object detection is on"):
        apply_feature(camera, "motion", False)
    with pytest.raises(CommandError, match="not enabled in the config file"):
        apply_feature(camera, "recordings", True)
    with pytest.raises(CommandError, match="less than or equal to 255"):
        apply_feature(camera, "motion_threshold", 256)
    assert camera.motion.threshold == 30
    assert apply_feature(camera, "detect", False) == {"detect": "OFF"}
    assert apply_feature(camera, "motion", False) == {"motion": "OFF"}
    assert camera.motion.enabled is False
    # Detection needs motion: switching it on brings motion back and says so.
    assert apply_feature(camera, "detect", True) == {"detect": "ON", "motion": "ON"}
    assert camera.detect.enabled is True and camera.motion.enabled is True


def test_zone_counts_are_summed_over_cameras() -> None:
    config = config_from_text(config_text(1883, hall=True))
    book = CountBook(config.cameras)
    start = book.current()
    assert start[("door", "person")] == 0 and start[("door", "all")] == 0
    assert start[("table", "person")] == 0 and start[("table", "dog")] == 0
    changed = book.update(ObjectCounts("door", {"person": 1}, {"table": {"person": 1}}))
    assert changed == {
        ("door", "person"): 1,
        ("door", "all"): 1,
        ("table", "person"): 1,
        ("table", "all"): 1,
    }
    changed = book.update(ObjectCounts("hall", {"person": 1, "dog": 1}, {"table": {"person": 1, "dog": 1}}))
    assert changed[("table", "person")] == 2 and changed[("table", "all")] == 3
    assert changed[("hall", "all")] == 2
    assert ("door", "person") not in changed
    changed = book.update(ObjectCounts("door", {"person": 0}, {}))
    assert changed == {("door", "person"): 0, ("door", "all"): 0, ("table", "person"): 1, ("table", "all"): 2}


# --- the bridge against a real broker ----------------------------------------------------------------


def test_connect_announces_availability_and_state(
    broker: Mosquitto, recorder: Recorder, harness: Harness
) -> None:
    _config, _bus, bridge = harness.bridge(config_text(broker.port))
    assert recorder.wait_for("frigate/available", timeout=10).text == "online"
    for feature, state in FEATURE_STATES.items():
        assert recorder.wait_for(f"frigate/door/{feature}/state").text == state
    assert recorder.wait_for("frigate/door/motion").text == "OFF"
    for topic in ("frigate/door/person", "frigate/door/all", "frigate/table/person", "frigate/table/all"):
        assert recorder.wait_for(topic).text == "0"
    assert bridge.connected

    # Retained as Frigate retains them: availability and feature states yes; motion and counts no.
    retained = retained_now(broker, ["frigate/#"])
    assert retained["frigate/available"] == b"online"
    assert retained["frigate/door/detect/state"] == b"ON"
    assert retained["frigate/door/motion_threshold/state"] == b"30"
    assert "frigate/door/motion" not in retained
    assert "frigate/door/person" not in retained

    bridge.stop()
    assert recorder.wait_for("frigate/available", lambda m: m.text == "offline").text == "offline"
    assert retained_now(broker, ["frigate/available"])["frigate/available"] == b"offline"


def test_core_notices_are_published(broker: Mosquitto, recorder: Recorder, harness: Harness) -> None:
    _config, bus, _bridge = harness.bridge(config_text(broker.port, hall=True))
    recorder.wait_for("frigate/available", timeout=10)
    mark = settled(recorder)

    before = {"id": "1700000000.1-abc123", "camera": "door", "label": "person", "end_time": None}
    after = {**before, "score": 0.91, "box": [10, 20, 110, 220]}
    bus.publish(EventChanged("new", before, after))
    bus.publish(MotionChanged("door", True))
    bus.publish(ObjectCounts("door", {"person": 1}, {"table": {"person": 1}}))
    bus.publish(ObjectCounts("hall", {"person": 1, "dog": 0}, {"table": {"person": 1}}))
    bus.publish(BestSnapshot("door", "person", FAKE_JPEG))

    event = json.loads(recorder.wait_for("frigate/events", after=mark).payload)
    assert event == {"type": "new", "before": before, "after": after}
    assert recorder.wait_for("frigate/door/motion", after=mark).text == "ON"
    assert recorder.wait_for("frigate/door/person", after=mark).text == "1"
    assert recorder.wait_for("frigate/door/all", after=mark).text == "1"
    assert recorder.wait_for("frigate/table/person", lambda m: m.text == "2", after=mark)
    snapshot = recorder.wait_for("frigate/door/person/snapshot", after=mark)
    assert snapshot.payload == FAKE_JPEG

    # Only changes go out: the same counts again publish nothing.
    mark = recorder.mark()
    bus.publish(ObjectCounts("door", {"person": 1}, {"table": {"person": 1}}))
    bus.publish(ObjectCounts("door", {"person": 0}, {"table": {"person": 0}}))
    assert recorder.wait_for("frigate/door/person", after=mark).text == "0"
    assert recorder.wait_for("frigate/table/person", after=mark).text == "1"
    assert [m.text for m in recorder.on("frigate/door/person")[-2:]] == ["1", "0"]

    retained = retained_now(broker, ["frigate/+/+/snapshot", "frigate/events"])
    assert retained == {"frigate/door/person/snapshot": FAKE_JPEG}


def test_commands_take_effect_and_are_echoed(broker: Mosquitto, recorder: Recorder, harness: Harness) -> None:
    config, _bus, _bridge = harness.bridge(config_text(broker.port))
    door = config.cameras["door"]
    recorder.wait_for("frigate/door/detect/state", timeout=10)
    settled(recorder)

    def command(feature: str, payload: str) -> int:
        mark = recorder.mark()
        recorder.publish(f"frigate/door/{feature}/set", payload)
        return mark

    mark = command("detect", "OFF")
    assert recorder.wait_for("frigate/door/detect/state", after=mark).text == "OFF"
    assert door.detect.enabled is False

    mark = command("motion_threshold", "55")
    assert recorder.wait_for("frigate/door/motion_threshold/state", after=mark).text == "55"
    assert door.motion.threshold == 55

    mark = command("motion_contour_area", "25.0")
    assert recorder.wait_for("frigate/door/motion_contour_area/state", after=mark).text == "25"
    assert door.motion.contour_area == 25

    mark = command("improve_contrast", "OFF")
    assert recorder.wait_for("frigate/door/improve_contrast/state", after=mark).text == "OFF"
    assert door.motion.improve_contrast is False

    mark = command("snapshots", "ON")
    assert recorder.wait_for("frigate/door/snapshots/state", after=mark).text == "ON"
    assert door.snapshots.enabled is True

    # Bad payloads and refused commands change nothing and echo nothing.
    bad = recorder.mark()
    for feature, payload in [
        ("motion_threshold", "lots"),
        ("motion_threshold", "999"),
        ("improve_contrast", "on"),
        ("recordings", "ON"),  # recording is not enabled in the file
        ("nonsense", "ON"),
    ]:
        command(feature, payload)
    recorder.publish("frigate/attic/detect/set", "OFF")  # no such camera
    mark = command("motion", "OFF")  # allowed now: detection is off
    assert recorder.wait_for("frigate/door/motion/state", after=mark).text == "OFF"
    echoed = {m.topic for m in recorder.messages[bad:] if m.topic.endswith("/state")}
    assert echoed == {"frigate/door/motion/state"}
    assert (
        door.motion.threshold == 55 and door.record.enabled is False and door.motion.improve_contrast is False
    )

    mark = command("detect", "ON")
    assert recorder.wait_for("frigate/door/detect/state", after=mark).text == "ON"
    assert recorder.wait_for("frigate/door/motion/state", after=mark).text == "ON"
    assert door.motion.enabled is True

    retained = retained_now(broker, ["frigate/door/+/state"])
    assert retained["frigate/door/motion_threshold/state"] == b"55"
    assert retained["frigate/door/improve_contrast/state"] == b"OFF"


def test_retained_commands_are_cleared_not_replayed(broker: Mosquitto, harness: Harness) -> None:
    with Recorder(broker, ["frigate/#"]) as client:
        client.publish("frigate/door/snapshots/set", "ON", retain=True)
        client.publish("frigate/restart", "now", retain=True)
        config, _bus, _bridge = harness.bridge(config_text(broker.port))
        client.wait_for("frigate/door/snapshots/state", timeout=10)
        time.sleep(0.5)
    assert config.cameras["door"].snapshots.enabled is False
    assert not harness.restarts.is_set()
    retained = retained_now(broker, ["frigate/door/snapshots/set", "frigate/restart"])
    assert retained == {}


def test_restart_command_asks_the_daemon(broker: Mosquitto, recorder: Recorder, harness: Harness) -> None:
    harness.bridge(config_text(broker.port))
    recorder.wait_for("frigate/available", timeout=10)
    recorder.publish("frigate/restart", "")
    assert harness.restarts.wait(5)


def test_stats_every_interval(broker: Mosquitto, recorder: Recorder, harness: Harness) -> None:
    calls = []

    def stats() -> dict:
        calls.append(time.monotonic())
        return {"detection_fps": 1.5, "cameras": {"door": {"camera_fps": 5.0}}, "call": len(calls)}

    harness.bridge(config_text(broker.port, mqtt_extra="  stats_interval: 1"), stats=stats)
    first = recorder.wait_for("frigate/stats", timeout=5)
    second = recorder.wait_for("frigate/stats", lambda m: m.payload != first.payload, timeout=5)
    payload = json.loads(second.payload)
    assert payload["cameras"]["door"]["camera_fps"] == 5.0
    assert 0.5 < second.at - first.at < 2.0
    assert not second.retain


def test_detector_change_publishes_stats_at_once(
    broker: Mosquitto, recorder: Recorder, harness: Harness
) -> None:
    detectors = {"cpu": {"inference_speed": 20.0, "detection_start": 0.0, "pid": 1}}
    _config, bus, bridge = harness.bridge(
        config_text(broker.port, mqtt_extra="  stats_interval: 3600"),
        stats=lambda: {"detection_fps": 0.0, "cameras": {}, "detectors": dict(detectors)},
    )
    wait_until(lambda: bridge.connected, 10, "the bridge to connect")
    first = recorder.wait_for("frigate/stats", timeout=15)  # the first one, soon after connecting
    detectors["coral_usb0"] = {"inference_speed": 9.0, "detection_start": 0.0, "pid": 2}
    bus.publish(DetectorsChanged({"cpu": "cpu", "coral_usb0": "edgetpu"}, "a Coral was plugged in"))
    second = recorder.wait_for("frigate/stats", lambda m: m.at > first.at, timeout=5)
    assert "coral_usb0" in json.loads(second.payload)["detectors"]


def test_home_assistant_discovery(broker: Mosquitto, recorder: Recorder, harness: Harness) -> None:
    _config, _bus, bridge = harness.bridge(config_text(broker.port, hall=True))
    recorder.wait_for("frigate/available", timeout=10)
    # NVR: restart, detection fps, cpu inference speed (3). door: 4 switches, 2 numbers, motion,
    # person occupancy + count, all count, person snapshot, 3 fps sensors (14). hall: the same with
    # two labels (17). Zone table, on door with door's labels: occupancy, count, all (3).
    expected = 3 + 14 + 17 + 3
    configs = wait_until(
        lambda: len(found := retained_now(broker, ["homeassistant/#"], settle=0.3)) == expected and found,
        10,
        "discovery configs",
    )
    entities = {topic: json.loads(payload) for topic, payload in configs.items()}
    node = "nvrd_nvrd-test"

    def entity(component: str, object_id: str) -> dict:
        return entities[f"homeassistant/{component}/{node}/{object_id}/config"]

    detect = entity("switch", "door_detect")
    assert detect["command_topic"] == "frigate/door/detect/set"
    assert detect["state_topic"] == "frigate/door/detect/state"
    assert detect["availability_topic"] == "frigate/available"
    assert detect["device"]["identifiers"] == [f"{node}_door"]
    assert detect["device"]["via_device"] == node
    assert f"homeassistant/switch/{node}/door_recordings/config" not in entities  # not enabled in the file
    assert entity("number", "door_motion_threshold")["max"] == 255
    assert entity("binary_sensor", "door_motion")["state_topic"] == "frigate/door/motion"
    assert entity("binary_sensor", "hall_dog_occupancy")["state_topic"] == "frigate/hall/dog"
    assert entity("sensor", "door_person_count")["state_topic"] == "frigate/door/person"
    assert entity("sensor", "door_all_count")["state_topic"] == "frigate/door/all"
    assert entity("sensor", "zone_table_person_count")["state_topic"] == "frigate/table/person"
    assert "cameras['door'].camera_fps" in entity("sensor", "door_camera_fps")["value_template"]
    assert entity("camera", "door_person_snapshot")["topic"] == "frigate/door/person/snapshot"
    assert entity("button", "restart")["command_topic"] == "frigate/restart"
    unique_ids = [e["unique_id"] for e in entities.values()]
    assert len(unique_ids) == len(set(unique_ids))

    # Home Assistant restarted: everything is announced again.
    mark = settled(recorder)
    recorder.publish("homeassistant/status", "online")
    recorder.wait_for(f"homeassistant/switch/{node}/door_detect/config", after=mark)
    recorder.wait_for("frigate/door/motion", after=mark)

    # nvrd restarts without the hall camera: its entities go, the door's stay.
    bridge.stop()
    harness.bridge(config_text(broker.port, hall=False))
    wait_until(
        lambda: not any("hall" in t for t in retained_now(broker, ["homeassistant/#"], settle=0.3)),
        10,
        "the hall camera's entities to be removed",
    )
    left = retained_now(broker, ["homeassistant/#"])
    assert f"homeassistant/switch/{node}/door_detect/config" in left
    assert f"homeassistant/sensor/{node}/zone_table_person_count/config" in left


def test_broker_down_at_start_then_restarted(tmp_path: Path, harness: Harness) -> None:
    broker = Mosquitto(tmp_path)  # not started yet: nvrd starts first
    config, bus, bridge = harness.bridge(config_text(broker.port))
    bus.publish(MotionChanged("door", True))
    bus.publish(BestSnapshot("door", "person", FAKE_JPEG))
    time.sleep(1.5)
    assert not bridge.connected
    broker.start()
    try:
        with Recorder(broker, ["frigate/#"]) as recorder:
            # The newest state is there once it connects, whatever happened while the broker was away.
            assert recorder.wait_for("frigate/available", lambda m: m.text == "online", timeout=15)
            assert recorder.wait_for("frigate/door/motion", timeout=5).text == "ON"
            assert recorder.wait_for("frigate/door/person/snapshot", timeout=5).payload == FAKE_JPEG
            assert recorder.wait_for("frigate/door/detect/state", timeout=5).text == "ON"

            config.cameras["door"].motion.threshold = 30
            mark = recorder.mark()
            broker.restart(down_for=1.0)  # no persistence: the broker forgets every retained message
            assert recorder.wait_for(
                "frigate/available", lambda m: m.text == "online", after=mark, timeout=20
            )
            retained = wait_until(
                lambda: (found := retained_now(broker, ["frigate/#"]))
                and "frigate/door/person/snapshot" in found
                and found,
                10,
                "retained state published again",
            )
            assert retained["frigate/available"] == b"online"
            assert retained["frigate/door/detect/state"] == b"ON"
            assert retained["frigate/door/person/snapshot"] == FAKE_JPEG
            # Commands work on the new connection.
            mark = recorder.mark()
            recorder.publish("frigate/door/detect/set", "OFF")
            assert recorder.wait_for("frigate/door/detect/state", after=mark, timeout=5).text == "OFF"
    finally:
        broker.stop()


def test_publishing_never_blocks_the_caller(broker: Mosquitto, harness: Harness, caplog) -> None:
    _config, bus, bridge = harness.bridge(config_text(broker.port))
    wait_until(lambda: bridge.connected, 10, "a connection")
    with Recorder(broker, ["frigate/door/#"]) as recorder:
        settled(recorder)
        big = FAKE_JPEG * 8  # ~80 kB, a large snapshot
        last = big + b"last"
        broker.pause()  # the broker stops reading: TCP buffers fill up
        try:
            slowest = 0.0
            for index in range(300):
                started = time.perf_counter()
                bus.publish(BestSnapshot("door", "person", last if index == 299 else big))
                bus.publish(MotionChanged("door", index % 2 == 0))
                slowest = max(slowest, time.perf_counter() - started)
            # A blocked call would hang until the broker reads again; a generous bound absorbs a busy CI.
            assert slowest < 0.25
            # 24 MB offered to a broker that reads nothing: the bounded queue dropped some of it.
            assert "outgoing queue full" in caplog.text
        finally:
            broker.resume()
        # Once the broker reads again, the newest state arrives, though older messages were dropped.
        recorder.wait_for("frigate/door/person/snapshot", lambda m: m.payload == last, timeout=20)
        wait_until(lambda: recorder.last("frigate/door/motion").text == "OFF", 10, "the newest motion state")


def test_username_password_and_tls(tmp_path: Path, harness: Harness, caplog, monkeypatch) -> None:
    certs = make_certificates(tmp_path / "pki")
    password = "s3cret-Pa55"
    monkeypatch.setenv("NVR_MQTT_USER", "nvr")
    monkeypatch.setenv("NVR_MQTT_PASSWORD", password)
    caplog.set_level(logging.DEBUG)
    with Mosquitto(
        tmp_path, users={"nvr": password, "hub": "hubpw"}, tls=certs, require_certificate=True
    ) as broker:
        login = {"user": "hub", "password": "hubpw", "tls": certs}
        with Recorder(broker, ["frigate/#"], **login) as hub:
            tls = tls_settings(certs)
            _config, _bus, bridge = harness.bridge(config_text(broker.port, mqtt_extra=tls))
            assert hub.wait_for("frigate/available", timeout=10).text == "online"
            assert bridge.connected

            # A wrong password: refused, retried, logged once, and nvrd goes on.
            monkeypatch.setenv("NVR_MQTT_PASSWORD", "wrong-Pa55word")
            _c, bus, refused = harness.bridge(
                config_text(broker.port, mqtt_extra=tls).replace("nvrd-test", "nvrd-other")
            )
            time.sleep(2.5)
            assert not refused.connected
            bus.publish(MotionChanged("door", True))
            assert "refused" in caplog.text

            # Without a client certificate the broker will not talk to us.
            _c, _b, no_cert = harness.bridge(
                config_text(broker.port, mqtt_extra=f"  tls_ca_certs: {certs.ca_cert}").replace(
                    "nvrd-test", "nvrd-nocert"
                )
            )
            time.sleep(1.5)
            assert not no_cert.connected
            assert bridge.connected
        assert password not in caplog.text
        assert "wrong-Pa55word" not in caplog.text


def tls_settings(certs: TlsFiles) -> str:
    return (
        f"  tls_ca_certs: {certs.ca_cert}\n"
        f"  tls_client_cert: {certs.client_cert}\n"
        f"  tls_client_key: {certs.client_key}\n"
    )


def test_unusable_tls_files_are_a_clear_error(tmp_path: Path, harness: Harness) -> None:
    text = config_text(1883, mqtt_extra=f"  tls_ca_certs: {tmp_path}/missing-ca.crt")
    with pytest.raises(MqttSetupError, match=r"mqtt.tls_ca_certs: no such file .*missing-ca.crt"):
        harness.bridge(text)
    (tmp_path / "junk.crt").write_text("not a certificate\n")
    text = config_text(1883, mqtt_extra=f"  tls_ca_certs: {tmp_path}/junk.crt")
    with pytest.raises(MqttSetupError, match="cannot be used"):
        harness.bridge(text)


# --- nvrd itself, on a real camera stream -----------------------------------------------------------

CLIP = "one-by-one-person-detection.mp4"
NVR_PASSWORD = "e2e-Pa55-word"


class Live:
    """One nvrd on a real RTSP stream, a TLS broker with users, and a hub subscribed to everything."""

    def __init__(self, tmp: Path, shared: Path) -> None:
        self.tmp = tmp
        self.certs = make_certificates(tmp / "pki")
        self.broker = Mosquitto(tmp, users={"nvr": NVR_PASSWORD, "hub": "hubpw"}, tls=self.certs,
                                require_certificate=True)  # fmt: skip
        self.rtsp = RtspServer(shared / "media" / CLIP, start_s=70, duration_s=20, loop=True)
        self.config = self._write_config(shared)
        # The credentials come from the environment, as on the appliance.
        env = {"NVR_MQTT_USER": "nvr", "NVR_MQTT_PASSWORD": NVR_PASSWORD}
        self.nvrd = NvrdProcess(self.config, env=env)
        self.hub = Recorder(self.broker, ["frigate/#", "homeassistant/#"], **self.hub_login)

    @property
    def hub_login(self) -> dict:
        return {"user": "hub", "password": "hubpw", "tls": self.certs}

    def _write_config(self, shared: Path) -> Path:
        config = self.tmp / "config.yml"
        config.write_text(f"""\
mqtt:
  host: 127.0.0.1
  port: {self.broker.port}
  stats_interval: 3
  discovery: true
{tls_settings(self.certs)}
logger:
  default: debug
{daemon_sections(self.tmp, shared)}snapshots:
  enabled: true
motion:
  mqtt_off_delay: 5
cameras:
  door:
    ffmpeg:
      inputs:
        - path: RTSP_URL
          roles: [detect]
    detect:
      width: 768
      height: 432
      fps: 5
    zones:
      room:
        coordinates: 0,0,768,0,768,432,0,432
""")
        return config

    def start(self) -> Live:
        self.broker.start()
        self.hub.start()
        self.rtsp.start()
        self.config.write_text(self.config.read_text().replace("RTSP_URL", self.rtsp.url))
        self.nvrd.start()
        return self

    def stop(self) -> None:
        try:
            self.nvrd.stop()
        finally:
            self.hub.stop()
            self.rtsp.stop()
            self.broker.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[Live]:
    setup = Live(tmp_path_factory.mktemp("live"), shared_dir)
    try:
        yield setup.start()
    finally:
        setup.stop()


def person_events(hub: Recorder) -> dict[str, list[dict]]:
    """The `<prefix>/events` messages so far, grouped by object id."""
    by_id: dict[str, list[dict]] = {}
    for message in hub.on("frigate/events"):
        event = json.loads(message.payload)
        if event["after"]["label"] == "person":
            by_id.setdefault(event["after"]["id"], []).append(event)
    return by_id


@pytest.mark.slow
def test_live_person_walks_in_and_out(live: Live) -> None:
    hub = live.hub

    def a_person_seen_moving_and_gone() -> list[dict] | None:
        # A person tracked across frames: new, at least one update, end (a fleeting one may skip updates).
        finished = [e for e in person_events(hub).values() if e[-1]["type"] == "end"]
        return next((e for e in finished if any(x["type"] == "update" for x in e)), None)

    events = live.nvrd.wait_for(a_person_seen_moving_and_gone, timeout=90, what="a person's events to end")
    for sequence in person_events(hub).values():
        kinds = [e["type"] for e in sequence]
        assert kinds[0] == "new" and set(kinds[1:-1]) <= {"update"}, kinds
    new, end = events[0], events[-1]
    assert new["after"]["camera"] == "door"
    assert new["after"]["end_time"] is None
    assert end["after"]["end_time"] >= end["after"]["start_time"]
    assert end["before"] == events[-2]["after"]
    x1, y1, x2, y2 = end["after"]["box"]
    assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 432  # absolute pixels
    assert "room" in end["after"]["entered_zones"]

    # Counts go up and back to 0: on the camera, for all labels, and in the zone.
    for topic in ("frigate/door/person", "frigate/door/all", "frigate/room/person"):
        values = [int(m.text) for m in hub.on(topic)]
        assert values[0] == 0, topic  # announced at start
        assert max(values) >= 1, topic
        assert 0 in values[values.index(max(values)) :], topic
        assert all(not m.retain for m in hub.on(topic))

    assert hub.wait_for("frigate/door/motion", lambda m: m.text == "ON", timeout=5)

    snapshot = hub.wait_for("frigate/door/person/snapshot", timeout=5)
    picture = Image.open(io.BytesIO(snapshot.payload))
    picture.load()
    assert picture.format == "JPEG"
    retained = retained_now(live.broker, ["frigate/door/person/snapshot"], **live.hub_login)
    assert retained["frigate/door/person/snapshot"][:2] == b"\xff\xd8"


@pytest.mark.slow
def test_live_state_stats_and_discovery(live: Live) -> None:
    hub = live.hub
    retained = retained_now(live.broker, ["frigate/#", "homeassistant/#"], **live.hub_login)
    assert retained["frigate/available"] == b"online"
    assert retained["frigate/door/detect/state"] == b"ON"
    assert retained["frigate/door/snapshots/state"] == b"ON"
    assert retained["frigate/door/motion_threshold/state"] == b"30"
    assert "homeassistant/switch/nvrd_frigate/door_detect/config" in retained
    camera_entity = json.loads(retained["homeassistant/camera/nvrd_frigate/door_person_snapshot/config"])
    assert camera_entity["topic"] == "frigate/door/person/snapshot"

    def camera_running(message) -> bool:
        return json.loads(message.payload)["cameras"]["door"]["camera_fps"] > 0

    stats = json.loads(hub.wait_for("frigate/stats", camera_running, timeout=10).payload)
    assert not hub.last("frigate/stats").retain
    assert stats["service"]["version"].startswith("0.13.2-")
    assert "cpu" in stats["detectors"]


@pytest.mark.slow
def test_live_commands_take_effect(live: Live) -> None:
    hub, nvrd = live.hub, live.nvrd

    mark = hub.mark()
    hub.publish("frigate/door/detect/set", "OFF")
    assert hub.wait_for("frigate/door/detect/state", after=mark).text == "OFF"
    nvrd.wait_for(
        lambda: nvrd.get("/api/stats").json()["cameras"]["door"]["detection_enabled"] == 0,
        timeout=5,
        what="detection off in /api/stats",
    )

    mark = hub.mark()
    hub.publish("frigate/door/motion_threshold/set", "nonsense")
    hub.publish("frigate/door/motion_threshold/set", "45")
    assert hub.wait_for("frigate/door/motion_threshold/state", after=mark).text == "45"
    assert nvrd.get("/api/config").json()["cameras"]["door"]["motion"]["threshold"] == 45

    mark = hub.mark()
    hub.publish("frigate/door/detect/set", "ON")
    assert hub.wait_for("frigate/door/detect/state", after=mark).text == "ON"
    nvrd.wait_for(
        lambda: nvrd.get("/api/stats").json()["cameras"]["door"]["detection_enabled"] == 1,
        timeout=5,
        what="detection on in /api/stats",
    )
    echoed = [m.text for m in hub.on("frigate/door/motion_threshold/state")]
    assert "nonsense" not in echoed


@pytest.mark.slow
def test_live_reconnects_after_the_broker_restarts(live: Live) -> None:
    hub = live.hub
    mark = hub.mark()
    live.broker.restart(down_for=2.0)  # retained messages are lost with it (no persistence)
    assert hub.wait_for("frigate/available", lambda m: m.text == "online", after=mark, timeout=30)
    retained = wait_until(
        lambda: (found := retained_now(live.broker, ["frigate/#"], **live.hub_login))
        and "frigate/door/motion_threshold/state" in found
        and found,
        15,
        "retained state published again",
    )
    assert retained["frigate/available"] == b"online"
    assert retained["frigate/door/motion_threshold/state"] == b"45"  # the value set before, not the file's
    mark = hub.mark()
    hub.publish("frigate/door/snapshots/set", "OFF")
    assert hub.wait_for("frigate/door/snapshots/state", after=mark, timeout=5).text == "OFF"


@pytest.mark.slow
def test_live_restart_command_and_last_will(live: Live) -> None:
    hub, nvrd = live.hub, live.nvrd
    mark = hub.mark()
    hub.publish("frigate/restart", "restart")
    assert nvrd.proc is not None
    assert nvrd.proc.wait(30) == 75  # a clean stop, then the exit code systemd restarts on
    assert hub.wait_for("frigate/available", lambda m: m.text == "offline", after=mark).retain is False
    assert retained_now(live.broker, ["frigate/available"], **live.hub_login) == {
        "frigate/available": b"offline"
    }

    # As systemd would: start it again. Settings changed over MQTT are gone with the restart.
    mark = hub.mark()
    nvrd.start()
    assert hub.wait_for("frigate/available", lambda m: m.text == "online", after=mark, timeout=30)
    assert hub.wait_for("frigate/door/motion_threshold/state", after=mark, timeout=10).text == "30"

    # Killed: the broker announces the last will.
    mark = hub.mark()
    nvrd.kill()
    assert hub.wait_for("frigate/available", lambda m: m.text == "offline", after=mark, timeout=10)
    assert retained_now(live.broker, ["frigate/available"], **live.hub_login) == {
        "frigate/available": b"offline"
    }
    assert NVR_PASSWORD not in nvrd.log_path.read_text(errors="replace")
