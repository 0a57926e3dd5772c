"""Child processes that die with nvrd: ffmpeg recorders and exporters must never outlive the daemon.

A recorder writes files, not a pipe, so nothing would tell an orphaned ffmpeg that nvrd is gone
(`kill -9`, a crash): it would go on filling the cache. Linux's parent-death signal ends it instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_libc_name = ctypes.util.find_library("c")
_prctl = ctypes.CDLL(_libc_name, use_errno=True).prctl if _libc_name else None


def child_setup(*, death_signal: int = signal.SIGTERM, nice: int = 0) -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen: signal the child when its parent dies, lower its priority.

    The signal follows the *thread* that started the child, so start children from a thread that
    lives as long as they should (or the event loop's thread).
    """

    def setup() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, death_signal)
        if nice:
            os.nice(nice)

    return setup
