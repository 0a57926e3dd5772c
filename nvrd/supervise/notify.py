"""Talking to systemd: READY, STATUS, WATCHDOG and STOPPING through sd_notify.

systemd hands a `Type=notify` service the datagram socket to write to in NOTIFY_SOCKET and, with
`WatchdogSec=`, the timeout in WATCHDOG_USEC (for the process named by WATCHDOG_PID). Without
NOTIFY_SOCKET (a dev laptop, a test) every call is a silent no-op that returns False.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

# systemd reads one line of STATUS=; longer text only clutters `systemctl status`.
MAX_STATUS_CHARS = 400


def _systemd_python_sender() -> Callable[[str], bool] | None:
    """systemd-python's sd_notify wrapper, or None when the module is not installed."""
    try:
        from systemd import daemon
    except ImportError:
        return None
    return daemon.notify


def _datagram_sender(message: str) -> bool:
    """sd_notify's wire format by hand: one datagram to NOTIFY_SOCKET ('@' = abstract namespace)."""
    path = os.environ.get("NOTIFY_SOCKET", "")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode("utf-8"), address)
    except OSError:
        return False
    return True


class SystemdNotifier:
    """Sends service state to systemd; thread-safe (each message is one datagram)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        sender = _systemd_python_sender()
        if sender is None and self.enabled:
            log.warning("systemd-python is not installed: notifying systemd through the socket directly")
        self._send: Callable[[str], bool] = sender or _datagram_sender

    def send(self, **fields: str | int) -> bool:
        """Send `KEY=value` lines (STATUS="...", WATCHDOG=1, ...); True when systemd got them."""
        if not self.enabled:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            return bool(self._send(message))
        except (OSError, ValueError) as exc:  # a vanished socket must never take the daemon down
            log.debug("sd_notify failed: %s", exc)
            return False

    def ready(self, status: str) -> bool:
        """Startup is complete: systemd marks the unit active and arms the watchdog."""
        return self.send(READY=1, STATUS=one_line(status))

    def status(self, status: str) -> bool:
        """Replace the one-line status `systemctl status` shows."""
        return self.send(STATUS=one_line(status))

    def watchdog(self) -> bool:
        """Keep-alive: resets systemd's watchdog timer."""
        return self.send(WATCHDOG=1)

    def stopping(self, status: str = "stopping") -> bool:
        """Shutdown has begun."""
        return self.send(STOPPING=1, STATUS=one_line(status))


def one_line(text: str) -> str:
    """`text` as a single line systemd will show whole."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_STATUS_CHARS else flat[: MAX_STATUS_CHARS - 3] + "..."


def watchdog_timeout(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """systemd's watchdog timeout for this process in seconds, None when there is none.

    WATCHDOG_PID, when set, must name this process: a child that inherited the variables is not
    the one systemd watches.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number; the watchdog is ignored", env.get("WATCHDOG_USEC"))
        return None
    if usec <= 0:
        return None
    watched = env.get("WATCHDOG_PID")
    if watched and watched.strip() != str(os.getpid() if pid is None else pid):
        return None
    return usec / 1_000_000
