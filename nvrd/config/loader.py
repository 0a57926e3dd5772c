"""Reading a config file: text, environment placeholders, validation, and one-line errors.

`{FRIGATE_*}` and `{NVR_*}` placeholders are filled from the environment in the places that hold
secrets (camera input paths, MQTT and ONVIF credentials), after `environment_vars` is applied.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nvrd.config.base import CHECK_ERROR_TYPE
from nvrd.config.errors import ConfigError
from nvrd.config.schema import CAMERA_SECTIONS, NvrConfig, merge_global_sections
from nvrd.config.yaml_source import KeyPath, SourceDocument, parse_document

_PLACEHOLDER = re.compile(r"\{((?:FRIGATE|NVR)_[A-Za-z0-9_]+)\}")
_SHOULD = re.compile(r"^(Input|String|Value|List|Dictionary|Tuple|Object|Decimal) should ")
_MODEL_TYPE = re.compile(r"a valid dictionary( or instance of \w+)?")
# Errors whose message says nothing of the value, so the value is shown after it.
_SHOW_INPUT_EXCLUDED = {"missing", "extra_forbidden", "value_error", "assertion_error", CHECK_ERROR_TYPE}


def load_config(path: str | Path) -> NvrConfig:
    """Read, check and resolve the config file at `path` (YAML or JSON); raises ConfigError."""
    path = Path(path)
    return config_from_text(_read_text(path), source=str(path), base_dir=path.absolute().parent)


def config_from_text(
    text: str, source: str = "<config>", base_dir: Path | None = None, *, apply_environment: bool = True
) -> NvrConfig:
    """Check and resolve config text; `source` names it in errors, `base_dir` anchors relative paths.

    `environment_vars` fill placeholders in any case; they are copied into this process's environment
    only with `apply_environment` (the daemon's own config), not when a candidate is merely checked.
    """
    if not text.strip():
        raise ConfigError(source, "the file is empty")
    document = parse_document(text, source)
    if document.data is None:
        raise ConfigError(source, "the file holds no settings (only comments)")
    if not isinstance(document.data, dict):
        raise ConfigError(
            source, "the top level must be a mapping of sections (mqtt:, cameras:, ...)", line=1
        )
    raw = copy.deepcopy(document.data)
    variables = _environment_vars(raw, document, source)
    environ = {**os.environ, **variables}
    _substitute_placeholders(raw, document, source, environ)
    _credentials_from_environment(raw, environ)
    try:
        config = NvrConfig.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise _first_problem(exc, raw, document, source) from None
    if apply_environment:
        os.environ.update(variables)
    return config


def _read_text(path: Path) -> str:
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(source, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, f"not UTF-8 text (bad byte at offset {exc.start})") from None


def _environment_vars(raw: dict[str, Any], document: SourceDocument, source: str) -> dict[str, str]:
    """The config's `environment_vars` as strings, names checked."""
    variables = raw.get("environment_vars")
    found: dict[str, str] = {}
    if not isinstance(variables, dict):
        return found  # validation reports it
    for name, value in variables.items():
        path = ("environment_vars", str(name))
        if not str(name) or "=" in str(name) or "\0" in str(name):
            raise ConfigError(
                source, "not a valid environment variable name", ".".join(path), document.line_of(path)
            )
        if isinstance(value, str | int | float | bool):
            found[str(name)] = str(value)
    return found


def _secret_fields(raw: dict[str, Any]) -> list[tuple[KeyPath, dict[Any, Any] | list[Any], Any]]:
    """(key path, container, key) of every value that may hold a placeholder."""
    fields: list[tuple[KeyPath, dict[Any, Any] | list[Any], Any]] = []
    mqtt = raw.get("mqtt")
    if isinstance(mqtt, dict):
        fields += [(("mqtt", key), mqtt, key) for key in ("user", "password") if key in mqtt]
    cameras = raw.get("cameras")
    for name, camera in cameras.items() if isinstance(cameras, dict) else ():
        if not isinstance(camera, dict):
            continue
        ffmpeg = camera.get("ffmpeg")
        inputs = ffmpeg.get("inputs") if isinstance(ffmpeg, dict) else None
        for index, item in enumerate(inputs if isinstance(inputs, list) else ()):
            if isinstance(item, dict) and "path" in item:
                fields.append((("cameras", str(name), "ffmpeg", "inputs", str(index), "path"), item, "path"))
        onvif = camera.get("onvif")
        if isinstance(onvif, dict):
            fields += [
                (("cameras", str(name), "onvif", key), onvif, key)
                for key in ("host", "user", "password")
                if key in onvif
            ]
    return fields


def _substitute_placeholders(
    raw: dict[str, Any], document: SourceDocument, source: str, environ: Mapping[str, str]
) -> None:
    for path, container, key in _secret_fields(raw):
        value = container[key]
        if not isinstance(value, str):
            continue

        def fill(match: re.Match[str], path: KeyPath = path) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(
                    source, f"environment variable {name} is not set", ".".join(path), document.line_of(path)
                )
            return environ[name]

        container[key] = _PLACEHOLDER.sub(fill, value)


def _credentials_from_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    # The appliance keeps broker credentials out of the file: NVR_MQTT_USER / NVR_MQTT_PASSWORD.
    mqtt = raw.get("mqtt", {})
    if not isinstance(mqtt, dict):
        return
    filled = dict(mqtt)
    for key, variable in (("user", "NVR_MQTT_USER"), ("password", "NVR_MQTT_PASSWORD")):
        if filled.get(key) is None and variable in environ:
            filled[key] = environ[variable]
    if filled != mqtt:
        raw["mqtt"] = filled


def _first_problem(
    exc: ValidationError, raw: dict[str, Any], document: SourceDocument, source: str
) -> ConfigError:
    """The first validation error as a ConfigError, with the count of the others (one per key)."""
    merged = merge_global_sections(raw)
    problems: dict[KeyPath, str] = {}
    for error in exc.errors():
        path = _key_path(error, merged)
        problems.setdefault(path, _reason(error))
    # A bad global value also fails in every camera that inherits it: count it once.
    for path, reason in list(problems.items()):
        if len(path) > 2 and path[0] == "cameras" and problems.get(path[2:]) == reason:
            del problems[path]
    path, reason = next(iter(problems.items()))
    return ConfigError(source, reason, ".".join(path), _line(path, document), more=len(problems) - 1)


def _key_path(error: Mapping[str, Any], data: Any) -> KeyPath:
    """The error's location as keys of the config data, without pydantic's union and key markers."""
    loc = list(error["loc"])
    check_path = list(error.get("ctx", {}).get("path", ())) if error["type"] == CHECK_ERROR_TYPE else []
    path: list[str] = []
    node = data
    for position, part in enumerate(loc):
        if isinstance(node, dict):
            key = next((k for k in node if str(k) == str(part)), None)
            if key is not None:
                path.append(str(part))
                node = node[key]
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(str(part))
            node = node[part]
            continue
        if error["type"] == "missing" and position == len(loc) - 1:
            path.append(str(part))
    path += [str(part) for part in check_path]
    return tuple(path)


def _reason(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == CHECK_ERROR_TYPE:
        return str(error["ctx"]["reason"])
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = _SHOULD.sub("must ", message)
    message = _MODEL_TYPE.sub("a mapping", message)
    value = error.get("input")
    if kind not in _SHOW_INPUT_EXCLUDED and isinstance(value, str | int | float | bool | None):
        message += f", got {value!r}"
    return message


def _line(path: KeyPath, document: SourceDocument) -> int | None:
    if path in document.lines:
        return document.lines[path]
    # A camera value that was not written under the camera came from the global section.
    if len(path) > 2 and path[0] == "cameras" and path[2] in CAMERA_SECTIONS and path[2:] in document.lines:
        return document.lines[path[2:]]
    return document.line_of(path)
