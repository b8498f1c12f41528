"""Code written against micrograd's scalar Value runs unchanged and gives micrograd's numbers."""

import random

import pytest
from micrograd.engine import Value as MicroValue
from micrograd.nn import MLP

from tinygrad_iris import Value


def program(V):
    # micrograd's own sanity-check expression, every scalar op it has
    a = V(-4.0)
    b = V(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    h = (g - 1) * (2 - a) / (a / 3)
    h.backward()
    return h.data, a.grad, b.grad, g.data


def test_same_numbers_as_micrograd():
    ours, theirs = program(Value), program(MicroValue)
    assert ours == pytest.approx(theirs, rel=1e-13)


def test_micrograd_mlp_code_runs_unchanged():
    """micrograd.nn builds its neurons from whatever Value class its module sees."""
    import micrograd.nn as mnn

    def run(value_class):
        random.seed(7)
        mnn.Value = value_class
        try:
            model = mnn.MLP(2, [16, 16, 1])
            xs = [[random.uniform(-1, 1), random.uniform(-1, 1)] for _ in range(10)]
            loss = sum((model(x) - (1.0 if x[0] > 0 else -1.0)) ** 2 for x in xs)
            model.zero_grad()
            loss.backward()
            return [loss.data] + [p.grad for p in model.parameters()]
        finally:
            mnn.Value = MicroValue

    assert run(Value) == pytest.approx(run(MicroValue), rel=1e-12, abs=1e-15)
    assert isinstance(MLP(2, [1]).parameters()[0], MicroValue)
