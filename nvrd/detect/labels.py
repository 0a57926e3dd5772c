"""Label maps: the class id a model outputs -> the label name events and MQTT use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from nvrd.detect.errors import DetectorError

_ID_LINE = re.compile(r"^\s*(\d+)\s+(\S.*?)\s*$")
_UNUSED = "n/a"


def load_labelmap(path: str | Path, overrides: Mapping[int | str, str] | None = None) -> dict[int, str]:
    """Read a label file and apply config overrides (`model.labelmap`, {id: name}).

    Two formats are accepted and told apart by their lines:
    - "<id> <name>" on every non-blank line (Coral's coco_labels.txt);
    - one name per line, the line index (from 0) being the id, "n/a" or a blank line marking an
      unused id (TensorFlow's and Coral test_data's newer label files).

    Raises DetectorError when the file is missing, unreadable, empty, or lists an id twice.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DetectorError(f"label map {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DetectorError(f"label map {file} cannot be read: {exc}") from exc

    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DetectorError(f"label map {file} is empty")

    filled = [line for line in lines if line.strip()]
    if all(_ID_LINE.match(line) for line in filled):
        labels = _parse_id_lines(filled, file)
    else:
        labels = {i: line.strip() for i, line in enumerate(lines) if line.strip() not in ("", _UNUSED)}
    if not labels:
        raise DetectorError(f"label map {file} names no labels")
    labels.update(_parse_overrides(overrides or {}))
    return labels


def _parse_id_lines(lines: list[str], file: Path) -> dict[int, str]:
    labels: dict[int, str] = {}
    for line in lines:
        match = _ID_LINE.match(line)
        assert match is not None  # checked by the caller
        class_id, name = int(match.group(1)), match.group(2)
        if class_id in labels:
            raise DetectorError(f"label map {file}: id {class_id} is listed twice")
        labels[class_id] = name
    return labels


def _parse_overrides(overrides: Mapping[int | str, str]) -> dict[int, str]:
    parsed: dict[int, str] = {}
    for key, name in overrides.items():
        try:
            parsed[int(key)] = str(name)
        except (TypeError, ValueError):
            raise DetectorError(f"model.labelmap key {key!r} is not a class id (an integer)") from None
    return parsed
