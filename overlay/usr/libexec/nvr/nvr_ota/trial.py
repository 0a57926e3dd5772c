"""The life of an update around RAUC's install: the hooks RAUC runs, the boot-time bookkeeping,
and the decision to keep or give up a slot on trial.

  pre-install    (RAUC handler)  refuse while a trial runs; copy nvrd's database aside
  boot files     (bundle hook)   the new kernel folder on the boot partition, for the target slot
  post-install   (RAUC handler)  record what went where
  settle         (every boot, before nvrd)   notice a trial that was given up; put the database
                                             back if the trial's nvrd migrated it
  confirm        (every boot, early)  on trial: mark good once nvrd proved healthy, else mark bad
                                      and reboot into the committed slot; otherwise confirm the
                                      boot itself (U-Boot's counters)
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from nvr_ota import database, record
from nvr_ota.config import OtaConfig
from nvr_ota.files import sync_directory, writable
from nvr_ota.health import ServiceProbe, Verdict, api_answers, watch
from nvr_ota.record import UpdateRecord
from nvr_ota.slots import SLOTS, BootBackend, BootError, check_slot, other_slot, slot_folder

Log = Callable[[str], None]
Runner = Callable[[Sequence[str]], int]
RELEASE_FILE = Path("/usr/lib/nvr-release")


def run_command(args: Sequence[str]) -> int:
    """Run a command, its output going to ours (the journal); its exit status."""
    try:
        return subprocess.run(list(args), timeout=300, check=False).returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"nvr-boot: {' '.join(args)}: {exc}", flush=True)
        return 127


def running_version(release: Path = RELEASE_FILE) -> str:
    """NVR_VERSION of the running system (board/common/post-build.sh writes the file)."""
    try:
        text = release.read_text()
    except OSError:
        return ""
    match = re.search(r"^NVR_VERSION=(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


# ---- RAUC's install ----------------------------------------------------------------------------


def refuse_install_during_trial(backend: BootBackend, booted: str | None) -> None:
    """BootError when installing now would overwrite the slot the box falls back to."""
    pending = backend.pending()
    if pending is not None and pending == booted:
        raise BootError(
            f"slot {booted} is running on trial and is not confirmed yet; installing now would overwrite "
            f"slot {other_slot(booted)}, the one the box falls back to. Wait until the trial is decided "
            "(nvr-update --status) and try again"
        )


def pre_install(config: OtaConfig, backend: BootBackend, booted: str | None, log: Log) -> None:
    """RAUC's pre-install handler: refuse during a trial, then save nvrd's database."""
    refuse_install_during_trial(backend, booted)
    try:
        if database.snapshot(config.database, config.snapshot):
            log(f"saved a copy of {config.database} as {config.snapshot}")
    except database.DatabaseError as exc:
        raise BootError(f"{exc}; not installing without a copy of the database to go back to") from exc


def install_boot_files(
    config: OtaConfig, backend: BootBackend, source: Path, slot: str, booted: str | None
) -> None:
    """The bundle's slot hook: copy the new kernel folder (`source`) to the boot partition as
    `slot`'s folder, with cmdline.txt (Raspberry Pi) pointing at `slot`'s root partition."""
    check_slot(slot)
    if slot == booted or slot == backend.committed():
        raise BootError(f"slot {slot} is running or committed; its boot files are not to be replaced")
    if not source.is_dir():
        raise BootError(f"the bundle has no boot folder at {source}")
    target = config.boot_dir / slot_folder(slot)
    staging = config.boot_dir / (slot_folder(slot) + ".new")
    with writable(config.boot_dir, config.mounts):
        # RAUC marked the slot bad before writing it, so its old folder may go first: the boot
        # partition need not hold three kernels at once.
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        _copy_tree(source, staging)
        cmdline = staging / "cmdline.txt"
        if cmdline.exists():
            partuuid = config.root_partuuids.get(slot, "")
            if not partuuid:
                raise BootError(f"ota.conf names no root partition for slot {slot}")
            cmdline.write_text(retarget_cmdline(cmdline.read_text(), slot, partuuid))
        os.sync()
        os.rename(staging, target)
        sync_directory(config.boot_dir)
    if not backend.has_kernel(slot):
        raise BootError(f"the bundle's boot folder has no {backend.kernel}")


def retarget_cmdline(text: str, slot: str, partuuid: str) -> str:
    """A kernel command line booting `slot`: its root= and rauc.slot= replaced (or added)."""
    words = [w for w in text.split() if not w.startswith(("root=", "rauc.slot="))]
    return " ".join([f"root=PARTUUID={partuuid}", *words, f"rauc.slot={slot}"]) + "\n"


def _copy_tree(source: Path, destination: Path) -> None:
    """Copy files and folders without their modes and owners (FAT has neither)."""
    destination.mkdir()
    for entry in sorted(source.iterdir()):
        if entry.is_dir():
            _copy_tree(entry, destination / entry.name)
        else:
            shutil.copyfile(entry, destination / entry.name)


def post_install(config: OtaConfig, environ: dict[str, str], log: Log) -> None:
    """RAUC's post-install handler: record the installed version and its slot."""
    target = ""
    for index in environ.get("RAUC_TARGET_SLOTS", "").split():
        bootname = environ.get(f"RAUC_SLOT_BOOTNAME_{index}", "")
        if bootname in SLOTS:
            target = bootname
    if not target:
        raise BootError("RAUC named no target slot with a bootname")
    version = ""
    manifest = Path(environ.get("RAUC_BUNDLE_MOUNT_POINT", "/nonexistent")) / "manifest.raucm"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(manifest.read_text())
        version = parser.get("update", "version", fallback="")
    except (OSError, configparser.Error):
        log(f"cannot read the bundle's version from {manifest}")
    stamp = record.now()
    entry = UpdateRecord(
        state="installed",
        slot=target,
        version=version,
        from_slot=environ.get("RAUC_CURRENT_BOOTNAME", ""),
        from_version=running_version(),
        installed_at=stamp,
        changed_at=stamp,
    )
    record.save(config.record_file, entry)
    log(entry.summary())


