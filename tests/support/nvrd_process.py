"""Run nvrd as a real process for end-to-end tests: a config file in, HTTP on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpResponse:
    """Status, headers and body of one request."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """One HTTP request; error statuses are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResponse(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as err:
        return HttpResponse(err.code, dict(err.headers), err.read())


class NvrdProcess:
    """nvrd started with `python -m nvrd --config FILE --port N`, stopped with SIGTERM."""

    def __init__(self, config: Path, *, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.port = port or free_port()
        self.log_path = config.with_suffix(".log")
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> NvrdProcess:
        """Start and wait until the API answers."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nvrd",
                "--config",
                str(self.config),
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nvrd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.get("/api/version", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"nvrd did not answer within {timeout}s:\n{self.log()}")

    def get(self, path: str, timeout: float = 10.0) -> HttpResponse:
        return http("GET", self.base + path, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None, **kw) -> HttpResponse:
        return http(method, self.base + path, body=body, **kw)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def wait_for(self, predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
        """Poll `predicate()` until it returns something truthy; fail with the daemon's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"nvrd died while waiting for {what}:\n{self.log()}")
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}:\n{self.log()}")
