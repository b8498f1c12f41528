"""Workload 3: a scalar graph the micrograd way, an MLP 2-16-16-1 of scalar Values over 20 samples.

Both engines run micrograd's own `micrograd.nn.MLP` code: its neurons are built from the
module-global ``micrograd.nn.Value``, which is swapped for tinygrad_iris's Value while our
model is built, so the two graphs have the same structure and the same weights. The timed
call is the forward pass (sum of squared errors), ``zero_grad()`` and ``backward()``, with
the cyclic garbage collector off for every contender (micrograd's closures make reference
cycles that would otherwise trigger collections inside the timed call).

The floor is the same forward and backward written by hand with Python floats (NumPy costs
more than it saves on scalars).
"""

from __future__ import annotations

import random
import timeit
from collections.abc import Sequence
from typing import Any

import micrograd.nn as micrograd_nn

import tinygrad_iris
from tinygrad_iris import Value, detect_anomaly

from .results import seconds
from .timing import Budget, Contender, Row, assert_same, compare, rows_against_floor

NAME = "scalar MLP 2-16-16-1 x 20 (GC off)"
FLOOR = "Python floats by hand (floor)"
OURS = "tinygrad_iris"
COMPILED = "tinygrad_iris compiled"
MICROGRAD = "micrograd"
TARGET = 0.8  # x micrograd, eager, its constants wrapped as Values inside the step
COMPILED_TARGET = 0.35  # x micrograd
SIZES = [16, 16, 1]


def samples(count: int, seed: int = 0) -> tuple[list[list[float]], list[float]]:
    rng = random.Random(seed)
    xs = [[rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)] for _ in range(count)]
    return xs, [1.0 if x0 * x1 > 0 else -1.0 for x0, x1 in xs]


def micrograd_mlp(value_class: type, seed: int = 1) -> Any:
    """micrograd's MLP(2, [16, 16, 1]) with its weights drawn from ``random.seed(seed)``."""
    original_class, state = micrograd_nn.Value, random.getstate()
    micrograd_nn.Value = value_class
    try:
        random.seed(seed)
        return micrograd_nn.MLP(2, SIZES)
    finally:
        micrograd_nn.Value = original_class
        random.setstate(state)


def squared_error(model: Any, xs: list[list[float]], ys: list[float]) -> Any:
    return sum((model(x) - y) ** 2 for x, y in zip(xs, ys))


def train_step(model: Any, xs: list[list[float]], ys: list[float], loss_of: Any = squared_error) -> Any:
    """micrograd's training idiom: forward over every sample, zero_grad, backward."""
    loss = loss_of(model, xs, ys)
    model.zero_grad()
    loss.backward()
    return loss


def compiled_loss(model: Any) -> Any:
    """The same loss through `tinygrad_iris.compile`: the samples are its arguments, so every call
    replays the traced tape of float operations on the samples it is given."""
    compiled = tinygrad_iris.compile(lambda xs, ys: squared_error(model, xs, ys))
    return compiled, lambda _model, xs, ys: compiled(xs, ys)


Layers = list[tuple[list[list[float]], list[float]]]


def floor_step(layers: Layers, xs: list[list[float]], ys: list[float]) -> tuple[float, list[float]]:
    """Hand-written forward and backward with floats; returns the loss and every parameter gradient.

    ``layers[k] = (W, b)`` with ``W[j]`` the weights of neuron j; ReLU on all but the last layer.
    """
    grad_w = [[[0.0] * len(w_j) for w_j in w] for w, _ in layers]
    grad_b = [[0.0] * len(b) for _, b in layers]
    last = len(layers) - 1
    loss = 0.0
    for x, y in zip(xs, ys):
        activations = [x]
        for k, (w, b) in enumerate(layers):
            a = activations[-1]
            pre = [b_j + sum(w_ji * a_i for w_ji, a_i in zip(w_j, a)) for w_j, b_j in zip(w, b)]
            activations.append(pre if k == last else [p if p > 0.0 else 0.0 for p in pre])
        diff = activations[-1][0] - y
        loss += diff * diff
        upstream = [2.0 * diff]
        for k in range(last, -1, -1):
            w = layers[k][0]
            a, out = activations[k], activations[k + 1]
            if k != last:  # through the ReLU: d out/d pre = [out > 0]
                upstream = [g if o > 0.0 else 0.0 for g, o in zip(upstream, out)]
            for j, g in enumerate(upstream):
                grad_b[k][j] += g
                row = grad_w[k][j]
                for i, a_i in enumerate(a):
                    row[i] += g * a_i
            upstream = [sum(upstream[j] * w[j][i] for j in range(len(w))) for i in range(len(a))]
    grads = [g for k in range(len(layers)) for w_j, b_j in zip(grad_w[k], grad_b[k]) for g in (*w_j, b_j)]
    return loss, grads


