"""Runs every ``benchmarks/bench_*.py`` (or those named) and prints each figure beside its anchor.

uv run python -m benchmarks            # all, full size (the figures of docs/performance.md)
uv run python -m benchmarks audit --quick
uv run python -m benchmarks --smoke    # every module for seconds (`make bench-quick`, in CI)

A smoke run checks only that each module ran and returned figures, never a time: a benchmark
that stops running fails CI instead of rotting.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import sys
import time
from pathlib import Path

import benchmarks
from benchmarks.harness import Figure, Size


def _modules(selected: list[str]) -> list[str]:
    names = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )
    unknown = set(selected) - set(names)
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return [n for n in names if not selected or n in selected]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="smaller sizes, a shorter look")
    sizes.add_argument(
        "--smoke", action="store_true", help="tiny sizes: only proves every benchmark runs"
    )
    parser.add_argument("--json", dest="json_path", help="also write all figures to this file")
    args = parser.parse_args()

    size = Size.SMOKE if args.smoke else Size.QUICK if args.quick else Size.FULL

    results: list[Figure] = []
    failed: list[str] = []
    for name in _modules(args.names):
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"benchmarks.bench_{name}")
        figures: list[Figure] = module.run(size)
        if not _measured(figures):
            failed.append(name)
        for f in figures:
            ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
            anchor = f"{f.anchor} {_fmt(f.anchor_value)}" if f.anchor else "-"
            target = f"  [target {f.target}]" if f.target else ""
            print(
                f"  {f.name:<58} {_fmt(f.value):>12} {f.unit:<10} vs {anchor:<34} {ratio}{target}"
            )
        print(f"  ({time.perf_counter() - start:.1f} s)", flush=True)
        results.extend(figures)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps([f.as_dict() for f in results], indent=2))
    if failed:
        sys.exit(f"benchmarks that measured nothing: {', '.join(failed)}")


def _measured(figures: list[Figure]) -> bool:
    """The module returned figures, each a finite number (a crash raises before this)."""
    return bool(figures) and all(math.isfinite(f.value) for f in figures)


if __name__ == "__main__":
    main()