# ---- every boot --------------------------------------------------------------------------------


def settle(config: OtaConfig, backend: BootBackend, booted: str | None, log: Log) -> None:
    """Before nvrd starts: close the books on a trial the bootloader gave up, put the database
    back if that trial migrated it, and stop the bootloader from ever starting an empty slot."""
    if booted is None:
        log("the kernel command line names no rauc.slot; nothing to settle")
        return
    entry = record.load(config.record_file)
    pending = backend.pending()
    if pending is not None and pending != booted:
        backend.mark(pending, good=False, booted=booted)
        if entry is not None and entry.slot == pending and entry.state in ("installed", "trying"):
            reason = (
                "it was never started (the box restarted without trying it)"
                if entry.state == "installed"
                else f"it did not come up healthy; the bootloader went back to slot {booted}"
            )
            entry = entry.moved_to("failed", reason)
            record.save(config.record_file, entry)
        log(f"slot {pending} was on trial and was given up; running slot {booted}")
    elif entry is not None and entry.slot != booted and entry.state in ("installed", "trying"):
        # Given up without a trace in the bootloader: the confirm step marked it bad, or RAUC's
        # state was changed by hand.
        entry = entry.moved_to("failed", "it did not confirm")
        record.save(config.record_file, entry)
    elif (
        entry is not None and entry.slot == booted and entry.state == "installed" and backend.on_trial(booted)
    ):
        entry = entry.moved_to("trying")
        record.save(config.record_file, entry)
        log(f"slot {booted} ({entry.version or 'new version'}) is running on trial")

    if entry is not None and entry.state == "failed" and entry.slot != booted:
        try:
            if database.restore_if_migrated(config.database, config.snapshot):
                log(f"the trial had migrated {config.database}; put back the copy saved before the update")
        except (database.DatabaseError, OSError) as exc:
            log(f"cannot check or restore {config.database}: {exc}")

    other = other_slot(booted)
    if other != backend.pending() and backend.is_good(other) and not backend.has_kernel(other):
        backend.mark(other, good=False, booted=booted)
        log(f"slot {other} holds no system; the bootloader will not try it")


def _early_trial_evidence(
    backend: BootBackend, booted: str, log: Log, clock: Callable[[], float], sleep: Callable[[float], None]
) -> bool:
    """The bootloader's sign of a trial, read as the boot begins; U-Boot's environment partition
    may take udev a moment to appear, so reading is retried for a minute. When it stays unreadable
    this boot counts as not a trial: rebooting a committed system would be worse, and U-Boot's
    counters still end a failing trial."""
    give_up = clock() + 60.0
    while True:
        try:
            return backend.trial_evidence(booted)
        except BootError as exc:
            if clock() >= give_up:
                log(f"cannot tell whether this boot is a trial ({exc}); treating it as not one")
                return False
            sleep(2.0)


def confirm(
    config: OtaConfig,
    backend: BootBackend,
    booted: str | None,
    probe: ServiceProbe,
    log: Log,
    run: Runner = run_command,
    api_check: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Keep or give up the running slot. True when it is (now) good; False after asking to reboot."""
    settings = config.health
    if booted is None:
        log("the kernel command line names no rauc.slot; nothing to confirm")
        return True
    evidence = _early_trial_evidence(backend, booted, log, clock, sleep)
    if not evidence:
        # The committed system: the boot itself is confirmed once it has finished (this restores
        # U-Boot's attempts; the one-shot bootloaders need nothing).
        run(["systemctl", "is-system-running", "--wait"])
        if run(settings.mark_good) != 0:
            log(f"could not mark slot {booted} good after booting")
        return True

    log(
        f"slot {booted} is on trial: it is kept once {settings.unit} has run healthy for "
        f"{settings.healthy_seconds:g} s, or given up after {settings.deadline_seconds:g} s"
    )
    verdict = watch(
        settings.unit,
        probe,
        api_check or (lambda: api_answers(settings.api)),
        settings.healthy_seconds,
        settings.deadline_seconds,
        settings.poll_seconds,
        clock,
        sleep,
    )
    entry = record.load(config.record_file)
    if entry is None or entry.slot != booted:
        stamp = record.now()
        entry = UpdateRecord(state="trying", slot=booted, from_slot=other_slot(booted), installed_at=stamp)
    if verdict.healthy:
        for attempt in range(3):
            if run(settings.mark_good) == 0 and backend.pending() is None:
                record.save(config.record_file, entry.moved_to("good", verdict.reason))
                log(f"slot {booted} is confirmed: {verdict.reason}")
                return True
            if attempt < 2:
                sleep(5.0)
        verdict = Verdict(False, f"{verdict.reason}, but marking the slot good failed")
    record.save(config.record_file, entry.moved_to("failed", verdict.reason))
    log(f"giving up slot {booted}: {verdict.reason}; rebooting into slot {other_slot(booted)}")
    if run(settings.mark_bad) != 0 or backend.pending() is not None:
        backend.mark(booted, good=False, booted=booted)
    run(settings.reboot)
    return False
