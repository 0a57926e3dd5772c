"""The OpenAPI 3.0 description of nvrd's HTTP API, served at `/api/openapi.json`.

Each operation is declared once below (path, method, parameters, body, answers); tests check that
every route of nvrd.api.server is described here and every description reaches a route, and they
fuzz the running API from this document.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
JPEG = "image/jpeg"
TEXT = "text/html"

# --- reusable schemas ---------------------------------------------------------------------------------

MESSAGE = {
    "type": "object",
    "required": ["success", "message"],
    "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}},
}
EVENT_LIST_ITEM = {
    "type": "object",
    "required": [
        "id",
        "camera",
        "label",
        "start_time",
        "end_time",
        "has_clip",
        "has_snapshot",
        "zones",
        "data",
    ],
    "properties": {
        "id": {"type": "string"},
        "camera": {"type": "string"},
        "label": {"type": "string"},
        "sub_label": {"type": "string", "nullable": True},
        "zones": {"type": "array", "items": {"type": "string"}},
        "start_time": {"type": "number"},
        "end_time": {"type": "number", "nullable": True},
        "has_clip": {"type": "boolean"},
        "has_snapshot": {"type": "boolean"},
        "plus_id": {"type": "string", "nullable": True},
        "retain_indefinitely": {"type": "boolean"},
        "false_positive": {"type": "boolean", "nullable": True},
        "top_score": {"type": "number", "nullable": True},
        "box": {"nullable": True},
        "data": {"type": "object"},
        "thumbnail": {"type": "string", "nullable": True, "description": "base64 JPEG, 175 px tall"},
    },
}
EVENT = {
    **EVENT_LIST_ITEM,
    "properties": {
        **EVENT_LIST_ITEM["properties"],
        "score": {"type": "number", "nullable": True},
        "region": {"nullable": True},
        "area": {"type": "integer", "nullable": True},
        "ratio": {"type": "number", "nullable": True},
        "model_hash": {"type": "string", "nullable": True},
        "model_type": {"type": "string", "nullable": True},
        "detector_type": {"type": "string", "nullable": True},
    },
}
SUMMARY_ITEM = {
    "type": "object",
    "required": ["camera", "label", "day", "zones", "count"],
    "properties": {
        "camera": {"type": "string"},
        "label": {"type": "string"},
        "sub_label": {"type": "string", "nullable": True},
        "day": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "zones": {"type": "array", "items": {"type": "string"}},
        "count": {"type": "integer"},
    },
}
TIMELINE_ITEM = {
    "type": "object",
    "required": ["timestamp", "camera", "source", "source_id", "class_type", "data"],
    "properties": {
        "timestamp": {"type": "number"},
        "camera": {"type": "string"},
        "source": {"type": "string"},
        "source_id": {"type": "string"},
        "class_type": {"type": "string"},
        "data": {"type": "object"},
    },
}
STATS = {
    "type": "object",
    "required": ["cameras", "detectors", "detection_fps", "service"],
    "properties": {
        "cameras": {"type": "object", "additionalProperties": {"type": "object"}},
        "detectors": {"type": "object"},
        "detection_fps": {"type": "number"},
        "cpu_usages": {"type": "object"},
        "processes": {"type": "object"},
        "service": {
            "type": "object",
            "required": ["uptime", "version", "storage"],
            "properties": {
                "uptime": {"type": "integer"},
                "version": {"type": "string"},
                "latest_version": {"type": "string"},
                "storage": {"type": "object"},
                "temperatures": {"type": "object"},
                "last_updated": {"type": "integer"},
            },
        },
    },
}
PTZ_INFO = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "features": {"type": "array", "items": {"type": "string"}},
        "presets": {"type": "array", "items": {"type": "string"}},
    },
}
PROBE_ITEM = {
    "type": "object",
    "required": ["return_code", "stderr", "stdout"],
    "properties": {"return_code": {"type": "integer"}, "stderr": {"type": "string"}, "stdout": {}},
}
RECORDING_SEGMENT = {
    "type": "object",
    "required": ["id", "start_time", "end_time"],
    "properties": {
        "id": {"type": "string"},
        "start_time": {"type": "number"},
        "end_time": {"type": "number"},
        "segment_size": {"type": "number"},
        "motion": {"type": "integer"},
        "objects": {"type": "integer"},
    },
}


def _array(items: dict) -> dict:
    return {"type": "array", "items": items}


# --- parameters ----------------------------------------------------------------------------------------


def _path(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


CAMERA = _path("camera_name", "camera name", {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"})
EVENT_ID = _path(
    "event_id", "event id (`<epoch>-<6 chars>`)", {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}
)
LABEL = _path("label", "object label, or `any`", {"type": "string", "pattern": "^[^/]{1,100}$"})
TIME = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
FLAG = {"type": "integer", "enum": [0, 1]}
ZERO_ONE = {"type": "integer", "minimum": 0, "maximum": 1}
HEIGHT = {"type": "integer", "minimum": 1, "maximum": 4320}
QUALITY = {"type": "integer", "minimum": 0, "maximum": 100}
OVERLAYS = [
    _query("bbox", "draw bounding boxes of tracked objects", FLAG),
    _query("timestamp", "print the frame time top left", FLAG),
    _query("zones", "outline the zones", FLAG),
    _query("mask", "darken the masked areas", FLAG),
    _query("motion", "draw motion boxes (blue)", FLAG),
    _query("regions", "draw detection regions (green)", FLAG),
]
LIVE_SNAPSHOT = [
    _query("h", "height in pixels (live rendering only)", HEIGHT),
    _query("bbox", "bounding box (live rendering only)", FLAG),
    _query("timestamp", "timestamp (live rendering only)", FLAG),
    _query("crop", "crop to the object (live rendering only)", FLAG),
    _query("quality", "JPEG quality (live rendering only)", QUALITY),
    _query("download", "any value: send as an attachment"),
]
THUMB_FORMAT = _query("format", "`android` pads to 2:1", {"type": "string", "enum": ["ios", "android"]})


# --- operations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One method on one path."""

    path: str
    method: str
    summary: str
    tag: str
    parameters: list[dict] = field(default_factory=list)
    # status -> (description, content type or types, schema)
    responses: dict[int, tuple[str, str | tuple[str, ...], dict | None]] = field(default_factory=dict)
    body: dict | None = None
    streaming: bool = False  # answers without end (MJPEG): not for fuzzers
    side_effects: str | None = None  # why a fuzzer should leave it alone


