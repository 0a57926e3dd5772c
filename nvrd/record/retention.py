"""Which recording segments are kept: the rules of `record.retain` and `record.events`, as pure functions.

Two policies keep a segment (either is enough):
- continuous: it lies within `record.retain.days` and passes `record.retain.mode`;
- events: it overlaps an event that has a clip and passes `record.events.retain.mode`.
Modes: `all` keeps any segment, `motion` one in which motion was seen, `active_objects` one in which a
moving true-positive object was seen. Unknown activity (the camera's frames were not processed)
counts as seen: footage is never dropped for lack of knowledge.

A segment no policy keeps is dropped only once processing has gone `pre_capture + SETTLE_S` past
its end, because an event that starts a little later reaches back `pre_capture` seconds into it and
its row appears only once the object is confirmed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["all", "motion", "active_objects"]
DAY_S = 86400.0
SETTLE_S = 15.0  # how long after a segment an event that reaches back into it may still appear
MAX_LAG_S = 60.0  # past settling, decide even if the camera's frames are not being processed


class Verdict(enum.Enum):
    """What happens to a finished segment now."""

    KEEP = "keep"
    DROP = "drop"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Span:
    """A segment's time span and what was seen in it (None: not known)."""

    start: float
    end: float
    motion: int | None = None
    objects: int | None = None


@dataclass(frozen=True, slots=True)
class CameraRetention:
    """One camera's retention settings (from its merged `record` section)."""

    enabled: bool = True
    days: float = 0.0
    mode: Mode = "all"
    events_mode: Mode = "motion"
    events_days: float = 10.0
    events_days_by_label: dict[str, float] = field(default_factory=dict)
    pre_capture: float = 5.0

    @classmethod
    def from_config(cls, record: Any) -> CameraRetention:
        """From a RecordConfig (nvrd.config.sections)."""
        return cls(
            enabled=bool(record.enabled),
            days=float(record.retain.days),
            mode=record.retain.mode,
            events_mode=record.events.retain.mode,
            events_days=float(record.events.retain.default),
            events_days_by_label={k: float(v) for k, v in record.events.retain.objects.items()},
            pre_capture=float(record.events.pre_capture),
        )

    def event_days(self, label: str) -> float:
        """How many days the clip of an event with this label is kept."""
        return self.events_days_by_label.get(label, self.events_days)


def mode_keeps(mode: Mode, motion: int | None, objects: int | None) -> bool:
    """Whether a segment with this activity passes a retention mode."""
    if mode == "motion":
        return motion is None or motion > 0
    if mode == "active_objects":
        return objects is None or objects > 0
    return True


def overlaps(span: Span, events: Iterable[tuple[float, float | None]]) -> bool:
    """True when any (start, end or None = in progress) event overlaps the span."""
    return any(start <= span.end and (end is None or end >= span.start) for start, end in events)


def ingest_verdict(
    rules: CameraRetention,
    span: Span,
    *,
    now: float,
    processed_until: float | None,
    clip_events: Iterable[tuple[float, float | None]],
) -> Verdict:
    """The fate of a segment that just finished (see the module text)."""
    if not rules.enabled:
        return Verdict.DROP
    late = now >= span.end + rules.pre_capture + SETTLE_S + MAX_LAG_S
    activity_known = (processed_until is not None and processed_until >= span.end) or late
    policies: list[Mode] = []
    if overlaps(span, clip_events):
        policies.append(rules.events_mode)
    if rules.days > 0 and span.start >= now - rules.days * DAY_S:
        policies.append(rules.mode)
    undecided = False
    for mode in policies:
        if mode == "all":
            return Verdict.KEEP
        if not activity_known:
            undecided = True
        elif mode_keeps(mode, span.motion, span.objects):
            return Verdict.KEEP
    if undecided:
        return Verdict.WAIT
    settled = processed_until is not None and processed_until >= span.end + rules.pre_capture + SETTLE_S
    return Verdict.DROP if settled or late else Verdict.WAIT


def kept_after_expiry(rules: CameraRetention, span: Span, *, now: float, clip_events) -> bool:
    """Whether a stored segment survives an expiry pass (the events given overlap it and have clips)."""
    if rules.days > 0 and span.end >= now - rules.days * DAY_S:
        return True
    return overlaps(span, clip_events) and mode_keeps(rules.events_mode, span.motion, span.objects)