def _layers_of(model: Any) -> Layers:
    return [
        ([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons])
        for layer in model.layers
    ]


def _outcome(loss: float, grads: Sequence[float]) -> list[tuple[str, Any]]:
    return [("loss", loss), ("every parameter gradient", list(grads))]


def run(budget: Budget) -> list[Row]:
    xs, ys = samples(2 if budget.tiny else 20)
    ours, theirs = micrograd_mlp(Value), micrograd_mlp(micrograd_nn.Value)
    replayed = micrograd_mlp(Value)
    compiled, replayed_loss = compiled_loss(replayed)
    layers = _layers_of(theirs)

    def with_anomaly_check(_: object) -> None:
        with detect_anomaly():
            train_step(ours, xs, ys)

    contenders = [
        Contender(FLOOR, lambda _: floor_step(layers, xs, ys)),
        Contender(OURS, lambda _: train_step(ours, xs, ys)),
        Contender(MICROGRAD, lambda _: train_step(theirs, xs, ys)),
        Contender(COMPILED, lambda _: train_step(replayed, xs, ys, replayed_loss)),
        Contender(OURS + " (detect_anomaly on)", with_anomaly_check),
    ]
    expected = _outcome(train_step(ours, xs, ys).data, [p.grad for p in ours.parameters()])
    loss = train_step(theirs, xs, ys).data
    assert_same(NAME, MICROGRAD, _outcome(loss, [p.grad for p in theirs.parameters()]), expected)
    assert_same(NAME, FLOOR, _outcome(*floor_step(layers, xs, ys)), expected)
    for _ in range(2):  # the trace, then a replay
        loss = train_step(replayed, xs, ys, replayed_loss).data
        assert_same(NAME, COMPILED, _outcome(loss, [p.grad for p in replayed.parameters()]), expected, 0, 0)

    timings = compare(contenders, budget, gc_off=True)
    rows = rows_against_floor(NAME, contenders, timings, FLOOR)
    ops = _count_ops(train_step(ours, xs, ys))
    for row in rows:
        row.extra["ops"] = ops
        row.note = f"{row.timing.median / ops * 1e6:.2f} us/op" if row.timing else ""
        for contender, target in ((OURS, TARGET), (COMPILED, COMPILED_TARGET)):
            if row.contender == contender and row.timing:
                ratio = row.timing.ratio_to(timings[MICROGRAD])
                row.extra["ratio_to_micrograd"] = ratio
                row.target = f"<= {target}x micrograd: {ratio:.2f}x, {'met' if ratio <= target else 'MISSED'}"
        if row.contender == COMPILED:
            row.extra.update(trace_seconds=compiled.trace_seconds, buffer_bytes=compiled.buffer_bytes)
            row.note += f"; traced once in {seconds(compiled.trace_seconds)}, no buffers (floats)"
    off, per_op = anomaly_off_seconds(), timings[OURS].median / ops
    rows[-1].extra["anomaly_off_seconds_per_op"] = off
    rows[-1].note += f"; off, its checks cost {off * 1e9:.1f} ns/op ({off / per_op:.1%} of an op)"
    return rows


def anomaly_off_seconds() -> float:
    """Seconds per op that `detect_anomaly` costs while off: the flag tests it leaves on the hot path.

    With anomaly mode off, each op runs one test of ``record()``'s local switch (the same
    switch also serves `no_grad`) and ``backward()`` one test of a local per node; this times
    those two tests against an empty statement.
    """
    flags = {"plain": True, "anomaly": False}
    empty = min(timeit.repeat("pass", number=10**6, repeat=5))
    tests = min(timeit.repeat("if not plain: pass\nif anomaly: pass", globals=flags, number=10**6, repeat=5))
    return max(tests - empty, 0.0) / 10**6


def _count_ops(loss: Value) -> int:
    """Recorded nodes behind ``loss`` (constants and leaves excluded): the graph's op count."""
    seen, stack = {id(loss)}, [loss]
    ops = 0
    while stack:
        node = stack.pop()
        parents = node._parents
        ops += bool(parents)
        for p in parents:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return ops
