"""The daemon: builds the core from the config, runs the HTTP API on Tornado's loop, stops cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

from nvrd import FRIGATE_API_VERSION, __version__
from nvrd.bus import Bus
from nvrd.camera.ffmpeg_args import masked_command_line
from nvrd.detect import DetectorError, DetectorPool, ObjectDetector, load_labelmap
from nvrd.events import EventManager
from nvrd.hotplug import Hotplug
from nvrd.mqtt import MqttBridge, start_mqtt
from nvrd.pipeline import CameraPipeline
from nvrd.record import Recorder
from nvrd.stats import storage_usage
from nvrd.store import Store
from nvrd.supervise import STOP_BUDGET_S, Supervisor, run_within, stop_all

log = logging.getLogger(__name__)

# Exit code after a restart was asked for (MQTT `<prefix>/restart`, `POST /api/restart`): nvrd stops
# cleanly and exits with it, and systemd's Restart= starts it again (EX_TEMPFAIL: "try again").
EXIT_RESTART = 75
MAX_BODY_BYTES = 4 * 1024 * 1024


class StartError(Exception):
    """The daemon cannot start (the DB cannot be opened, the port is taken, ...)."""


class Daemon:
    """Owns every long-lived part of nvrd; the API and MQTT layers read it."""

    def __init__(self, config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.version = f"{FRIGATE_API_VERSION}-nvrd{__version__}"
        self.started_at = time.time()
        self.bus = Bus()
        self.cameras: dict[str, CameraPipeline] = {}
        self.store: Store | None = None
        self.detectors: DetectorPool | None = None
        self.events: EventManager | None = None
        self.recorder: Recorder | None = None
        self.hotplug: Hotplug | None = None
        self.labelmap: dict[int, str] = {}
        self._server = None
        self.mqtt: MqttBridge | None = None
        self._restart_requested = False
        self._stop_soon = None  # set while run() waits: stops the daemon from any thread

    # --- start and stop --------------------------------------------------------------------------

    def start_core(self) -> None:
        """Open the DB, start the detectors and the cameras (everything but HTTP)."""
        cfg = self.config
        for folder in (cfg.storage.clips, cfg.storage.cache):
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                log.error("storage folder %s is not usable: %s", folder, exc)
        try:
            Path(cfg.database.path).parent.mkdir(parents=True, exist_ok=True)
            self.store = Store(Path(cfg.database.path))
        except Exception as exc:
            raise StartError(f"cannot open the database {cfg.database.path}: {exc}") from exc
        closed = self.store.end_open_events()
        if closed:
            log.info("closed %d event(s) left open by the previous run", closed)
        try:
            self.labelmap = load_labelmap(Path(cfg.model.labelmap_path), dict(cfg.model.labelmap))
        except Exception as exc:
            raise StartError(f"cannot read the label map: {exc}") from exc
        # The pool's members come and go with the Corals: the hot-plug manager starts the configured
        # detectors, the Corals plugged in and, without either, a CPU fallback. With no detector at
        # all, cameras still stream, record and report motion while the manager keeps retrying.
        self.detectors = DetectorPool({}, cfg.model)
        try:
            self.hotplug = Hotplug(cfg, self.detectors, self.bus, recording=lambda: self.recorder)
        except DetectorError as exc:
            raise StartError(str(exc)) from exc
        self.hotplug.start()
        model_size = cfg.model.width
        self.events = EventManager(
            self.store,
            Path(cfg.storage.clips),
            self.bus,
            cfg.cameras,
            model_info=self.detectors.model_info(),
        )
        # Before the cameras, so that their first frames' activity is seen by the recorder.
        self.recorder = Recorder(cfg, self.store)
        self.recorder.start()
        for name, cam in cfg.cameras.items():
            if not cam.enabled:
                continue
            detector = ObjectDetector(
                self.detectors,
                self.labelmap,
                model_size,
                tracked_labels=list(cam.objects.track),
                min_scores={label: f.min_score for label, f in cam.objects.filters.items()},
            )
            self.cameras[name] = CameraPipeline(
                name,
                cam,
                detector=detector,
                events=self.events,
                bus=self.bus,
                activity=self.recorder.activity,
            )
        # Before the cameras start, so that their first notices reach the broker.
        self.mqtt = start_mqtt(self)
        for pipeline in self.cameras.values():
            pipeline.start()
        log.info(
            "nvrd %s started: %d camera(s), detectors %s",
            self.version,
            len(self.cameras),
            ", ".join(self.detectors.stats()) or "none",
        )

    def stop_core(self) -> None:
        """Stop cameras, end open events, stop detectors, close the DB."""
        # Side by side: the whole stop must fit in the unit's stop timeout, whatever the camera count.
        stop_all([(f"camera {name}", pipeline.stop) for name, pipeline in self.cameras.items()], 12.0)
        if self.events is not None:
            self.events.end_all(time.time())
        if self.mqtt is not None:
            self.mqtt.stop()  # after end_all, so the `end` events go out first
        if self.recorder is not None:
            self.recorder.stop()  # after end_all: the last segments are judged with the events ended
        if self.hotplug is not None:
            self.hotplug.stop()  # before the pool, so that no detector is added while it stops
        if self.detectors is not None:
            self.detectors.stop()
        if self.store is not None:
            self.store.close()

    def run(self, host: str = "0.0.0.0", port: int = 5000) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code."""
        return asyncio.run(self._main(host, port))

    async def _main(self, host: str, port: int) -> int:
        from nvrd.api.server import make_app  # the API reads the core, so it is built after it

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Before starting anything: a SIGTERM during startup then stops nvrd cleanly once it is up.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        supervisor = Supervisor.for_daemon(self, loop)
        supervisor.starting("opening the database, starting detectors and cameras")
        self.start_core()
        try:
            app = make_app(self)
            # No request of this API needs a large body (a config file is at most 1 MiB).
            self._server = app.listen(port, address=host, xheaders=False, max_body_size=MAX_BODY_BYTES)
        except OSError as exc:
            self.stop_core()
            raise StartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        log.info("HTTP API on http://%s:%d", host, port)
        supervisor.ready()  # config, DB and API are up: READY=1, then the health-gated watchdog
        self._stop_soon = lambda: loop.call_soon_threadsafe(stop.set)
        if self._restart_requested:
            stop.set()
        await stop.wait()
        log.info("stopping")
        supervisor.stopping()
        self._server.stop()
        await loop.run_in_executor(None, run_within, self.stop_core, STOP_BUDGET_S, "stopping nvrd")
        return EXIT_RESTART if self._restart_requested else 0

    def request_restart(self) -> None:
        """Stop cleanly, then exit with EXIT_RESTART; returns at once and may be called from any thread."""
        log.warning("restart requested: stopping, then exiting with %d for systemd to restart", EXIT_RESTART)
        self._restart_requested = True
        if self._stop_soon is not None:
            self._stop_soon()

    # --- what the API reads ----------------------------------------------------------------------

    def snapshot_path(self, camera: str, event_id: str) -> Path:
        """Where an event's snapshot lives; refuses names that would leave the clips folder."""
        clips = Path(self.config.storage.clips).resolve()
        path = (clips / f"{camera}-{event_id}.jpg").resolve()
        if path.parent != clips:
            raise ValueError("path outside the clips folder")
        return path

    def api_config(self) -> dict:
        """GET /api/config: the resolved config, secrets removed, with each camera's ffmpeg command."""
        data = self.config.api_dict(labelmap=self.labelmap)
        for name, pipeline in self.cameras.items():
            data["cameras"][name]["ffmpeg_cmds"] = [
                {"roles": ["detect"], "cmd": pipeline.capture.masked_command()}
            ]
            segmenter = self.recorder.segmenters.get(name) if self.recorder else None
            if segmenter is not None and segmenter.command:
                data["cameras"][name]["ffmpeg_cmds"].append(
                    {"roles": ["record"], "cmd": masked_command_line(segmenter.command)}
                )
        return data

    def stats(self) -> dict:
        """GET /api/stats in 0.13's shape; cameras are also given at the top level as 0.8/0.12 did."""
        cameras = {name: pipeline.stats() for name, pipeline in self.cameras.items()}
        storage_paths = [
            self.config.storage.clips,
            self.config.storage.recordings,
            self.config.storage.exports,
            self.config.storage.cache,
            "/dev/shm",
        ]
        stats = {
            "cameras": cameras,
            "detectors": self.detectors.stats() if self.detectors else {},
            "detection_fps": round(sum(c["detection_fps"] for c in cameras.values()), 2),
            "processes": {},
            "service": {
                "uptime": int(time.time() - self.started_at),
                "version": self.version,
                "latest_version": "disabled",
                "last_updated": int(time.time()),
                "storage": {str(p): storage_usage(Path(p)) for p in storage_paths},
                "temperatures": {},
                "recording": self.recorder.status() if self.recorder else {},
            },
        }
        for name, camera_stats in cameras.items():
            stats.setdefault(name, camera_stats)
        return stats
