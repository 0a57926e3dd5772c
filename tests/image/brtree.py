"""Reading our BR2_EXTERNAL tree the way Buildroot does, for the image tests.

Buildroot's contract with an external tree is plain text (external.desc, Config.in files, .mk
files, defconfigs); these helpers parse just enough of it. They never need Buildroot itself;
`buildroot_dir()` says where the pinned release is unpacked when a machine has fetched it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL = ROOT / "buildroot"
PACKAGES = EXTERNAL / "package"
CONFIGS = EXTERNAL / "configs"
BOARDS = ("rpi4", "rpi5", "rock5b")

_SYMBOL = re.compile(r"\bBR2_[A-Za-z0-9_]+\b")
_CONFIG_LINE = re.compile(r"^\s*(?:menu)?config\s+(BR2_[A-Z0-9_]+)\s*$")
_DEFCONFIG_SET = re.compile(r"^(BR2_[A-Za-z0-9_]+)=(.*)$")
_DEFCONFIG_UNSET = re.compile(r"^# (BR2_[A-Za-z0-9_]+) is not set$")


def shared_dir() -> Path:
    """The read-only ../shared folder (NVR_SHARED overrides)."""
    return Path(os.environ.get("NVR_SHARED", ROOT / ".." / "shared")).resolve()


def buildroot_version() -> str:
    """The pinned Buildroot release, as board/image.mk states it."""
    text = (ROOT / "board" / "image.mk").read_text()
    match = re.search(r"^NVR_BUILDROOT_VERSION := (\S+)$", text, re.MULTILINE)
    if match is None:
        raise AssertionError("board/image.mk does not pin NVR_BUILDROOT_VERSION")
    return match.group(1)


def buildroot_dir() -> Path | None:
    """The unpacked pinned Buildroot (NVR_BUILDROOT_DIR overrides), or None when absent."""
    candidate = Path(os.environ.get("NVR_BUILDROOT_DIR", ROOT / "build" / f"buildroot-{buildroot_version()}"))
    return candidate if (candidate / "Makefile").is_file() and (candidate / "Config.in").is_file() else None


def package_names() -> list[str]:
    """Our packages: the folders of buildroot/package/."""
    return sorted(path.name for path in PACKAGES.iterdir() if path.is_dir())


def upper_name(package: str) -> str:
    """Buildroot's variable prefix for a package: python-foo-bar -> PYTHON_FOO_BAR."""
    return package.upper().replace("-", "_")


def config_in_files() -> list[Path]:
    """Every Config.in of our tree."""
    return [EXTERNAL / "Config.in", *sorted(PACKAGES.glob("*/Config.in"))]


def defined_symbols() -> set[str]:
    """BR2_ symbols our Config.in files define."""
    found = set()
    for path in config_in_files():
        for line in path.read_text().splitlines():
            match = _CONFIG_LINE.match(line)
            if match:
                found.add(match.group(1))
    return found


def referenced_symbols() -> set[str]:
    """BR2_ symbols our Config.in files and defconfigs mention (outside help texts and comments)."""
    found: set[str] = set()
    for path in config_in_files():
        in_help = False
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped in ("help", "---help---"):
                in_help = True
                continue
            if in_help and (not stripped or line.startswith(("\t ", "\t\t", "\t  "))):
                continue
            in_help = False
            code = stripped.split("#", 1)[0]
            # $BR2_EXTERNAL_NVR_PATH in source lines is a path Buildroot sets, not a symbol.
            found.update(s for s in _SYMBOL.findall(code) if not s.startswith("BR2_EXTERNAL_"))
    for board in BOARDS:
        found.update(defconfig(board))
    return found


def defconfig(board: str) -> dict[str, str]:
    """A board's defconfig as {symbol: value}, with "n" for "# ... is not set"."""
    values: dict[str, str] = {}
    for line in (CONFIGS / f"nvr_{board}_defconfig").read_text().splitlines():
        if match := _DEFCONFIG_SET.match(line):
            values[match.group(1)] = match.group(2)
        elif match := _DEFCONFIG_UNSET.match(line):
            values[match.group(1)] = "n"
        elif line.strip():
            raise AssertionError(f"nvr_{board}_defconfig: not a defconfig line: {line!r}")
    return values


def mainline_symbols() -> list[str]:
    """The checked-in list of pinned-Buildroot symbols we rely on."""
    lines = (EXTERNAL / "mainline-symbols.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def mk_variables(package: str) -> dict[str, str]:
    """The simple `NAME = value` assignments of a package's .mk file (continuations joined)."""
    text = (PACKAGES / package / f"{package}.mk").read_text().replace("\\\n", " ")
    values = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z0-9_]+)\s*(?:\+|:|\?)?=\s*(.*)$", line)
        if match:
            values[match.group(1)] = " ".join(match.group(2).split())
    return values
