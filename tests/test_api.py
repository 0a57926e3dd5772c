"""The HTTP API black-box over real HTTP: nvrd runs as a process with a real RTSP camera (people walking
in, from ../shared/media) and a database holding 30 older events written through the Store first.

One nvrd serves the whole module; tests that change events work on events of their own.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from tests.support.nvrd_process import NvrdProcess, http
from tests.support.rtsp_server import RtspServer
from tests.test_api_support import (
    CAMERA,
    CLIP,
    HEIGHT,
    WIDTH,
    fill_events,
    jpeg_size,
    json_request,
    write_config,
)

pytestmark = pytest.mark.slow

FILLED = 30
PART_HEAD = b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"
WITH_FILES = 4
CAMERA_EXTRA = """\
    zones:
      table:
        coordinates: 300,200,500,200,500,432,300,432
    motion:
      mask: 0,0,120,0,120,120,0,120
    best_image_timeout: 600
"""


class Api:
    """The running nvrd of this module and what it was given."""

    def __init__(self, nvrd: NvrdProcess, tmp: Path, filled: list[dict], rtsp_url: str) -> None:
        self.nvrd, self.tmp, self.filled, self.rtsp_url = nvrd, tmp, filled, rtsp_url
        self.clips = tmp / "media" / "clips"

    def get(self, path: str, **kw):
        return self.nvrd.get(path, **kw)

    def request(self, method: str, path: str, body: object | None = None, **kw):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        return self.nvrd.request(method, path, data, **kw)

    def json(self, path: str):
        response = self.get(path)
        assert response.status == 200, (path, response.status, response.text[:300])
        return response.json()


@pytest.fixture(scope="module")
def api(tmp_path_factory, shared_dir: Path):
    tmp = tmp_path_factory.mktemp("api")
    filled = fill_events(tmp / "nvr.db", tmp / "media" / "clips", shared_dir, FILLED, with_files=WITH_FILES)
    # 70 s..90 s of the clip: a person walks in at ~75 s and stands until ~85 s; looped.
    with RtspServer(shared_dir / "media" / CLIP, start_s=70, duration_s=20, loop=True) as rtsp:
        nvrd = NvrdProcess(write_config(tmp, rtsp.url, shared_dir, extra=CAMERA_EXTRA)).start()
        try:
            yield Api(nvrd, tmp, filled, rtsp.url)
        finally:
            assert nvrd.stop() == 0, nvrd.log()


@pytest.fixture
def live_person(api: Api):
    """Returns a person event of the real camera that is in progress now (waiting for one if needed)."""

    def in_progress():
        events = api.json(f"/api/events?cameras={CAMERA}&labels=person&in_progress=1&include_thumbnails=0")
        return events[0] if events else None

    return lambda: api.nvrd.wait_for(in_progress, timeout=90, interval=0.3, what="a person event in progress")


def _error(response, status: int, message: str | None = None) -> dict:
    assert response.status == status, (response.status, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    if message is not None:
        assert body["message"] == message
    return body


# --- service -----------------------------------------------------------------------------------------


def test_root_and_version_are_plain_text(api: Api) -> None:
    root = api.get("/api/")
    assert root.status == 200 and root.text == "Frigate is running. Alive and healthy!"
    version = api.get("/api/version")
    assert version.headers["Content-Type"].startswith("text/html")
    # Clients split on '-' and compare X.Y.Z; the Home Assistant integration refuses <= 0.12.1.
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)-\S+", version.text)
    assert match and (int(match[1]), int(match[2])) >= (0, 13)


def test_requests_with_json_bodies_like_home_assistant_sends(api: Api) -> None:
    for path in ("/api/version", "/api/stats", "/api/config", "/api/events?include_thumbnails=0",
                 "/api/events/summary?timezone=utc", f"/api/{CAMERA}/ptz/info"):  # fmt: skip
        response = json_request(api.nvrd.base, "GET", path)
        assert response.status == 200, (path, response.status, response.text[:200])


def test_config_carries_what_clients_read(api: Api) -> None:
    config = api.json("/api/config")
    camera = config["cameras"][CAMERA]
    assert camera["objects"]["track"] == ["person"]
    assert "table" in camera["zones"]
    assert isinstance(camera["motion"]["threshold"], int) and isinstance(
        camera["motion"]["contour_area"], int
    )
    assert camera["audio"]["enabled_in_config"] is False
    assert camera["onvif"]["autotracking"]["enabled_in_config"] is False
    assert camera["record"]["enabled_in_config"] is camera["record"]["enabled"]
    assert config["plus"] == {"enabled": False}
    assert "password" not in config["mqtt"]
    assert camera["ffmpeg_cmds"][0]["roles"] == ["detect"]


def test_stats_shape_and_process_cpu(api: Api) -> None:
    stats = api.nvrd.wait_for(
        lambda: (s := api.json("/api/stats"))["cameras"][CAMERA]["camera_fps"] > 0 and s,
        timeout=30,
        what="camera fps",
    )
    camera = stats["cameras"][CAMERA]
    for key in (
        "camera_fps",
        "process_fps",
        "skipped_fps",
        "detection_fps",
        "pid",
        "capture_pid",
        "ffmpeg_pid",
    ):
        assert key in camera
    assert stats["detectors"]["cpu"]["inference_speed"] >= 0
    assert stats["service"]["version"] == api.get("/api/version").text
    assert isinstance(stats["service"]["uptime"], int)
    for pid_key in ("pid", "capture_pid"):
        usage = stats["cpu_usages"][str(camera[pid_key])]
        assert float(usage["cpu"]) >= 0 and float(usage["cpu_average"]) >= 0 and float(usage["mem"]) >= 0
    assert "nvrd" in stats["cpu_usages"][str(camera["pid"])]["cmdline"]


def test_labels_and_sub_labels(api: Api) -> None:
    labels = api.json(f"/api/labels?camera={CAMERA}")
    assert labels == sorted(labels) and {"person", "car", "dog"} <= set(labels)
    assert api.json("/api/labels?camera=nowhere") == []
    event_id = api.filled[8]["id"]
    assert api.request("POST", f"/api/events/{event_id}/sub_label", {"subLabel": "Bob, Carol"}).status == 200
    sub_labels = api.json("/api/sub_labels")
    assert "Bob, Carol" in sub_labels and None not in sub_labels and sub_labels == sorted(sub_labels)
    split = api.json("/api/sub_labels?split_joined=1")
    assert {"Bob", "Carol"} <= set(split) and "Bob, Carol" not in split


def test_unknown_paths_and_methods_answer_json(api: Api) -> None:
    _error(api.get("/nothing/here"), 404)
    _error(api.get("/api/nope"), 404, "Camera not found")  # any word under /api/ is a camera
    _error(api.get(f"/api/events/{api.filled[5]['id']}/retain"), 405)
    _error(api.request("POST", "/api/stats"), 405)


def test_head_answers_like_get_without_body(api: Api) -> None:
    for path in ("/api/version", f"/api/{CAMERA}/latest.jpg", "/api/events?limit=1", f"/api/{CAMERA}"):
        response = api.request("HEAD", path)
        assert response.status == 200, path
        assert response.body == b""
    assert (
        api.request("HEAD", f"/api/{CAMERA}").headers["Content-Type"].startswith("multipart/x-mixed-replace")
    )


def test_openapi_document_is_served(api: Api) -> None:
    document = api.json("/api/openapi.json")
    assert document["openapi"].startswith("3.")
    assert "/api/events/{event_id}/sub_label" in document["paths"]
    assert document["info"]["version"] == api.get("/api/version").text


# --- the event list --------------------------------------------------------------------------------


def _all_filled(api: Api) -> list[dict]:
    events = api.json("/api/events?limit=-1&include_thumbnails=0&before=1800000000")
    return [e for e in events if e["start_time"] < 1_750_000_000]


def test_events_newest_first_with_0_13_keys(api: Api) -> None:
    events = _all_filled(api)
    assert len(events) == FILLED
    starts = [e["start_time"] for e in events]
    assert starts == sorted(starts, reverse=True)
    keys = {"id", "camera", "label", "zones", "start_time", "end_time", "has_clip", "has_snapshot", "plus_id",
            "retain_indefinitely", "sub_label", "top_score", "false_positive", "box", "data"}  # fmt: skip
    assert set(events[0]) == keys
    with_thumbs = api.json("/api/events?limit=2")
    assert all(e["thumbnail"] for e in with_thumbs)
    assert len(api.json("/api/events?limit=3&include_thumbnails=0")) == 3
    total = len(api.json("/api/events?limit=-1&include_thumbnails=0"))
    assert len(api.json("/api/events?include_thumbnails=0")) == min(100, total)  # the default limit


def _ids(events: list[dict]) -> set[str]:
    return {e["id"] for e in events}


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("labels=car,dog", lambda e: e["label"] in ("car", "dog")),
        ("label=dog", lambda e: e["label"] == "dog"),
        ("cameras=door,other", lambda e: True),
        ("camera=other", lambda e: False),
        ("zones=yard", lambda e: "yard" in e["zones"]),
        ("zones=None", lambda e: not e["zones"]),
        ("zone=yard", lambda e: "yard" in e["zones"]),
        ("has_snapshot=1", lambda e: e["has_snapshot"]),
        ("has_snapshot=0", lambda e: not e["has_snapshot"]),
        ("has_clip=1", lambda e: e["has_clip"]),
        ("in_progress=0", lambda e: e["end_time"] is not None),
        ("min_score=0.8", lambda e: e["data"]["score"] >= 0.8),
        ("max_score=0.7", lambda e: e["data"]["score"] <= 0.7),
        ("min_length=60", lambda e: e["end_time"] - e["start_time"] >= 60),
        ("max_length=30", lambda e: e["end_time"] - e["start_time"] <= 30),
        ("is_submitted=0", lambda e: e["plus_id"] is None),
        ("after=1700000600&before=1700001200", lambda e: 1700000600 < e["start_time"] < 1700001200),
        ("sub_labels=None", lambda e: e["sub_label"] is None),
    ],
)
def test_event_filters(api: Api, query: str, keep) -> None:
    everything = _all_filled(api)
    expected = _ids(e for e in everything if keep(e))
    got = [
        e
        for e in api.json(f"/api/events?limit=-1&include_thumbnails=0&{query}")
        if e["id"] in _ids(everything)
    ]
    assert _ids(got) == expected
    assert expected or query in ("camera=other", "has_clip=1")  # the filter was exercised on real rows


def test_time_range_in_a_time_zone(api: Api) -> None:
    zone = ZoneInfo("America/New_York")
    offset = datetime.now(UTC).astimezone(zone).utcoffset()
    everything = _all_filled(api)

    def local(e: dict) -> str:
        return (datetime.fromtimestamp(e["start_time"], UTC) + offset).strftime("%H:%M")

    for window in ("10:00,14:00", "20:00,06:00"):
        after, before = window.split(",")
        if after < before:
            expected = {e["id"] for e in everything if after < local(e) < before}
        else:
            expected = {e["id"] for e in everything if local(e) > after or local(e) < before}
        got = api.json(
            f"/api/events?limit=-1&include_thumbnails=0&time_range={window}&timezone=America/New_York"
        )
        assert {e["id"] for e in got} & _ids(everything) == expected


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=abc", "limit"),
        ("limit=-5", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("has_clip=2", "has_clip"),
        ("in_progress=x", "in_progress"),
        ("after=yesterday", "after"),
        ("min_score=nan", "min_score"),
        ("time_range=9-5", "time_range"),
        ("time_range=10:00,14:00&timezone=Mars/Olympus", "timezone"),
        ("include_thumbnails=maybe", "include_thumbnails"),
    ],
)
def test_event_list_bad_parameters_are_400_naming_them(api: Api, query: str, name: str) -> None:
    body = _error(api.get(f"/api/events?{query}"), 400)
    assert name in body["message"]


def test_event_list_gzip_and_cache_follow_database_changes(api: Api) -> None:
    path = "/api/events?limit=20"
    plain = api.get(path)
    zipped = http("GET", api.nvrd.base + path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(zipped.body)) == plain.json()
    target = api.filled[10]["id"]
    assert not {e["id"]: e for e in api.json("/api/events?limit=-1")}[target]["retain_indefinitely"]
    assert api.request("POST", f"/api/events/{target}/retain").status == 200
    after = {e["id"]: e for e in api.json("/api/events?limit=-1")}
    assert after[target]["retain_indefinitely"] is True
    assert target in _ids(api.json("/api/events?favorites=1&limit=-1"))
    assert (
        api.request("DELETE", f"/api/events/{target}/retain").json()["message"]
        == f"Event {target} un-retained"
    )
    assert not {e["id"]: e for e in api.json("/api/events?limit=-1")}[target]["retain_indefinitely"]


def test_events_summary_counts(api: Api) -> None:
    everything = _all_filled(api)
    summary = api.json("/api/events/summary?timezone=utc")
    counted = {}
    for e in everything:
        day = datetime.fromtimestamp(e["start_time"], UTC).strftime("%Y-%m-%d")
        key = (e["camera"], e["label"], e["sub_label"], day, tuple(e["zones"]))
        counted[key] = counted.get(key, 0) + 1
    served = {
        (s["camera"], s["label"], s["sub_label"], s["day"], tuple(s["zones"])): s["count"]
        for s in summary
        if s["day"] < "2025"
    }
    assert served == counted
    snapshots = api.json("/api/events/summary?has_snapshot=1")
    assert sum(s["count"] for s in snapshots if s["day"] < "2025") == WITH_FILES
    _error(api.get("/api/events/summary?timezone=Nowhere/Land"), 400)
    _error(api.get("/api/events/summary?has_clip=7"), 400)


def test_timeline_of_a_tracked_person(api: Api, live_person) -> None:
    person = live_person()
    entries = api.json(f"/api/timeline?source_id={person['id']}")
    assert entries and entries[0]["class_type"] == "visible"
    assert all(e["source_id"] == person["id"] and e["camera"] == CAMERA for e in entries)
    assert set(entries[0]["data"]) >= {"box", "region", "label", "attribute"}
    stamps = [e["timestamp"] for e in api.json("/api/timeline?limit=-1")]
    assert stamps == sorted(stamps)
    assert len(api.json("/api/timeline?limit=1")) == 1
    assert api.json("/api/timeline?camera=other") == []
    _error(api.get("/api/timeline?limit=lots"), 400)


# --- one event -----------------------------------------------------------------------------------------


def test_one_event_has_every_column(api: Api) -> None:
    event = api.json(f"/api/events/{api.filled[0]['id']}")
    assert set(event) >= {
        "area",
        "ratio",
        "region",
        "score",
        "model_hash",
        "model_type",
        "detector_type",
        "thumbnail",
    }
    missing = api.get("/api/events/1700000000.0-zzzzzz")
    assert missing.status == 404 and missing.text == "Event not found"  # Frigate's plain-text 404


def test_thumbnail_stored_and_android(api: Api) -> None:
    event_id = api.filled[1]["id"]
    thumb = api.get(f"/api/events/{event_id}/thumbnail.jpg")
    assert thumb.status == 200 and thumb.headers["Cache-Control"] == "private, max-age=2592000"
    height = jpeg_size(thumb.body)[1]
    assert height == 175
    android = api.get(f"/api/events/{event_id}/thumbnail.jpg?format=android")
    assert jpeg_size(android.body) == (2 * height, height)
    _error(api.get(f"/api/events/{event_id}/thumbnail.jpg?format=windows"), 400)
    _error(api.get("/api/events/1700000000.0-zzzzzz/thumbnail.jpg"), 404, "Event not found")


def test_snapshot_of_an_ended_event_is_the_file(api: Api) -> None:
    event = api.filled[2]
    path = api.clips / f"{CAMERA}-{event['id']}.jpg"
    snapshot = api.get(f"/api/events/{event['id']}/snapshot.jpg?h=50&bbox=1")  # options are ignored
    assert snapshot.status == 200 and snapshot.body == path.read_bytes()
    assert snapshot.headers["Cache-Control"] == "private, max-age=31536000"
    download = api.get(f"/api/events/{event['id']}/snapshot.jpg?download=0")  # any value counts
    assert download.headers["Content-Disposition"] == f"attachment; filename=snapshot-{event['id']}.jpg"
    no_snapshot = api.filled[WITH_FILES + 1]["id"]
    _error(api.get(f"/api/events/{no_snapshot}/snapshot.jpg"), 404, "Snapshot not available")
    _error(api.get("/api/events/1700000000.0-zzzzzz/snapshot.jpg"), 404, "Event not found")
    _error(api.get(f"/api/events/{event['id']}/snapshot.jpg?quality=101"), 400)


def test_live_snapshot_and_thumbnail_options(api: Api, live_person) -> None:
    for _ in range(3):  # the person may leave while we ask: then ask about the next one
        base = f"/api/events/{live_person()['id']}"
        full = api.get(f"{base}/snapshot.jpg")
        if full.headers.get("Cache-Control") == "no-store" and _live_pictures_check(api, base, full.body):
            return
    pytest.fail("no person stayed in view long enough to check the live pictures")


def _live_pictures_check(api: Api, base: str, full: bytes) -> bool:
    """Check the live rendering options; False when the event ended meanwhile (pictures now stored)."""
    assert jpeg_size(full) == (WIDTH, HEIGHT)
    assert jpeg_size(api.get(f"{base}/snapshot.jpg?h=216").body) == (WIDTH // 2, 216)
    cropped = jpeg_size(api.get(f"{base}/snapshot.jpg?crop=1").body)
    assert cropped[0] < WIDTH and cropped[1] <= HEIGHT
    small = api.get(f"{base}/snapshot.jpg?quality=5").body
    large = api.get(f"{base}/snapshot.jpg?quality=95").body
    assert len(small) < len(large)
    boxed = api.get(f"{base}/snapshot.jpg?bbox=1&timestamp=1").body
    assert boxed != api.get(f"{base}/snapshot.jpg").body
    thumb = api.get(f"{base}/thumbnail.jpg")
    assert thumb.status == 200 and jpeg_size(thumb.body)[1] == 175
    _error(api.get(f"{base}/snapshot.jpg?h=0"), 400)
    return api.get(f"{base}/snapshot.jpg").headers.get("Cache-Control") == "no-store"


def test_per_label_pictures(api: Api, live_person) -> None:
    live_person()  # a person has been seen: it has a best picture
    best = api.get(f"/api/{CAMERA}/person/best.jpg")
    assert best.status == 200 and jpeg_size(best.body) == (WIDTH, HEIGHT)
    assert jpeg_size(api.get(f"/api/{CAMERA}/person/best.jpg?h=216").body) == (WIDTH // 2, 216)
    assert jpeg_size(api.get(f"/api/{CAMERA}/person/best.jpg?crop=1").body)[0] < WIDTH
    assert jpeg_size(api.get(f"/api/{CAMERA}/any/best.jpg").body) == (WIDTH, HEIGHT)
    assert jpeg_size(api.get(f"/api/{CAMERA}/unicorn/best.jpg").body) == (1280, 720)  # black, as 0.8
    _error(api.get("/api/nope/person/best.jpg"), 404, "Camera not found")

    thumb = api.get(f"/api/{CAMERA}/person/thumbnail.jpg")
    assert thumb.status == 200 and jpeg_size(thumb.body)[1] == 175
    assert jpeg_size(api.get(f"/api/{CAMERA}/any/thumbnail.jpg?format=android").body)[0] == 350
    _error(api.get(f"/api/{CAMERA}/unicorn/thumbnail.jpg"), 404, "Event not found")

    snap = api.get(f"/api/{CAMERA}/dog/snapshot.jpg")  # the newest dog with a snapshot is a filled one
    dogs = [e for e in api.filled[:WITH_FILES] if e["label"] == "dog"]
    assert snap.body == (api.clips / f"{CAMERA}-{dogs[-1]['id']}.jpg").read_bytes()
    assert jpeg_size(api.get(f"/api/{CAMERA}/unicorn/snapshot.jpg").body) == (1280, 720)
    assert api.get(f"/api/{CAMERA}/any/snapshot.jpg").status == 200


# --- changing events ---------------------------------------------------------------------------------


def test_delete_event_removes_row_timeline_and_files(api: Api) -> None:
    event = api.filled[3]
    files = [api.clips / f"{CAMERA}-{event['id']}.jpg", api.clips / f"{CAMERA}-{event['id']}-clean.png"]
    assert all(f.exists() for f in files)
    deleted = api.request("DELETE", f"/api/events/{event['id']}")
    assert deleted.json() == {"success": True, "message": f"Event {event['id']} deleted"}
    assert not any(f.exists() for f in files)
    assert api.get(f"/api/events/{event['id']}").status == 404
    assert api.json(f"/api/timeline?source_id={event['id']}") == []
    _error(api.request("DELETE", f"/api/events/{event['id']}"), 404, f"Event {event['id']} not found")


def test_retain_unknown_event(api: Api) -> None:
    _error(
        api.request("POST", "/api/events/1700000000.0-zzzzzz/retain"),
        404,
        "Event 1700000000.0-zzzzzz not found",
    )
    _error(api.request("DELETE", "/api/events/1700000000.0-zzzzzz/retain"), 404)


def test_sub_label_rules(api: Api) -> None:
    event_id = api.filled[6]["id"]
    path = f"/api/events/{event_id}/sub_label"
    ok = api.request("POST", path, {"subLabel": "Alice", "subLabelScore": 0.79})
    assert ok.json() == {"success": True, "message": f"Event {event_id} sub label set to Alice"}
    stored = api.json(f"/api/events/{event_id}")
    assert stored["sub_label"] == "Alice" and stored["data"]["sub_label_score"] == 0.79
    assert event_id in _ids(api.json("/api/events?sub_labels=Alice&limit=-1"))
    long = "x" * 101
    assert _error(api.request("POST", path, {"subLabel": long}), 400)["message"] == (
        f"{long} exceeds the 100 character limit for sub_label"
    )
    assert api.request("POST", path, {"subLabel": "y" * 100}).status == 200
    assert (
        "0 <= score <= 1.0"
        in _error(api.request("POST", path, {"subLabel": "A", "subLabelScore": 1.5}), 400)["message"]
    )
    _error(api.request("POST", path, {"subLabel": "A", "subLabelScore": "high"}), 400)
    assert "subLabel" in _error(api.request("POST", path, {}), 400)["message"]
    assert "body" in _error(api.request("POST", path, b"{not json"), 400)["message"]
    _error(api.request("POST", path, b"[1, 2]"), 400)
    _error(api.request("POST", path, {"subLabel": 5}), 400)
    cleared = api.request("POST", path, {"subLabel": None})
    assert cleared.status == 200 and api.json(f"/api/events/{event_id}")["sub_label"] is None
    _error(api.request("POST", "/api/events/1700000000.0-zzzzzz/sub_label", {"subLabel": "A"}), 404)


def test_sub_label_of_a_live_event(api: Api, live_person) -> None:
    person = live_person()
    path = f"/api/events/{person['id']}/sub_label"
    assert api.request("POST", path, {"subLabel": "Visitor", "subLabelScore": 0.9}).status == 200
    assert api.json(f"/api/events/{person['id']}")["sub_label"] == "Visitor"


def test_manual_event_open_ended_then_ended(api: Api) -> None:
    body = {"sub_label": "front bell", "duration": None, "include_recording": True,
            "draw": {"boxes": [{"box": [0.25, 0.25, 0.5, 0.5], "score": 87}]}}  # fmt: skip
    created = api.request("POST", f"/api/events/{CAMERA}/doorbell/create", body)
    assert created.status == 200, created.text
    answer = created.json()
    assert answer["success"] and answer["message"] == "Successfully created event."
    event_id = answer["event_id"]
    assert re.fullmatch(r"\d+\.\d+-[a-z0-9]{6}", event_id)
    event = api.json(f"/api/events/{event_id}")
    assert event["label"] == "doorbell" and event["sub_label"] == "front bell"
    assert event["end_time"] is None and event["has_snapshot"] is True and event["has_clip"] is False
    assert event["data"] == {"type": "api", "score": 0.0, "top_score": 0.0}
    assert event["start_time"] == pytest.approx(float(event_id.split("-")[0]) - 5, abs=0.01)  # pre capture
    assert (api.clips / f"{CAMERA}-{event_id}-clean.png").exists()

    snapshot = api.get(f"/api/events/{event_id}/snapshot.jpg")
    assert snapshot.status == 200 and jpeg_size(snapshot.body) == (WIDTH, HEIGHT)
    with Image.open(io.BytesIO(snapshot.body)) as picture:
        r, g, b = picture.convert("RGB").getpixel(
            (WIDTH // 4 + 1, HEIGHT // 2)
        )  # on the left edge of the box
    assert r > 150 and g < 110 and b < 110  # drawn in red, the default colour
    assert jpeg_size(api.get(f"/api/events/{event_id}/thumbnail.jpg").body)[1] == 175

    ended = api.request("PUT", f"/api/events/{event_id}/end", {"end_time": 1795000000.5})
    assert ended.json() == {"success": True, "message": "Event successfully ended."}
    assert api.json(f"/api/events/{event_id}")["end_time"] == 1795000000.5
    now = time.time()
    assert api.request("PUT", f"/api/events/{event_id}/end").status == 200
    assert api.json(f"/api/events/{event_id}")["end_time"] == pytest.approx(now, abs=5)


def test_manual_event_with_a_duration(api: Api) -> None:
    before = time.time()
    created = json_request(api.nvrd.base, "POST", f"/api/events/{CAMERA}/alarm/create", {"duration": 30})
    event = api.json(f"/api/events/{created.json()['event_id']}")
    # end = now + duration + post capture (5 s), so it is not "in progress" (Frigate's quirk 16).
    assert event["end_time"] == pytest.approx(before + 35, abs=5)
    assert event["sub_label"] is None
    assert event["id"] not in _ids(api.json("/api/events?in_progress=1&limit=-1"))


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"duration": -1}, "duration"),
        ({"duration": "long"}, "duration"),
        ({"sub_label": "x" * 101}, "sub_label"),
        ({"include_recording": "yes"}, "include_recording"),
        ({"score": "high"}, "score"),
        ({"draw": {"boxes": [{"box": [0.1, 0.2, 0.3]}]}}, "draw.boxes[0].box"),
        ({"draw": {"boxes": [{"box": [0.1, 0.2, 0.3, 2.0]}]}}, "draw.boxes[0].box"),
        ({"draw": {"boxes": [{"box": [0, 0, 1, 1], "color": [300, 0, 0]}]}}, "draw.boxes[0].color"),
        ({"draw": "boxes"}, "draw"),
        ({"source_type": ""}, "source_type"),
    ],
)
def test_manual_event_bad_bodies(api: Api, body: dict, name: str) -> None:
    assert name in _error(api.request("POST", f"/api/events/{CAMERA}/bell/create", body), 400)["message"]


def test_manual_event_unknown_camera_and_end_of_unknown_event(api: Api) -> None:
    _error(api.request("POST", "/api/events/garage/bell/create", {}), 404, "garage is not a valid camera.")
    assert api.request("PUT", "/api/events/1700000000.0-zzzzzz/end").status == 200  # ignored, as Frigate
    _error(api.request("PUT", f"/api/events/{api.filled[7]['id']}/end", {"end_time": "soon"}), 400)


def test_frigate_plus_without_a_key(api: Api) -> None:
    event_id = api.filled[0]["id"]
    message = "PLUS_API_KEY environment variable is not set"
    _error(api.request("POST", f"/api/events/{event_id}/plus", {}), 400, message)
    _error(api.request("PUT", f"/api/events/{event_id}/false_positive", {}), 400, message)


# --- ffprobe and PTZ ------------------------------------------------------------------------------------


def test_ffprobe(api: Api) -> None:
    _error(api.get("/api/ffprobe"), 404, "Path needs to be provided.")
    camera = api.json(f"/api/ffprobe?paths=camera:{CAMERA}")
    assert camera[0]["return_code"] == 0
    stream = camera[0]["stdout"]["streams"][0]
    assert (stream["width"], stream["height"]) == (WIDTH, HEIGHT) and "H.264" in stream["codec_long_name"]
    url = urllib.request.quote(api.rtsp_url, safe="")
    assert api.json(f"/api/ffprobe?paths={url}")[0]["stdout"]["streams"][0]["width"] == WIDTH
    dead = api.json("/api/ffprobe?paths=rtsp://127.0.0.1:9/none")
    assert dead[0]["return_code"] != 0 and dead[0]["stdout"] == ""
    _error(api.get("/api/ffprobe?paths=camera:garage"), 404, "garage is not a valid camera.")
    for local in ("/etc/passwd", "file:/etc/passwd", "concat:a|b", "-version"):
        assert "paths" in _error(api.get(f"/api/ffprobe?paths={urllib.request.quote(local)}"), 400)["message"]


def test_ptz_info_without_onvif(api: Api) -> None:
    assert api.json(f"/api/{CAMERA}/ptz/info") == {}
    _error(api.get("/api/garage/ptz/info"), 404, "Camera not found")


# --- latest.jpg and MJPEG ------------------------------------------------------------------------------


def test_latest_jpg_sizes_quality_overlays_and_cache(api: Api) -> None:
    first = api.get(f"/api/{CAMERA}/latest.jpg")
    assert first.status == 200 and first.headers["Cache-Control"] == "no-store"
    assert jpeg_size(first.body) == (WIDTH, HEIGHT)
    assert jpeg_size(api.get(f"/api/{CAMERA}/latest.jpg?h=216").body) == (WIDTH // 2, 216)
    assert jpeg_size(api.get(f"/api/{CAMERA}/latest.jpg?h=1080").body) == (1920, 1080)
    flags = "bbox=1&timestamp=1&zones=1&mask=1&motion=1&regions=1"
    # Two requests in a row: the second of an unchanged frame comes from the per-frame cache.
    for _ in range(5):
        plain = api.get(f"/api/{CAMERA}/latest.jpg?h=300&quality=90")
        again = api.get(f"/api/{CAMERA}/latest.jpg?h=300&quality=90")
        drawn = api.get(f"/api/{CAMERA}/latest.jpg?h=300&quality=90&{flags}")
        if again.headers["X-Cache-Status"] == "HIT":
            break
    assert again.headers["X-Cache-Status"] == "HIT" and again.body == plain.body
    assert drawn.body != plain.body and jpeg_size(drawn.body) == jpeg_size(plain.body)
    low = api.get(f"/api/{CAMERA}/latest.jpg?quality=5").body
    assert len(low) < len(api.get(f"/api/{CAMERA}/latest.jpg?quality=95").body)


def test_latest_jpg_errors(api: Api) -> None:
    bad_height = api.get(f"/api/{CAMERA}/latest.jpg?h=0")
    assert bad_height.status == 400 and bad_height.text == "Invalid height / width requested :: 0 / 0"
    assert api.get(f"/api/{CAMERA}/latest.jpg?h=99999").status == 400
    _error(api.get(f"/api/{CAMERA}/latest.jpg?h=tall"), 400)
    _error(api.get(f"/api/{CAMERA}/latest.jpg?quality=101"), 400)
    _error(api.get(f"/api/{CAMERA}/latest.jpg?bbox=yes"), 400)
    _error(api.get("/api/garage/latest.jpg"), 404, "Camera not found")


def _mjpeg_parts(url: str, count: int, timeout: float = 15) -> tuple[str, list[bytes]]:
    """The Content-Type and the first `count` JPEG parts of an MJPEG stream."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        content_type = response.headers["Content-Type"]
        buffer, parts = b"", []
        deadline = time.monotonic() + timeout
        while len(parts) < count and time.monotonic() < deadline:
            buffer += response.read1(65536)
            while True:
                head = buffer.find(PART_HEAD)
                tail = buffer.find(b"\r\n\r\n--frame", head + 1) if head >= 0 else -1
                if tail < 0:
                    break
                parts.append(buffer[head + len(PART_HEAD) : tail])
                buffer = buffer[tail + 4 :]
    return content_type, parts


