"""`nvr-boot`: RAUC's custom bootloader backend, the hooks and handlers RAUC runs during an
install, and the boot-time steps (settle, confirm) the systemd units run.

    nvr-boot get-primary | set-primary SLOT | get-state SLOT | set-state SLOT good|bad | get-current
    nvr-boot pre-install | post-install                  (RAUC's system handlers)
    nvr-boot install-boot-files FOLDER SLOT              (the bundle's slot hook)
    nvr-boot settle | confirm                            (nvr-ota-settle/nvr-mark-good.service)
    nvr-boot status [--json]                             (what nvr-update --status shows)

Exit status 0 on success, 1 with one line on stderr when something is refused or fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from nvr_ota import config as ota_config
from nvr_ota import record, trial
from nvr_ota.health import SystemctlProbe
from nvr_ota.slots import SLOTS, BootBackend, BootError, booted_slot, check_slot


def log(message: str) -> None:
    print(f"nvr-boot: {message}", file=sys.stderr, flush=True)


def status(config: ota_config.OtaConfig, backend: BootBackend, booted: str | None) -> dict[str, object]:
    """Everything nvr-update --status reports, as plain data."""
    entry = record.load(config.record_file)
    return {
        "backend": config.backend,
        "booted": booted,
        "committed": backend.committed(),
        "pending": backend.pending(),
        "primary": backend.primary(),
        "on_trial": backend.on_trial(booted),
        "version": trial.running_version(),
        "slots": {
            slot: {"bootable": backend.is_good(slot), "kernel": backend.has_kernel(slot)} for slot in SLOTS
        },
        "update": dataclasses.asdict(entry) if entry else None,
        "update_summary": entry.summary() if entry else "",
    }


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="nvr-boot", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("get-primary")
    commands.add_parser("get-current")
    commands.add_parser("set-primary").add_argument("slot")
    commands.add_parser("get-state").add_argument("slot")
    state = commands.add_parser("set-state")
    state.add_argument("slot")
    state.add_argument("state", choices=("good", "bad"))
    files = commands.add_parser("install-boot-files")
    files.add_argument("source", type=Path)
    files.add_argument("slot")
    commands.add_parser("pre-install")
    commands.add_parser("post-install")
    commands.add_parser("settle")
    commands.add_parser("confirm")
    commands.add_parser("status").add_argument("--json", action="store_true")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = ota_config.load()
        backend = config.make_backend()
        booted = booted_slot(config.cmdline)
        return run(args, config, backend, booted)
    except BootError as exc:
        log(str(exc))
        return 1


def run(
    args: argparse.Namespace, config: ota_config.OtaConfig, backend: BootBackend, booted: str | None
) -> int:
    command = args.command
    if command == "get-primary":
        print(backend.primary())
    elif command == "get-current":
        if booted is None:
            raise BootError("the kernel command line names no rauc.slot")
        print(booted)
    elif command == "set-primary":
        backend.set_primary(check_slot(args.slot))
    elif command == "get-state":
        print("good" if backend.is_good(check_slot(args.slot)) else "bad")
    elif command == "set-state":
        backend.mark(check_slot(args.slot), args.state == "good", booted)
    elif command == "install-boot-files":
        trial.install_boot_files(config, backend, args.source, args.slot, booted)
    elif command == "pre-install":
        trial.pre_install(config, backend, os.environ.get("RAUC_CURRENT_BOOTNAME") or booted, log)
    elif command == "post-install":
        trial.post_install(config, dict(os.environ), log)
    elif command == "settle":
        trial.settle(config, backend, booted, log)
    elif command == "confirm":
        return 0 if trial.confirm(config, backend, booted, SystemctlProbe(), log) else 1
    elif command == "status":
        data = status(config, backend, booted)
        if args.json:
            print(json.dumps(data, indent=2, sort_keys=True))
        else:
            for key in ("booted", "committed", "pending", "on_trial", "version", "update_summary"):
                print(f"{key}: {data[key]}")
    return 0
