"""Following the recordings disk: mounted at `storage.root` by systemd, released when it goes.

On the appliance a udev rule hands every filesystem whose label is `storage.label` to
`systemd-mount`, which mounts it at /media/nvr (a mount made inside udev would stay private to
udevd). nvrd does not mount anything itself: it watches the mount table (poll on
/proc/self/mountinfo wakes on every mount and unmount) and block device events, and tells the
recorder:

- `storage_attached()` when a disk is mounted at the root;
- `storage_detached(reason)` when it is unmounted, or already when the kernel reports its device
  removed, so recording stops writing to it before systemd's unmount;

and writes the configured label to `hotplug.label_file`, where the udev rule's helper reads it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import select
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nvrd.hotplug.events import DeviceEvent

log = logging.getLogger(__name__)

MOUNTINFO = Path("/proc/self/mountinfo")
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")
_RECHECK_S = 2.0  # re-read the mount table this often even without a change notice


class RecordingStorage(Protocol):
    """What the recorder offers the storage monitor (nvrd.record.Recorder can implement it)."""

    def storage_attached(self) -> None:
        """A disk is mounted at the storage root again: check it and resume recording."""

    def storage_detached(self, reason: str) -> None:
        """The disk is going or gone: stop writing to it now (pause recording, close its files)."""


def recording_storage(recorder: Any) -> RecordingStorage | None:
    """`recorder` when it offers RecordingStorage (nvrd.record.Recorder does), else None."""
    attached = getattr(recorder, "storage_attached", None)
    detached = getattr(recorder, "storage_detached", None)
    return recorder if callable(attached) and callable(detached) else None


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of /proc/self/mountinfo, the fields that matter here."""

    mount_point: str
    source: str
    fstype: str
    device: str  # "major:minor"
    mount_id: int  # new for every mount, even of the same device at the same place


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes (\040 ...).
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def read_mounts(mountinfo: Path = MOUNTINFO) -> dict[str, Mount]:
    """Mount point -> Mount (the topmost one where several are stacked); {} when unreadable."""
    try:
        text = mountinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    mounts: dict[str, Mount] = {}
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        if len(fields) < dash + 3:
            continue
        point = _unescape(fields[4])
        source, fstype = _unescape(fields[dash + 2]), fields[dash + 1]
        mounts[point] = Mount(point, source, fstype, fields[2], int(fields[0]))
    return mounts


