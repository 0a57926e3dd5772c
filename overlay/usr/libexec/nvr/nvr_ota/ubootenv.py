"""U-Boot's environment as `saveenv` and fw_setenv store it: a CRC-32 (little-endian, over the rest
of the block) followed by `name=value` strings, each ended by a NUL, an empty string after the last,
and padding up to the block's size. One copy, no redundancy flag (CONFIG_SYS_REDUNDAND_ENVIRONMENT
off, which is what board/rock5b/overlay/etc/fw_env.config describes: one device, offset and size).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

CRC_SIZE = 4


class EnvError(Exception):
    """The environment cannot be read or written (bad CRC, too small, bad fw_env.config)."""


@dataclass(frozen=True, slots=True)
class EnvLocation:
    """Where the environment lives: a device or file, the byte offset in it and the block's size."""

    device: Path
    offset: int
    size: int

    @classmethod
    def from_fw_env_config(cls, config: Path) -> EnvLocation:
        """Read the one `DEVICE OFFSET SIZE` line of an fw_env.config (the format fw_printenv reads)."""
        try:
            text = config.read_text()
        except OSError as exc:
            raise EnvError(f"cannot read {config}: {exc.strerror}") from exc
        lines = [
            line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
        ]
        if len(lines) != 1:
            raise EnvError(
                f"{config}: expected exactly one environment (no redundant copy), found {len(lines)}"
            )
        fields = lines[0]
        if len(fields) < 3:
            raise EnvError(f"{config}: expected 'DEVICE OFFSET SIZE', got {' '.join(fields)!r}")
        try:
            return cls(Path(fields[0]), int(fields[1], 0), int(fields[2], 0))
        except ValueError as exc:
            raise EnvError(f"{config}: offset and size must be numbers: {' '.join(fields)!r}") from exc


def decode(block: bytes) -> dict[str, str]:
    """The variables of an environment block; EnvError when its CRC does not match."""
    if len(block) <= CRC_SIZE:
        raise EnvError("environment block is too small")
    (stored,) = struct.unpack_from("<I", block)
    data = block[CRC_SIZE:]
    if zlib.crc32(data) != stored:
        raise EnvError("environment CRC mismatch (never saved by U-Boot, or damaged)")
    values: dict[str, str] = {}
    for entry in data.split(b"\0"):
        if not entry:
            break  # the empty string after the last variable
        name, sep, value = entry.partition(b"=")
        if sep:
            values[name.decode("latin-1")] = value.decode("latin-1")
    return values


def encode(values: dict[str, str], size: int) -> bytes:
    """An environment block of `size` bytes holding `values` (NUL padding, CRC in front)."""
    body = b"".join(f"{name}={value}".encode("latin-1") + b"\0" for name, value in values.items()) + b"\0"
    room = size - CRC_SIZE
    if len(body) > room:
        raise EnvError(f"environment needs {len(body)} bytes, the block holds {room}")
    for name in values:
        if not name or "=" in name or "\0" in name:
            raise EnvError(f"bad variable name {name!r}")
    data = body + b"\0" * (room - len(body))
    return struct.pack("<I", zlib.crc32(data)) + data


def read(location: EnvLocation) -> dict[str, str]:
    """The variables stored at `location`."""
    try:
        with open(location.device, "rb") as handle:
            handle.seek(location.offset)
            block = handle.read(location.size)
    except OSError as exc:
        raise EnvError(f"cannot read the environment from {location.device}: {exc.strerror}") from exc
    if len(block) != location.size:
        raise EnvError(f"{location.device} ends before the environment does")
    return decode(block)


def write(location: EnvLocation, values: dict[str, str]) -> None:
    """Store `values` at `location` in one write, flushed to the device before returning."""
    block = encode(values, location.size)
    try:
        handle = os.open(location.device, os.O_WRONLY)
    except OSError as exc:
        raise EnvError(f"cannot open {location.device} for writing: {exc.strerror}") from exc
    try:
        os.lseek(handle, location.offset, os.SEEK_SET)
        if os.write(handle, block) != len(block):
            raise EnvError(f"short write to {location.device}")
        os.fsync(handle)
    finally:
        os.close(handle)
