"""Service endpoints: liveness, version, config, stats, labels, restart and the OpenAPI document."""

from __future__ import annotations

import time
from typing import Any

from nvrd.api.base import BaseHandler, to_json
from nvrd.api.openapi import openapi_document
from nvrd.api.process_usage import ProcessUsage

# Stats are computed at most this often; every request in between gets the same bytes (Frigate
# served the numbers its stats thread computed every few seconds).
STATS_MAX_AGE_S = 1.0


class RootHandler(BaseHandler):
    """`GET /api/`: Frigate's liveness sentence."""

    def get(self) -> None:
        self.write_text("Frigate is running. Alive and healthy!")


class VersionHandler(BaseHandler):
    """`GET /api/version`: `X.Y.Z-<build>` in plain text, X.Y.Z being the Frigate API we speak."""

    def get(self) -> None:
        self.write_text(self.daemon.version)


def with_client_fields(config: dict[str, Any], plus_enabled: bool) -> dict[str, Any]:
    """The config with the keys Frigate 0.13 adds at run time and Home Assistant reads:
    `enabled_in_config` beside switchable features, and whether Frigate+ is set up."""
    for camera in config.get("cameras", {}).values():
        for section in ("record", "audio", "motion", "detect", "snapshots"):
            part = camera.get(section)
            if isinstance(part, dict) and "enabled" in part:
                part.setdefault("enabled_in_config", part["enabled"])
        autotracking = camera.get("onvif", {}).get("autotracking")
        if isinstance(autotracking, dict):
            autotracking.setdefault("enabled", False)
            autotracking.setdefault("enabled_in_config", autotracking["enabled"])
    config["plus"] = {"enabled": plus_enabled}
    return config


class ConfigHandler(BaseHandler):
    """`GET /api/config`: the defaults-merged configuration, secrets removed."""

    def initialize(self, daemon, plus_enabled: bool) -> None:
        super().initialize(daemon)
        self.plus_enabled = plus_enabled

    def get(self) -> None:
        self.write_json(with_client_fields(self.daemon.api_config(), self.plus_enabled))


def _pids(stats: dict[str, Any]) -> list[int]:
    """Every process id the stats name: nvrd itself, captures, detectors, recorders."""
    pids = []
    for camera in stats.get("cameras", {}).values():
        pids += [camera.get(key) for key in ("pid", "capture_pid", "ffmpeg_pid")]
    pids += [detector.get("pid") for detector in stats.get("detectors", {}).values()]
    recording = stats.get("service", {}).get("recording", {})
    if isinstance(recording, dict):
        pids += [
            camera.get("pid") for camera in recording.get("cameras", {}).values() if isinstance(camera, dict)
        ]
    return [pid for pid in pids if isinstance(pid, int)]


class StatsSnapshot:
    """The encoded stats, refreshed at most every STATS_MAX_AGE_S (used from the event loop only)."""

    def __init__(self) -> None:
        self._usage = ProcessUsage()
        self._at = float("-inf")
        self._body = b""

    def body(self, daemon) -> bytes:
        now = time.monotonic()
        if now - self._at >= STATS_MAX_AGE_S:
            stats = daemon.stats()
            stats["cpu_usages"] = self._usage.sample(_pids(stats))
            self._body = to_json(stats).encode()
            self._at = now
        return self._body


class StatsHandler(BaseHandler):
    """`GET /api/stats`: per camera and detector rates, service uptime and storage, process CPU."""

    def initialize(self, daemon, snapshot: StatsSnapshot) -> None:
        super().initialize(daemon)
        self.snapshot = snapshot

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(self.snapshot.body(self.daemon))


class LabelsHandler(BaseHandler):
    """`GET /api/labels?camera=`: the distinct labels of stored events, sorted."""

    def get(self) -> None:
        self.write_json(self.daemon.store.event_labels(self.arg_str("camera")))


class SubLabelsHandler(BaseHandler):
    """`GET /api/sub_labels?split_joined=1`: the distinct sub labels of stored events."""

    def get(self) -> None:
        values = self.daemon.store.event_sub_labels()
        if self.arg_flag("split_joined"):
            parts = {part.strip() for value in values for part in value.split(",")}
            values = sorted(part for part in parts if part)
        self.write_json(values)


class RestartHandler(BaseHandler):
    """`POST /api/restart`: stop cleanly and let the service manager start nvrd again."""

    def post(self) -> None:
        self.write_message(True, "Restarting (this can take up to one minute)...")
        self.daemon.request_restart()


class OpenApiHandler(BaseHandler):
    """`GET /api/openapi.json`: the OpenAPI 3 description of this API."""

    def get(self) -> None:
        self.write_json(openapi_document(self.daemon.version))
