"""CLI start-up: wall time of `rampart <group> --help` for every group (target < 0.5 s) and of
simple reads on a fresh data directory (target < 1 s), each beside the floor every typer CLI
pays: a fresh interpreter that imports typer and prints a one-command help.

Each command runs in a fresh process, ``repeat`` times; the figure is the median. Bytecode is
what the bootstrap leaves (``uv sync --compile-bytecode`` and the project's sources compiled):
the machine sets ``PYTHONDONTWRITEBYTECODE=1``, so nothing is cached between runs otherwise.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Figure, Size
from cli.main import COMMANDS

REPO = Path(__file__).resolve().parents[1]
RAMPART = [sys.executable, "-c", "from cli.main import main; main()"]
TYPER_FLOOR = [
    sys.executable,
    "-c",
    "import typer\napp = typer.Typer()\n@app.command()\ndef hello() -> None: ...\napp()",
    "--help",
]
READS = (
    ["user", "list"],
    ["client", "list"],
    ["keys", "list"],
    ["audit", "verify"],
    ["audit", "tail", "-n", "5"],
    ["vault", "stats"],
    ["db", "current"],
    ["jobs", "list"],
    ["policy", "history"],
    ["review", "list"],
    ["compliance", "list"],
    ["compliance", "status"],
)


def _median_seconds(argv: list[str], env: dict[str, str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[3:])} failed: {done.stderr.decode()[-300:]}")
    return statistics.median(samples)


def run(size: Size) -> list[Figure]:
    repeat = size.pick(7, 3, 1)
    with tempfile.TemporaryDirectory(prefix="rampart-bench-cli-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(
            RAMPART_DATA_DIR=data_dir,
            RAMPART_LOG_LEVEL="WARNING",
            RAMPART_ADMIN_PASSWORD="correct horse 42 battery",  # noqa: S106 - throwaway bench dir
        )
        subprocess.run([*RAMPART, "init", "--json"], cwd=REPO, env=env, check=True,
                       capture_output=True)  # fmt: skip
        floor = _median_seconds(TYPER_FLOOR, env, repeat)
        groups = [[], *([entry.name] for entry in COMMANDS)]
        figures = [
            Figure(
                " ".join(["rampart", *group, "--help"]),
                _median_seconds([*RAMPART, *group, "--help"], env, repeat),
                "s",
                anchor="typer one-command --help",
                anchor_value=floor,
                higher_is_better=False,
                target="< 0.5 s",
            )
            for group in groups
        ]
        figures += [
            Figure(
                f"rampart {' '.join(argv)}",
                _median_seconds([*RAMPART, *argv], env, repeat),
                "s",
                anchor="typer one-command --help",
                anchor_value=floor,
                higher_is_better=False,
                target="< 1 s",
            )
            for argv in READS
        ]
    return figures
