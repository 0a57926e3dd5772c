"""The system test's virtual machine: QEMU booting the x86-64 appliance image under UEFI (OVMF),
driven from the host through its QMP monitor, SSH (the appliance's own dropbear, with the test key
on the boot partition) and nvrd's API, each on a forwarded loopback port.

A reset of the guest (a reboot, the hardware watchdog) ends QEMU (-no-reboot) and the host powers
the machine on again, as a cold boot: OVMF under QEMU's emulator can hang for good on a warm
reset, and a box's reset is a power cycle for everything the test checks (the boot choice lives
on the disk). USB disks plugged in stay plugged across it, as they would on a real box.

The network is QEMU's user networking with restrict=on: the guest reaches nothing but the
forwarded ports, and 10.0.2.100:80, which leads to the test's own HTTP server on the host.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
QEMU = "qemu-system-x86_64"
BUNDLE_HOST = "10.0.2.100"  # where the guest finds the host's HTTP server
T = TypeVar("T")


def missing_host_tools() -> list[str]:
    """What the VM needs on the host and is not installed."""
    missing = [tool for tool in (QEMU, "qemu-img", "ssh", "socat") if shutil.which(tool) is None]
    missing += [str(path) for path in (OVMF_CODE, OVMF_VARS) if not path.exists()]
    return missing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 2.0) -> T:
    """Poll `check` until it returns something truthy; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f} s")
        time.sleep(every)


