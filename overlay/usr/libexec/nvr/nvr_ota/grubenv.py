"""GRUB's environment block (the file `load_env` and `save_env` use): exactly 1024 bytes, a fixed
first line, one `name=value` line per variable, and `#` padding. GRUB rewrites it in place, so it
must keep its size; values are limited to plain words here, which is all the slot logic stores.
"""

from __future__ import annotations

import re
from pathlib import Path

from nvr_ota.files import atomic_write

SIZE = 1024
HEADER = "# GRUB Environment Block\n"
_PLAIN = re.compile(r"[A-Za-z0-9_.:-]*")


class GrubEnvError(Exception):
    """The environment file is missing, damaged or cannot hold what is asked."""


def decode(text: str) -> dict[str, str]:
    """The variables in an environment block's text."""
    if not text.startswith(HEADER):
        raise GrubEnvError("not a GRUB environment block (bad first line)")
    values: dict[str, str] = {}
    for line in text[len(HEADER) :].split("\n"):
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if sep:
            values[name] = value
    return values


def encode(values: dict[str, str]) -> str:
    """The 1024-byte block for `values`; GrubEnvError for a value GRUB would need escaped."""
    lines = []
    for name, value in values.items():
        if not name or not _PLAIN.fullmatch(name) or not _PLAIN.fullmatch(value):
            raise GrubEnvError(f"cannot store {name}={value!r}: only letters, digits and _.:- are used")
        lines.append(f"{name}={value}\n")
    text = HEADER + "".join(lines)
    if len(text) > SIZE:
        raise GrubEnvError(f"the variables need {len(text)} bytes, the block holds {SIZE}")
    return text + "#" * (SIZE - len(text))


def read(path: Path) -> dict[str, str]:
    """The variables stored in the file at `path`."""
    try:
        text = path.read_bytes().decode("latin-1")
    except OSError as exc:
        raise GrubEnvError(f"cannot read {path}: {exc.strerror}") from exc
    if len(text) != SIZE:
        raise GrubEnvError(f"{path} is {len(text)} bytes, not {SIZE}")
    return decode(text)


def write(path: Path, values: dict[str, str]) -> None:
    """Replace the file at `path` by a block holding `values` (a power cut keeps the old or the new)."""
    atomic_write(path, encode(values).encode("latin-1"))
