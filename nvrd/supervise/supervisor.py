"""The daemon under systemd: startup status, READY once it serves, the health-gated watchdog, STOPPING.

supervisor = Supervisor.for_daemon(daemon, asyncio.get_running_loop())
supervisor.ready()      # config, DB and API are up
...
supervisor.stopping()   # SIGTERM: STOPPING=1, the watchdog stops pinging
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

from nvrd.supervise.health import HealthCheck, HealthLimits, LoopProbe
from nvrd.supervise.notify import SystemdNotifier
from nvrd.supervise.status import status_line
from nvrd.supervise.watchdog import Watchdog

log = logging.getLogger(__name__)


class Supervisor:
    """Reports the daemon's state to systemd and pings its watchdog while the daemon is healthy."""

    def __init__(self, notifier: SystemdNotifier, health: HealthCheck, status: Callable[[], str]) -> None:
        self.notifier = notifier
        self.status = status
        self.watchdog = Watchdog(notifier, health, status)

    @classmethod
    def for_daemon(
        cls,
        daemon: Any,
        loop: asyncio.AbstractEventLoop,
        *,
        limits: HealthLimits | None = None,
        notifier: SystemdNotifier | None = None,
    ) -> Supervisor:
        """Watch a Daemon: its cameras, its detector pool, its event loop and its storage."""

        def cameras() -> Mapping[str, Any]:
            return daemon.cameras

        def detectors() -> Mapping[str, Mapping[str, float]]:
            return daemon.detectors.stats() if daemon.detectors is not None else {}

        def status() -> str:
            hotplug = daemon.hotplug
            if hotplug is None:
                return status_line(daemon.cameras, {}, None)
            return status_line(daemon.cameras, hotplug.detectors.in_use(), hotplug.storage_text())

        health = HealthCheck(cameras=cameras, detectors=detectors, loop=LoopProbe(loop), limits=limits)
        return cls(notifier or SystemdNotifier(), health, status)

    def starting(self, what: str) -> None:
        """Say what startup is doing (shown while systemd waits for READY)."""
        self.notifier.status(f"starting: {what}")

    def ready(self) -> None:
        """Startup is complete: READY=1 with the first status line, then the watchdog runs."""
        # systemd's watchdog ends a wedged nvrd with SIGABRT: leave every thread's stack in the log.
        if not faulthandler.is_enabled():
            faulthandler.enable(file=sys.stderr, all_threads=True)
        try:
            line = self.status()
        except Exception:
            log.exception("building the status line failed")
            line = "running"
        self.notifier.ready(line)
        self.watchdog.last_status = line
        self.watchdog.start()

    def stopping(self) -> None:
        """Shutdown has begun: stop the watchdog first (a slow stop is not a wedge), then STOPPING=1."""
        self.watchdog.stop()
        self.notifier.stopping("stopping: closing recordings, detectors and the database")
