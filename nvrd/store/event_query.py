"""The filters of `GET /api/events` (0.13, plus 0.8's singular forms) and the SQL they turn into.

Every value reaches SQLite as a bound parameter; only fixed clause text is put into the SQL string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from nvrd.store.timezones import current_utc_offset_seconds

ALL = "all"
# An item of sub_labels/zones that selects rows with no sub label / no zones.
NONE_ITEM = "None"
DEFAULT_TIME_RANGE = "00:00,24:00"
DEFAULT_LIMIT = 100

# The keys of one element of the 0.13 list (thumbnail is added when requested).
LIST_COLUMNS: tuple[str, ...] = (
    "id",
    "camera",
    "label",
    "zones",
    "start_time",
    "end_time",
    "has_clip",
    "has_snapshot",
    "plus_id",
    "retain_indefinitely",
    "sub_label",
    "top_score",
    "false_positive",
    "box",
    "data",
)

_TIME_RANGE = re.compile(r"^([0-2]\d:[0-5]\d),([0-2]\d:[0-5]\d)$")


@dataclass(slots=True)
class EventQuery:
    """One `/api/events` request. List fields hold comma-list items; None or `["all"]` means no filter.

    The singular fields (`camera`, `label`, `sub_label`, `zone`) are the 0.8 forms; each is used only
    when its plural is unset, as Frigate 0.13 does. `after`/`before` are strict and ignored when 0.
    """

    cameras: list[str] | None = None
    camera: str | None = None
    labels: list[str] | None = None
    label: str | None = None
    sub_labels: list[str] | None = None
    sub_label: str | None = None
    zones: list[str] | None = None
    zone: str | None = None
    after: float | None = None
    before: float | None = None
    time_range: str = DEFAULT_TIME_RANGE
    timezone: str = "utc"
    has_clip: int | None = None
    has_snapshot: int | None = None
    in_progress: int | None = None
    include_thumbnails: bool = True
    favorites: bool = False
    min_score: float | None = None
    max_score: float | None = None
    is_submitted: int | None = None
    min_length: float | None = None
    max_length: float | None = None
    limit: int = DEFAULT_LIMIT  # -1 = no limit

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> EventQuery:
        """Build a query from URL query parameters (first value of each), as `/api/events` receives them.

        Raises ValueError naming the parameter when a value does not parse (Frigate itself silently
        ignores most malformed numbers; the API layer may choose to do so by catching this).
        """

        def text(name: str) -> str | None:
            value = params.get(name)
            return None if value is None or value == ALL else value

        def items(name: str) -> list[str] | None:
            value = text(name)
            return None if value is None else [item for item in value.split(",") if item != ""]

        def number(name: str, kind: type[int] | type[float]) -> int | float | None:
            value = params.get(name)
            if value is None or value.strip() == "":
                return None
            try:
                return kind(value)
            except ValueError:
                raise ValueError(
                    f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}"
                ) from None

        include_thumbnails = number("include_thumbnails", int)
        limit = number("limit", int)
        time_range = params.get("time_range", DEFAULT_TIME_RANGE)
        query = cls(
            cameras=items("cameras"),
            camera=text("camera"),
            labels=items("labels"),
            label=text("label"),
            sub_labels=items("sub_labels"),
            sub_label=text("sub_label"),
            zones=items("zones"),
            zone=text("zone"),
            after=number("after", float),
            before=number("before", float),
            time_range=time_range,
            timezone=params.get("timezone", "utc"),
            has_clip=number("has_clip", int),
            has_snapshot=number("has_snapshot", int),
            in_progress=number("in_progress", int),
            include_thumbnails=True if include_thumbnails is None else bool(include_thumbnails),
            favorites=bool(number("favorites", int)),
            min_score=number("min_score", float),
            max_score=number("max_score", float),
            is_submitted=number("is_submitted", int),
            min_length=number("min_length", float),
            max_length=number("max_length", float),
            limit=DEFAULT_LIMIT if limit is None else limit,
        )
        query.validate()
        return query

    def validate(self) -> None:
        """Raise ValueError when time_range, timezone or limit cannot be used."""
        parse_time_range(self.time_range)
        current_utc_offset_seconds(self.timezone)
        if self.limit < -1:
            raise ValueError(f"limit must be -1 (no limit) or a count, got {self.limit}")

    def where_clause(self) -> tuple[str, list[object]]:
        """The SQL condition (without WHERE; "1" when nothing filters) and its parameters."""
        clauses: list[str] = []
        params: list[object] = []

        cameras = _chosen(self.cameras, self.camera)
        if cameras is not None:
            clauses.append(f"camera IN ({_placeholders(cameras)})")
            params.extend(cameras)
        labels = _chosen(self.labels, self.label)
        if labels is not None:
            clauses.append(f"label IN ({_placeholders(labels)})")
            params.extend(labels)

        sub_labels = _chosen(self.sub_labels, self.sub_label)
        if sub_labels is not None:
            options = []
            for item in sub_labels:
                if item == NONE_ITEM:
                    options.append("sub_label IS NULL")
                else:
                    # A sub label may be a comma-joined list: match a whole item at either end.
                    options.append("(sub_label = ? OR instr(sub_label, ?) > 0 OR instr(sub_label, ?) > 0)")
                    params.extend([item, f"{item},", f", {item}"])
            clauses.append(f"({' OR '.join(options)})")

        zones = _chosen(self.zones, self.zone)
        if zones is not None:
            options = []
            for item in zones:
                if item == NONE_ITEM:
                    options.append("(zones IS NULL OR json_array_length(zones) = 0)")
                else:
                    # The zones column is a JSON array; a quoted name is a whole element.
                    options.append("instr(zones, ?) > 0")
                    params.append(json.dumps(item, ensure_ascii=False))
            clauses.append(f"({' OR '.join(options)})")

        if self.after:
            clauses.append("start_time > ?")
            params.append(self.after)
        if self.before:
            clauses.append("start_time < ?")
            params.append(self.before)

        window = parse_time_range(self.time_range)
        if window is not None:
            start, end = window
            local = "strftime('%H:%M', start_time + ?, 'unixepoch')"
            joiner = "OR" if start > end else "AND"  # start > end: an overnight window
            clauses.append(f"({local} > ? {joiner} {local} < ?)")
            offset = current_utc_offset_seconds(self.timezone)
            params.extend([offset, start, offset, end])

        if self.has_clip is not None:
            clauses.append("has_clip = ?")
            params.append(self.has_clip)
        if self.has_snapshot is not None:
            clauses.append("has_snapshot = ?")
            params.append(self.has_snapshot)
        if self.in_progress is not None:
            clauses.append("end_time IS NULL" if self.in_progress else "end_time IS NOT NULL")
        if self.favorites:
            clauses.append("retain_indefinitely = 1")
        if self.min_score is not None:
            clauses.append("json_extract(data, '$.score') >= ?")
            params.append(self.min_score)
        if self.max_score is not None:
            clauses.append("json_extract(data, '$.score') <= ?")
            params.append(self.max_score)
        if self.is_submitted is not None:
            if self.is_submitted == 0:
                clauses.append("plus_id IS NULL")
            elif self.is_submitted > 0:
                clauses.append("plus_id != ''")
        if self.min_length is not None:
            clauses.append("end_time - start_time >= ?")
            params.append(self.min_length)
        if self.max_length is not None:
            clauses.append("end_time - start_time <= ?")
            params.append(self.max_length)

        return (" AND ".join(clauses) if clauses else "1"), params


def parse_time_range(value: str) -> tuple[str, str] | None:
    """`"HH:MM,HH:MM"` → (after, before); None for the default whole day. ValueError when malformed."""
    if value == DEFAULT_TIME_RANGE:
        return None
    match = _TIME_RANGE.match(value.strip())
    if match is None:
        raise ValueError(f"time_range must look like 'HH:MM,HH:MM', got {value!r}")
    return match.group(1), match.group(2)


def _chosen(plural: list[str] | None, singular: str | None) -> list[str] | None:
    """The plural filter's items, else the legacy singular value; None when neither filters."""
    if plural is not None and plural != [ALL]:
        return plural
    if singular is not None and singular != ALL:
        return [singular]
    return None


def _placeholders(values: list[str]) -> str:
    return ", ".join("?" for _ in values)
