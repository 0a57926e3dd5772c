"""The root filesystem overlay: systemd units (systemd-analyze verify), the identities that must
agree across files (partition GUIDs, the nvr user), the factory config (nvrd's own loader), udev
rules, and the first-boot scripts run against temporary folders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from brtree import PACKAGES, ROOT

OVERLAY = ROOT / "overlay"
UNITS = sorted((OVERLAY / "usr" / "lib" / "systemd" / "system").glob("*.service"))
LIBEXEC = OVERLAY / "usr" / "libexec" / "nvr"
# Programs the units run that packages install on the image (not in the overlay).
FROM_PACKAGES = {"/usr/bin/nvrd": "nvrd", "/usr/sbin/dropbear": "dropbear"}


def layout() -> dict[str, str]:
    values = {}
    for line in (ROOT / "board" / "common" / "layout.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    # verify exits 0 even for unknown keys, so read what it says. The one thing it may say is that a
    # program is missing here that the image has: from our overlay or from one of its packages.
    for line in (result.stdout + result.stderr).splitlines():
        match = re.fullmatch(
            rf"{re.escape(unit.name)}: Command (\S+) is not executable: No such file or directory", line
        )
        assert match, f"systemd-analyze verify: {line}"
        program = match.group(1)
        assert program in FROM_PACKAGES or (OVERLAY / program.lstrip("/")).is_file(), line


def test_units_and_scripts_they_run_exist_and_are_executable() -> None:
    for unit in UNITS:
        for program in re.findall(r"^Exec\w+=[-@:+!]*(\S+)", unit.read_text(), re.MULTILINE):
            if program in FROM_PACKAGES or program.startswith("/bin/"):
                continue
            path = OVERLAY / program.lstrip("/")
            assert path.is_file() and os.access(path, os.X_OK), f"{unit.name} runs {program}"


def test_nvrd_unit_is_a_supervised_sandboxed_notify_service() -> None:
    text = (OVERLAY / "usr" / "lib" / "systemd" / "system" / "nvrd.service").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", text, re.MULTILINE))
    assert settings["Type"] == "notify"
    assert settings["Restart"] == "always"
    assert settings["RestartPreventExitStatus"] == "2"  # nvrd's exit code for a bad config
    assert int(settings["WatchdogSec"].rstrip("s")) >= 10
    assert settings["User"] == "nvr"
    assert {"video", "plugdev", "apex"} <= set(settings["SupplementaryGroups"].split())
    assert settings["ProtectSystem"] == "strict"
    assert set(settings["ReadWritePaths"].split()) == {"/var/lib/nvr", "/etc/nvr", "-/media/nvr"}
    assert "StartLimitBurst" in settings and "StartLimitIntervalSec" in settings
    assert settings["ExecStart"] == "/usr/bin/nvrd --config /etc/nvr/config.yml"
    devices = re.findall(r"^DeviceAllow=(\S+) rw$", text, re.MULTILINE)
    assert {"char-video4linux", "char-apex", "char-usb_device"} <= set(devices)


def test_partition_guids_agree_everywhere() -> None:
    ids = layout()
    fstab = (OVERLAY / "etc" / "fstab").read_text()
    for key, mount in (
        ("NVR_PARTUUID_BOOT", "/boot"),
        ("NVR_PARTUUID_OVERLAY", "/mnt/overlay"),
        ("NVR_PARTUUID_DATA", "/var/lib/nvr"),
    ):
        assert re.search(rf"^PARTUUID={ids[key]}\s+{re.escape(mount)}\s", fstab, re.MULTILINE), key
    grow = (OVERLAY / "usr" / "lib" / "systemd" / "system" / "nvr-grow-data.service").read_text()
    assert f"/dev/disk/by-partuuid/{ids['NVR_PARTUUID_DATA']}" in grow
    fw_env = (ROOT / "board" / "rock5b" / "overlay" / "etc" / "fw_env.config").read_text()
    assert f"/dev/disk/by-partuuid/{ids['NVR_PARTUUID_BOOTSTATE']} 0x0 0x10000" in fw_env
    image_cfg = (ROOT / "image.cfg").read_text() + (ROOT / "board" / "rock5b" / "bootstate.cfg").read_text()
    for key in ids:
        assert f"${{{key}}}" in image_cfg, f"image.cfg does not use {key}"
    assert len(set(ids.values())) == len(ids)


def test_fstab_mounts_state_where_nvrd_expects_it() -> None:
    from nvrd.config.sections import DatabaseConfig, StorageConfig

    fstab = [
        line.split()
        for line in (OVERLAY / "etc" / "fstab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    mounts = {fields[1]: fields for fields in fstab}
    assert DatabaseConfig().path.parent == Path("/var/lib/nvr")
    storage = StorageConfig.model_validate({})
    assert storage.cache.is_relative_to("/var/lib/nvr")
    assert "/var/lib/nvr" in mounts and "x-systemd.growfs" in mounts["/var/lib/nvr"][3]
    assert mounts["/"][3] == "ro"
    assert mounts["/etc/nvr"][0] == "/mnt/overlay/etc/nvr" and "bind" in mounts["/etc/nvr"][3]
    assert storage.root == Path("/media/nvr") and storage.label == "NVR-DATA"


def test_factory_config_is_valid_for_nvrd() -> None:
    from nvrd.config import load_config

    config = load_config(PACKAGES / "nvrd" / "config.yml")
    assert len(config.cameras) >= 1


def test_nvr_user_ids_agree_with_the_media_rule() -> None:
    users = [
        line.split()
        for line in (ROOT / "board" / "common" / "users.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    nvr = next(fields for fields in users if fields[0] == "nvr")
    uid, gid = nvr[1], nvr[3]
    assert set(nvr[7].split(",")) == {"video", "plugdev", "apex"}
    rule = (OVERLAY / "usr" / "lib" / "udev" / "rules.d" / "80-nvr-media.rules").read_text()
    assert f"uid={uid},gid={gid}" in rule


# One rule line: KEY{attr}op"value" pairs separated by commas (values may hold commas).
UDEV_LINE = re.compile(r'^(?:[A-Z_]+(?:\{[^}]+\})?(?:==|!=|\+=|-=|:=|=)"[^"]*"(?:,\s*|$))+$')
UDEV_PAIR = re.compile(r'([A-Z_]+(?:\{[^}]+\})?)(==|!=|\+=|-=|:=|=)"([^"]*)"')


@pytest.mark.parametrize(
    "rules", sorted((OVERLAY / "usr" / "lib" / "udev" / "rules.d").glob("*.rules")), ids=lambda p: p.name
)
def test_udev_rules_are_well_formed(rules: Path) -> None:
    labels, gotos = set(), set()
    for number, line in enumerate(rules.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        assert UDEV_LINE.match(line.strip()), f'{rules.name}:{number}: not KEY op "value" pairs'
        for key, operator, value in UDEV_PAIR.findall(line):
            if key == "LABEL":
                labels.add(value)
            if key == "GOTO":
                gotos.add(value)
            if key in ("SUBSYSTEM", "ACTION") or key.startswith(("ENV{", "ATTRS{")):
                assert operator in ("==", "!=", "=", "+="), f"{rules.name}:{number}: {key}{operator}"
        for program in re.findall(r'RUN\+="(\S+)', line):
            assert program.startswith("/"), f"{rules.name}:{number}: RUN needs an absolute path"
        assert not re.search(r'RUN\+="/(usr/)?s?bin/mount\b', line), "mount in RUN stays private to udevd"
    assert gotos <= labels


def test_media_rule_mounts_with_systemd_mount_without_blocking() -> None:
    rule = (OVERLAY / "usr" / "lib" / "udev" / "rules.d" / "80-nvr-media.rules").read_text()
    runs = re.findall(r'RUN\+="([^"]+)"', rule)
    assert runs and all(run.startswith("/usr/bin/systemd-mount --no-block ") for run in runs)
    assert all(run.endswith("$devnode /media/nvr") for run in runs)
    # The label is configurable (storage.label), so the rule asks nvrd's helper which disk is ours.
    assert 'PROGRAM!="/usr/libexec/nvr/recordings-disk match"' in rule


def test_coral_rule_covers_both_usb_ids_and_the_pcie_device() -> None:
    rule = (OVERLAY / "usr" / "lib" / "udev" / "rules.d" / "70-nvr-coral.rules").read_text()
    assert 'ATTRS{idVendor}=="1a6e", ATTRS{idProduct}=="089a", GROUP="plugdev"' in rule
    assert 'ATTRS{idVendor}=="18d1", ATTRS{idProduct}=="9302", GROUP="plugdev"' in rule
    assert 'SUBSYSTEM=="apex", GROUP="apex"' in rule


def test_journal_is_volatile_and_capped() -> None:
    text = (OVERLAY / "etc" / "systemd" / "journald.conf.d" / "nvr.conf").read_text()
    assert "Storage=volatile" in text and re.search(r"^RuntimeMaxUse=\d+M$", text, re.MULTILINE)


def test_hardware_watchdog_fits_the_raspberry_pi() -> None:
    text = (OVERLAY / "etc" / "systemd" / "system.conf.d" / "watchdog.conf").read_text()
    seconds = int(re.search(r"^RuntimeWatchdogSec=(\d+)s$", text, re.MULTILINE).group(1))
    assert 0 < seconds <= 15


def test_ssh_is_key_only_and_off_without_authorized_keys() -> None:
    unit = (OVERLAY / "usr" / "lib" / "systemd" / "system" / "nvr-ssh.service").read_text()
    assert "ConditionPathExists=/boot/authorized_keys" in unit
    assert re.search(r"^ExecStart=/usr/sbin/dropbear .*-s\b", unit, re.MULTILINE), "-s: no passwords"
    assert os.readlink(OVERLAY / "root" / ".ssh" / "authorized_keys") == "/boot/authorized_keys"
    assert os.readlink(OVERLAY / "etc" / "systemd" / "system" / "dropbear.service") == "/dev/null"


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_overlay_setup_creates_the_config_once(tmp_path: Path) -> None:
    overlay, factory = tmp_path / "overlay", tmp_path / "factory"
    factory.mkdir()
    (factory / "config.yml").write_text("cameras: {}\n")
    owner = f"{os.getuid()}:{os.getgid()}"
    first = run(LIBEXEC / "overlay-setup", overlay, factory, env={"NVR_OWNER": owner})
    assert first.returncode == 0, first.stderr
    config = overlay / "etc" / "nvr" / "config.yml"
    assert config.read_text() == "cameras: {}\n"
    assert (overlay / "etc" / "systemd" / "network").is_dir()
    assert oct((overlay / "ssh").stat().st_mode & 0o777) == "0o700"
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    config.write_text("cameras: {mine: {}}\n")  # the user's edit
    second = run(LIBEXEC / "overlay-setup", overlay, factory, env={"NVR_OWNER": owner})
    assert second.returncode == 0 and second.stdout == ""
    assert config.read_text() == "cameras: {mine: {}}\n"
    assert not (overlay / "etc" / "nvr" / "config.yml.new").exists()


def test_media_owner_waits_for_the_mount(tmp_path: Path) -> None:
    where = tmp_path / "media"
    where.mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 {where} ext4 rw 0 0\n")
    owner = f"{os.getuid()}:{os.getgid()}"
    assert run(LIBEXEC / "media-owner", where, owner, mounts).returncode == 0
    mounts.write_text("/dev/sda1 /elsewhere ext4 rw 0 0\n")
    late = run(LIBEXEC / "media-owner", where, owner, mounts, env={"NVR_MEDIA_TIMEOUT": "1"})
    assert late.returncode == 1 and "was not mounted within 1s" in late.stderr


def test_post_build_enables_units_and_records_the_release(tmp_path: Path) -> None:
    target = tmp_path / "target"
    (target / "usr" / "lib").mkdir(parents=True)
    (target / "etc" / "systemd" / "system").mkdir(parents=True)
    result = run(
        ROOT / "board" / "common" / "post-build.sh",
        target,
        "rpi5",
        env={"BR2_EXTERNAL_NVR_PATH": str(ROOT / "buildroot")},
    )
    assert result.returncode == 0, result.stderr
    wants = target / "etc" / "systemd" / "system" / "multi-user.target.wants"
    assert os.readlink(wants / "nvrd.service") == "/usr/lib/systemd/system/nvrd.service"
    assert os.readlink(wants / "nvr-ssh.service") == "/usr/lib/systemd/system/nvr-ssh.service"
    getty = target / "etc" / "systemd" / "system" / "getty.target.wants" / "getty@tty1.service"
    assert os.readlink(getty) == "/usr/lib/systemd/system/getty@.service"
    from nvrd import __version__

    release = (target / "usr" / "lib" / "nvr-release").read_text()
    assert release == f"NVR_BOARD=rpi5\nNVR_VERSION={__version__}\n"
