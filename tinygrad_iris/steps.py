"""What `backward()` does, step by step: `record_backward(root)` runs it and keeps every step.

The reverse pass visits the recorded nodes in the engine's order (`toposort` reversed), each once,
and at each node ``y = f(x_1, ..., x_n)``:

- its upstream gradient ``u = d root / d y`` is complete: every node that uses ``y`` came first;
- for each input ``x_i`` that needs a gradient it adds the vector-Jacobian product
  ``u · J_i`` into ``x_i.grad``, where ``J_i = d y / d x_i`` is the op's local derivative.

A `Step` is one such node: the node, ``u``, and per input an `Arrival`: the local derivative as
its op defines it (the `Primitive`'s formula, e.g. ``d/da (a * b) = b``, and the Jacobian's
numbers), what was added, and the input's running ``.grad`` after the step, where the gradients
of several paths meet and sum. Every number is the engine's own, captured from ``backward()``'s
``on_step`` hook as it runs, so the last step's gradients are ``backward()``'s, bit for bit.

    from tinygrad_iris import Value, record_backward

    a, b = Value(-3.0, name="a"), Value(2.0, name="b")
    record = record_backward((a * b + b**3).relu())
    for step in record.steps:
        print(step.describe())      # "+: upstream 1 × local 1 (d/da (a + b) = 1) → adds 1 to ×; ..."
    record.grads[b]                 # 9.0, as b.grad

In a notebook the record displays as the step-by-step page (`tinygrad_iris.backprop_page`).
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine import PRIMITIVES, Value, toposort

__all__ = ["MAX_LOCAL_SIZE", "Arrival", "BackwardRecord", "PathRow", "Step", "format_number",
           "local_text", "node_title", "record_backward"]

# The local derivative's numbers are kept when its Jacobian has at most this many entries: they
# are for reading, and a larger Jacobian would cost one VJP per output element to build.
MAX_LOCAL_SIZE = 256
"""The largest local Jacobian (in elements) a step records as numbers."""

Data = Any
"""A float, a NumPy scalar or an ndarray, as the engine holds them."""


@dataclass(frozen=True)
class Arrival:
    """What one input of a step's node received: ``added = upstream · local`` into its ``.grad``.

    ``formula`` is the op's derivative with respect to this input (``"d/db (a * b) = a"``);
    ``local`` is that Jacobian's numbers, ``d node / d input`` of shape
    ``node.shape + input.shape`` (a number for scalars), or None when it has more than
    `MAX_LOCAL_SIZE` entries. ``grad`` is the input's running gradient after this step.
    """

    input: Value
    """The input that received the gradient."""
    position: int
    """Which input of the op: 0 is ``a``, 1 is ``b``, ..."""
    formula: str
    """The op's derivative with respect to this input, as text ("d/db (a * b) = a")."""
    local: Data | None
    """The local Jacobian d node / d input as numbers (None when it is too large to show)."""
    added: Data
    """What was added into the input's `.grad`: upstream times local."""
    grad: Data
    """The input's `.grad` after this addition."""
    parts: int
    """How many gradients have reached this input so far, this one included."""


@dataclass(frozen=True)
class Step:
    """One node processed by ``backward()``: its complete upstream gradient and what it passed on."""

    number: int
    """1 for the first node processed (the root)."""
    node: Value
    """The node processed."""
    upstream: Data
    """D root / d node."""
    arrivals: tuple[Arrival, ...]
    """One per input that received a gradient, in the op's order."""

    def describe(self) -> str:
        """The step in words: "relu: upstream -1.661 × local 1 (d/da a.relu() = 1 if a > 0 else 0) →
        adds -1.661 to bottom"; where an input's gradient already had parts, their running sum."""
        head = f"{node_title(self.node)}: upstream {format_number(self.upstream)}"
        if not self.arrivals:
            return f"{head}; no input needs a gradient"
        parts = []
        for arrival in self.arrivals:
            local = "" if arrival.local is None else f"{local_text(arrival.local, self.node, arrival.input)} "
            part = (
                f"× local {local}({arrival.formula}) → adds {format_number(arrival.added)} "
                f"to {node_title(arrival.input)}"
            )
            if arrival.parts > 1:
                part += f" (its grad, {arrival.parts} parts so far, is now {format_number(arrival.grad)})"
            parts.append(part)
        return f"{head} " + "; and ".join(parts)


@dataclass(frozen=True)
class PathRow:
    """One node on a path from the root down: its data, the local derivative it is reached by
    (from the node before it on the path; None for the first), and its gradient after backward()."""

    node: Value
    """The node on the path."""
    formula: str | None
    """That derivative as a formula, or None for the first node."""
    local: Data | None
    """The local derivative from the node before it on the path (None for the first)."""
    grad: Data
    """The node's gradient after backward()."""


