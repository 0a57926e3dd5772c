"""Converting event and timeline rows between Python values and SQLite columns.

JSON columns are stored as text, booleans as 0/1; readers get lists/dicts and bools back.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from nvrd.store.schema import EVENT_BOOL_COLUMNS, EVENT_COLUMNS, EVENT_JSON_COLUMNS

_EVENT_COLUMN_SET = frozenset(EVENT_COLUMNS)


def to_json(value: Any) -> str:
    """Compact JSON text with non-ASCII kept as is (zone filters search this text)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def check_event_columns(names: Iterable[str]) -> None:
    """Raise ValueError for any name that is not an event column."""
    unknown = sorted(set(names) - _EVENT_COLUMN_SET)
    if unknown:
        raise ValueError(f"unknown event column(s): {', '.join(unknown)}")


def encode_event_value(column: str, value: Any) -> Any:
    """The SQLite value for one event column."""
    if value is None:
        return None
    if column in EVENT_JSON_COLUMNS:
        return to_json(value)
    if column in EVENT_BOOL_COLUMNS:
        return 1 if value else 0
    if column == "thumbnail" and not isinstance(value, str):
        raise ValueError("thumbnail must be base64 text (no data: prefix)")
    return value


@functools.lru_cache(maxsize=32)
def event_decoder(columns: tuple[str, ...]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """A decoder of result rows (tuples) of these columns into API dicts: JSON parsed, 0/1 as bools."""
    json_positions = [i for i, c in enumerate(columns) if c in EVENT_JSON_COLUMNS]
    bool_positions = [i for i, c in enumerate(columns) if c in EVENT_BOOL_COLUMNS]
    loads = json.loads

    def decode(row: Sequence[Any]) -> dict[str, Any]:
        values = list(row)
        for i in json_positions:
            text = values[i]
            if text is not None:
                values[i] = [] if text == "[]" else loads(text)
        for i in bool_positions:
            values[i] = bool(values[i])
        return dict(zip(columns, values, strict=True))

    return decode
