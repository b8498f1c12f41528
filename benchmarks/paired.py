"""``python -m benchmarks.paired [REVISION]``: this checkout's engine against an older commit's, paired.

A change to the engine's speed is judged against the engine before it, in the same process:
the machine's load drifts by more than the change being measured (several helpers share two
cores), so two separate `make bench` runs do not compare. Here REVISION's ``tinygrad_iris``
(default: the commit before the op table, 095d0da) is extracted with ``git archive`` into a
temporary directory as the package ``tinygrad_iris_<REVISION>`` (its imports are relative, so
it runs as it is), and the eager rows of `make bench` time both engines alternately with
`timing.compare`: the iris step and the wide MLP step against the NumPy floor, the scalar MLP
against micrograd, the chain's backward per op against the Python-float floor. Every engine's
results are checked against this checkout's before timing.

Times are this process's CPU time (`time.process_time`), not wall time, so that other
processes on a busy machine inflate them less. The table gives each engine's ratio to the
workload's base and the paired ratio new / old: the median over repetitions of the two times
measured back to back, with its quartiles.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import micrograd.nn as micrograd_nn
import numpy as np

import tinygrad_iris

from . import chain, mlp_step, scalar_mlp
from .__main__ import single_thread_blas
from .timing import Budget, Contender, Timing, assert_same, compare

BEFORE_OP_TABLE = "095d0da"
CLOCK = time.process_time  # CPU time: the other processes sharing the cores do not count
NEW, OLD = "new", "old"
WORKLOADS = ("iris_step", "wide_mlp", "scalar_mlp", "chain")
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def steady_heap() -> bool:
    """Fix glibc's heap thresholds (as `mlp_step.NO_HEAP_TRIM` does for a new process), if this is glibc.

    By default glibc moves its trim and mmap thresholds as the process frees memory, and one engine
    or the other (whichever runs when they move) then pays thousands of page faults a wide-MLP step:
    a state of the process, not a property of the engine, which would decide the ratio by chance.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = int(mlp_step.NO_HEAP_TRIM["MALLOC_TRIM_THRESHOLD_"])
        mmap = int(mlp_step.NO_HEAP_TRIM["MALLOC_MMAP_THRESHOLD_"])
        return bool(libc.mallopt(-1, trim)) and bool(libc.mallopt(-3, mmap))  # M_TRIM_, M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def old_package(revision: str, into: str) -> Any:
    """``tinygrad_iris`` as it was at ``revision``, imported as ``tinygrad_iris_<revision>``."""
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision, "tinygrad_iris"],
            capture_output=True, check=True, cwd=_REPOSITORY,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        detail = getattr(err, "stderr", b"").decode().strip() or str(err)
        raise SystemExit(f"paired: cannot read tinygrad_iris at {revision!r} from git ({detail})") from None
    name = "tinygrad_iris_" + "".join(c if c.isalnum() else "_" for c in revision)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # our own archive; the filter keeps Python 3.12's warning away
            tar.extraction_filter = tarfile.data_filter
        tar.extractall(into)
    os.rename(os.path.join(into, "tinygrad_iris"), os.path.join(into, name))
    sys.path.insert(0, into)
    return importlib.import_module(name)


Measured = list[tuple[str, dict[str, Timing], str]]  # (workload, timings by contender, base contender)


def mlp(label: str, shape: mlp_step.Shape, packages: dict[str, Any], budget: Budget) -> Measured:
    """One SGD step of the ReLU MLP (iris or wide), against the NumPy floor."""
    problem = mlp_step.make_problem(shape)
    models: dict[str, mlp_step.Stepper] = {mlp_step.FLOOR: mlp_step.NumpyFloor(problem)}
    models.update({name: mlp_step.Ours(problem, package=package) for name, package in packages.items()})
    reference = mlp_step.Ours(problem)
    reference.step()
    for name, package in packages.items():  # each on a fresh model: the timed ones start alike
        check = mlp_step.Ours(problem, package=package)
        check.step()
        assert_same(label, name, check.outcome(), reference.outcome())
    timings = compare([Contender(name, model) for name, model in models.items()], budget, clock=CLOCK)
    return [(label, timings, mlp_step.FLOOR)]