class BackwardRecord:
    """The steps of one ``backward()`` from ``root``, in the engine's order (see the module).

    ``steps[k]`` is the (k+1)-th node processed; ``nodes`` is every node of the graph behind
    ``root`` (`toposort`'s order, inputs first), leaves and constants included. The gradients are
    the ones this pass computed: if a ``.grad`` held gradients of an earlier pass, ``backward()``
    added them after the last step, as always, and the record does not include them.
    """

    def __init__(self, root: Value, seed: Data, steps: Sequence[Step]):
        self.root = root
        """The value `backward()` ran from."""
        self.seed = seed
        """Root's gradient before the first step: ones for a scalar root."""
        self.steps = tuple(steps)
        """The nodes `backward()` processed, in its order: `steps[k]` is the (k+1)-th."""
        self.nodes = toposort(root)
        """Every node of the graph behind the root, inputs first (`toposort`'s order), leaves and constants
        included."""

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __repr__(self) -> str:
        return f"<BackwardRecord: {len(self.steps)} steps over {len(self.nodes)} nodes>"

    def grads_after(self, number: int) -> dict[Value, Data]:
        """Every node's running ``.grad`` after step ``number`` (0: before the first step, when
        only the root has its seed); nodes that have received nothing yet are absent."""
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)):
            raise TypeError(f"grads_after: step number must be an int, got {type(number).__name__}")
        if not 0 <= number <= len(self.steps):
            raise ValueError(f"grads_after: step number must be in [0, {len(self.steps)}], got {number!r}")
        grads: dict[Value, Data] = {self.root: self.seed}
        for step in self.steps[:number]:
            for arrival in step.arrivals:
                grads[arrival.input] = arrival.grad
        return grads

    @property
    def grads(self) -> dict[Value, Data]:
        """Every node's gradient after the last step: what this ``backward()`` gave it."""
        return self.grads_after(len(self.steps))

    def step_of(self, node: Value) -> Step:
        """The step that processed ``node`` (ValueError for a leaf or a node not in the graph)."""
        for step in self.steps:
            if step.node is node:
                return step
        raise ValueError(f"step_of: {node_title(node)} is not a node that backward() processed here")

    def path(self, nodes: Sequence[Value]) -> list[PathRow]:
        """The rows of a path down the graph, ``nodes[k+1]`` an input of ``nodes[k]``: each node's
        gradient and the local derivative that carried it from the node before."""
        grads = self.grads
        rows = []
        for k, node in enumerate(nodes):
            formula = local = None
            if k:
                arrival = self._arrival(nodes[k - 1], node)
                formula, local = arrival.formula, arrival.local
            rows.append(PathRow(node, formula, local, grads.get(node)))
        return rows

    def _arrival(self, consumer: Value, node: Value) -> Arrival:
        for arrival in self.step_of(consumer).arrivals:
            if arrival.input is node:
                return arrival
        raise ValueError(
            f"path: {node_title(node)} is not an input of {node_title(consumer)} that got a gradient"
        )

    def _repr_html_(self) -> str:
        """The step-by-step page, inline in a notebook."""
        from .backprop_page import BackpropPage  # the page needs Graphviz; the record does not

        return BackpropPage(self)._repr_html_()


def record_backward(root: Value, gradient: object = None) -> BackwardRecord:
    """Run ``root.backward(gradient)`` and return the record of its steps (see `BackwardRecord`).

    The ``.grad`` of every node changes exactly as by ``backward()``.
    """
    if not isinstance(root, Value):
        raise TypeError(f"record_backward: root must be a Value, got {type(root).__name__}")
    steps: list[Step] = []
    parts: dict[Value, int] = {}

    def on_step(node: Value, upstream: Data, added: tuple[Data, ...]) -> None:
        local = _local_jacobians(node)
        arrivals = []
        for i, (x, pg) in enumerate(zip(node.inputs, added)):
            if pg is not None:
                parts[x] = parts.get(x, 0) + 1
                arrivals.append(Arrival(x, i, derivative_formula(node, i), local[i], _copy(pg), _copy(x.grad),
                                        parts[x]))
        steps.append(Step(len(steps) + 1, node, _copy(upstream), tuple(arrivals)))

    root.backward(gradient, on_step=on_step)
    if steps:
        seed = steps[0].upstream
    elif gradient is None:  # a scalar leaf (backward() refused anything else)
        seed = type(root.data)(1)
    else:
        seed = np.array(gradient.data if isinstance(gradient, Value) else gradient, dtype=root.dtype)[()]
    return BackwardRecord(root, seed, steps)