def _ok(content_type: str = JSON, schema: dict | None = None, text: str = "OK") -> dict:
    return {200: (text, content_type, schema)}


NOT_FOUND = {404: ("not found", JSON, MESSAGE)}
# What the media folders hold, and their listings (JSON; HTML for /clips/).
MEDIA_TYPES = ("application/octet-stream", JPEG, "image/png", "video/mp4", "video/MP2T", JSON, TEXT)
MEDIA = {200: ("a file, or the folder's listing", MEDIA_TYPES, None), 404: ("no such file", TEXT, None)}
BAD = {400: ("a parameter is invalid: the message names it", JSON, MESSAGE)}

OPERATIONS: tuple[Operation, ...] = (
    Operation("/api/", "get", "Liveness sentence", "service", responses=_ok(TEXT, {"type": "string"})),
    Operation(
        "/api/version",
        "get",
        "Frigate API version spoken, `X.Y.Z-nvrd<version>`",
        "service",
        responses=_ok(TEXT, {"type": "string"}),
    ),
    Operation(
        "/api/config",
        "get",
        "The resolved configuration, secrets removed",
        "service",
        responses=_ok(JSON, {"type": "object", "required": ["cameras"]}),
    ),
    Operation(
        "/api/config/raw",
        "get",
        "The config file's text",
        "service",
        responses={**_ok("text/plain", {"type": "string"}), **NOT_FOUND},
    ),
    Operation(
        "/api/config/save",
        "post",
        "Check and save a new config file (the body is its YAML text)",
        "service",
        [_query("save_option", "saveonly or restart", {"type": "string", "enum": ["saveonly", "restart"]})],
        {**_ok(JSON, MESSAGE), **BAD, **NOT_FOUND},
        side_effects="replaces the config file",
    ),
    Operation(
        "/api/stats",
        "get",
        "Camera, detector, process and storage statistics",
        "service",
        responses=_ok(JSON, STATS),
    ),
    Operation(
        "/api/labels",
        "get",
        "Distinct labels of stored events",
        "events",
        [_query("camera", "only this camera's events")],
        _ok(JSON, _array({"type": "string"})),
    ),
    Operation(
        "/api/sub_labels",
        "get",
        "Distinct sub labels of stored events",
        "events",
        [_query("split_joined", "split comma-joined sub labels", FLAG)],
        _ok(JSON, {"type": "array"}),
    ),
    Operation(
        "/api/restart",
        "post",
        "Stop cleanly; the service manager starts nvrd again",
        "service",
        responses=_ok(JSON, MESSAGE),
        side_effects="restarts the daemon",
    ),
    Operation(
        "/api/openapi.json", "get", "This document", "service", responses=_ok(JSON, {"type": "object"})
    ),
    Operation(
        "/api/ffprobe",
        "get",
        "ffprobe of stream URLs, or of a camera's inputs (`camera:<name>`)",
        "service",
        [_query("paths", "comma-separated stream URLs, or camera:<name>")],
        {**_ok(JSON, _array(PROBE_ITEM)), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/api/timeline",
        "get",
        "Key moments of tracked objects, oldest first",
        "events",
        [
            _query("camera", "camera name or `all`"),
            _query("source_id", "tracked object (event) id"),
            _query("limit", "at most this many (-1: all)", {"type": "integer", "minimum": -1}),
        ],
        {**_ok(JSON, _array(TIMELINE_ITEM)), **BAD},
    ),
    Operation(
        "/api/events",
        "get",
        "Events, newest first",
        "events",
        [
            _query("cameras", "comma list of cameras, or `all`"),
            _query("camera", "one camera (0.8)"),
            _query("labels", "comma list of labels, or `all`"),
            _query("label", "one label (0.8)"),
            _query("sub_labels", "comma list (`None`: without)"),
            _query("sub_label", "one sub label"),
            _query("zones", "comma list (`None`: without)"),
            _query("zone", "one zone (0.8)"),
            _query("after", "start after (epoch s)", {"type": "number"}),
            _query("before", "start before (epoch s)", {"type": "number"}),
            _query("time_range", "local time of day window `HH:MM,HH:MM`"),
            _query("timezone", "IANA zone for time_range (default utc)"),
            _query("has_clip", "0 or 1", ZERO_ONE),
            _query("has_snapshot", "0 or 1", ZERO_ONE),
            _query("in_progress", "0 or 1", ZERO_ONE),
            _query("include_thumbnails", "0 leaves thumbnails out", FLAG),
            _query("favorites", "1: retained events only", FLAG),
            _query("min_score", "minimum score", {"type": "number"}),
            _query("max_score", "maximum score", {"type": "number"}),
            _query("is_submitted", "0: not sent to Frigate+, 1: sent", {"type": "integer", "minimum": 0}),
            _query("min_length", "minimum length (s)", {"type": "number"}),
            _query("max_length", "maximum length (s)", {"type": "number"}),
            _query("limit", "at most this many (-1: all)", {"type": "integer", "minimum": -1}),
        ],
        {**_ok(JSON, _array(EVENT_LIST_ITEM)), **BAD},
    ),
    Operation(
        "/api/events/summary",
        "get",
        "Event counts per camera, label, sub label, day and zones",
        "events",
        [
            _query("has_clip", "0 or 1", ZERO_ONE),
            _query("has_snapshot", "0 or 1", ZERO_ONE),
            _query("timezone", "IANA zone for the days (default utc)"),
        ],
        {**_ok(JSON, _array(SUMMARY_ITEM)), **BAD},
    ),
    Operation(
        "/api/events/{camera_name}/{label}/create",
        "post",
        "Create a manual event from the current frame",
        "events",
        [CAMERA, LABEL],
        {
            **_ok(JSON, {**MESSAGE, "properties": {**MESSAGE["properties"], "event_id": {"type": "string"}}}),
            **BAD,
            **NOT_FOUND,
            503: ("the camera has no frame yet", JSON, MESSAGE),
        },
        body={
            "type": "object",
            "properties": {
                "sub_label": {"type": "string", "maxLength": 100, "nullable": True},
                "duration": {"type": "number", "minimum": 0, "nullable": True},
                "include_recording": {"type": "boolean"},
                "source_type": {"type": "string"},
                "score": {"type": "number"},
                "draw": {
                    "type": "object",
                    "properties": {
                        "boxes": _array(
                            {
                                "type": "object",
                                "properties": {
                                    "box": _array({"type": "number", "minimum": 0, "maximum": 1}),
                                    "color": _array({"type": "integer", "minimum": 0, "maximum": 255}),
                                    "score": {"type": "number"},
                                },
                            }
                        )
                    },
                },
            },
        },
    ),
    Operation(
        "/api/events/{event_id}",
        "get",
        "One event, every column",
        "events",
        [EVENT_ID],
        {**_ok(JSON, EVENT), 404: ("no such event (plain text)", TEXT, {"type": "string"})},
    ),
    Operation(
        "/api/events/{event_id}",
        "delete",
        "Delete an event, its timeline and its files",
        "events",
        [EVENT_ID],
        {**_ok(JSON, MESSAGE), **NOT_FOUND},
    ),
    Operation(
        "/api/events/{event_id}/thumbnail.jpg",
        "get",
        "Event thumbnail (stored or live)",
        "events",
        [EVENT_ID, THUMB_FORMAT],
        {**_ok(JPEG), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/api/events/{event_id}/snapshot.jpg",
        "get",
        "Event snapshot (stored file once ended, else live)",
        "events",
        [EVENT_ID, *LIVE_SNAPSHOT],
        {**_ok(JPEG), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/api/events/{event_id}/clip.mp4",
        "get",
        "Event clip built from the recordings",
        "recordings",
        [EVENT_ID, _query("download", "any value: send as an attachment")],
        {**_ok("video/mp4"), **NOT_FOUND},
    ),
    Operation(
        "/api/events/{event_id}/retain",
        "post",
        "Keep the event forever",
        "events",
        [EVENT_ID],
        {**_ok(JSON, MESSAGE), **NOT_FOUND},
    ),
    Operation(
        "/api/events/{event_id}/retain",
        "delete",
        "Stop keeping the event forever",
        "events",
        [EVENT_ID],
        {**_ok(JSON, MESSAGE), **NOT_FOUND},
    ),
    Operation(
        "/api/events/{event_id}/sub_label",
        "post",
        "Set (or with null remove) the sub label",
        "events",
        [EVENT_ID],
        {**_ok(JSON, MESSAGE), **BAD, **NOT_FOUND},
        body={
            "type": "object",
            "required": ["subLabel"],
            "properties": {
                "subLabel": {"type": "string", "maxLength": 100, "nullable": True},
                "subLabelScore": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
    ),
    Operation(
        "/api/events/{event_id}/end",
        "put",
        "End a manual event (default: now)",
        "events",
        [EVENT_ID],
        {**_ok(JSON, MESSAGE), **BAD},
        body={"type": "object", "properties": {"end_time": {"type": "number", "minimum": 0}}},
    ),
    Operation(
        "/api/events/{event_id}/plus",
        "post",
        "Submit the event's clean picture to Frigate+",
        "frigate+",
        [EVENT_ID, _query("include_annotation", "1: send the box too", FLAG)],
        {
            200: ("submitted", JSON, {"type": "object", "properties": {"plus_id": {"type": "string"}}}),
            **BAD,
            **NOT_FOUND,
        },
        body={"type": "object", "properties": {"include_annotation": {"type": "integer"}}},
    ),
    Operation(
        "/api/events/{event_id}/false_positive",
        "put",
        "Mark the detection a false positive on Frigate+",
        "frigate+",
        [EVENT_ID],
        {
            200: ("marked", JSON, {"type": "object", "properties": {"plus_id": {"type": "string"}}}),
            **BAD,
            **NOT_FOUND,
        },
    ),
    Operation(
        "/api/recordings/storage",
        "get",
        "Recording storage per camera",
        "recordings",
        responses=_ok(JSON, {"type": "object"}),
    ),
    Operation(
        "/api/{camera_name}/latest.jpg",
        "get",
        "The newest processed frame",
        "cameras",
        [
            CAMERA,
            _query("h", "height in pixels", HEIGHT),
            _query("quality", "JPEG quality", QUALITY),
            *OVERLAYS,
        ],
        {**_ok(JPEG), 400: ("bad parameter", TEXT, None), **NOT_FOUND},
    ),
    Operation(
        "/api/{camera_name}/ptz/info",
        "get",
        "PTZ features and presets over ONVIF (`{}` without)",
        "cameras",
        [CAMERA],
        {**_ok(JSON, PTZ_INFO), **NOT_FOUND, 502: ("the ONVIF camera could not be asked", JSON, MESSAGE)},
    ),
    Operation(
        "/api/{camera_name}/recordings/summary",
        "get",
        "Recorded hours per day",
        "recordings",
        [CAMERA, _query("timezone", "IANA zone (default utc)")],
        {**_ok(JSON, {"type": "array"}), **BAD},
    ),
    Operation(
        "/api/{camera_name}/recordings",
        "get",
        "Recording segments in a range",
        "recordings",
        [
            CAMERA,
            _query("after", "epoch s (default an hour ago)", {"type": "number"}),
            _query("before", "epoch s (default now)", {"type": "number"}),
        ],
        {**_ok(JSON, _array(RECORDING_SEGMENT)), **BAD},
    ),
    Operation(
        "/api/{camera_name}/recordings/{frame_time}/snapshot.png",
        "get",
        "A recorded frame as PNG",
        "recordings",
        [CAMERA, _path("frame_time", "epoch s", TIME)],
        {**_ok("image/png"), **NOT_FOUND},
    ),
    Operation(
        "/api/{camera_name}/start/{start}/end/{end}/clip.mp4",
        "get",
        "A clip of any range",
        "recordings",
        [
            CAMERA,
            _path("start", "epoch s", TIME),
            _path("end", "epoch s", TIME),
            _query("download", "any value: send as an attachment"),
        ],
        {**_ok("video/mp4"), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/api/export/{camera_name}/start/{start}/end/{end}",
        "post",
        "Export a range as one mp4",
        "recordings",
        [CAMERA, _path("start", "epoch s", TIME), _path("end", "epoch s", TIME)],
        {**_ok(JSON, MESSAGE), **BAD, **NOT_FOUND},
        body={
            "type": "object",
            "properties": {"playback": {"type": "string", "enum": ["realtime", "timelapse_25x"]}},
        },
        side_effects="starts an ffmpeg export",
    ),
    Operation(
        "/api/export/{current}/{new}",
        "patch",
        "Rename an export",
        "recordings",
        [_path("current", "export file name"), _path("new", "new name")],
        {**_ok(JSON, MESSAGE), **BAD, **NOT_FOUND},
        side_effects="renames files",
    ),
    Operation(
        "/api/export/{name}",
        "delete",
        "Delete an export",
        "recordings",
        [_path("name", "export file name")],
        {**_ok(JSON, MESSAGE), **NOT_FOUND},
        side_effects="deletes files",
    ),
    Operation(
        "/api/{camera_name}/{label}/best.jpg",
        "get",
        "Best recent picture of a label (0.8)",
        "cameras",
        [CAMERA, LABEL, _query("h", "height in pixels", HEIGHT), _query("crop", "crop to the object", FLAG)],
        {**_ok(JPEG), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/api/{camera_name}/{label}/thumbnail.jpg",
        "get",
        "Thumbnail of the newest event of a label",
        "cameras",
        [CAMERA, LABEL, THUMB_FORMAT],
        {**_ok(JPEG), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/api/{camera_name}/{label}/snapshot.jpg",
        "get",
        "Snapshot of the newest event of a label",
        "cameras",
        [CAMERA, LABEL, *LIVE_SNAPSHOT],
        {**_ok(JPEG), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/api/{camera_name}",
        "get",
        "MJPEG stream of the processed frames",
        "cameras",
        [
            CAMERA,
            _query("fps", "frames per second", {"type": "integer", "minimum": 1, "maximum": 30}),
            _query("h", "height in pixels", HEIGHT),
            *OVERLAYS,
        ],
        {**_ok("multipart/x-mixed-replace"), **BAD, **NOT_FOUND},
        streaming=True,
    ),
    Operation(
        "/vod/event/{event_id}/{file}",
        "get",
        "HLS of an event",
        "hls",
        [EVENT_ID, _path("file", "master.m3u8, index.m3u8, index-v1.m3u8 or seg-<n>-v1.ts")],
        {**_ok("application/vnd.apple.mpegurl"), **NOT_FOUND},
    ),
    Operation(
        "/vod/{camera_name}/start/{start}/end/{end}/{file}",
        "get",
        "HLS of a range",
        "hls",
        [
            CAMERA,
            _path("start", "epoch s", TIME),
            _path("end", "epoch s", TIME),
            _path("file", "master.m3u8, index.m3u8, index-v1.m3u8 or seg-<n>-v1.ts"),
        ],
        {**_ok("application/vnd.apple.mpegurl"), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/vod/{year_month}/{day}/{hour}/{camera_name}/{file}",
        "get",
        "HLS of one hour (UTC)",
        "hls",
        [
            _path("year_month", "YYYY-MM"),
            _path("day", "DD"),
            _path("hour", "HH"),
            CAMERA,
            _path("file", "master.m3u8, index.m3u8, index-v1.m3u8 or seg-<n>-v1.ts"),
        ],
        {**_ok("application/vnd.apple.mpegurl"), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/vod/{year_month}/{day}/{hour}/{camera_name}/{tz}/{file}",
        "get",
        "HLS of one local hour",
        "hls",
        [
            _path("year_month", "YYYY-MM"),
            _path("day", "DD"),
            _path("hour", "HH"),
            CAMERA,
            _path("tz", "IANA zone with `/` written `,`"),
            _path("file", "master.m3u8, index.m3u8, index-v1.m3u8 or seg-<n>-v1.ts"),
        ],
        {**_ok("application/vnd.apple.mpegurl"), **BAD, **NOT_FOUND},
    ),
    Operation(
        "/clips/{relative}",
        "get",
        "Files of the clips folder (0.8 event clips built on demand)",
        "media",
        [_path("relative", "file name")],
        MEDIA,
    ),
    Operation(
        "/recordings/{relative}",
        "get",
        "Files and JSON listing of the recordings folder",
        "media",
        [_path("relative", "path")],
        MEDIA,
    ),
    Operation(
        "/exports/{relative}",
        "get",
        "Files and JSON listing of the exports folder",
        "media",
        [_path("relative", "file name")],
        MEDIA,
    ),
)


def _operation_object(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (description, content_types, schema) in op.responses.items():
        media: dict[str, Any] = {"schema": schema} if schema is not None else {}
        types = (content_types,) if isinstance(content_types, str) else content_types
        responses[str(status)] = {
            "description": description,
            "content": {content_type: copy.deepcopy(media) for content_type in types},
        }
    # Path parts that match no route (a malformed id, for instance) are a JSON 404, and a malformed
    # parameter a JSON 400, whatever the operation answers otherwise.
    for status, description in (("400", "a parameter is invalid"), ("404", "not found")):
        entry = responses.setdefault(status, {"description": description, "content": {}})
        entry["content"].setdefault(JSON, {"schema": MESSAGE})
    item: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path}",
        "tags": [op.tag],
        "parameters": copy.deepcopy(op.parameters),
        "responses": responses,
    }
    if op.body is not None:
        item["requestBody"] = {"required": False, "content": {JSON: {"schema": copy.deepcopy(op.body)}}}
    if op.streaming:
        item["x-streaming"] = True
    if op.side_effects:
        item["x-side-effects"] = op.side_effects
    return item


@functools.lru_cache(maxsize=4)
def _document(version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation_object(op)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "nvrd HTTP API",
            "version": version,
            "description": "Frigate's HTTP API (0.8 and 0.13 paths) as served by nvrd on port 5000.",
        },
        "paths": paths,
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The whole OpenAPI document (a fresh copy)."""
    return copy.deepcopy(_document(version))
