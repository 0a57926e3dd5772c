"""nvrd under systemd: sd_notify (READY, STATUS, WATCHDOG, STOPPING), health checks that gate the
watchdog ping, the status line, and a shutdown that fits in the unit's stop timeout."""

from nvrd.supervise.health import HealthCheck, HealthLimits, LoopProbe
from nvrd.supervise.notify import SystemdNotifier, watchdog_timeout
from nvrd.supervise.shutdown import STOP_BUDGET_S, run_within, stop_all
from nvrd.supervise.status import status_line
from nvrd.supervise.supervisor import Supervisor
from nvrd.supervise.watchdog import Watchdog

__all__ = [
    "STOP_BUDGET_S",
    "HealthCheck",
    "HealthLimits",
    "LoopProbe",
    "Supervisor",
    "SystemdNotifier",
    "Watchdog",
    "run_within",
    "status_line",
    "stop_all",
    "watchdog_timeout",
]