# ----- words and numbers --------------------------------------------------------------------------
def format_number(x: Data, digits: int = 4) -> str:
    """A number to ``digits`` significant digits (never -0); an array as a one-line list of them."""
    if np.ndim(x) == 0:
        return f"{float(x) + 0.0:.{digits}g}"
    text = np.array2string(np.asarray(x), separator=", ", threshold=12, edgeitems=3, max_line_width=10**6,
                           formatter={"float_kind": lambda v: f"{float(v) + 0.0:.{digits}g}"})
    return text.replace("\n", "")


def local_text(local: Data, node: Value, x: Value) -> str:
    """A local derivative's numbers: a number; for an elementwise op on arrays (a diagonal
    Jacobian) its diagonal, "[...] elementwise"; else the Jacobian, d node / d x, as nested lists."""
    if np.ndim(local) and node.shape == x.shape:
        square = np.reshape(local, (x.data.size, x.data.size))
        if np.array_equal(square, np.diag(np.diag(square))):
            return f"{format_number(np.diag(square).reshape(x.shape))} elementwise"
    return format_number(local)


def node_title(node: Value) -> str:
    """How the steps name a node: its name, else its op's label, else "a leaf"."""
    if node.name:
        return node.name
    primitive = node.primitive
    return primitive.describe(node.attrs) if primitive is not None else "a leaf"


def _letter(i: int) -> str:
    return string.ascii_lowercase[i] if i < 26 else f"x{i}"


def _expression(node: Value) -> str:
    """The node's op as Python source on inputs named a, b, ...: ``a * b``, ``a.sum(axis=0)``."""
    primitive = node.primitive
    assert primitive is not None
    letters = [_letter(i) for i in range(len(node.inputs))]
    attrs = node.attrs
    if primitive.syntax is not None:
        keywords = ", ".join(f"{k}={v!r}" for k, v in attrs.items())
        try:
            return primitive.syntax.format(*letters, inputs=", ".join(letters), attrs=keywords, **attrs)
        except (IndexError, KeyError):  # a user primitive's syntax that names something else
            pass
    return f"{primitive.name}({', '.join(letters)})"


def derivative_formula(node: Value, position: int) -> str:
    """``d/da (a * b) = b``: the op's derivative with respect to its input ``position``."""
    primitive = node.primitive
    assert primitive is not None
    derivatives = primitive.derivatives
    formula = derivatives[min(position, len(derivatives) - 1)] if derivatives else "?"
    expression = _expression(node)
    if " " in expression:
        expression = f"({expression})"
    return f"d/d{_letter(position)} {expression} = {formula}"


# ----- the local derivative's numbers ---------------------------------------------------------------
def _local_jacobians(node: Value) -> list[Data | None]:
    """``d node / d input`` for each input, from the op's own VJP applied to each unit upstream
    gradient (row k of a Jacobian is the VJP of the k-th unit vector); None where too large."""
    inputs = node.inputs
    size = int(np.size(node.data))
    wanted = [x.requires_grad and size * int(np.size(x.data)) <= MAX_LOCAL_SIZE for x in inputs]
    if not any(wanted):
        return [None] * len(inputs)
    rows: list[list[Any]] = [[] for _ in inputs]
    dtype = node.dtype
    with np.errstate(all="ignore"):
        for k in range(size):
            unit = np.zeros(size, dtype=dtype)
            unit[k] = 1
            upstream = unit.reshape(node.shape)
            grads = _vjp(node, upstream[()] if upstream.ndim == 0 else upstream, wanted)
            for i, g in enumerate(grads):
                if wanted[i]:
                    rows[i].append(_to_shape(g, inputs[i]))
    return [
        _scalar(np.stack(rows[i]).reshape(node.shape + x.shape)) if wanted[i] else None
        for i, x in enumerate(inputs)
    ]


def _vjp(node: Value, upstream: Data, wanted: list[bool]) -> list[Any]:
    primitive = node.primitive
    assert primitive is not None
    vjp, attrs = primitive.vjp, node.attrs
    data = [x.data for x in node.inputs]
    if type(vjp) is tuple:
        return [f(upstream, node.data, *data, **attrs) if w else None for f, w in zip(vjp, wanted)]
    return list(vjp(upstream, node.data, *data, **attrs))


_SUM_TO = PRIMITIVES["sum_to"]


def _to_shape(g: Data, x: Value) -> np.ndarray:
    """A VJP's gradient summed back to its input's shape, as the engine undoes broadcasting."""
    if g is None:  # the op passes nothing to this input (e.g. a constant mask)
        return np.zeros(x.shape, dtype=x.dtype)
    g = np.asarray(g, dtype=x.dtype)
    return g if g.shape == x.shape else np.asarray(_SUM_TO.forward(g, shape=x.shape))


def _scalar(a: np.ndarray) -> Data:
    return a[()] if a.ndim == 0 else a


def _copy(x: Data) -> Data:
    """Arrays copied: the record must not change when a ``.grad`` is changed in place later."""
    return x.copy() if isinstance(x, np.ndarray) else x
