"""Karpathy's micrograd lecture runs unchanged on our Value, cell by cell, with the lecture's numbers.

Each notebook is run twice, cell by cell: with the lecture's own ``class Value`` and with that
block replaced by ``from tinygrad_iris import Value``. After every cell, every Value the notebook
holds (in a variable, a list, or a network's ``parameters()``) must have the same data and grad.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

import pytest
from micrograd_lecture import FIRST_HALF, SECOND_HALF

from tinygrad_iris import Value

OURS = "from tinygrad_iris import Value\n"


def without_class_value(cell: str) -> str:
    """The cell with its ``class Value:`` block (up to the next unindented line) replaced by our import."""
    return re.sub(r"^class Value:\n(?:(?:[ \t].*)?\n)*", OURS, cell, count=1, flags=re.MULTILINE)


def values_in(namespace: dict[str, Any], value_type: type) -> dict[str, list[Any]]:
    """Every Value the notebook holds, by where it is held."""
    found: dict[str, list[Any]] = {}
    for name, obj in namespace.items():
        if name.startswith("__") or isinstance(obj, type):
            continue
        if isinstance(obj, value_type):
            found[name] = [obj]
        elif isinstance(obj, (list, tuple)) and obj and all(isinstance(v, value_type) for v in obj):
            found[name] = list(obj)
        elif callable(getattr(obj, "parameters", None)) and not isinstance(obj, value_type):
            found[f"{name}.parameters()"] = list(obj.parameters())
    return found


def run(cells: list[str], ours: bool) -> list[dict[str, list[tuple[float, float]]]]:
    """Run the notebook; after each cell, the (data, grad) of every Value it holds."""
    random.seed(0)
    namespace: dict[str, Any] = {"__name__": "__lecture__"}
    snapshots = []
    value_type: type | None = Value if ours else None
    for cell in cells:
        exec(without_class_value(cell) if ours else cell, namespace)
        if value_type is None and "Value" in namespace:
            value_type = namespace["Value"]
        held = values_in(namespace, value_type) if value_type else {}
        snapshots.append({k: [(float(v.data), float(v.grad)) for v in vs] for k, vs in held.items()})
    return snapshots


def same(a: list[tuple[float, float]], b: list[tuple[float, float]], ordered: bool) -> bool:
    if not ordered:  # a list built by walking a set (topo): the same nodes, in another order
        a, b = sorted(a), sorted(b)
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) for pa, pb in zip(a, b) for x, y in zip(pa, pb)
    )


@pytest.mark.parametrize(
    ("cells", "at_least"), [(FIRST_HALF, 500), (SECOND_HALF, 250)], ids=["first half", "second half"]
)
def test_the_lecture_runs_cell_by_cell_with_the_same_data_and_grads(cells, at_least):
    assert sum("class Value" in cell for cell in cells) == 1
    theirs, ours = run(cells, ours=False), run(cells, ours=True)
    compared = 0
    for k, (ref, got) in enumerate(zip(theirs, ours)):
        assert ref.keys() == got.keys(), f"cell {k}: the notebook holds other Values"
        for name in ref:
            assert same(ref[name], got[name], ordered=name != "topo"), (
                f"cell {k}: {name} is {got[name]}, the lecture's Value gives {ref[name]}"
            )
            compared += len(ref[name])
    assert compared >= at_least  # every cell's Values were seen (the second half: its MLP's 41 too)


def test_the_lecture_trains_its_mlp_and_the_loss_falls():
    namespace: dict[str, Any] = {"__name__": "__lecture__"}
    random.seed(0)
    for cell in SECOND_HALF:
        exec(without_class_value(cell), namespace)
    assert isinstance(namespace["loss"], Value) and namespace["loss"].data < 0.5


def test_the_manual_backward_steps_add_like_micrograds():
    x, w = Value(2.0, label="x"), Value(-0.5, label="w")
    n = x * w
    n.label = "n"
    o = n.tanh()
    o.grad = 1.0
    o._backward()
    assert n.grad == pytest.approx(1 - math.tanh(-1.0) ** 2, rel=1e-15)
    n._backward()
    n._backward()  # micrograd's += : a second call adds again
    assert x.grad == pytest.approx(2 * -0.5 * n.grad, rel=1e-15)
    x._backward()  # a leaf: nothing to do
    assert o._op == "tanh" and n._op == "*" and x._op == "" and n._prev == {x, w}
    assert (x**2)._op == "**2" and x.label == "x" and Value(1.0).label == ""


def test_micrograds_internal_constructor_says_how_to_define_an_op():
    a, b = Value(1.0), Value(2.0)
    with pytest.raises(TypeError, match=r"micrograd's internal constructor.*Primitive\(name, forward, vjp"):
        Value(3.0, (a, b), "+")


def test_repr_shows_the_grad_and_never_minus_zero():
    v = Value(-0.0)
    assert repr(v) == "Value(data=0.0, grad=0.0)"
    (v * -1.0).backward()
    assert repr(v) == "Value(data=0.0, grad=-1.0)"
    assert repr(Value(2.5, label="a")) == "Value(data=2.5, grad=0.0, name='a')"
