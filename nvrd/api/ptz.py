"""`GET /api/<camera>/ptz/info`: what an ONVIF camera can move and its preset names (Frigate 0.13's shape).

A camera without `onvif.host` answers `{}`, as Frigate does. With one, the camera is asked over ONVIF
through onvif-zeep-async (imported only then, so nvrd runs without it): its first media profile that
has a PTZ configuration, the spaces of that configuration's options, and the presets of the profile.
Answers are kept for a minute; a camera that cannot be asked is a 502 saying why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from nvrd.api.base import BaseHandler

log = logging.getLogger(__name__)

ASK_TIMEOUT_S = 15.0
KEEP_ANSWER_S = 60.0
FOV_SPACE = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationSpaceFov"
# ONVIF space (of the PTZ configuration options) -> Frigate's feature name
FEATURE_SPACES = (
    ("ContinuousPanTiltVelocitySpace", "pt"),
    ("ContinuousZoomVelocitySpace", "zoom"),
    ("RelativePanTiltTranslationSpace", "pt-r"),
    ("RelativeZoomTranslationSpace", "zoom-r"),
    ("AbsoluteZoomPositionSpace", "zoom-a"),
)


class PtzUnavailable(Exception):
    """The camera's PTZ information cannot be had (no library, no answer, an ONVIF fault)."""


def features_of(spaces: Any) -> list[str]:
    """Frigate's feature names for the spaces a PTZ configuration offers."""
    if spaces is None:
        return []
    features = [name for space, name in FEATURE_SPACES if getattr(spaces, space, None)]
    relative = getattr(spaces, "RelativePanTiltTranslationSpace", None) or []
    if any(getattr(space, "URI", None) == FOV_SPACE for space in relative):
        features.append("pt-r-fov")
    return features


async def ask_camera(name: str, onvif_cfg: Any, timeout: float = ASK_TIMEOUT_S) -> dict[str, Any]:
    """`{"name", "features", "presets"}` of one camera, asked over ONVIF. Raises PtzUnavailable."""
    try:
        from onvif import ONVIFCamera  # the ONVIF stack is large: loaded only for cameras that use it
    except ImportError as exc:
        raise PtzUnavailable(
            f"ONVIF support is not installed (python package onvif-zeep-async): {exc}"
        ) from exc
    where = f"{onvif_cfg.host}:{onvif_cfg.port}"
    camera = ONVIFCamera(onvif_cfg.host, onvif_cfg.port, onvif_cfg.user, onvif_cfg.password, no_cache=True)
    try:
        async with asyncio.timeout(timeout):
            await camera.update_xaddrs()
            media = await camera.create_media_service()
            profiles = await media.GetProfiles() or []
            profile = next((p for p in profiles if getattr(p, "PTZConfiguration", None)), None)
            if profile is None:
                raise PtzUnavailable(f"the ONVIF camera at {where} has no media profile with PTZ")
            ptz = await camera.create_ptz_service()
            options = await ptz.GetConfigurationOptions(
                {"ConfigurationToken": profile.PTZConfiguration.token}
            )
            presets = await ptz.GetPresets({"ProfileToken": profile.token}) or []
    except PtzUnavailable:
        raise
    except TimeoutError:
        raise PtzUnavailable(f"the ONVIF camera at {where} did not answer within {timeout:g} s") from None
    except Exception as exc:  # the ONVIF stack raises many kinds (HTTP, SOAP faults, XML, ONVIFError)
        raise PtzUnavailable(f"the ONVIF camera at {where} could not be asked: {exc}") from exc
    finally:
        try:
            await camera.close()
        except Exception:
            log.debug("closing the ONVIF connection to %s failed", where, exc_info=True)
    names = [str(p.Name).lower() for p in presets if getattr(p, "Name", None)]
    return {"name": name, "features": features_of(getattr(options, "Spaces", None)), "presets": names}


class PtzInfoHandler(BaseHandler):
    """`GET /api/<camera>/ptz/info`."""

    def initialize(self, daemon, answers: dict[str, tuple[float, dict]]) -> None:
        super().initialize(daemon)
        self.answers = answers  # camera -> (when asked, answer), shared by every request

    async def get(self, camera_name: str) -> None:
        pipeline = self.camera_or_404(camera_name)
        onvif_cfg = pipeline.config.onvif
        if not onvif_cfg.host:
            self.write_json({})
            return
        kept = self.answers.get(camera_name)
        if kept is not None and time.monotonic() - kept[0] < KEEP_ANSWER_S:
            self.write_json(kept[1])
            return
        try:
            answer = await ask_camera(camera_name, onvif_cfg)
        except PtzUnavailable as exc:
            log.warning("%s: PTZ info: %s", camera_name, exc)
            self.write_message(False, str(exc), 502)
            return
        self.answers[camera_name] = (time.monotonic(), answer)
        self.write_json(answer)
