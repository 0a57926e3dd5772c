"""Building blocks the config sections share: the base model, argument and mask types, path handling.

Every section refuses unknown keys and re-validates on assignment, because MQTT commands change a few
fields (detect/record/snapshots enabled, motion thresholds) while the daemon runs.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo
from pydantic_core import PydanticCustomError

from nvrd.geometry import Polygon, parse_polygon

# The error type of our own cross-field checks; the loader reads `ctx["path"]` to point at the key.
CHECK_ERROR_TYPE = "config_check"


class ConfigModel(BaseModel):
    """Base of every config section: unknown keys refused, assignments validated, not frozen."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def check_failed(reason: str, *path: str | int) -> PydanticCustomError:
    """An error for a cross-field check, pointing at `path` below the model that raises it."""
    return PydanticCustomError(CHECK_ERROR_TYPE, "{reason}", {"reason": reason, "path": path})


def _check_args(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return [str(item) for item in value]
    raise ValueError("must be a string of arguments or a list of strings")


# ffmpeg arguments as Frigate takes them: one string ("-f rawvideo -pix_fmt yuv420p") or a list.
Args = Annotated[str | list[str], BeforeValidator(_check_args)]


def split_args(args: str | list[str] | None) -> list[str]:
    """ffmpeg arguments as a list: strings are split shell-style, lists are kept."""
    if args is None:
        return []
    if isinstance(args, str):
        return shlex.split(args)
    return list(args)


def _check_mask(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError('must be a polygon string "x1,y1,x2,y2,..." or a list of them')


def _check_mask_polygons(value: str | list[str] | None) -> str | list[str] | None:
    parse_mask(value)
    return value


# A mask as written: one polygon string or a list of them; "" or null means no mask. Its polygons are
# checked on load; their place in the frame is checked by the camera, which knows the frame size.
Mask = Annotated[str | list[str] | None, BeforeValidator(_check_mask), AfterValidator(_check_mask_polygons)]


def mask_entries(mask: str | list[str] | None) -> list[str]:
    """The non-empty polygon strings of a mask as written."""
    if mask is None:
        return []
    entries = [mask] if isinstance(mask, str) else mask
    return [entry for entry in entries if entry.strip()]


def polygon_from(coordinates: str | list[str]) -> Polygon:
    """nvrd.geometry.parse_polygon, with numbers too large for a pixel reported as a ValueError too."""
    try:
        return parse_polygon(coordinates)
    except OverflowError:
        raise ValueError(f"coordinates must be pixel numbers, got {coordinates!r}") from None


def parse_mask(mask: str | list[str] | None) -> list[Polygon]:
    """The polygons of a mask; raises ValueError naming the bad entry."""
    polygons = []
    for index, entry in enumerate(mask_entries(mask)):
        try:
            polygons.append(polygon_from(entry))
        except ValueError as exc:
            where = f"entry {index}: " if isinstance(mask, list) else ""
            raise ValueError(f"{where}{exc}") from None
    return polygons


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are taken from the config file's folder (the loader passes it as `base_dir`)."""
    base_dir = (info.context or {}).get("base_dir")
    if base_dir is not None and not value.is_absolute():
        return Path(base_dir) / value
    return value
