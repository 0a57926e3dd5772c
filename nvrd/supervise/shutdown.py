"""Stopping within systemd's stop timeout: parallel stops and a deadline for the whole shutdown.

systemd sends SIGTERM, waits `TimeoutStopSec=` (30 s in nvrd.service) and then kills everything.
nvrd would rather stop cleanly in time: it stops the cameras side by side instead of one after the
other, and gives up waiting on a shutdown step that hangs, so the process still exits on its own
(and systemd records a clean stop) instead of being killed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

# Within nvrd.service's TimeoutStopSec=30s, with room for the interpreter's own exit.
STOP_BUDGET_S = 25.0


def run_within(step: Callable[[], None], seconds: float, what: str = "shutdown") -> bool:
    """Run `step` on its own thread and wait at most `seconds`; False (and a log line) if it hangs.

    A step that hangs is left behind on a daemon thread, so it cannot keep the process alive.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            step()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name=what, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        log.error("%s did not finish within %.0f s; exiting anyway", what, seconds)
        return False
    if failure:
        log.error("%s failed: %r", what, failure[0], exc_info=failure[0])
        return False
    return True


def stop_all(steps: Iterable[tuple[str, Callable[[], None]]], seconds: float) -> list[str]:
    """Run every (name, stop) side by side; the names of those that failed or outlasted `seconds`."""
    threads: dict[str, threading.Thread] = {}
    failed: list[str] = []

    def guarded(name: str, stop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                stop()
            except Exception:
                log.exception("stopping %s failed", name)
                failed.append(name)

        return run

    for name, stop in steps:
        threads[name] = threading.Thread(target=guarded(name, stop), name=f"stop:{name}", daemon=True)
        threads[name].start()
    deadline = time.monotonic() + seconds
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = [name for name, thread in threads.items() if thread.is_alive()]
    for name in hung:
        log.error("stopping %s did not finish within %.0f s", name, seconds)
    return sorted(set(failed) | set(hung))
