"""`/api/<camera>/ptz/info` over ONVIF: a local stand-in ONVIF camera (SOAP over HTTP on 127.0.0.1)
answers the device, media and PTZ calls; nvrd asks it through onvif-zeep-async. A second camera points
at a port where nobody listens and must answer a clear 502, not a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tornado.web

from tests.support.nvrd_process import NvrdProcess, free_port
from tests.test_api_support import CAMERA, StandIn, write_config

pytestmark = pytest.mark.slow

ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
  xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
  xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl">
<s:Body>{body}</s:Body></s:Envelope>"""

SERVICE = """<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{base}/onvif/{path}</tds:XAddr>
<tds:Version><tt:Major>2</tt:Major><tt:Minor>5</tt:Minor></tds:Version></tds:Service>"""

PROFILES = """<trt:GetProfilesResponse>
<trt:Profiles token="main" fixed="true"><tt:Name>mainStream</tt:Name></trt:Profiles>
<trt:Profiles token="ptzprofile" fixed="true"><tt:Name>withPtz</tt:Name>
  <tt:PTZConfiguration token="ptzcfg"><tt:Name>ptz</tt:Name><tt:UseCount>1</tt:UseCount>
  <tt:NodeToken>node</tt:NodeToken></tt:PTZConfiguration></trt:Profiles>
</trt:GetProfilesResponse>"""

RANGE = "<tt:Min>-1</tt:Min><tt:Max>1</tt:Max>"
SPACE_2D = "<tt:URI>{uri}</tt:URI><tt:XRange>" + RANGE + "</tt:XRange><tt:YRange>" + RANGE + "</tt:YRange>"
SPACE_1D = "<tt:URI>{uri}</tt:URI><tt:XRange>" + RANGE + "</tt:XRange>"
GENERIC_PT = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace"
FOV_PT = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationSpaceFov"
OPTIONS = (
    "<tptz:GetConfigurationOptionsResponse><tptz:PTZConfigurationOptions><tt:Spaces>"
    "<tt:AbsoluteZoomPositionSpace>"
    + SPACE_1D.format(uri="http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace")
    + "</tt:AbsoluteZoomPositionSpace>"
    "<tt:RelativePanTiltTranslationSpace>"
    + SPACE_2D.format(uri=GENERIC_PT)
    + "</tt:RelativePanTiltTranslationSpace>"
    "<tt:RelativePanTiltTranslationSpace>"
    + SPACE_2D.format(uri=FOV_PT)
    + "</tt:RelativePanTiltTranslationSpace>"
    "<tt:ContinuousPanTiltVelocitySpace>"
    + SPACE_2D.format(uri="http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace")
    + "</tt:ContinuousPanTiltVelocitySpace>"
    "<tt:ContinuousZoomVelocitySpace>"
    + SPACE_1D.format(uri="http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace")
    + "</tt:ContinuousZoomVelocitySpace>"
    "</tt:Spaces><tt:PTZTimeout><tt:Min>PT1S</tt:Min><tt:Max>PT60S</tt:Max></tt:PTZTimeout>"
    "</tptz:PTZConfigurationOptions></tptz:GetConfigurationOptionsResponse>"
)
PRESETS = """<tptz:GetPresetsResponse>
<tptz:Preset token="1"><tt:Name>Front Door</tt:Name></tptz:Preset>
<tptz:Preset token="2"><tt:Name>Garden</tt:Name></tptz:Preset>
</tptz:GetPresetsResponse>"""


class OnvifCamera(tornado.web.RequestHandler):
    """Answers by the SOAP operation named in the body; remembers what it was asked."""

    def initialize(self, asked: list[tuple[str, str]]) -> None:
        self.asked = asked

    def post(self, service: str) -> None:
        match = re.search(rb"<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?(\w+)", self.request.body)
        operation = match.group(1).decode() if match else ""
        self.asked.append((service, operation))
        base = f"http://{self.request.host}"
        if operation == "GetServices":
            body = (
                "<tds:GetServicesResponse>"
                + "".join(
                    SERVICE.format(ns=ns, base=base, path=path)
                    for ns, path in (
                        ("http://www.onvif.org/ver10/device/wsdl", "device_service"),
                        ("http://www.onvif.org/ver10/media/wsdl", "media_service"),
                        ("http://www.onvif.org/ver20/ptz/wsdl", "ptz_service"),
                    )
                )
                + "</tds:GetServicesResponse>"
            )
        elif operation == "GetProfiles":
            body = PROFILES
        elif operation == "GetConfigurationOptions":
            assert b"ptzcfg" in self.request.body
            body = OPTIONS
        elif operation == "GetPresets":
            assert b"ptzprofile" in self.request.body
            body = PRESETS
        else:
            self.set_status(400)
            body = f"<s:Fault><s:Reason><s:Text>{operation} not here</s:Text></s:Reason></s:Fault>"
        self.set_header("Content-Type", "application/soap+xml; charset=utf-8")
        self.finish(ENVELOPE.format(body=body))


@pytest.fixture(scope="module")
def ptz(tmp_path_factory, shared_dir: Path):
    tmp = tmp_path_factory.mktemp("ptz")
    asked: list[tuple[str, str]] = []
    with StandIn([(r"/onvif/(\w+)", OnvifCamera, {"asked": asked})]) as camera:
        dead_port = free_port()
        extra = f"""\
    onvif:
      host: 127.0.0.1
      port: {camera.port}
      user: admin
      password: secret
  gone:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:9/none
          roles: [detect]
    detect:
      enabled: false
    onvif:
      host: 127.0.0.1
      port: {dead_port}
"""
        # The cameras' streams are not needed here: PTZ information comes from ONVIF alone.
        config = write_config(tmp, "rtsp://127.0.0.1:9/none", shared_dir, detect=False, extra=extra)
        nvrd = NvrdProcess(config).start()
        try:
            yield nvrd, asked
        finally:
            assert nvrd.stop() == 0, nvrd.log()


def test_ptz_info_from_an_onvif_camera(ptz) -> None:
    nvrd, asked = ptz
    response = nvrd.get(f"/api/{CAMERA}/ptz/info", timeout=30)
    assert response.status == 200, response.text
    assert response.json() == {
        "name": CAMERA,
        "features": ["pt", "zoom", "pt-r", "zoom-a", "pt-r-fov"],
        "presets": ["front door", "garden"],
    }
    operations = [operation for _, operation in asked]
    assert operations[:1] == ["GetServices"] and {
        "GetProfiles",
        "GetConfigurationOptions",
        "GetPresets",
    } <= set(operations)
    count = len(asked)
    assert nvrd.get(f"/api/{CAMERA}/ptz/info").json()["presets"] == ["front door", "garden"]
    assert len(asked) == count  # kept for a minute: the camera is not asked again


def test_unreachable_onvif_camera_is_a_clear_502(ptz) -> None:
    nvrd, _ = ptz
    response = nvrd.get("/api/gone/ptz/info", timeout=40)
    assert response.status == 502
    body = response.json()
    assert body["success"] is False and "ONVIF camera at 127.0.0.1:" in body["message"]
    assert "Traceback" not in nvrd.log()
