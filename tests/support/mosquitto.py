"""A real MQTT broker for tests: Debian's mosquitto on a free loopback port, plus a recording client.

    with Mosquitto(tmp_path) as broker:                      # anonymous, plain TCP
        ...
    certs = make_certificates(tmp_path / "pki")              # a throwaway CA, server and client cert
    broker = Mosquitto(tmp_path, users={"nvr": "secret"}, tls=certs, require_certificate=True)

The broker writes its own config file, listens on 127.0.0.1 only, keeps nothing on disk between runs
(persistence off, so a restart loses retained messages as a real broker without persistence would),
and can be stopped, restarted on the same port, or killed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


class BrokerError(RuntimeError):
    """The test broker could not be set up or started."""


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a throwaway PKI: one CA, a server cert for 127.0.0.1/localhost, a client cert."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise BrokerError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def make_certificates(folder: Path) -> TlsFiles:
    """Make a CA and, signed by it, a server cert (SAN 127.0.0.1, localhost) and a client cert."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=nvrd test CA",
        "-keyout", "ca.key", "-out", "ca.crt", cwd=folder,
    )  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    (folder / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=nvrd test {name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=folder,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=folder,
        )  # fmt: skip
    return TlsFiles(
        ca_cert=folder / "ca.crt",
        server_cert=folder / "server.crt",
        server_key=folder / "server.key",
        client_cert=folder / "client.crt",
        client_key=folder / "client.key",
    )


class Mosquitto:
    """One mosquitto process with one listener on 127.0.0.1; start(), stop(), restart(), kill()."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        users: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
        require_certificate: bool = False,
    ) -> None:
        self.workdir = Path(workdir) / f"mosquitto-{id(self):x}"
        self.port = port or free_port()
        self.users = dict(users or {})
        self.tls = tls
        self.require_certificate = require_certificate
        self.log_path = self.workdir / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def write_config(self) -> Path:
        """The broker's config file (and password file) for this instance's options."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            # Run as whoever runs the tests: as root, mosquitto would otherwise drop to its own user,
            # which cannot read the files the test made.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            f"allow_anonymous {'false' if self.users else 'true'}",
        ]
        if self.users:
            password_file = self.workdir / "passwords"
            password_file.write_text("")
            for user, password in self.users.items():
                result = subprocess.run(
                    [MOSQUITTO_PASSWD, "-b", str(password_file), user, password],
                    capture_output=True, text=True, timeout=30, check=False,
                )  # fmt: skip
                if result.returncode != 0:
                    raise BrokerError(f"mosquitto_passwd failed: {result.stderr.strip()}")
            password_file.chmod(0o600)
            lines.append(f"password_file {password_file}")
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_cert}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                f"require_certificate {'true' if self.require_certificate else 'false'}",
            ]
        config = self.workdir / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self, timeout: float = 10.0) -> Mosquitto:
        """Start the broker and return once it accepts TCP connections."""
        if self._process is not None and self._process.poll() is None:
            raise BrokerError("already running")
        config = self.write_config()
        self._process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise BrokerError(f"mosquitto exited with {self._process.returncode}: {err}{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=1):
                return self
            time.sleep(0.05)
        self.kill()
        raise BrokerError(f"mosquitto did not listen on {self.port} within {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, SIGKILL after `timeout`)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        if self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None

    def kill(self) -> None:
        """Kill the broker at once, as a crash would."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
        self.stop()

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open but nothing is read, as on a stalled link."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo pause() (SIGCONT)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, stay down for `down_for` seconds, start again on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Received:
    """One message as a subscriber saw it."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", "replace")


class Recorder:
    """A real MQTT client that subscribes to topics and keeps every message it gets, for assertions."""

    def __init__(
        self,
        broker: Mosquitto,
        topics: list[str] | tuple[str, ...] = ("#",),
        *,
        user: str | None = None,
        password: str | None = None,
        tls: TlsFiles | None = None,
        client_id: str = "",
    ) -> None:
        self.broker = broker
        self.topics = list(topics)
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls is not None:
            self.client.tls_set(
                ca_certs=str(tls.ca_cert), certfile=str(tls.client_cert), keyfile=str(tls.client_key)
            )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)

    def start(self, timeout: float = 10.0) -> Recorder:
        """Connect, subscribe and return once the broker confirmed the subscription."""
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise BrokerError(f"test subscriber could not subscribe within {timeout}s:\n{self.broker.log()}")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Return once connected (after a broker restart the client reconnects by itself)."""
        deadline = time.monotonic() + timeout
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                raise BrokerError(f"test client not connected within {timeout}s")
            time.sleep(0.05)

    def publish(self, topic: str, payload: str | bytes | None, retain: bool = False, qos: int = 1) -> None:
        """Publish (once connected) and wait until the broker has it."""
        self.wait_connected()
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        received = Received(
            message.topic, bytes(message.payload), bool(message.retain), message.qos, time.time()
        )
        with self._cond:
            self.messages.append(received)
            self._cond.notify_all()

    # --- reading what arrived ----------------------------------------------------------------------

    def on(self, topic: str) -> list[Received]:
        """Every message received on `topic` so far, oldest first."""
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        found = self.on(topic)
        return found[-1] if found else None

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Received], bool] = lambda _m: True,
        *,
        timeout: float = 10.0,
        after: int = 0,
    ) -> Received:
        """The first message on `topic` (from index `after` of all messages) that meets `predicate`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages[after:]:
                    if message.topic == topic and predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({m.topic for m in self.messages})
                    raise TimeoutError(f"nothing matching on {topic} within {timeout}s; topics seen: {seen}")
                self._cond.wait(remaining)

    def mark(self) -> int:
        """The number of messages so far: pass as `after` to wait only for later ones."""
        with self._cond:
            return len(self.messages)

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
