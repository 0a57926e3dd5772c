"""Frigate+ submissions with a key configured, against a local stand-in of the Frigate+ service.

The stand-in checks what Frigate sends (basic auth for the token, the bearer token after, multipart
uploads with the signed fields and the file last, the JSON of create/annotation/false positive) and
records it; nvrd runs as a process with PLUS_API_KEY and PLUS_API_HOST pointing at the stand-in.
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import pytest
import tornado.web
from PIL import Image

from tests.support.nvrd_process import NvrdProcess
from tests.support.rtsp_server import RtspServer
from tests.test_api_support import (
    CAMERA,
    CLIP,
    StandIn,
    fill_events,
    json_request,
    wait_for_frames,
    write_config,
)

pytestmark = pytest.mark.slow

KEY_ID, SECRET = "a1b2c3d4-0000-1111-2222-333344445555", "f" * 40
TOKEN = "token-123"


class PlusService:
    """What the stand-in received, and switches to make it fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.uploads: dict[str, list[tuple[dict, bytes]]] = {"original": [], "annotate": [], "thumbnail": []}
        self.created: list[dict] = []
        self.annotations: list[tuple[str, dict]] = []
        self.false_positives: list[tuple[str, dict]] = []
        self.fail_uploads = False
        self.unsupported_labels = {"zebra"}
        self.next_image = 0

    def routes(self) -> list:
        args = {"service": self}
        return [
            (r"/v1/auth/token", TokenHandler, args),
            (r"/v1/image/signed_urls", SignedUrlsHandler, args),
            (r"/upload/(original|annotate|thumbnail)", UploadHandler, args),
            (r"/v1/image/create", CreateHandler, args),
            (r"/v1/image/([^/]+)/(annotation|false_positive)", LabelHandler, args),
        ]


class ServiceHandler(tornado.web.RequestHandler):
    def initialize(self, service: PlusService) -> None:
        self.service = service
        service.calls.append((self.request.method, self.request.path))

    def bearer_ok(self) -> bool:
        if self.request.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.set_status(401)
            self.finish("bad token")
            return False
        return True


class TokenHandler(ServiceHandler):
    def get(self) -> None:
        expected = "Basic " + base64.b64encode(f"{KEY_ID}:{SECRET}".encode()).decode()
        if self.request.headers.get("Authorization") != expected:
            self.set_status(401)
            self.finish("bad key")
            return
        self.finish({"accessToken": TOKEN, "expires": time.time() + 3600})


class SignedUrlsHandler(ServiceHandler):
    def get(self) -> None:
        if not self.bearer_ok():
            return
        self.service.next_image += 1
        base = f"{self.request.protocol}://{self.request.host}"
        answer = {"imageId": f"plus-{self.service.next_image}"}
        for name in ("original", "annotate", "thumbnail"):
            answer[name] = {
                "url": f"{base}/upload/{name}",
                "fields": {"key": f"{name}/{self.service.next_image}"},
            }
        self.finish(answer)


class UploadHandler(ServiceHandler):
    def post(self, name: str) -> None:
        if self.service.fail_uploads:
            self.set_status(403)
            self.finish("denied")
            return
        fields = {key: values[0].decode() for key, values in self.request.body_arguments.items()}
        files = self.request.files.get("file", [])
        assert self.request.body.rstrip().endswith(b"--"), "the form must end after the file"
        self.service.uploads[name].append((fields, files[0]["body"] if files else b""))
        self.set_status(204)


class CreateHandler(ServiceHandler):
    def post(self) -> None:
        if self.bearer_ok():
            self.service.created.append(json.loads(self.request.body))
            self.finish({})


class LabelHandler(ServiceHandler):
    def put(self, image_id: str, kind: str) -> None:
        if not self.bearer_ok():
            return
        payload = json.loads(self.request.body)
        if payload["label"] in self.service.unsupported_labels:
            self.set_status(404)
            self.finish("unsupported label")
            return
        (self.service.annotations if kind == "annotation" else self.service.false_positives).append(
            (image_id, payload)
        )
        self.finish({})


class Plus:
    def __init__(self, nvrd: NvrdProcess, service: PlusService, events: list[dict]) -> None:
        self.nvrd, self.service, self.events = nvrd, service, events

    def post(self, path: str, body: object | None = None):
        return json_request(self.nvrd.base, "POST", path, body)

    def put(self, path: str, body: object | None = None):
        return json_request(self.nvrd.base, "PUT", path, body)


@pytest.fixture(scope="module")
def plus(tmp_path_factory, shared_dir: Path):
    tmp = tmp_path_factory.mktemp("plus")
    clips = tmp / "media" / "clips"
    events = fill_events(tmp / "nvr.db", clips, shared_dir, 6, with_files=5)
    events += fill_events(tmp / "nvr.db", clips, shared_dir, 1, labels=("zebra",), with_files=1, seed=9)
    service = PlusService()
    with (
        StandIn(service.routes()) as stand_in,
        RtspServer(shared_dir / "media" / CLIP, start_s=70, duration_s=10, loop=True) as rtsp,
    ):
        env = {"PLUS_API_KEY": f"{KEY_ID}:{SECRET}", "PLUS_API_HOST": stand_in.base}
        nvrd = NvrdProcess(write_config(tmp, rtsp.url, shared_dir, detect=False), env=env).start()
        try:
            wait_for_frames(nvrd)
            yield Plus(nvrd, service, events)
        finally:
            assert nvrd.stop() == 0, nvrd.log()


