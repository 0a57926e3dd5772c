"""Service endpoints: liveness, version, config and stats."""

from __future__ import annotations

from nvrd.api.base import BaseHandler


class RootHandler(BaseHandler):
    """`GET /api/`: Frigate's liveness sentence."""

    def get(self) -> None:
        self.write_text("Frigate is running. Alive and healthy!")


class VersionHandler(BaseHandler):
    """`GET /api/version`: `X.Y.Z-<build>` in plain text, X.Y.Z being the Frigate API we speak."""

    def get(self) -> None:
        self.write_text(self.daemon.version)


class ConfigHandler(BaseHandler):
    """`GET /api/config`: the defaults-merged configuration, secrets removed."""

    def get(self) -> None:
        self.write_json(self.daemon.api_config())


class StatsHandler(BaseHandler):
    """`GET /api/stats`: per camera and detector rates, service uptime and storage."""

    def get(self) -> None:
        self.write_json(self.daemon.stats())
