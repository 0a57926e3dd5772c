"""Command line: parse arguments, load the config, run the daemon until a signal stops it.

Exit codes: 0 after a clean stop, 2 for a bad command line or config (one line on stderr), 1 when the
daemon cannot start (for example the port is taken).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from nvrd import FRIGATE_API_VERSION, __version__
from nvrd.config import ConfigError, load_config

log = logging.getLogger("nvrd")

EXIT_BAD_CONFIG = 2
EXIT_START_FAILED = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The daemon's command line."""
    parser = argparse.ArgumentParser(prog="nvrd", description="The NVR appliance daemon.")
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path("/etc/nvr/config.yml"),
        help="YAML config file (default: /etc/nvr/config.yml)",
    )
    parser.add_argument("--port", "-p", type=int, default=5000, help="HTTP port (default: 5000)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument("--check", action="store_true", help="validate the config and exit")
    parser.add_argument(
        "--version", action="version", version=f"nvrd {__version__} (Frigate API {FRIGATE_API_VERSION})"
    )
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    return args


def configure_logging(default_level: str, levels: dict[str, str]) -> None:
    """Log to stderr (journald adds its own timestamps under systemd)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(default_level.upper())
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level.upper())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `nvrd` console script."""
    args = parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"nvrd: bad config: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if args.check:
        print(f"nvrd: {args.config} is valid ({len(config.cameras)} camera(s))")
        return 0
    configure_logging(config.logger.default, dict(config.logger.logs))

    from nvrd.app import Daemon, StartError  # imported late: --check and errors stay fast

    try:
        daemon = Daemon(config, config_path=args.config)
        return daemon.run(host=args.host, port=args.port)
    except StartError as exc:
        log.error("cannot start: %s", exc)
        print(f"nvrd: cannot start: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