def write_label_file(path: Path, label: str) -> bool:
    """Keep `path` holding `label` (one line), for the udev rule's helper; True when it was written.

    Nothing happens when the folder does not exist (a dev machine without /etc/nvr).
    """
    if not path.parent.is_dir():
        return False
    try:
        if path.read_text(encoding="utf-8").strip() == label:
            return False
    except OSError:
        pass
    partial = path.with_name(path.name + ".new")
    try:
        partial.write_text(label + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        log.warning("cannot write the recordings disk label to %s: %s", path, exc)
        return False
    log.info("recordings disk label %r written to %s (re-plug the disk if it is not mounted)", label, path)
    return True


@dataclass(frozen=True, slots=True)
class DiskState:
    """The recordings disk as the monitor sees it."""

    mounted: bool
    source: str | None = None  # what is mounted at the root (/dev/sda1)
    fstype: str | None = None
    device: str | None = None  # major:minor
    mount_id: int | None = None
    removed: bool = False  # its device is gone while it is still mounted: released already
    since: float = 0.0  # epoch seconds of the last change


class StorageMonitor:
    """Watches the mount at `root` and the block devices; start() once, stop() once."""

    def __init__(
        self,
        root: Path,
        label: str,
        *,
        recording: Callable[[], Any] = lambda: None,
        mountinfo: Path = MOUNTINFO,
    ) -> None:
        """`recording()` returns the recorder (or None while there is none) when a change comes."""
        self.root = Path(root)
        self.label = label
        self.recording = recording
        self.mountinfo = mountinfo
        self._lock = threading.Lock()
        self._state = DiskState(False, since=time.time())
        self._seen_labelled: set[str] = set()
        self._had_disk = False  # once a disk was mounted at the root, an empty root means "no disk"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> DiskState:
        """The disk's state as of the last check."""
        with self._lock:
            return self._state

    def start(self) -> None:
        """Read the mount table now, then follow it on a thread."""
        self.check()
        self._thread = threading.Thread(target=self._run, name="storage-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following the mount table."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the mount table -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            watched = open(self.mountinfo, "rb")  # noqa: SIM115 (held open for the thread's life)
        except OSError as exc:
            log.warning("cannot watch %s (%s); checking every %.0f s", self.mountinfo, exc, _RECHECK_S)
            watched = None
        poller = select.poll()
        if watched is not None:
            # The kernel flags the open table with POLLPRI|POLLERR on every mount or unmount.
            poller.register(watched, select.POLLPRI | select.POLLERR)
        try:
            while not self._stop.is_set():
                if watched is not None:
                    watched.seek(0)
                    watched.read()  # consuming it re-arms the change notice
                    poller.poll(_RECHECK_S * 1000)
                else:
                    self._stop.wait(_RECHECK_S)
                if not self._stop.is_set():
                    self.check()
        finally:
            if watched is not None:
                watched.close()

    def check(self) -> DiskState:
        """Compare the mount at the root with what we knew; tell the recorder what changed."""
        mounts = read_mounts(self.mountinfo)
        mount = mounts.get(str(self.root))
        root_fs = mounts.get("/")
        if mount is not None and root_fs is not None and mount.device == root_fs.device:
            # The root file system bound onto itself (systemd's ReadWritePaths= does this in nvrd's
            # namespace) is the empty mount point, not a disk.
            mount = None
        with self._lock:
            before = self._state
            # A new mount id is a new mount, even of the same device (mounted again after a removal).
            if mount is not None and (not before.mounted or before.mount_id != mount.mount_id):
                self._state = DiskState(
                    True, mount.source, mount.fstype, mount.device, mount.mount_id, since=time.time()
                )
                change = "attached"
            elif mount is None and before.mounted:
                self._state = DiskState(False, since=time.time())
                change = "detached"
            else:
                return before
            state = self._state
        if change == "attached":
            self._had_disk = True
            log.info("recordings disk %s (%s) is mounted at %s", mount.source, mount.fstype, self.root)
            self._tell("storage_attached")
        else:
            log.warning("recordings disk %s was unmounted from %s", before.source, self.root)
            if not before.removed:
                self._tell("storage_detached", f"{self.root} was unmounted")
        return state

    # --- block device events ---------------------------------------------------------------------

    def device_event(self, event: DeviceEvent) -> None:
        """Take a block device event: a removed disk is released at once; a labelled one is noted."""
        if event.subsystem != "block":
            return
        if event.action == "remove":
            self._device_removed(event)
            return
        label = event.properties.get("ID_FS_LABEL")
        node = event.devnode
        if label == self.label and node and node not in self._seen_labelled:
            self._seen_labelled.add(node)
            if not self.state.mounted:
                log.info("disk %s labelled %s found; waiting for its mount at %s", node, label, self.root)

    def device_snapshot(self, subsystem: str, events: list[DeviceEvent]) -> None:
        """The block devices there now: note labelled ones, forget the ones that went."""
        present = {e.devnode for e in events if e.devnode}
        self._seen_labelled &= present
        for event in events:
            self.device_event(event)

    def _device_removed(self, event: DeviceEvent) -> None:
        node = event.devnode
        if node:
            self._seen_labelled.discard(node)
        major, minor = event.properties.get("MAJOR"), event.properties.get("MINOR")
        number = f"{major}:{minor}" if major is not None and minor is not None else None
        with self._lock:
            state = self._state
            ours = (
                state.mounted
                and not state.removed
                and (
                    (node is not None and node == state.source)
                    or (number is not None and number == state.device)
                )
            )
            if ours:
                self._state = dataclasses.replace(state, removed=True, since=time.time())
        if ours:
            log.warning("recordings disk %s was removed; recording to it stops", node or state.source)
            self._tell("storage_detached", f"disk {node or state.source} was removed")

    # --- telling the recorder, describing the state ----------------------------------------------

    def _tell(self, method: str, *args: str) -> None:
        storage = recording_storage(self.recording())
        if storage is None:
            return
        try:
            getattr(storage, method)(*args)
        except Exception:  # the recorder's trouble must not stop the monitor
            log.exception("telling the recorder about the storage failed")

    def describe(self) -> str:
        """One phrase for the status line."""
        state = self.state
        if state.mounted and state.removed:
            return f"{self.root}: disk {state.source} removed, recording paused"
        if state.mounted:
            try:
                free = shutil.disk_usage(self.root).free / 1e9
            except OSError:
                return f"{self.root} on {state.source}"
            return f"{self.root} on {state.source}, {free:.1f} GB free"
        if not self._had_disk and self.root.is_dir() and os.access(self.root, os.W_OK):
            return f"{self.root} (a folder, no separate disk)"
        return f"{self.root}: no disk (plug in one labelled {self.label})"
