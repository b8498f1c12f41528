"""The one timing helper every workload uses, and the rows the runner prints.

`compare` times several contenders side by side in this process: after a warm-up, each
repetition runs every contender once (in a rotated order, so none always runs first or
last), and the reported number is the median over repetitions of the time per call. Short
calls are batched (``number`` calls per sample, chosen during the warm-up) so the timer's
resolution and one-off hiccups stay small next to the sample. Ratios between contenders are
paired per repetition (`Timing.ratio_to`); each sample also counts the page faults it caused.
"""

from __future__ import annotations

import gc
import math
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Budget:
    """How hard to measure: the full run, ``--quick``, or the tiny sizes the test suite uses."""

    name: str
    reps: int  # timed repetitions per contender
    warmup: int  # untimed calls per contender before timing
    sample_seconds: float  # a timed sample batches calls until it lasts about this long
    chain_sizes: tuple[int, ...]
    tiny: bool = False  # workloads shrink their problem sizes (harness test only)


FULL = Budget("full", reps=41, warmup=5, sample_seconds=0.02, chain_sizes=(10**3, 10**4, 10**5, 10**6))
QUICK = Budget("quick", reps=11, warmup=2, sample_seconds=0.005, chain_sizes=(10**3, 10**4, 10**5))
TINY = Budget("tiny", reps=3, warmup=1, sample_seconds=0.0, chain_sizes=(10, 100), tiny=True)
BUDGETS = {b.name: b for b in (FULL, QUICK, TINY)}


def _no_setup() -> None:
    return None


@dataclass(frozen=True)
class Contender:
    """One implementation of a workload: ``run(setup())`` is the timed call.

    ``setup`` (untimed, once before every call) prepares what the call consumes, e.g. a fresh
    graph for a backward pass; most contenders need none.
    """

    name: str
    run: Callable[[Any], object]
    setup: Callable[[], Any] = _no_setup


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median, quartiles and extremes over the repetitions."""

    median: float
    q1: float
    q3: float
    low: float
    high: float
    reps: int
    number: int  # calls per timed sample
    samples: tuple[float, ...]  # seconds per call, one per repetition, in order
    page_faults: float  # minor page faults per call (memory the OS had to map in), mean

    @classmethod
    def of(cls, per_call: Sequence[float], number: int, page_faults: float) -> Timing:
        q1, median, q3 = np.percentile(per_call, [25, 50, 75])
        low, high, reps = min(per_call), max(per_call), len(per_call)
        return cls(float(median), float(q1), float(q3), low, high, reps, number, tuple(per_call), page_faults)

    def scaled(self, factor: float) -> Timing:
        """The same timing per unit of work, e.g. per op of a call that runs ``1 / factor`` ops."""
        return Timing.of([t * factor for t in self.samples], self.number, self.page_faults * factor)

    def ratio_to(self, floor: Timing) -> float:
        """Median over repetitions of this time / the floor's time in the same repetition.

        Pairing each sample with the floor's sample of the same repetition (measured back to
        back) cancels slow changes in machine load that a ratio of two medians would keep.
        """
        return float(np.median(np.divide(self.samples, floor.samples)))


@dataclass
class Row:
    """One line of the table: a contender's timing on a workload, or why there is none."""

    workload: str
    contender: str
    timing: Timing | None
    floor: bool = False  # this row is the workload's floor (ratios are relative to it)
    ratio: float | None = None  # median / the floor's median
    target: str = ""  # e.g. "<= 1.5x floor: 1.21x, met"
    note: str = ""  # "not installed", "RecursionError", memory per node, ...
    extra: dict[str, Any] = field(default_factory=dict)


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _sample(contender: Contender, number: int, clock: Callable[[], float]) -> tuple[float, float]:
    """Time ``number`` calls (each after its own untimed setup); return seconds and page faults per call."""
    if contender.setup is _no_setup:  # one reading of the clock around them all: its cost stays out
        before = _minor_faults()
        start = clock()
        for _ in range(number):
            contender.run(None)
        return (clock() - start) / number, (_minor_faults() - before) / number
    total, faults = 0.0, 0
    for _ in range(number):
        state = contender.setup()
        before = _minor_faults()
        start = clock()
        contender.run(state)
        total += clock() - start
        faults += _minor_faults() - before
        del state
    return total / number, faults / number


def compare(
    contenders: Sequence[Contender],
    budget: Budget,
    *,
    gc_off: bool = False,
    reps: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """Time every contender, interleaved; return each one's `Timing` by name.

    ``gc_off`` disables the cyclic garbage collector while timing (collections of earlier
    garbage then run untimed between repetitions, for every contender alike). ``clock`` is
    wall time by default; `time.process_time` counts only this process's CPU time, which other
    processes on a busy machine do not inflate (it costs a system call: ~1 us).
    """
    reps = budget.reps if reps is None else reps
    numbers = {}
    for c in contenders:
        per_call = min(_sample(c, 1, clock)[0] for _ in range(max(budget.warmup, 1)))
        numbers[c.name] = max(1, math.ceil(budget.sample_seconds / max(per_call, 1e-9)))
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    faults: dict[str, list[float]] = {c.name: [] for c in contenders}
    was_enabled = gc.isenabled()
    try:
        for rep in range(reps):
            shift = rep % len(contenders)
            for c in [*contenders[shift:], *contenders[:shift]]:
                gc.collect()
                if gc_off:
                    gc.disable()
                seconds, page_faults = _sample(c, numbers[c.name], clock)
                samples[c.name].append(seconds)
                faults[c.name].append(page_faults)
                if was_enabled:
                    gc.enable()
    finally:
        if was_enabled:
            gc.enable()
    return {name: Timing.of(t, numbers[name], float(np.mean(faults[name]))) for name, t in samples.items()}


def rows_against_floor(
    workload: str, contenders: Sequence[Contender], timings: dict[str, Timing], floor: str
) -> list[Row]:
    """One row per timed contender, with its (paired) ratio to the floor contender."""
    base = timings[floor]
    return [
        Row(workload, c.name, timings[c.name], floor=c.name == floor, ratio=timings[c.name].ratio_to(base))
        for c in contenders
    ]


def assert_same(
    workload: str,
    name: str,
    got: Sequence[tuple[str, Any]],
    expected: Sequence[tuple[str, Any]],
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> None:
    """Check that a contender computed the same loss and gradients as the engine, or raise."""
    assert [label for label, _ in got] == [label for label, _ in expected], (workload, name)
    for (label, a), (_, b) in zip(got, expected):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=atol):
            worst = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("nan")
            raise AssertionError(
                f"{workload}: {name} computes a different {label} than tinygrad_iris "
                f"(shapes {a.shape} vs {b.shape}, largest difference {worst:.3g})"
            )
