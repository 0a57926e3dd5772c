"""Schema-driven fuzzing: schemathesis generates requests from the OpenAPI document nvrd serves at
/api/openapi.json (valid and invalid parameters and bodies) against a running nvrd with a real RTSP
camera. Every answer must be documented and no request may produce a server error.

Bounded: a fixed number of examples per operation, no shrinking, and the endless MJPEG stream and the
operations that restart the daemon or replace its config are left out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.nvrd_process import NvrdProcess
from tests.support.rtsp_server import RtspServer
from tests.test_api_support import CLIP, fill_events, wait_for_frames, write_config

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def nvrd_base(tmp_path_factory, shared_dir: Path):
    tmp = tmp_path_factory.mktemp("fuzz")
    fill_events(tmp / "nvr.db", tmp / "media" / "clips", shared_dir, 20, with_files=5)
    with RtspServer(shared_dir / "media" / CLIP, start_s=70, duration_s=10, loop=True) as rtsp:
        nvrd = NvrdProcess(write_config(tmp, rtsp.url, shared_dir, detect=False)).start()
        try:
            wait_for_frames(nvrd)
            yield nvrd
        finally:
            code = nvrd.stop()
            assert code == 0, nvrd.log()
            assert "Traceback" not in nvrd.log(), nvrd.log()


@pytest.fixture(scope="module")
def api_schema(nvrd_base: NvrdProcess):
    return schemathesis.openapi.from_url(f"{nvrd_base.base}/api/openapi.json")


# Not for a fuzzer: the endless stream, and the calls that restart nvrd or rewrite its config.
schema = (
    schemathesis.pytest.from_fixture("api_schema")
    .exclude(func=lambda ctx: bool(ctx.operation.definition.raw.get("x-streaming")))
    .exclude(path_regex=r"^/api/(restart|config/save)$")
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_answers_as_documented(case) -> None:
    response = case.call(timeout=30)
    assert response.status_code < 500, (
        case.method,
        case.formatted_path,
        case.query,
        response.text[:300],
    )
    case.validate_response(
        response,
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
    )
