"""Workload 4: a chain of n scalar ops, n = 1e3 .. 1e6: backward time per op, memory per node, release.

The chain alternates ``x = x * c`` and ``x = x + d`` from a leaf ``x0``; ``c`` and ``d`` are
leaves too, shared by every op, so each op adds exactly one node and backward computes three
gradients (x0, c, d). The timed call is ``backward()`` alone, on a graph built untimed before
each call, with the cyclic GC off (a tinygrad_iris graph holds no reference cycles). The floor
replays a tape of the forward values by hand with Python floats.

Memory per node is what ``tracemalloc`` sees allocated while building the chain, divided by
n. "Released" means: with ``gc.disable()``, dropping the last reference to the loss frees the
whole graph (a weak reference to its first node dies), i.e. reference counting alone frees it.
micrograd is measured for memory at every n, but its recursive topological sort raises
RecursionError on chains this long (at Python's default recursion limit), so it gets no time.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
import weakref
from typing import Any

from micrograd.engine import Value as MicroValue

from tinygrad_iris import Value

from .timing import Budget, Contender, Row, Timing, assert_same, compare, rows_against_floor

NAME = "chain backward per op"
FLOOR = "Python floats by hand (floor)"
OURS = "tinygrad_iris"
MICROGRAD = "micrograd"
X0, C, D = 0.5, 0.999, 0.001
MAX_MICROGRAD_MEMORY_N = 10**5  # beyond this, measuring micrograd's memory costs minutes
CHAIN_REPS = 21  # a repetition times every length once; n = 1e6 takes seconds to build


def build(value_class: type, n: int) -> tuple[Any, tuple[Any, Any, Any], weakref.ref[Any]]:
    """The chain's output, its three leaves and a weak reference to its first op's node."""
    x0, c, d = value_class(X0), value_class(C), value_class(D)
    x = first = x0 * c
    for i in range(1, n):
        x = x * c if i % 2 == 0 else x + d
    return x, (x0, c, d), weakref.ref(first)


def floor_tape(n: int) -> list[float]:
    """The forward pass with floats, recording every op's input."""
    tape, x = [], X0
    for i in range(n):
        tape.append(x)
        x = x + D if i % 2 else x * C
    return tape


def floor_backward(tape: list[float]) -> tuple[float, float, float]:
    """d out/d (x0, c, d) by the chain rule, walking the tape backwards."""
    g, grad_c, grad_d = 1.0, 0.0, 0.0
    for i in range(len(tape) - 1, -1, -1):
        if i % 2:
            grad_d += g
        else:
            grad_c += g * tape[i]
            g *= C
    return g, grad_c, grad_d


def bytes_per_node(value_class: type, n: int) -> float:
    """Memory tracemalloc sees for a chain of n ops, per op (leaves and constants included)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        graph = build(value_class, n)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del graph
    gc.collect()
    return (after - before) / n


def released_without_gc(value_class: type, n: int) -> bool:
    """Does dropping the loss free the graph by reference counting alone (GC disabled)?"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        loss, leaves, first = build(value_class, n)
        del loss, leaves
        freed = first() is None
    finally:
        gc.collect()
        if was_enabled:
            gc.enable()
    return freed


def _backward(graph: Any) -> None:
    graph[0].backward()


def _micrograd_backward_error(n: int) -> str:
    """Why micrograd cannot backpropagate through a chain of n ops, or "" if it can."""
    loss, _, _ = build(MicroValue, n)
    try:
        loss.backward()
    except RecursionError:
        return f"RecursionError (recursion limit {sys.getrecursionlimit()})"
    finally:
        del loss
        gc.collect()
    return ""


def _check_against_floor(n: int) -> None:
    loss, leaves, _ = build(Value, n)
    loss.backward()
    got = [("d out/d " + name, leaf.grad) for name, leaf in zip(("x0", "c", "d"), leaves)]
    floor = zip([label for label, _ in got], floor_backward(floor_tape(n)))
    assert_same(f"{NAME} n={n}", FLOOR, list(floor), got, rtol=1e-10)


def _contenders(n: int, micrograd_runs: bool) -> list[Contender]:
    """Floor, tinygrad_iris and (on chains short enough for it) micrograd, for a chain of n ops."""
    contenders = [
        Contender(FLOOR, floor_backward, setup=lambda: floor_tape(n)),
        Contender(OURS, _backward, setup=lambda: build(Value, n)[:2]),
    ]
    if micrograd_runs:  # its graphs hold reference cycles: the GC frees them between repetitions
        contenders.append(Contender(MICROGRAD, _backward, setup=lambda: build(MicroValue, n)[:2]))
    return contenders


def _size_rows(
    n: int, contenders: list[Contender], timings: dict[str, Timing], error: str, tiny: bool
) -> list[Row]:
    """The rows of one chain length: time per op, memory per node and release, against micrograd."""
    workload = f"{NAME} (n={n:.0e})".replace("e+0", "e")
    per_op = {c.name: timings[c.name].scaled(1 / n) for c in contenders}
    rows = rows_against_floor(workload, contenders, per_op, FLOOR)
    for row, c in zip(rows, contenders):
        row.extra.update(n=n, backward_seconds=timings[c.name].median)
    if error:
        rows.append(Row(workload, MICROGRAD, None, note=error, extra={"n": n}))
    ours, micrograd = rows[1], rows[-1]
    ours.extra["bytes_per_node"] = memory = bytes_per_node(Value, n)
    ours.note = f"{memory:.0f} B/node; released without GC: {released_without_gc(Value, n)}"
    if n <= MAX_MICROGRAD_MEMORY_N or tiny:
        micrograd.extra["bytes_per_node"] = theirs = bytes_per_node(MicroValue, n)
        released = f"{theirs:.0f} B/node; released without GC: {released_without_gc(MicroValue, n)}"
        micrograd.note = "; ".join(filter(None, [error, released]))
        ours.target = f"memory < micrograd's: {memory:.0f} vs {theirs:.0f} B, {_verdict(memory < theirs)}"
    return rows


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def run(budget: Budget) -> list[Row]:
    """Every chain length timed in the same repetitions, so their time per op compares paired."""
    sizes = budget.chain_sizes
    errors = {n: _micrograd_backward_error(n) for n in sizes}
    plain = {n: _contenders(n, micrograd_runs=not errors[n]) for n in sizes}
    for n in sizes:
        _check_against_floor(n)
    everything = [Contender(f"{c.name} n={n}", c.run, c.setup) for n in sizes for c in plain[n]]
    timings = compare(everything, budget, gc_off=True, reps=min(budget.reps, CHAIN_REPS))
    rows: list[Row] = []
    for n in sizes:
        of_size = {c.name: timings[f"{c.name} n={n}"] for c in plain[n]}
        rows += _size_rows(n, plain[n], of_size, errors[n], budget.tiny)
    small, large = (timings[f"{OURS} n={n}"] for n in (sizes[0], sizes[-1]))
    flatness = large.scaled(1 / sizes[-1]).ratio_to(small.scaled(1 / sizes[0]))
    ours = next(r for r in reversed(rows) if r.contender == OURS)
    span = f"n={sizes[0]:.0e} to {sizes[-1]:.0e}".replace("e+0", "e")
    flat = f"time/op flat within 1.5x: {flatness:.2f}x from {span}, {_verdict(flatness <= 1.5)}"
    ours.target = "; ".join(filter(None, [ours.target, flat]))
    ours.extra["flatness"] = flatness
    return rows
