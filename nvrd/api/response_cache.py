"""Encoded answers of the read-only JSON endpoints over the database, reused until the database changes.

Frigate's nginx micro-cached JSON for 5 s; here an answer is kept exactly as long as nothing was written
to the database (SQLite tells every connection when another one committed, and counts its own changes),
so a client never sees an answer older than the data. The gzip form is made once per answer too.
Used only from the event loop's thread.
"""

from __future__ import annotations

import gzip
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

DEFAULT_BUDGET_BYTES = 16 * 1024 * 1024
GZIP_LEVEL = 6
GZIP_MIN_BYTES = 1024  # smaller bodies gain nothing from compression


@dataclass(slots=True)
class CachedBody:
    """One encoded answer, and its gzip form once a client asked for it."""

    body: bytes
    _gzipped: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        """The body gzip-compressed (computed on first use)."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)
        return self._gzipped

    @property
    def size(self) -> int:
        return len(self.body) + (len(self._gzipped) if self._gzipped else 0)


class ResponseCache:
    """Answers keyed by request, valid for one database version; least recently used go first."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self._budget = budget_bytes
        self._entries: OrderedDict[Hashable, tuple[Hashable, CachedBody]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: Hashable) -> CachedBody | None:
        """The answer stored for `key` at this `version`, or None."""
        found = self._entries.get(key)
        if found is None or found[0] != version:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found[1]

    def put(self, key: Hashable, version: Hashable, body: bytes) -> CachedBody:
        """Store an answer (an answer larger than the whole budget is returned, not kept)."""
        entry = CachedBody(body)
        if len(body) <= self._budget:
            self._entries[key] = (version, entry)
            self._entries.move_to_end(key)
            self.trim()
        return entry

    def trim(self) -> None:
        """Drop the least recently used answers until the kept ones fit the budget."""
        total = sum(entry.size for _, entry in self._entries.values())
        while total > self._budget and self._entries:
            _, (_, entry) = self._entries.popitem(last=False)
            total -= entry.size

    def clear(self) -> None:
        """Forget every answer."""
        self._entries.clear()
