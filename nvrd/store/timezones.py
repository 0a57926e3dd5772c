"""IANA time-zone names as the API receives them, turned into UTC offsets."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@functools.lru_cache(maxsize=1)
def _names_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


@functools.lru_cache(maxsize=64)
def resolve_timezone(name: str) -> tzinfo:
    """The zone for an IANA name, matched case-insensitively (clients send `utc`, `America/new_york`).

    Raises ValueError for a name that is not a known zone.
    """
    if name.strip().lower() in ("utc", "z", "gmt"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    canonical = _names_by_lower().get(name.strip().lower())
    if canonical is None:
        raise ValueError(f"unknown timezone {name!r} (expected an IANA name such as 'Europe/Berlin')")
    return ZoneInfo(canonical)


def current_utc_offset_seconds(name: str, now: float | None = None) -> int:
    """The zone's UTC offset in seconds at `now` (default: the current time).

    Frigate shifts every stored time by the offset in force *now*, not the one in force on that date
    (so a DST change moves old events by an hour); the event filters and summary do the same for parity.
    """
    zone = resolve_timezone(name)
    at = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds())
