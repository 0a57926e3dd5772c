"""The one error a bad config file raises: a single line naming the file, the key and the reason."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ConfigError(Exception):
    """A config file that cannot be used.

    `str()` is one line, e.g. `config.yml: cameras.front.detect.fps: must be greater than 0, got -5
    (line 12)`, with `(and N more)` when further problems were found.
    """

    def __init__(
        self,
        source: str,
        reason: str,
        key_path: str = "",
        line: int | None = None,
        column: int | None = None,
        more: int = 0,
    ) -> None:
        self.source = source
        self.reason = reason
        self.key_path = key_path
        self.line = line
        self.column = column
        self.more = more
        super().__init__(self._one_line())

    def _one_line(self) -> str:
        parts = [self.source]
        if self.key_path:
            # A key may hold any character YAML allows; keep the message on one line whatever it is.
            parts.append(_CONTROL.sub(lambda m: repr(m.group())[1:-1], self.key_path))
        text = ": ".join([*parts, " ".join(self.reason.split())])
        if self.line is not None:
            text += f" (line {self.line}" + (f", column {self.column})" if self.column else ")")
        if self.more:
            text += f" (and {self.more} more)"
        return text
