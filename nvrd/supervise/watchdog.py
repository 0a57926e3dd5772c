"""The watchdog thread: pings systemd only while the health check passes, and keeps STATUS current.

A bare timer would keep pinging a wedged daemon; this one asks HealthCheck first, so a frozen event
loop, camera thread or detector makes the pings stop and systemd restarts nvrd after `WatchdogSec`.
Without a watchdog (no WATCHDOG_USEC: a dev laptop) it still runs, to keep the status and to log
health problems, and pings nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from nvrd.supervise.health import HealthCheck
from nvrd.supervise.notify import SystemdNotifier, watchdog_timeout

log = logging.getLogger(__name__)

IDLE_PERIOD_S = 5.0  # how often to check when systemd does not watch us


class Watchdog:
    """Checks health every half watchdog timeout; start() once after READY, stop() once."""

    def __init__(
        self,
        notifier: SystemdNotifier,
        health: HealthCheck,
        status: Callable[[], str],
        *,
        timeout: float | None = None,
    ) -> None:
        """`status` builds the STATUS line; `timeout` defaults to systemd's WATCHDOG_USEC."""
        self.notifier = notifier
        self.health = health
        self.status = status
        self.timeout = watchdog_timeout() if timeout is None else timeout
        # systemd's advice: ping at half the timeout, so one late round is not fatal.
        self.period = self.timeout / 2 if self.timeout else IDLE_PERIOD_S
        self.pings = 0
        self.problems: list[str] = []
        self.last_status: str | None = None  # the STATUS line systemd has
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the first check now, then keep checking on a thread."""
        if self.timeout:
            log.info("systemd watchdog: %.0f s; health is checked every %.1f s", self.timeout, self.period)
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop checking and pinging (shutdown has begun)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.tick()
            self._stop.wait(max(0.0, self.period - (time.monotonic() - started)))

    def tick(self) -> bool:
        """One round: check health, ping when healthy, refresh STATUS; True when healthy."""
        try:
            problems = self.health.problems()
        except Exception as exc:  # not knowing we are healthy is not healthy
            log.exception("health check failed")
            problems = [f"the health check failed: {exc!r}"]
        if self._stop.is_set():
            return not problems
        if not problems:
            self.notifier.watchdog()
            self.pings += 1
        self._report(problems)
        return not problems

    def _report(self, problems: list[str]) -> None:
        if problems != self.problems:
            if problems:
                log.error("unhealthy, not pinging the watchdog: %s", "; ".join(problems))
            elif self.problems:
                log.warning("healthy again")
            self.problems = problems
        try:
            line = self.status()
        except Exception:
            log.exception("building the status line failed")
            line = "running"
        if problems:
            line = "UNHEALTHY: " + "; ".join(problems) + " | " + line
        if line != self.last_status:
            self.notifier.status(line)
            self.last_status = line
