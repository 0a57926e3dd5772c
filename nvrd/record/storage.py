"""Is the recordings storage there? Watches the disk the recordings, clips and exports live on.

The storage counts as present when the folder that holds the media (`storage.root`, or the
recordings folder's parent when it lies elsewhere) is a writable directory, and, once it has been
seen as a mount point, while it still is one. On the appliance the empty mount point sits on the
read-only root, so a missing USB disk fails the write check; on a PC an unmounted disk fails the
mount check. A failed write reported by the recorder marks it missing until the next probe passes.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StorageState:
    """The storage's state since `since` (epoch s); `reason` says why it is missing."""

    available: bool
    reason: str
    since: float


class StorageWatcher:
    """Probes the recordings storage; check() from one thread, the properties from any."""

    def __init__(
        self,
        recordings: Path,
        root: Path,
        folders: list[Path],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recordings = Path(recordings)
        self.anchor = Path(root) if _inside(self.recordings, Path(root)) else self.recordings.parent
        self.folders = [self.recordings, *[Path(f) for f in folders if _inside(Path(f), self.anchor)]]
        self._clock = clock
        self._expect_mount = False
        self._failure: str | None = None
        self._held = False  # the hot-plug monitor said the disk is gone: no probe until it returns
        self._lock = threading.Lock()
        self._state = StorageState(False, "not checked yet", clock())

    @property
    def state(self) -> StorageState:
        """The state as of the last check()."""
        with self._lock:
            return self._state

    @property
    def available(self) -> bool:
        """True while the storage can be written to (as of the last check)."""
        return self.state.available

    def check(self) -> StorageState | None:
        """Probe now; returns the new state when it changed, else None."""
        with self._lock:
            if self._held:
                return None
            # Coming back (or after a failed write) it must take a real write, not just look fine.
            doubtful = self._failure is not None or not self._state.available
        reason = self._probe(write_test=doubtful)
        with self._lock:
            if reason is None:
                self._failure = None
            available = reason is None
            if available == self._state.available and (available or reason == self._state.reason):
                return None
            self._state = StorageState(available, reason or "", self._clock())
            return self._state

    def report_failure(self, reason: str, *, until_attached: bool = False) -> None:
        """A write to the storage failed: it counts as missing until check() passes again.

        `until_attached`: the disk was reported removed; not even a passing probe (a dying disk may
        still take a small write into its cache) brings it back before attached() is called.
        """
        with self._lock:
            self._failure = reason
            self._held = self._held or until_attached
            self._state = StorageState(False, reason, self._clock())

    def attached(self) -> None:
        """A disk is mounted again: the next check() probes it."""
        with self._lock:
            self._held = False

    def _probe(self, *, write_test: bool) -> str | None:
        """None when usable, else why not."""
        anchor = self.anchor
        try:
            if not anchor.is_dir():
                return f"{anchor} does not exist (is the disk attached?)"
            mounted = os.path.ismount(anchor)
            if mounted:
                self._expect_mount = True
            elif self._expect_mount:
                return f"{anchor} is no longer mounted"
            if not os.access(anchor, os.W_OK):
                return f"{anchor} is not writable (is the disk mounted?)"
            for folder in self.folders:
                folder.mkdir(parents=True, exist_ok=True)
            if write_test:
                probe = self.recordings / ".nvrd-write-test"
                probe.write_bytes(b"ok")
                probe.unlink()
        except OSError as exc:
            return f"{anchor} is not usable: {exc.strerror or exc}"
        return None

    def free_bytes(self) -> tuple[int, int] | None:
        """(total, free) bytes of the recordings file system, or None when it cannot be read."""
        try:
            usage = shutil.disk_usage(self.recordings)
        except OSError:
            return None
        return usage.total, usage.free


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