class Vm:
    """One appliance: its disk (a copy-on-write layer over the built image), its UEFI variables,
    and QEMU started and stopped as the tests power-cycle it."""

    def __init__(
        self,
        disk_image: Path,
        ssh_key: Path,
        workdir: Path,
        accel: str,
        bundle_port: int,
        card_bytes: int | None = None,
    ) -> None:
        """`card_bytes`: the size of the card the image was flashed to (the image's own when None)."""
        self.workdir = workdir
        self.ssh_key = ssh_key
        self.accel = accel
        self.bundle_port = bundle_port
        self.disk = workdir / "disk.qcow2"
        self.vars = workdir / "OVMF_VARS.fd"
        self.serial_log = workdir / "serial.log"
        self.qemu_log = workdir / "qemu.log"
        self.qmp_socket = workdir / "qmp.sock"
        self.api_port = free_port()
        self.ssh_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.usb_disks: dict[str, Path] = {}  # plugged in: node name -> disk image
        self._powered = False  # False once the test cut the power: a QEMU exit is then expected
        self._exit_error = ""  # why QEMU ended when nobody asked it to, for the waiting test
        self._lock = threading.Lock()
        subprocess.run(
            [
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "-b",
                str(disk_image),
                "-F",
                "raw",
                str(self.disk),
                *([str(card_bytes)] if card_bytes else []),
            ],
            check=True,
            timeout=60,
        )
        shutil.copy(OVMF_VARS, self.vars)

    # ---- power -----------------------------------------------------------------------------

    def command(self, accel: str | None = None) -> list[str]:
        accel = accel or self.accel
        cpu = ["-cpu", "host"] if accel == "kvm" else ["-cpu", "max"]
        forwards = f"hostfwd=tcp:127.0.0.1:{self.api_port}-:5000,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22"
        guestfwd = f"guestfwd=tcp:{BUNDLE_HOST}:80-cmd:socat - TCP:127.0.0.1:{self.bundle_port}"
        return [
            QEMU,
            "-machine",
            f"q35,accel={accel}",
            *cpu,
            "-smp",
            os.environ.get("NVR_SYSTEM_TEST_CPUS", "2"),
            "-m",
            "1536",
            "-nodefaults",
            "-display",
            "none",
            "-drive",
            f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive",
            f"if=pflash,format=raw,unit=1,file={self.vars}",
            "-drive",
            f"if=none,id=system,file={self.disk},format=qcow2",
            "-device",
            "virtio-blk-pci,drive=system",
            "-netdev",
            f"user,id=net0,restrict=on,{forwards},{guestfwd}",
            "-device",
            "virtio-net-pci,netdev=net0",
            "-device",
            "qemu-xhci,id=xhci",
            # A hardware watchdog for systemd's RuntimeWatchdogSec, resetting the machine as a board's would.
            "-device",
            "i6300esb",
            "-action",
            "watchdog=reset",
            "-serial",
            f"file:{self.serial_log}.part",
            "-qmp",
            f"unix:{self.qmp_socket},server=on,wait=off",
            # A guest reset ends QEMU; _keep_powered powers the machine on again (cold boot).
            "-no-reboot",
            *self._usb_arguments(),
        ]

    def _usb_arguments(self) -> list[str]:
        """The plugged-in USB disks, for a QEMU started while they are attached."""
        arguments = []
        for name, image in self.usb_disks.items():
            arguments += [
                "-blockdev",
                f"driver=raw,node-name={name},file.driver=file,file.filename={image}",
                "-device",
                f"usb-storage,bus=xhci.0,drive={name},id={name}-usb",
            ]
        return arguments

    def start(self, timeout: float) -> None:
        """Power on and wait until SSH answers."""
        self._power_on()
        self.wait_until_up(timeout)

    def _power_on(self) -> None:
        with self._lock:
            self._launch()

    def _launch(self) -> None:
        """Start QEMU and the thread that watches it (the caller holds the lock)."""
        self._append_serial()
        self.qmp_socket.unlink(missing_ok=True)
        self._exit_error = ""
        with open(self.qemu_log, "ab") as log:
            process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        self.process = process
        self._powered = True
        threading.Thread(target=self._keep_powered, args=(process,), daemon=True).start()

    def _keep_powered(self, process: subprocess.Popen[bytes]) -> None:
        """Power the machine on again after the guest reset it (QEMU exits 0 under -no-reboot)."""
        code = process.wait()
        with self._lock:
            if not self._powered or self.process is not process:
                return  # the test cut the power or already started another QEMU
            if code != 0:
                self._powered = False
                self._exit_error = f"QEMU exited ({code}); serial log:\n{self.serial_tail()}"
                return
            self._launch()

    def wait_until_up(self, timeout: float) -> str:
        """The boot id once SSH answers."""
        return wait_for(self._boot_id_or_none, timeout, "SSH login on the appliance", every=3.0)

    def power_cut(self) -> None:
        """Pull the plug: QEMU ends at once, whatever the guest had not written is lost."""
        with self._lock:
            self._powered = False
        with contextlib.suppress(OSError, TimeoutError, RuntimeError, json.JSONDecodeError):
            self.qmp("quit")
        self._reap(timeout=30)

    def stop(self) -> None:
        self.power_cut()
        self._append_serial()

    def _reap(self, timeout: float) -> None:
        with self._lock:
            process, self.process = self.process, None
        if process is None:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _append_serial(self) -> None:
        part = Path(f"{self.serial_log}.part")
        if part.exists():
            with open(self.serial_log, "ab") as whole:
                whole.write(part.read_bytes())
            part.unlink()

    def serial_tail(self, lines: int = 60) -> str:
        text = b""
        for path in (self.serial_log, Path(f"{self.serial_log}.part")):
            if path.exists():
                text += path.read_bytes()
        return "\n".join(text.decode(errors="replace").splitlines()[-lines:])

    # ---- monitor -----------------------------------------------------------------------------

    def qmp(self, execute: str, **arguments: Any) -> Any:
        """Run one QMP command; its return value. RuntimeError with QEMU's message on an error."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(30)
            sock.connect(str(self.qmp_socket))
            stream = sock.makefile("rwb")
            json.loads(stream.readline())  # greeting
            for message in ({"execute": "qmp_capabilities"}, {"execute": execute, "arguments": arguments}):
                stream.write(json.dumps(message).encode() + b"\n")
                stream.flush()
                while True:
                    reply = json.loads(stream.readline())
                    if "return" in reply or "error" in reply:
                        break
            if "error" in reply:
                raise RuntimeError(f"QMP {execute}: {reply['error'].get('desc')}")
            return reply["return"]

    def plug_usb_disk(self, image: Path, name: str = "recordings") -> None:
        """Plug a USB disk into the running machine; it stays in across resets and power cuts."""
        self.qmp(
            "blockdev-add",
            driver="raw",
            **{"node-name": name},
            file={"driver": "file", "filename": str(image)},
        )
        self.qmp("device_add", driver="usb-storage", bus="xhci.0", drive=name, id=f"{name}-usb")
        self.usb_disks[name] = image

    def unplug_usb_disk(self, name: str = "recordings") -> None:
        self.qmp("device_del", id=f"{name}-usb")
        # The guest acknowledges the unplug, then QEMU lets go of the disk image.
        wait_for(lambda: self._drop_node(name), 60, "USB disk removal", every=1.0)
        del self.usb_disks[name]

    def _drop_node(self, name: str) -> bool:
        try:
            self.qmp("blockdev-del", **{"node-name": name})
        except RuntimeError as exc:
            if "in use" in str(exc):
                return False
            raise
        return True

    # ---- inside ------------------------------------------------------------------------------

    def ssh_command(self) -> list[str]:
        return [
            "ssh",
            "-i",
            str(self.ssh_key),
            "-p",
            str(self.ssh_port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
        ]

    def ssh(self, command: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a shell command on the appliance as root."""
        result = subprocess.run(
            [*self.ssh_command(), "root@127.0.0.1", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"on the appliance: {command!r} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def _boot_id_or_none(self) -> str | None:
        if self._exit_error:
            raise RuntimeError(self._exit_error)
        try:
            result = self.ssh("cat /proc/sys/kernel/random/boot_id", timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    def boot_id(self) -> str:
        return self.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip()

    def wait_for_new_boot(self, old_boot_id: str, timeout: float) -> str:
        """The boot id of the next boot after `old_boot_id`, once SSH answers there."""

        def new_boot() -> str | None:
            current = self._boot_id_or_none()
            return current if current and current != old_boot_id else None

        return wait_for(new_boot, timeout, "reboot", every=3.0)

    def unit(self, name: str) -> dict[str, str]:
        """Properties of a systemd unit on the appliance."""
        text = self.ssh(
            f"systemctl show {name} --property=ActiveState,SubState,MainPID,NRestarts,Result"
        ).stdout
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def journal(self, unit: str, since_boot: bool = True) -> str:
        boot = "-b " if since_boot else ""
        return self.ssh(f"journalctl {boot}--no-pager -o cat -u {unit}", timeout=60).stdout

    def api(self, path: str, timeout: float = 30) -> tuple[int, bytes]:
        """GET nvrd's API through the forwarded port: (status, body); (0, b"") when nothing answers."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.api_port}{path}", timeout=timeout
            ) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError):
            return 0, b""

    def api_json(self, path: str) -> Any:
        status, body = self.api(path)
        assert status == 200, f"GET {path}: {status} {body[:200]!r}"
        return json.loads(body)


@contextlib.contextmanager
def bundle_server(folder: Path) -> Iterator[int]:
    """An HTTP server for the files in `folder` on a loopback port (the guest's 10.0.2.100:80)."""
    port = free_port()
    process = subprocess.Popen(
        ["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _listening(port), 30, "bundle server", every=0.2)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def working_accel(disk_image: Path, workdir: Path) -> str:
    """kvm when KVM really runs this machine's UEFI firmware, else tcg (QEMU's emulator).

    /dev/kvm can exist and still fail (nested or paravirtual KVM that cannot emulate what OVMF
    does); a short run under KVM that shows OVMF's boot manager on the serial port decides.
    $NVR_SYSTEM_TEST_ACCEL=kvm|tcg skips the probe.
    """
    chosen = os.environ.get("NVR_SYSTEM_TEST_ACCEL")
    if chosen in ("kvm", "tcg"):
        return chosen
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    probe = workdir / "kvm-probe"
    probe.mkdir(exist_ok=True)
    serial = probe / "serial.log"
    vars_copy = probe / "vars.fd"
    shutil.copy(OVMF_VARS, vars_copy)
    command = [
        QEMU,
        "-machine",
        "q35,accel=kvm",
        "-cpu",
        "host",
        "-m",
        "512",
        "-nodefaults",
        "-display",
        "none",
        "-snapshot",
        "-drive",
        f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
        "-drive",
        f"if=pflash,format=raw,unit=1,file={vars_copy}",
        "-drive",
        f"if=virtio,format=raw,file={disk_image}",
        "-serial",
        f"file:{serial}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # OVMF reaches GRUB within a few seconds under a KVM that works.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            if serial.exists() and b"GRUB" in serial.read_bytes():
                return "kvm"
            time.sleep(1)
        return "tcg"
    finally:
        process.kill()
        process.wait(30)