def _answer(response, status: int) -> dict:
    assert response.status == status, (response.status, response.text[:300])
    return response.json()


def test_config_says_plus_is_enabled(plus: Plus) -> None:
    assert plus.nvrd.get("/api/config").json()["plus"] == {"enabled": True}


def test_submit_uploads_three_sizes_and_the_annotation(plus: Plus) -> None:
    event = plus.events[0]
    answer = _answer(plus.post(f"/api/events/{event['id']}/plus", {"include_annotation": 1}), 200)
    assert answer["success"] is True
    plus_id = answer["plus_id"]
    service = plus.service
    sizes = {}
    for name, received in service.uploads.items():
        fields, data = received[-1]
        assert fields == {"key": f"{name}/{plus_id.split('-')[1]}", "content-type": "image/jpeg"}
        sizes[name] = Image.open(io.BytesIO(data)).size
    # The clean picture is grace_hopper.bmp (512x600): original at most 1920, annotate 640, thumb 200.
    assert sizes == {"original": (512, 600), "annotate": (512, 600), "thumbnail": (170, 200)}
    assert service.created[-1] == {"id": plus_id, "camera": CAMERA}
    assert service.annotations[-1] == (
        plus_id,
        {"label": event["label"], "x": 0.3, "y": 0.2, "w": 0.1, "h": 0.3, "difficult": False},
    )
    stored = plus.nvrd.get(f"/api/events/{event['id']}").json()
    assert stored["plus_id"] == plus_id
    submitted = plus.nvrd.get("/api/events?is_submitted=1&limit=-1").json()
    assert event["id"] in {e["id"] for e in submitted}
    again = _answer(plus.post(f"/api/events/{event['id']}/plus"), 400)
    assert again["message"] == "Already submitted to plus"


def test_false_positive_submits_first_then_marks(plus: Plus) -> None:
    event = plus.events[1]
    answer = _answer(plus.put(f"/api/events/{event['id']}/false_positive"), 200)
    image_id, payload = plus.service.false_positives[-1]
    assert image_id == answer["plus_id"]
    data = event["data"]
    assert payload == {
        "label": event["label"],
        "x": data["box"][0], "y": data["box"][1], "w": data["box"][2], "h": data["box"][3],
        "regionX": data["region"][0], "regionY": data["region"][1],
        "regionW": data["region"][2], "regionH": data["region"][3],
        "score": data["score"],
        "model_hash": "5a1e", "model_type": "ssd", "detector_type": "cpu",
    }  # fmt: skip
    stored = plus.nvrd.get(f"/api/events/{event['id']}").json()
    assert stored["false_positive"] is True and stored["plus_id"] == answer["plus_id"]
    again = _answer(plus.put(f"/api/events/{event['id']}/false_positive"), 400)
    assert again["message"] == "False positive already submitted to Frigate+"


def test_token_is_fetched_once_and_reused(plus: Plus) -> None:
    assert plus.service.calls.count(("GET", "/v1/auth/token")) <= 1
    _answer(plus.post(f"/api/events/{plus.events[2]['id']}/plus"), 200)
    assert plus.service.calls.count(("GET", "/v1/auth/token")) == 1


def test_refusals_with_frigates_messages(plus: Plus) -> None:
    no_files = plus.events[5]["id"]
    assert (
        _answer(plus.post(f"/api/events/{no_files}/plus"), 400)["message"]
        == "Unable to load clean png for event"
    )
    missing = "1700000000.0-zzzzzz"
    assert _answer(plus.post(f"/api/events/{missing}/plus"), 404)["message"] == f"Event {missing} not found"
    assert _answer(plus.put(f"/api/events/{missing}/false_positive"), 404)["success"] is False

    created = _answer(plus.post(f"/api/events/{CAMERA}/doorbell/create", {"duration": None}), 200)
    manual = created["event_id"]
    assert _answer(plus.post(f"/api/events/{manual}/plus"), 400)["message"] == (
        "Unable to load clean png for in-progress event"
    )
    assert _answer(plus.put(f"/api/events/{manual}/false_positive"), 400)["message"] == (
        "Events prior to 0.13 cannot be submitted as false positives"
    )

    zebra = plus.events[6]["id"]
    assert _answer(plus.post(f"/api/events/{zebra}/plus", {"include_annotation": 1}), 400)["message"] == (
        "Error uploading annotation, unsupported label provided."
    )


def test_upload_failure_is_reported(plus: Plus) -> None:
    plus.service.fail_uploads = True
    try:
        answer = _answer(plus.post(f"/api/events/{plus.events[3]['id']}/plus"), 400)
    finally:
        plus.service.fail_uploads = False
    assert answer["message"] == "Error uploading image"
    assert plus.nvrd.get(f"/api/events/{plus.events[3]['id']}").json()["plus_id"] is None
