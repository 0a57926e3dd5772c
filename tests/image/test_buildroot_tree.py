"""The BR2_EXTERNAL tree (buildroot/), checked the way Buildroot reads it.

Without Buildroot: kconfiglib parses our Config.in files, every package has its three files with
correctly prefixed variables, every symbol we use is ours or listed in mainline-symbols.txt, every
path a defconfig names exists, and requirements.txt maps onto packages. Where the pinned Buildroot
is unpacked (make buildroot-fetch, or NVR_BUILDROOT_DIR), its own kconfig loads each defconfig,
savedefconfig gives the same file back, and check-package lints our packages.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import kconfiglib
import pytest
from brtree import (
    BOARDS,
    CONFIGS,
    EXTERNAL,
    PACKAGES,
    ROOT,
    buildroot_dir,
    config_in_files,
    defconfig,
    defined_symbols,
    mainline_symbols,
    mk_variables,
    package_names,
    referenced_symbols,
    shared_dir,
    upper_name,
)

EXTERNAL_PATH_VAR = "$(BR2_EXTERNAL_NVR_PATH)"
# Variables a package .mk may set that are not its own: Buildroot's global exemption list.
GLOBAL_MK_VARIABLES = {"BR_NO_CHECK_HASH_FOR"}
HASH_LINE = re.compile(r"^(md5|sha1|sha224|sha256|sha384|sha512)\s+([0-9a-f]+)\s+(\S+)$")
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}


def requirement_rows() -> list[dict[str, str]]:
    rows = []
    for line in (EXTERNAL / "requirements-map.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = [cell.strip() for cell in line.split("|")]
        assert len(cells) == 5, f"requirements-map.txt: expected 5 columns: {line!r}"
        rows.append(dict(zip(("requirement", "symbol", "source", "version", "note"), cells, strict=True)))
    return rows


def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: not pinned with ==: {line!r}"
            pins[name.lower()] = version
    return pins


def selects_of(config_in: Path) -> set[str]:
    return set(re.findall(r"^\s*select\s+(BR2_\w+)", config_in.read_text(), re.MULTILINE))


# --- the external tree's own files ---------------------------------------------------------------


def test_external_desc_names_the_tree_nvr() -> None:
    fields = dict(
        line.split(":", 1) for line in (EXTERNAL / "external.desc").read_text().splitlines() if line.strip()
    )
    assert fields["name"].strip() == "NVR"
    assert re.fullmatch(r"[A-Za-z0-9_]+", fields["name"].strip())
    assert fields["desc"].strip()


def test_external_mk_includes_every_package_mk() -> None:
    text = (EXTERNAL / "external.mk").read_text()
    assert "$(BR2_EXTERNAL_NVR_PATH)/package/*/*.mk" in text


def test_top_config_in_sources_each_package_once() -> None:
    sources = re.findall(
        r'^source "\$BR2_EXTERNAL_NVR_PATH/package/([^/]+)/Config.in"$',
        (EXTERNAL / "Config.in").read_text(),
        re.MULTILINE,
    )
    assert sorted(sources) == package_names()
    assert len(sources) == len(set(sources))


def test_kconfiglib_parses_our_config_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BR2_EXTERNAL_NVR_PATH", str(EXTERNAL))
    kconf = kconfiglib.Kconfig(str(EXTERNAL / "Config.in"), warn_to_stderr=False)
    ours = {name for name, sym in kconf.syms.items() if sym.nodes}
    for package in package_names():
        assert f"BR2_PACKAGE_{upper_name(package)}" in ours, f"{package}/Config.in lacks its bool"
    # Buildroot's own symbols are undefined when our files are parsed alone; nothing else may be.
    undefined = {name for name, sym in kconf.syms.items() if not sym.nodes and name.startswith("BR2_")}
    assert undefined <= set(mainline_symbols())


@pytest.mark.parametrize("package", package_names())
def test_package_has_config_mk_and_hash(package: str) -> None:
    folder = PACKAGES / package
    for name in ("Config.in", f"{package}.mk", f"{package}.hash"):
        assert (folder / name).is_file(), f"{package}: missing {name}"
    mk = (folder / f"{package}.mk").read_text()
    header = "#" * 80 + "\n#\n# " + package + "\n#\n" + "#" * 80 + "\n"
    assert mk.startswith(header), f"{package}.mk: Buildroot's package header is missing"
    assert re.search(
        r"^\$\(eval \$\((generic|python|kernel-module)-package\)\)$|^\$\(eval \$\(kernel-module\)\)$",
        mk,
        re.MULTILINE,
    )


@pytest.mark.parametrize("package", package_names())
def test_mk_variables_carry_the_package_prefix(package: str) -> None:
    prefix = upper_name(package) + "_"
    for name in mk_variables(package):
        assert name.startswith(prefix) or name in GLOBAL_MK_VARIABLES, f"{package}.mk sets {name}"
    text = (PACKAGES / package / f"{package}.mk").read_text()
    for name in re.findall(r"^define ([A-Z0-9_]+)$", text, re.MULTILINE):
        assert name.startswith(prefix), f"{package}.mk defines {name}"
    for name in re.findall(r"^([A-Z0-9_]+_HOOKS)\s*\+=", text, re.MULTILINE):
        assert name.startswith(prefix), f"{package}.mk appends to {name}"


@pytest.mark.parametrize("package", package_names())
def test_hash_file_lines_are_well_formed_and_cover_the_download(package: str) -> None:
    variables = mk_variables(package)
    prefix = upper_name(package)
    hashed = {}
    for line in (PACKAGES / package / f"{package}.hash").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = HASH_LINE.match(line)
        assert match, f"{package}.hash: malformed line {line!r}"
        kind, digest, name = match.groups()
        assert len(digest) == HASH_LENGTHS[kind], f"{package}.hash: {kind} of {name} has the wrong length"
        hashed[name] = digest
    if variables.get(f"{prefix}_SITE_METHOD") == "local":
        return
    exempt = variables.get("BR_NO_CHECK_HASH_FOR", "")
    source = variables.get(f"{prefix}_SOURCE", f"{package}-{variables[f'{prefix}_VERSION']}.tar.gz")
    source = source.replace(f"$({prefix}_VERSION)", variables[f"{prefix}_VERSION"])
    if exempt:
        # Only libedgetpu may go unchecked, and only because no trusted checksum exists yet.
        assert package == "libedgetpu" and exempt == f"$({prefix}_SOURCE)"
        return
    assert source in hashed, f"{package}.hash has no checksum for {source}"
    extra = variables.get(f"{prefix}_EXTRA_DOWNLOADS", "").split()
    for name in extra:
        assert name in hashed, f"{package}.hash has no checksum for {name}"


def test_only_the_prebuilt_edge_tpu_runtime_skips_its_checksum() -> None:
    skipping = [p for p in package_names() if "BR_NO_CHECK_HASH_FOR" in mk_variables(p)]
    assert skipping == ["libedgetpu"]


@pytest.mark.parametrize("patch", sorted(PACKAGES.glob("*/*.patch")), ids=lambda p: p.name)
def test_patches_say_where_they_stand_upstream(patch: Path) -> None:
    text = patch.read_text()
    assert re.search(r"^Upstream: \S", text, re.MULTILINE), f"{patch.name}: no Upstream: tag"
    assert re.search(r"^Signed-off-by: ", text, re.MULTILINE), f"{patch.name}: no Signed-off-by"
    assert re.search(r"^diff --git a/\S+ b/\S+$", text, re.MULTILINE)


# --- symbols and paths --------------------------------------------------------------------------


def test_every_symbol_we_use_is_ours_or_a_listed_mainline_one() -> None:
    listed = mainline_symbols()
    assert listed == sorted(set(listed)), "mainline-symbols.txt: keep it sorted and without repeats"
    needed = referenced_symbols() - defined_symbols()
    assert needed - set(listed) == set(), "used but neither ours nor in mainline-symbols.txt"
    assert set(listed) - needed == set(), "listed in mainline-symbols.txt but no longer used"


def test_our_symbols_do_not_shadow_mainline_ones() -> None:
    assert defined_symbols() & set(mainline_symbols()) == set()


@pytest.mark.parametrize("board", BOARDS)
def test_defconfig_paths_into_our_tree_exist(board: str) -> None:
    values = defconfig(board)
    assert values["BR2_ROOTFS_POST_SCRIPT_ARGS"] == f'"{board}"'
    seen = 0
    for value in values.values():
        for word in value.strip('"').split():
            if word.startswith(EXTERNAL_PATH_VAR):
                path = Path(word.replace(EXTERNAL_PATH_VAR, str(EXTERNAL)))
                assert path.exists(), f"nvr_{board}_defconfig names {word}, which does not exist"
                seen += 1
    assert seen >= 6


@pytest.mark.parametrize("board", BOARDS)
def test_defconfig_builds_the_appliance(board: str) -> None:
    values = defconfig(board)
    expected = {
        "BR2_aarch64": "y",
        "BR2_INIT_SYSTEMD": "y",
        "BR2_TARGET_GENERIC_REMOUNT_ROOTFS_RW": "n",
        "BR2_TARGET_GENERIC_HOSTNAME": '"nvr"',
        "BR2_TARGET_ROOTFS_SQUASHFS": "y",
        "BR2_PACKAGE_NVRD": "y",
        "BR2_PACKAGE_AVAHI_DAEMON": "y",
        "BR2_PACKAGE_CHRONY": "y",
        "BR2_PACKAGE_RAUC": "y",
        "BR2_PACKAGE_MOSQUITTO": "y",
        "BR2_PACKAGE_MOSQUITTO_BROKER": "n",
        "BR2_PACKAGE_EXFATPROGS": "y",
        "BR2_PACKAGE_E2FSPROGS_RESIZE2FS": "y",
        "BR2_PACKAGE_HOST_GENIMAGE": "y",
    }
    for symbol, value in expected.items():
        assert values.get(symbol) == value, f"nvr_{board}_defconfig: {symbol} should be {value}"
    # The Coral PCIe driver where the board has PCIe for it; the Pi camera stack on the Pi 4.
    assert (values.get("BR2_PACKAGE_GASKET_DRIVER") == "y") == (board != "rpi4")
    assert (values.get("BR2_PACKAGE_PYTHON_PICAMERA2") == "y") == (board == "rpi4")


def test_rock5b_keeps_buildroots_board_base() -> None:
    values = defconfig("rock5b")
    assert values["BR2_TARGET_UBOOT_BOARD_DEFCONFIG"] == '"rock5b-rk3588"'
    assert "board/radxa/rock5b/u-boot.fragment" in values["BR2_TARGET_UBOOT_CONFIG_FRAGMENT_FILES"]
    assert "board/radxa/rock5b/linux.fragment" in values["BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES"]


# --- requirements.txt -> Buildroot packages ------------------------------------------------------


def test_every_requirement_maps_to_a_package_nvrd_selects() -> None:
    pins = pinned_requirements()
    rows = {row["requirement"].partition("==")[0].lower(): row for row in requirement_rows()}
    assert set(rows) == set(pins), "requirements-map.txt must have exactly one row per requirement"
    nvrd_selects = selects_of(PACKAGES / "nvrd" / "Config.in")
    for name, version in pins.items():
        row = rows[name]
        assert row["requirement"] == f"{name}=={version}", f"requirements-map.txt is stale for {name}"
        assert row["symbol"] in nvrd_selects, f"package/nvrd/Config.in does not select {row['symbol']}"
        assert row["source"] in ("ours", "mainline")
        if row["source"] == "ours":
            assert row["symbol"] in defined_symbols()
            package = next(p for p in package_names() if f"BR2_PACKAGE_{upper_name(p)}" == row["symbol"])
            assert mk_variables(package)[f"{upper_name(package)}_VERSION"] == version
            assert row["version"] == version
        else:
            assert row["symbol"] in mainline_symbols()
            assert row["version"] == version or len(row["note"]) > 40, (
                f"{name}: Buildroot has {row['version']}, the pin is {version}; the note must say why"
            )


# --- the detection model ----------------------------------------------------------------------


def test_model_checksums_match_the_shared_model_files() -> None:
    models = shared_dir() / "models"
    if not models.is_dir():
        pytest.skip(f"no shared model folder at {models}")
    hashed = {}
    for line in (PACKAGES / "nvr-models" / "nvr-models.hash").read_text().splitlines():
        if match := HASH_LINE.match(line):
            hashed[match.group(3)] = match.group(2)
    assert len(hashed) == 3
    for name, digest in hashed.items():
        assert hashlib.sha256((models / name).read_bytes()).hexdigest() == digest, name


def test_model_files_are_where_nvrd_looks_by_default() -> None:
    from nvrd.config.sections import DEFAULT_MODEL_DIR, DEFAULT_MODEL_PATH, ModelConfig

    installed = set(mk_variables("nvr-models")["NVR_MODELS_EXTRA_DOWNLOADS"].split())
    installed.add(mk_variables("nvr-models")["NVR_MODELS_SOURCE"])
    model = ModelConfig.model_validate({})
    assert Path("/usr/share/nvr/models") == DEFAULT_MODEL_DIR
    assert {DEFAULT_MODEL_PATH.name, model.edgetpu_path.name, model.labelmap_path.name} == installed


# --- with the pinned Buildroot unpacked --------------------------------------------------------

needs_buildroot = pytest.mark.skipif(
    buildroot_dir() is None,
    reason="the pinned Buildroot is not unpacked here (make buildroot-fetch, or set NVR_BUILDROOT_DIR)",
)


@needs_buildroot
def test_mainline_symbols_exist_in_the_pinned_buildroot() -> None:
    tree = buildroot_dir()
    assert tree is not None
    defined = set()
    for path in tree.rglob("Config.in*"):
        defined.update(
            re.findall(r"^\s*(?:menu)?config\s+(BR2_\w+)", path.read_text(errors="replace"), re.MULTILINE)
        )
    assert set(mainline_symbols()) - defined == set()


@needs_buildroot
@pytest.mark.parametrize("board", BOARDS)
def test_defconfig_paths_into_buildroot_exist(board: str) -> None:
    tree = buildroot_dir()
    assert tree is not None
    path_symbols = (
        "_PATCH_DIR",
        "_FRAGMENT_FILES",
        "_DEVICE_TABLE",
        "_USERS_TABLES",
        "_OVERLAY",
        "_SCRIPT",
        "_CONFIG_FILE",
    )
    for symbol, value in defconfig(board).items():
        if not symbol.endswith(path_symbols):
            continue
        for word in value.strip('"').split():
            if not word.startswith("$"):
                assert (tree / word).exists(), f"nvr_{board}_defconfig names {word}, not in Buildroot"


@needs_buildroot
def test_mainline_versions_in_the_requirements_map() -> None:
    tree = buildroot_dir()
    assert tree is not None
    for row in requirement_rows():
        if row["source"] != "mainline":
            continue
        package = row["symbol"].removeprefix("BR2_PACKAGE_").lower().replace("_", "-")
        mk = (tree / "package" / package / f"{package}.mk").read_text()
        version = re.search(r"^\w+_VERSION = (\S+)$", mk, re.MULTILINE)
        assert version is not None and version.group(1) == row["version"], row["requirement"]


@needs_buildroot
@pytest.mark.timeout(180)
@pytest.mark.parametrize("board", BOARDS)
def test_buildroot_loads_the_defconfig_and_saves_it_unchanged(board: str, tmp_path: Path) -> None:
    tree = buildroot_dir()
    assert tree is not None
    if shutil.which("gcc") is None:
        pytest.skip("Buildroot's kconfig needs a host C compiler")
    out = tmp_path / "out"
    make = ["make", "-s", "-C", str(tree), f"O={out}", f"BR2_EXTERNAL={EXTERNAL}"]
    subprocess.run([*make, f"nvr_{board}_defconfig"], check=True, capture_output=True, timeout=150)
    config = (out / ".config").read_text()
    for symbol, value in defconfig(board).items():
        line = f"# {symbol} is not set" if value == "n" else f"{symbol}={value}"
        assert line in config.splitlines(), f"Buildroot dropped {line!r} (unmet dependency?)"
    saved = tmp_path / "saved_defconfig"
    subprocess.run(
        [*make, "savedefconfig", f"BR2_DEFCONFIG={saved}"], check=True, capture_output=True, timeout=60
    )
    assert saved.read_text() == (CONFIGS / f"nvr_{board}_defconfig").read_text()


def _check_package_python() -> str | None:
    """An interpreter that has what Buildroot's check-package imports (magic, flake8)."""
    for python in ("/usr/bin/python3", shutil.which("python3")):
        if (
            python
            and subprocess.run([python, "-c", "import magic, flake8"], capture_output=True).returncode == 0
        ):
            return python
    return None


@needs_buildroot
@pytest.mark.timeout(120)
def test_buildroot_check_package_is_clean_on_our_packages() -> None:
    tree = buildroot_dir()
    assert tree is not None
    python = _check_package_python()
    if python is None:
        pytest.skip("check-package needs python3-magic and flake8 (apt install python3-magic flake8)")
    files = sorted(str(path.relative_to(ROOT)) for path in PACKAGES.glob("*/*"))
    result = subprocess.run(
        [python, str(tree / "utils" / "check-package"), "-b", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 warnings generated" in result.stdout + result.stderr


def test_config_in_files_are_tab_indented_like_buildroots() -> None:
    for path in config_in_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not line.startswith(" "), f"{path.relative_to(ROOT)}:{number}: indent with a tab"
