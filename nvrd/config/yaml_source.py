"""YAML (and JSON) text to plain data, remembering the line of every key so errors can point at it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from nvrd.config.errors import ConfigError

KeyPath = tuple[str, ...]


@dataclass
class SourceDocument:
    """Parsed config data and the 1-based line of each key path (list items by their index)."""

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor written in the file."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def parse_document(text: str, source: str) -> SourceDocument:
    """Parse YAML text (JSON is read as YAML); syntax errors and duplicate keys raise ConfigError."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return SourceDocument(None)
        _refuse_duplicate_keys(node, source, (), set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        if source.endswith(".json"):
            return _parse_json(text, source)
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ConfigError(
            source, f"invalid YAML: {exc.problem or exc.context}", line=line, column=column
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    document = SourceDocument(data)
    _record_lines(node, (), document.lines, set())
    return document


def _parse_json(text: str, source: str) -> SourceDocument:
    # Strict JSON that YAML 1.1 refuses (tabs for indentation, say): no line map, but still readable.
    try:
        return SourceDocument(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(source, f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None


def _key_text(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _refuse_duplicate_keys(node: yaml.Node, source: str, path: KeyPath, active: set[int]) -> None:
    # PyYAML keeps the last of two equal keys silently; a config typo would then vanish unseen.
    if id(node) in active:
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[tuple[str, str]] = set()
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            if key is not None and key_node.tag != "tag:yaml.org,2002:merge":
                if (key_node.tag, key) in seen:
                    raise ConfigError(
                        source, "duplicate key", ".".join((*path, key)), line=key_node.start_mark.line + 1
                    )
                seen.add((key_node.tag, key))
            _refuse_duplicate_keys(value_node, source, (*path, key or "?"), active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, source, (*path, str(index)), active)
    active.discard(id(node))


def _record_lines(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], active: set[int]) -> None:
    # `active` guards against recursive aliases (`&a [*a]`), which SafeLoader accepts.
    if id(node) in active:
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        # After construction, merged (`<<`) pairs come first and the mapping's own keys last: own keys win.
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            if key is None:
                continue
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record_lines(value_node, (*path, key), lines, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, str(index))] = item.start_mark.line + 1
            _record_lines(item, (*path, str(index)), lines, active)
    active.discard(id(node))
