"""The API's parts that need no running camera: the OpenAPI document against the real route table,
the response cache, the Frigate+ form encoding and picture sizes, PTZ feature names, process usage."""

from __future__ import annotations

import email.parser
import email.policy
import gzip
import io
import os
import re
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import tornado.web
from PIL import Image

from nvrd.api.openapi import OPERATIONS, openapi_document
from nvrd.api.plus_client import PlusClient, multipart_form, prepare_images
from nvrd.api.process_usage import ProcessUsage
from nvrd.api.ptz import FOV_SPACE, features_of
from nvrd.api.response_cache import ResponseCache
from nvrd.api.server import make_app
from nvrd.app import Daemon
from nvrd.config import load_config

ROOT = Path(__file__).resolve().parents[1]

# A value for every path parameter, so that documented paths can be matched against the routes.
EXAMPLES = {
    "camera_name": "door",
    "event_id": "1700000000.123456-ab12cd",
    "label": "person",
    "start": "1700000000",
    "end": "1700000060.5",
    "frame_time": "1700000001.5",
    "year_month": "2024-02",
    "day": "16",
    "hour": "14",
    "tz": "Europe,Berlin",
    "file": "master.m3u8",
    "relative": "door-1700000000.123456-ab12cd.jpg",
    "current": "old_name.mp4",
    "new": "new_name.mp4",
    "name": "old_name.mp4",
}


@pytest.fixture(scope="module")
def app() -> tornado.web.Application:
    config = load_config(ROOT / "tests" / "configs" / "good" / "minimal.yml")
    return make_app(Daemon(config))


def _rules(app: tornado.web.Application) -> list:
    return list(app.wildcard_router.rules)


def _first_rule(app: tornado.web.Application, path: str):
    for rule in _rules(app):
        if rule.matcher.regex.match(path):
            return rule
    return None


def _concrete(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: EXAMPLES[m[1]], template)


def test_every_documented_operation_reaches_a_handler_of_that_method(app) -> None:
    for op in OPERATIONS:
        rule = _first_rule(app, _concrete(op.path))
        assert rule is not None, f"{op.method.upper()} {op.path} reaches no route"
        handler = rule.target
        implemented = getattr(handler, op.method) is not getattr(tornado.web.RequestHandler, op.method)
        assert implemented, f"{op.method.upper()} {op.path} reaches {handler.__name__}, which lacks it"


def test_every_route_is_documented(app) -> None:
    documented = {_first_rule(app, _concrete(op.path)) for op in OPERATIONS}
    for rule in _rules(app):
        if rule.target.__module__.startswith("nvrd.web"):
            continue  # the web page's files, not the API
        assert rule in documented, f"route {rule.matcher.regex.pattern} is not in the OpenAPI document"


def test_fixed_paths_are_not_taken_by_camera_routes(app) -> None:
    for path, name in [
        ("/api/events/summary", "EventsSummaryHandler"),
        ("/api/events", "EventsHandler"),
        ("/api/stats", "StatsHandler"),
        ("/api/timeline", "TimelineHandler"),
        ("/api/openapi.json", "OpenApiHandler"),
        ("/api/events/door/person/create", "CreateEventHandler"),
        ("/api/door", "MjpegHandler"),
        ("/api/door/person/snapshot.jpg", "LabelSnapshotHandler"),
    ]:
        assert _first_rule(app, path).target.__name__ == name, path


def test_document_is_valid_openapi() -> None:
    import schemathesis  # tests only

    schema = schemathesis.openapi.from_dict(openapi_document("0.13.2-test"))
    schema.validate()
    assert len(list(schema.get_all_operations())) == len(OPERATIONS)


def test_response_cache_keeps_answers_per_version_within_budget() -> None:
    cache = ResponseCache(budget_bytes=100)
    cache.put("/a", (1, 0), b"x" * 40)
    assert cache.get("/a", (1, 0)).body == b"x" * 40
    assert cache.get("/a", (2, 0)) is None  # the database changed
    cache.put("/b", (1, 0), b"y" * 40)
    cache.put("/c", (1, 0), b"z" * 40)  # over budget: the least recently used goes
    assert cache.get("/a", (1, 0)) is None and cache.get("/c", (1, 0)) is not None
    assert cache.put("/huge", (1, 0), b"h" * 200).body == b"h" * 200 and cache.get("/huge", (1, 0)) is None
    entry = cache.get("/c", (1, 0))
    assert gzip.decompress(entry.gzipped()) == b"z" * 40


def test_multipart_form_parses_back() -> None:
    body, content_type = multipart_form(
        {"key": "uploads/1", "policy": "abc"}, "x.jpg", b"\xff\xd8data", "image/jpeg"
    )
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
    assert list(parts) == ["key", "policy", "file"]  # the file goes last
    assert parts["key"].get_content() == "uploads/1"
    assert parts["file"].get_content() == b"\xff\xd8data"
    assert parts["file"].get_content_type() == "image/jpeg"


def test_plus_pictures_are_scaled_like_frigate(shared_dir: Path) -> None:
    png = io.BytesIO()
    Image.open(shared_dir / "media" / "traffic_0001_960x540.bmp").save(png, format="PNG")
    images = prepare_images(png.getvalue())
    sizes = [
        Image.open(io.BytesIO(data)).size for data in (images.original, images.annotate, images.thumbnail)
    ]
    assert sizes == [(960, 540), (640, 360), (200, 112)]
    with pytest.raises(ValueError):
        prepare_images(b"not a picture")


def test_plus_key_comes_from_the_environment() -> None:
    assert PlusClient.from_environment({}) is None
    client = PlusClient.from_environment({"PLUS_API_KEY": "abc:def", "PLUS_API_HOST": "http://127.0.0.1:9/"})
    assert client is not None and client.host == "http://127.0.0.1:9"
    with pytest.raises(ValueError):
        PlusClient.from_environment({"PLUS_API_KEY": "no-secret"})


def test_ptz_features_from_spaces() -> None:
    spaces = SimpleNamespace(
        ContinuousPanTiltVelocitySpace=[SimpleNamespace(URI="generic")],
        ContinuousZoomVelocitySpace=[],
        RelativePanTiltTranslationSpace=[SimpleNamespace(URI="generic"), SimpleNamespace(URI=FOV_SPACE)],
        RelativeZoomTranslationSpace=None,
        AbsoluteZoomPositionSpace=[SimpleNamespace(URI="generic")],
    )
    assert features_of(spaces) == ["pt", "pt-r", "zoom-a", "pt-r-fov"]
    assert features_of(None) == []


def test_process_usage_measures_a_busy_child() -> None:
    busy = subprocess.Popen(["python3", "-c", "while True: pass"])
    try:
        usage = ProcessUsage()
        first = usage.sample([busy.pid, os.getpid(), -1, 999_999_999])
        assert set(first) == {str(busy.pid), str(os.getpid())}
        time.sleep(0.5)
        second = usage.sample([busy.pid])
        assert float(second[str(busy.pid)]["cpu"]) > 30  # it spins on a core
        assert "while True" in second[str(busy.pid)]["cmdline"]
    finally:
        busy.kill()
        busy.wait(5)