def scalar(packages: dict[str, Any], budget: Budget) -> Measured:
    """micrograd's MLP code on each engine's Value, against micrograd itself (GC off)."""
    xs, ys = scalar_mlp.samples(20)
    models = {name: scalar_mlp.micrograd_mlp(package.Value) for name, package in packages.items()}
    models[scalar_mlp.MICROGRAD] = scalar_mlp.micrograd_mlp(micrograd_nn.Value)
    for model in models.values():
        scalar_mlp.train_step(model, xs, ys)
    expected = [p.grad for p in models[NEW].parameters()]
    for name, model in models.items():
        assert_same("scalar MLP", name, [("grads", [p.grad for p in model.parameters()])],
                    [("grads", expected)])

    def step(model: Any) -> Any:
        return lambda _: scalar_mlp.train_step(model, xs, ys)

    contenders = [Contender(name, step(model)) for name, model in models.items()]
    timings = compare(contenders, budget, gc_off=True, clock=CLOCK)
    return [("scalar MLP 2-16-16-1 x 20", timings, scalar_mlp.MICROGRAD)]


def chains(packages: dict[str, Any], budget: Budget, sizes: Sequence[int]) -> Measured:
    """The chain's backward per op, every length in the same repetitions, against the float floor."""
    def graph(value: type, n: int) -> Callable[[], Any]:
        return lambda: chain.build(value, n)[:2]

    def tape(n: int) -> Callable[[], Any]:
        return lambda: chain.floor_tape(n)

    contenders = []
    for n in sizes:
        contenders.append(Contender(f"{chain.FLOOR} n={n}", chain.floor_backward, tape(n)))
        contenders += [Contender(f"{name} n={n}", chain._backward, graph(package.Value, n))
                       for name, package in packages.items()]
    timings = compare(contenders, budget, gc_off=True, reps=min(budget.reps, chain.CHAIN_REPS), clock=CLOCK)
    rows = []
    for n in sizes:
        of_size = {name: timings[f"{name} n={n}"].scaled(1 / n) for name in (chain.FLOOR, *packages)}
        rows.append((f"chain backward per op, n={n:.0e}".replace("e+0", "e"), of_size, chain.FLOOR))
    return rows


def table(measured: Measured, revision: str) -> str:
    """One line per workload: each engine's ratio to the base, and new / old paired."""
    head = f"{'workload':<34} {'base':<14} {'old ' + revision:>13} {'new':>8} {'new / old (q1-q3)':>22}"
    lines = [head, "-" * len(head)]
    for workload, timings, base in measured:
        old, new = timings[OLD], timings[NEW]
        paired = np.divide(new.samples, old.samples)
        q1, median, q3 = np.percentile(paired, [25, 50, 75])
        base_name = "micrograd" if base == scalar_mlp.MICROGRAD else "floor"
        before, after = old.ratio_to(timings[base]), new.ratio_to(timings[base])
        lines.append(
            f"{workload:<34} {base_name:<14} {before:>12.3f}x {after:>7.3f}x {median:>9.3f}"
            f" ({q1:.3f}-{q3:.3f})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paired", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revision", nargs="?", default=BEFORE_OP_TABLE, help="the old engine's commit")
    parser.add_argument("--reps", type=int, default=41, help="timed repetitions per contender (41)")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=WORKLOADS, help="run these only")
    args = parser.parse_args(argv)
    budget = Budget("paired", args.reps, warmup=3, sample_seconds=0.02, chain_sizes=(10**3, 10**4, 10**5))
    _limiter, _ = single_thread_blas()
    heap = "glibc heap thresholds fixed" if steady_heap() else "heap thresholds as the allocator moves them"
    with tempfile.TemporaryDirectory() as into:
        packages = {NEW: tinygrad_iris, OLD: old_package(args.revision, into)}
        measured: Measured = []
        for workload in args.only:
            if workload == "iris_step":
                measured += mlp("iris step", mlp_step.Shape(150, 2, 2, 3, seed=0), packages, budget)
            elif workload == "wide_mlp":
                measured += mlp("wide MLP step", mlp_step.Shape(1024, 64, 256, 10, seed=1), packages, budget)
            elif workload == "scalar_mlp":
                measured += scalar(packages, budget)
            else:
                measured += chains(packages, budget, budget.chain_sizes)
    print(f"python -m benchmarks.paired {args.revision} --reps {args.reps}: medians of paired ratios, "
          f"CPU time, {heap}, load average {os.getloadavg()[0]:.1f}")
    print(table(measured, args.revision))
    return 0


if __name__ == "__main__":
    sys.exit(main())
