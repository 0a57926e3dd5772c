"""The config as GET /api/config serves it (Frigate 0.13's shape): defaults merged, secrets hidden."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nvrd.config.schema import NvrConfig

# `scheme://user:pass@host`: the user info stops at the first "/" as in ffmpeg's own URL split.
_URL_USERINFO = re.compile(r"(?<=://)[^/@ \t\r\n]+@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:user|username|password|pass|pwd)=)[^&# \t\r\n]*")


def mask_credentials(text: str) -> str:
    """A URL or command line with user names and passwords replaced by `*`."""
    return _QUERY_SECRET.sub(r"\1*", _URL_USERINFO.sub("*:*@", text))


def api_view(config: NvrConfig, labelmap: dict[int, str] | None = None) -> dict[str, Any]:
    """A JSON-ready dict of the whole config for the API.

    `mqtt.password` and ONVIF passwords are removed and credentials in input paths masked. Each
    camera carries `ffmpeg_cmds: []` for the capture layer to fill with its (masked) commands.
    """
    view = config.model_dump(mode="json")
    view["mqtt"].pop("password", None)
    for camera in view["cameras"].values():
        for camera_input in camera["ffmpeg"]["inputs"]:
            camera_input["path"] = mask_credentials(camera_input["path"])
        camera["onvif"].pop("password", None)
        camera["ffmpeg_cmds"] = []
    merged_labels = dict(labelmap) if labelmap is not None else {}
    merged_labels.update(config.model.labelmap)  # the file's overrides win over the label file
    view["model"]["labelmap"] = {str(index): label for index, label in sorted(merged_labels.items())}
    view["plus"] = {"enabled": False}
    return view