def test_mjpeg_stream(api: Api) -> None:
    content_type, parts = _mjpeg_parts(f"{api.nvrd.base}/api/{CAMERA}?fps=10&h=120&bbox=1&motion=1", 4)
    assert content_type == "multipart/x-mixed-replace; boundary=frame"
    assert len(parts) == 4
    for part in parts:
        width, height = jpeg_size(part)
        assert height == 120 and abs(width - 213) <= 1
    _, default = _mjpeg_parts(f"{api.nvrd.base}/api/{CAMERA}", 2)
    assert jpeg_size(default[0])[1] == 360  # 0.8's default height


def test_mjpeg_errors(api: Api) -> None:
    _error(api.get("/api/garage"), 404, "Camera not found")
    assert "fps" in _error(api.get(f"/api/{CAMERA}?fps=0"), 400)["message"]
    assert "h" in _error(api.get(f"/api/{CAMERA}?h=-3"), 400)["message"]


# --- paths built from request parts never leave their folder -------------------------------------------

TRAVERSALS = [
    ("GET", "/api/events/..%2F..%2Fconfig.yml"),
    ("GET", "/api/events/../nvr.db"),
    ("GET", "/api/events/..%2Fnvr.db/snapshot.jpg"),
    ("GET", "/api/events/%2e%2e/snapshot.jpg"),
    ("GET", "/api/events/../thumbnail.jpg"),
    ("DELETE", "/api/events/..%2F..%2Fconfig.yml"),
    ("DELETE", "/api/events/.."),
    ("POST", "/api/events/../retain"),
    ("POST", "/api/events/..%2F/sub_label"),
    ("PUT", "/api/events/../end"),
    ("POST", "/api/events/door/..%2F..%2Fconfig.yml/create"),
    ("GET", "/api/%2e%2e/latest.jpg"),
    ("GET", "/api/../config.yml"),
    ("GET", "/api/door/..%2F..%2Fconfig.yml/snapshot.jpg"),
    ("GET", "/api/door/..%2F..%2Fnvr.db/thumbnail.jpg"),
    ("GET", "/api/door/..%2F..%2Fnvr.db/best.jpg"),
    ("GET", "/api/..%2Fdoor/ptz/info"),
    ("GET", "/clips/..%2Fconfig.yml"),
    ("GET", "/clips/../config.yml"),
    ("GET", "/clips/%2e%2e/nvr.db"),
    ("GET", "/recordings/..%2F..%2Fconfig.yml"),
    ("GET", "/exports/../../config.yml"),
    ("GET", "/vod/event/..%2F..%2Fconfig.yml/master.m3u8"),
    ("GET", "/vod/2024-02/16/14/door/..%2F..%2Fetc/master.m3u8"),
    ("GET", "/vod/door/start/1/end/2/..%2Fconfig.yml"),
    ("GET", "/vod/..%2F..%2F/start/1/end/2/master.m3u8"),
    ("DELETE", "/api/export/..%2Fconfig.yml"),
    ("DELETE", "/api/export/..%2F..%2Fnvr.db"),
    ("PATCH", "/api/export/..%2F..%2Fconfig.yml/stolen.mp4"),
    ("GET", "/api/door/recordings/..%2F..%2Fconfig.yml/snapshot.png"),
]


@pytest.mark.parametrize(("method", "path"), TRAVERSALS)
def test_path_traversal_is_refused(api: Api, method: str, path: str) -> None:
    config, database = api.tmp / "config.yml", api.tmp / "nvr.db"
    response = api.request(method, path, b"{}" if method in ("POST", "PUT", "PATCH") else None)
    # Refused; or for a label (which names no file) Frigate's black stand-in picture; or the end of an
    # unknown event, which Frigate acknowledges and ignores.
    refused = response.status in (400, 404, 405)
    harmless = (
        response.body[:2] == b"\xff\xd8"
        or response.body == b'{"message":"Event successfully ended.","success":true}'
    )
    assert refused or (response.status == 200 and harmless), (
        response.status,
        response.text[:200],
    )
    assert b"cameras:" not in response.body and b"SQLite format" not in response.body
    assert config.exists() and database.exists()
