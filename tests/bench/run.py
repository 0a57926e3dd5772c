#!/usr/bin/env python3
"""`make bench`: run every tests/bench/bench_*.py and print one table.

Each module exposes `run() -> list[(name, value, unit, target)]`. Figures are measured here, on this
machine, every time; nothing is asserted (speed is a benchmark's business, not a test's).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))


def main() -> int:
    """Run the benchmarks named on the command line (default: all) and print the table."""
    wanted = sys.argv[1:]
    rows: list[tuple[str, str, str, str, str]] = []
    failed = 0
    for path in sorted(HERE.glob("bench_*.py")):
        area = path.stem.removeprefix("bench_")
        if wanted and area not in wanted:
            continue
        print(f"bench: {area} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"tests.bench.{path.stem}")
            for name, value, unit, target in module.run():
                rows.append(
                    (area, name, f"{value:.3f}" if isinstance(value, float) else str(value), unit, target)
                )
        except Exception:
            failed += 1
            traceback.print_exc()
            rows.append((area, "FAILED (see above)", "-", "-", "-"))
    header = ("area", "measure", "value", "unit", "target")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
