"""What every benchmark module returns, and how the runner prints it.

A module ``benchmarks/bench_<name>.py`` exposes ``run(size: Size) -> list[Figure]``; each figure
is measured in the same run as its anchor, so the ratio compares like with like.
"""

from __future__ import annotations

import enum
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class Size(enum.Enum):
    """How long a run takes: ``FULL`` for the figures in docs/performance.md, ``QUICK`` for a
    shorter look, ``SMOKE`` (seconds per module, `make bench-quick` in .ci/run) only to prove every
    benchmark still runs; its figures mean nothing."""

    FULL = "full"
    QUICK = "quick"
    SMOKE = "smoke"

    def pick(self, full: T, quick: T, smoke: T) -> T:
        return {Size.FULL: full, Size.QUICK: quick, Size.SMOKE: smoke}[self]


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    anchor: str | None = None
    anchor_value: float | None = None
    higher_is_better: bool = True
    target: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """How many times better than the anchor (>1 is better, whichever way the unit points)."""
        if self.anchor_value is None or self.anchor_value == 0 or self.value == 0:
            return None
        if self.higher_is_better:
            return self.value / self.anchor_value
        return self.anchor_value / self.value

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def time_calls(fn: Callable[[], object], *, repeat: int) -> list[float]:
    """Per-call latencies in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)
