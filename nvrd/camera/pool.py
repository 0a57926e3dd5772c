"""A fixed ring of preallocated I420 buffers shared by a camera's capture and processing threads.

Each buffer has a hold count. The capture thread takes a free buffer (one hold), fills it and hands it
over; whoever has it drops the hold when done. Extra holds (pins) keep a buffer out of reuse, e.g. the
latest processed frame the API renders, without copying. A buffer is free again at zero holds.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from nvrd.frame import i420_size

log = logging.getLogger(__name__)


class FramePool:
    """`count` buffers of one I420 frame each, allocated once."""

    def __init__(self, width: int, height: int, count: int = 6) -> None:
        if count < 2:
            raise ValueError("a frame pool needs at least 2 buffers")
        size = i420_size(width, height)
        self.buffers: tuple[np.ndarray, ...] = tuple(np.zeros(size, dtype=np.uint8) for _ in range(count))
        self._slot = {id(buffer): index for index, buffer in enumerate(self.buffers)}
        self._holds = [0] * count
        self._lock = threading.Lock()

    def acquire(self) -> np.ndarray | None:
        """A free buffer, now held once by the caller; None when every buffer is held."""
        with self._lock:
            for index, holds in enumerate(self._holds):
                if holds == 0:
                    self._holds[index] = 1
                    return self.buffers[index]
        return None

    def hold(self, buffer: np.ndarray) -> bool:
        """Add a hold (a pin) on a buffer of this pool; False for a buffer that is not ours."""
        index = self._slot.get(id(buffer))
        if index is None or self.buffers[index] is not buffer:
            return False
        with self._lock:
            if self._holds[index] == 0:
                log.warning("pinning a frame buffer that was already released: ignored")
                return False
            self._holds[index] += 1
        return True

    def drop(self, buffer: np.ndarray) -> bool:
        """Drop one hold; the buffer is reused once none is left. False for a foreign buffer."""
        index = self._slot.get(id(buffer))
        if index is None or self.buffers[index] is not buffer:
            return False
        with self._lock:
            if self._holds[index] == 0:
                log.warning("a frame buffer was released more often than it was held: ignored")
                return False
            self._holds[index] -= 1
        return True

    def holds(self, buffer: np.ndarray) -> int:
        """How many holds a buffer of this pool has (0 = free); -1 for a foreign buffer."""
        index = self._slot.get(id(buffer))
        if index is None or self.buffers[index] is not buffer:
            return -1
        with self._lock:
            return self._holds[index]

    @property
    def free(self) -> int:
        """Buffers not held by anyone."""
        with self._lock:
            return sum(1 for holds in self._holds if holds == 0)
