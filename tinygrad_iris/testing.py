"""Hypothesis strategies for property tests of gradients, for this project and its users.

    from hypothesis import given
    from tinygrad_iris import gradcheck
    from tinygrad_iris.testing import arrays, broadcastable_shapes

    @given(broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1]))))
    def test_mul(pair):
        gradcheck(lambda a, b: a * b, *pair)

Values are float64 and kept in ranges where central differences are accurate.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .engine import PRIMITIVES, Primitive, Value, detect_anomaly, no_grad, toposort
from .gradcheck import gradcheck, gradgradcheck

__all__ = [
    "OP_KINDS",
    "Program",
    "arrays",
    "assert_replayed",
    "broadcastable_shapes",
    "check_compiled",
    "check_program",
    "kink_free_arrays",
    "positive_arrays",
    "programs",
    "shapes",
]

Shape = tuple[int, ...]
"""An array shape, as a tuple of sides."""


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes, the scalar shape () included when ``min_dims`` is 0."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together (size-1 axes and rank expansion)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


def arrays(shape: Shape, min_value: float = -3.0, max_value: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` with finite elements in [min_value, max_value]."""
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.float64, shape, elements=elements)


def positive_arrays(shape: Shape, low: float = 0.2, high: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays in [low, high]: safe for log, division and fractional powers."""
    return arrays(shape, low, high)


def kink_free_arrays(shape: Shape, margin: float = 0.05, bound: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays whose elements keep |x| >= margin: away from ReLU's kink at 0."""
    magnitude = st.floats(margin, bound)
    element = st.tuples(st.sampled_from((-1.0, 1.0)), magnitude).map(lambda sm: sm[0] * sm[1])
    return hnp.arrays(np.float64, shape, elements=element)


# ----- random programs: differential fuzzing of the whole library ------------------------------
# A program is Python source for ``def program(x0, x1, ...)`` built from a random DAG of ops, plus
# float64 inputs. It is executed from that very source, so its repr is the program that ran.
# Every program is valid and well conditioned by construction: values stay within +-BOUND (a
# power-of-two rescale follows any op that leaves that range); log, division and fractional powers
# only see values >= 0.5 (made positive as x*x + 0.5, exp(x) + 0.5 or softmax(x) when needed);
# relu and max only see values at least MARGIN from their kink or from a tie.
BOUND = 4.0
"""Values in a random program stay within plus or minus this (a power-of-two rescale follows any op that
leaves it)."""
MARGIN = 0.01
"""How far relu's and max's inputs stay from a kink or a tie, so finite differences never straddle one."""
_CONSTANTS = (-1.5, -0.5, 0.5, 2.0, 3.0)
_ANY_EXPONENTS = (0, 1, 2, 3)
_POSITIVE_EXPONENTS = (-2, -1, -0.5, 0.5, 1.5)
_REDUCTIONS = ("mean", "sum", "none")
# How a program draws each domain of the op table (`Primitive.domain`): the builder method that
# writes one statement for a primitive of that domain. A primitive of a new domain needs one rule
# here; a primitive of a known domain is fuzzed as soon as it is in the table. Primitives with no
# domain (index_add, cross_entropy_grad) are the gradients of others: the second-order checks
# reach them.
_RULES = {
    "binary": "binary", "divide": "binary", "power": "power", "unary": "unary", "positive": "unary",
    "kink_free": "kink_free", "reduce": "reduce", "reduce_tie_free": "reduce", "reshape": "reshape",
    "transpose": "transpose", "broadcast_to": "broadcast_to", "sum_to": "sum_to", "index": "index",
    "stack": "stack", "matmul": "matmul", "cross_entropy": "cross_entropy",
}  # fmt: skip
COMPOSITES = ("softmax", "log_softmax", "nll_loss")
"""The functions of ops.py composed of primitives, fuzzed as whole functions too."""
# The finer kinds some rules report, beside the primitive's name.
_VARIANTS = {
    "index": ("index", "index-array"),
    "transpose": ("T", "transpose"),
    "matmul": ("@ 1-D 1-D", "@ 1-D 2-D", "@ 2-D 1-D", "@ 2-D 2-D", "@ batched"),
    "cross_entropy": ("cross_entropy mean", "cross_entropy sum", "cross_entropy none"),
}


def _vocabulary() -> tuple[str, ...]:
    """What a program's statements are drawn from: every primitive with a domain, and the composites."""
    return (*(name for name, p in PRIMITIVES.items() if p.domain in _RULES), *COMPOSITES)


# Every kind of op a program can hold; `Program.ops` names those it holds.
OP_KINDS = tuple(
    sorted(
        {
            *_vocabulary(),
            *(kind for p in PRIMITIVES.values() if p.domain in _RULES for kind in _VARIANTS.get(p.domain, ())),  # noqa: E501
            *(f"nll_loss {r}" for r in _REDUCTIONS),
            "array constant",
        }
    )
)
"""Every kind of op a random program can hold: the primitives with a domain, their variants, and the
composites."""
_IMPORTS = (
    "import numpy as np\n"
    "from tinygrad_iris import (\n"
    "    Value, broadcast_to, cross_entropy, log_softmax, nll_loss, softmax, stack, sum_to,\n"
    ")"
)


class Program:
    """A random differentiable program: ``program(x0, ...)`` as Python source, with its inputs.

    Call it with Values to run it; ``repr(program)`` is a self-contained script that rebuilds the
    inputs and runs `check_program` on it, so a failing example is a one-paste bug report.
    """

    def __init__(self, source: str, inputs: tuple[np.ndarray, ...], seed: int, ops: frozenset[str]):
        self.source = source
        """The program's Python source, `def program(x0, ...)`: what runs and what `repr` prints."""
        self.inputs = inputs
        """The float64 arrays the program is checked at, one per parameter x0, x1, ..."""
        self.seed = seed
        """The seed of the random upstream gradients `check` uses."""
        self.ops = ops
        """The kinds of op the program holds (names from `OP_KINDS`)."""
        namespace: dict[str, Any] = {}
        exec(compile(_IMPORTS + "\n" + source, "<fuzzed program>", "exec"), namespace)
        self._fn: Callable[..., Value] = namespace["program"]

    def __call__(self, *leaves: Value) -> Value:
        return self._fn(*leaves)

    def check(self) -> None:
        """Run `check_program` on this program and its inputs."""
        check_program(self, self.inputs, self.seed)

    def __repr__(self) -> str:
        inputs = "".join(f"    np.array({x.tolist()!r}),\n" for x in self.inputs)
        return (
            f"{_IMPORTS}\nfrom tinygrad_iris.testing import check_program\n\n"
            f"{self.source}\ninputs = [\n{inputs}]\ncheck_program(program, inputs, seed={self.seed})\n"
        )


def assert_replayed(compiled: Any, result: Any) -> Value:
    """Raise unless ``result``, what a call of ``compiled`` (a `tinygrad_iris.compile` function) returned,
    came from running its tape: the result is one node, the compiled op. A call that ran ``fn`` eagerly
    instead equals the eager engine trivially, so every compiled-equals-eager check asserts this.
    Returns the result (the first Value of a tuple)."""
    out = result[0] if type(result) is tuple else result
    op = out.op if isinstance(out, Value) else None
    if op != f"compiled {compiled.__name__}":
        raise AssertionError(f"{compiled!r} did not replay its tape: its result's op is {op!r}, an eager run")
    return out


def same_bits(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are the same array bit for bit: dtype, shape and bytes (-0.0 differs from 0.0:
    bytes are compared, not values)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check_compiled(program: Callable[..., Value], inputs: Sequence[np.ndarray], seed: int = 0) -> None:
    """`tinygrad_iris.compile` on a program equals the eager engine bit for bit; raise where not.

    For float64 and float32: traced on ``inputs`` in the checking mode (a replay that differs from
    the eager run at trace time raises), then replayed on inputs moved by 1e-3: the replay ran the
    tape (`assert_replayed`), and its output and every input's gradient (random upstream
    gradient) have the eager run's bits. NumPy warnings are errors, as in `check_program`.
    """
    from .compiled import compile  # testing helpers import the library; the engine imports neither

    for dtype in (np.float64, np.float32):
        compiled = compile(program, check=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            compiled(*(Value(np.asarray(x, dtype=dtype)[()]) for x in inputs))  # 0-d: a NumPy scalar
            rng = np.random.default_rng(seed)
            moved = [np.asarray(x + 1e-3 * rng.standard_normal(np.shape(x)), dtype=dtype)[()] for x in inputs]
            eager_leaves, leaves = [Value(x) for x in moved], [Value(x) for x in moved]
            eager = program(*eager_leaves)
            out = assert_replayed(compiled, compiled(*leaves))
            if not same_bits(out.data, eager.data):
                raise AssertionError(f"compiled ({dtype.__name__}): the output differs from the eager run's")
            upstream = rng.standard_normal(np.shape(eager.data)).astype(dtype)
            eager.backward(upstream if np.ndim(eager.data) else None)
            out.backward(upstream if np.ndim(out.data) else None)
            for k, (a, b) in enumerate(zip(leaves, eager_leaves)):
                if not same_bits(a.grad, b.grad):
                    raise AssertionError(f"compiled ({dtype.__name__}): the gradient of x{k} differs")


def _graph(root: Value) -> list[Value]:
    """Every node behind ``root`` that takes a gradient, each before its inputs (a fixed order)."""
    return [node for node in reversed(toposort(root)) if node.requires_grad]


FLOAT32_TOLERANCE = 1e-4
"""Of the node's scale: ~800 float32 ulps; 3,000 programs measured at most 2e-6."""


def _assert_close32(got: Any, want: Any, what: str) -> None:
    """float32 ``got`` agrees with float64 ``want`` to float32 precision (relative to its scale)."""
    want = np.asarray(want, dtype=np.float64)
    scale = 1.0 + float(np.max(np.abs(want), initial=0.0))
    error = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - want), initial=0.0))
    if not error <= FLOAT32_TOLERANCE * scale:
        raise AssertionError(f"float32 vs float64: {what} differs by {error:.3g} (scale {scale:.3g})")


def check_program(program: Callable[..., Value], inputs: Sequence[np.ndarray], seed: int = 0) -> None:
    """The three differential checks of a program on float64 ``inputs``; raise on a disagreement.

    1. `gradcheck`: ``backward()`` against central finite differences, random upstream gradient.
    2. A second ``backward()`` after ``zero_grad()``, in anomaly mode, gives bit-identical
       gradients at every node (and no anomaly); a third without ``zero_grad()`` doubles them.
    3. On float32 inputs every node's value and gradient is float32 and agrees with float64 to
       float32 precision.
    4. `gradgradcheck`: a Hessian-vector product through ``grad(..., create_graph=True)``
       against central differences of first-order gradients.
    5. `check_compiled`: ``tinygrad_iris.compile(program)`` replays it with the eager engine's
       output and gradients, bit for bit, float64 and float32.
    NumPy warnings raised inside are errors: a well-conditioned program must not produce any.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        gradcheck(program, *inputs, seed=seed)
        gradgradcheck(program, *inputs, seed=seed)

        leaves = [Value(x) for x in inputs]
        out = program(*leaves)
        upstream = np.random.default_rng(seed).standard_normal(out.shape)
        out.backward(upstream)
        nodes = _graph(out)
        first = [np.array(node.grad) for node in nodes]
        out.zero_grad()
        with detect_anomaly():
            out.backward(upstream)
        for k, (node, grad) in enumerate(zip(nodes, first)):
            if not np.array_equal(node.grad, grad):
                raise AssertionError(f"node {k} (op {node.op!r}): backward after zero_grad differs")
        out.backward(upstream)
        for k, (node, grad) in enumerate(zip(nodes, first)):
            if not np.array_equal(node.grad, 2 * grad):
                raise AssertionError(f"node {k} (op {node.op!r}): a second backward does not add up")

        out32 = program(*(Value(np.asarray(x, dtype=np.float32)) for x in inputs))
        out32.backward(upstream.astype(np.float32))
        nodes32 = _graph(out32)
        if len(nodes32) != len(nodes):
            raise AssertionError(f"float32 graph has {len(nodes32)} nodes, float64 has {len(nodes)}")
        out.zero_grad()
        out.backward(upstream)
        for k, (node32, node) in enumerate(zip(nodes32, nodes)):
            what = f"node {k} (op {node.op!r}, shape {node.shape})"
            if node32.dtype != np.float32:
                raise AssertionError(f"{what}: float32 inputs gave {node32.dtype} data")
            if np.asarray(node32.grad).dtype != np.float32:
                consumers = sorted({n.op for n in nodes32[:k] if any(p is node32 for p in n.inputs)})
                raise AssertionError(
                    f"{what}: float32 inputs gave a {np.asarray(node32.grad).dtype} gradient, "
                    f"from the backward of {', '.join(map(repr, consumers))}"
                )
            _assert_close32(node32.data, node.data, f"{what} value")
            _assert_close32(node32.grad, node.grad, f"{what} gradient")
    check_compiled(program, inputs, seed)


class _Builder:
    """Grows one program statement by statement, evaluating each on the float64 inputs."""

    def __init__(
        self,
        draw: Callable[[st.SearchStrategy[Any]], Any],
        inputs: list[np.ndarray],
        vocabulary: Sequence[str],
    ):
        self.draw = draw
        self.vocabulary = tuple(vocabulary)
        self.inputs = inputs
        self.names = [f"x{i}" for i in range(len(inputs))]
        self.env: dict[str, Any] = {}
        exec(_IMPORTS, self.env)
        for name, x in zip(self.names, inputs):
            self.env[name] = Value(x)
        self.uses = dict.fromkeys(self.names, 0)
        self.lines: list[str] = []
        self.ops: set[str] = set()

    # ----- helpers ----------------------------------------------------------------------------
    def data(self, name: str) -> np.ndarray:
        return np.asarray(self.env[name].data, dtype=np.float64)

    def shape(self, name: str) -> Shape:
        return self.env[name].shape

    def pick(self, ok: Callable[[str], bool] = lambda name: True) -> str | None:
        """An earlier node that satisfies ``ok``, counted back from the newest.

        Counting back keeps a statement's operands when the shrinker deletes older statements.
        """
        candidates = [n for n in self.names if ok(n)]
        if not candidates:
            return None
        return candidates[-1 - self.draw(st.integers(0, len(candidates) - 1))]

    def evaluate(self, expr: str) -> Value:
        with no_grad():
            try:
                return eval(expr, self.env)
            except Exception as err:
                partial = "\n".join(self.lines)
                raise RuntimeError(f"fuzzed program failed at `{expr}` after:\n{partial}") from err

    def positive(self, name: str) -> str:
        """An expression of ``name`` whose values are all >= 0.5 (``name`` itself if they are)."""
        if float(np.min(self.data(name))) >= 0.5:
            return name
        forms = [f"({name} * {name} + 0.5)", f"({name}.exp() + 0.5)"]
        if self.env[name].ndim:
            forms.append(f"(softmax({name}) + 0.5)")
        return self.draw(st.sampled_from(forms))

    def axis(self, ndim: int) -> int | tuple[int, ...] | None:
        """An ``axis=`` argument: None, an int (maybe negative) or a tuple of distinct axes."""
        kind = self.draw(st.sampled_from(["none", "int", "tuple"])) if ndim else "none"
        if kind == "none":
            return None
        if kind == "int":
            return self.draw(st.integers(-ndim, ndim - 1))
        return tuple(self.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))

    # ----- one statement per domain of the op table (Primitive.domain) ------------------------------
    def binary(self, p: Primitive) -> tuple[str, str] | None:
        """``a op b``: two nodes, or a node and a constant (a number or an array) on either side."""
        a = self.pick()
        assert a is not None
        shape = self.shape(a)
        divide = p.domain == "divide"
        kind = self.draw(st.sampled_from(["node", "number", "array"]))
        if kind == "node":
            b = self.pick(lambda n: _broadcasts(shape, self.shape(n)))
            return p.syntax.format(a, self.positive(b) if divide else b), p.name  # type: ignore[union-attr,arg-type]
        constant_first = self.draw(st.booleans())
        positive = divide and not constant_first
        if kind == "array":
            constant = self.constant(self.broadcast_shape(shape), positive)
        else:
            constant = str(self.draw(st.sampled_from([c for c in _CONSTANTS if c > 0 or not positive])))
        if constant_first:
            return p.syntax.format(constant, self.positive(a) if divide else a), p.name  # type: ignore[union-attr]
        return p.syntax.format(a, constant), p.name  # type: ignore[union-attr]

    def broadcast_shape(self, shape: Shape) -> Shape:
        """A shape that broadcasts with ``shape``: some leading axes dropped, some axes set to 1."""
        kept = shape[self.draw(st.integers(0, len(shape))) :]
        return tuple(n if self.draw(st.booleans()) else 1 for n in kept)

    def constant(self, shape: Shape, positive: bool = False) -> str:
        """A NumPy array constant (no gradient) of the inputs' float type, written out in full."""
        values = [v for v in _CONSTANTS if v > 0] if positive else list(_CONSTANTS)
        count = int(np.prod(shape, dtype=int))
        flat = self.draw(st.lists(st.sampled_from(values), min_size=count, max_size=count))
        self.ops.add("array constant")
        return f"np.array({np.reshape(flat, shape).tolist()!r}, dtype=x0.dtype)"

    def power(self, p: Primitive) -> tuple[str, str]:
        a = self.pick()
        assert a is not None
        if self.draw(st.booleans()):
            return p.syntax.format(a, exponent=self.draw(st.sampled_from(_ANY_EXPONENTS))), p.name  # type: ignore[union-attr]
        exponent = self.draw(st.sampled_from(_POSITIVE_EXPONENTS))
        return p.syntax.format(self.positive(a), exponent=exponent), p.name  # type: ignore[union-attr]

    def unary(self, p: Primitive) -> tuple[str, str]:
        """Any real input (``domain="unary"``) or, for ``"positive"``, values made >= 0.5."""
        a = self.pick()
        assert a is not None
        return p.syntax.format(self.positive(a) if p.domain == "positive" else a), p.name  # type: ignore[union-attr]

    def kink_free(self, p: Primitive) -> tuple[str, str]:
        """The input shifted by a constant that keeps every element at least MARGIN from the kink at 0."""
        a = self.pick()
        assert a is not None
        values = np.unique(self.data(a))
        edges = np.concatenate([[values[0] - 1.0], values, [values[-1] + 1.0]])
        gaps = ((edges[:-1] + edges[1:]) / 2)[np.diff(edges) >= 4 * MARGIN]
        shift = round(float(self.draw(st.sampled_from(list(gaps)))), 2)
        operand = a if shift == 0 else f"({a} - {shift})" if shift > 0 else f"({a} + {-shift})"
        return p.syntax.format(operand), p.name  # type: ignore[union-attr]

    def reduce(self, p: Primitive) -> tuple[str, str]:
        a = self.pick()
        assert a is not None
        axis = self.axis(self.env[a].ndim)
        keepdims = self.draw(st.booleans())
        if p.domain == "reduce_tie_free" and not _tie_free(self.data(a), axis):
            p = PRIMITIVES["mean"]
        arguments = ([f"axis={axis!r}"] if axis is not None else []) + (["keepdims=True"] if keepdims else [])
        return p.syntax.format(a, attrs=", ".join(arguments)), p.name  # type: ignore[union-attr]

    def reshape(self, p: Primitive) -> tuple[str, str]:
        a = self.pick()
        assert a is not None
        factors = _prime_factors(int(np.prod(self.shape(a), dtype=int)))
        factors = self.draw(st.permutations(factors))
        ndim = self.draw(st.integers(0 if not factors else 1, 4))
        dims = [1] * ndim
        for f in factors:
            dims[self.draw(st.integers(0, ndim - 1))] *= f
        if ndim == 1 and self.draw(st.booleans()):
            return p.syntax.format(a, shape=-1), p.name  # type: ignore[union-attr]
        return p.syntax.format(a, shape=repr(tuple(dims))), p.name  # type: ignore[union-attr]

    def transpose(self, p: Primitive) -> tuple[str, str]:
        """``.T`` (every axis reversed), or ``.transpose(axes)`` with a random permutation."""
        a = self.pick()
        assert a is not None
        ndim = self.env[a].ndim
        if ndim < 2 or self.draw(st.booleans()):
            return f"{a}.T", p.name
        axes = self.draw(st.permutations(range(ndim)))
        return p.syntax.format(a, axes=repr(tuple(axes))), "transpose"  # type: ignore[union-attr]

    def broadcast_to(self, p: Primitive) -> tuple[str, str]:
        """Repeated over a new leading axis of 2 and its size-1 axes made 2."""
        a = self.pick()
        assert a is not None
        target = (2, *(2 if n == 1 else n for n in self.shape(a)))
        return p.syntax.format(a, shape=repr(target)), p.name  # type: ignore[union-attr]

    def sum_to(self, p: Primitive) -> tuple[str, str]:
        """Summed to a shape it is a broadcast of (leading axes dropped, axes set to 1)."""
        a = self.pick()
        assert a is not None
        return p.syntax.format(a, shape=repr(self.broadcast_shape(self.shape(a)))), p.name  # type: ignore[union-attr]

    def index(self, p: Primitive) -> tuple[str, str] | None:
        a = self.pick(lambda n: self.env[n].ndim >= 1)
        if a is None:
            return None
        shape = self.shape(a)
        kind = self.draw(st.sampled_from(["basic", "array", "arrays"]))
        if kind == "basic":
            count = self.draw(st.integers(1, len(shape)))
            if count < len(shape) and self.draw(st.booleans()):  # the items index the last axes
                items = ["...", *(self._basic_item(n) for n in shape[-count:])]
            else:
                items = [self._basic_item(n) for n in shape[:count]]
            return p.syntax.format(a, index=", ".join(items)), "index"  # type: ignore[union-attr]
        if kind == "arrays" and len(shape) >= 2:
            count = self.draw(st.integers(1, 5))
            rows = self.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=count, max_size=count))
            cols = self.draw(st.lists(st.integers(-shape[1], shape[1] - 1), min_size=count, max_size=count))
            return p.syntax.format(a, index=f"{rows!r}, {cols!r}"), "index-array"  # type: ignore[union-attr]
        axis = self.draw(st.integers(0, len(shape) - 1))
        picks = self.draw(st.lists(st.integers(-shape[axis], shape[axis] - 1), min_size=1, max_size=5))
        return p.syntax.format(a, index=", ".join([":"] * axis + [repr(picks)])), "index-array"  # type: ignore[union-attr]

    def _basic_item(self, n: int) -> str:
        kind = self.draw(st.sampled_from(["int", "slice", "all", "reverse"]))
        if kind == "int":
            return str(self.draw(st.integers(-n, n - 1)))
        if kind == "all":
            return ":"
        if kind == "reverse":
            return "::-1"
        start = self.draw(st.integers(0, n - 1))
        stop = self.draw(st.integers(start + 1, n))
        step = self.draw(st.sampled_from([1, 2]))
        return f"{start}:{stop}" + (f":{step}" if step != 1 else "")

    def stack(self, p: Primitive) -> tuple[str, str]:
        a = self.pick()
        assert a is not None
        shape = self.shape(a)
        others = [self.pick(lambda n: self.shape(n) == shape) for _ in range(self.draw(st.integers(0, 2)))]
        axis = self.draw(st.integers(-len(shape) - 1, len(shape)))
        inputs = ", ".join([a, *others])  # type: ignore[list-item]
        return p.syntax.format(inputs=inputs, attrs=f"axis={axis}"), p.name  # type: ignore[union-attr]

    def matmul(self, p: Primitive) -> tuple[str, str] | None:
        a = self.pick(lambda n: self.env[n].ndim >= 1)
        if a is None:
            return None
        shape = self.shape(a)
        # right-hand partners (expression, shape): earlier nodes, their transposes, and a reshaped
        # copy of `a` itself, which always fits: (..., m, k) @ (..., k, m), or (k) @ (k)
        partners = [(n, self.shape(n)) for n in self.names]
        partners += [(f"{n}.T", self.shape(n)[::-1]) for n in self.names if self.env[n].ndim >= 2]
        if len(shape) >= 2:
            swapped = (*shape[:-2], shape[-1], shape[-2])
            partners.append((f"{a}.reshape({swapped!r})", swapped))
        else:
            partners += [(a, shape), (f"{a}.reshape({(shape[0], 1)!r})", (shape[0], 1))]
        pairs = [(a, shape, b, s) for b, s in partners if _matmul_ok(shape, s)]
        pairs += [(b, s, a, shape) for b, s in partners if _matmul_ok(s, shape)]
        if self.draw(st.integers(0, 3)) == 0:  # a constant matrix or vector on one side
            pairs = [(a, shape, "", shape[-1:]), ("", shape[-2:-1] or (2, shape[0]), a, shape)]
        left, left_shape, right, right_shape = self.draw(st.sampled_from(pairs))
        left, right = left or self.constant(left_shape), right or self.constant(right_shape)
        return p.syntax.format(left, right), _matmul_kind(len(left_shape), len(right_shape))  # type: ignore[union-attr]

    def cross_entropy(self, p: Primitive) -> tuple[str, str] | None:
        return self.loss(p.name)

    # ----- the functions composed of primitives ---------------------------------------------------
    def softmax(self, op: str) -> tuple[str, str] | None:
        a = self.pick(lambda n: self.env[n].ndim >= 1)
        if a is None:
            return None
        axis = self.draw(st.integers(-self.env[a].ndim, self.env[a].ndim - 1))
        return f"{op}({a}, axis={axis})", op

    def loss(self, op: str) -> tuple[str, str] | None:
        a = self.pick(lambda n: self.env[n].ndim in (1, 2))
        if a is None:
            return None
        shape = self.shape(a)
        classes = shape[-1]
        if len(shape) == 1:
            targets = str(self.draw(st.integers(0, classes - 1)))
        else:
            rows = st.lists(st.integers(0, classes - 1), min_size=shape[0], max_size=shape[0])
            targets = repr(self.draw(rows))
        reduction = self.draw(st.sampled_from(_REDUCTIONS))
        logits = f"log_softmax({a})" if op == "nll_loss" and self.draw(st.booleans()) else a
        return f"{op}({logits}, {targets}, reduction={reduction!r})", f"{op} {reduction}"

    # ----- driving -------------------------------------------------------------------------------
    def step(self) -> None:
        kind = self.draw(st.sampled_from(self.vocabulary))
        built = self._build(kind)
        if built is None:  # no node suits the op
            built = self.unary(PRIMITIVES["neg"])
        else:
            self.ops.add(kind)
        expr, op = built
        value = self.evaluate(expr)
        peak = float(np.max(np.abs(value.data), initial=0.0))
        if peak > BOUND:  # rescale by a power of two: exact, and keeps the program readable
            expr = f"{_parenthesized(expr)} * {2.0 ** -int(np.ceil(np.log2(peak / BOUND)))}"
            value = self.evaluate(expr)
        for name in self.names:
            if re.search(rf"\b{name}\b", expr):
                self.uses[name] += 1
        name = f"v{len(self.lines)}"
        self.lines.append(f"    {name} = {expr}")
        self.env[name] = value
        self.names.append(name)
        self.uses[name] = 0
        self.ops.add(op)

    def _build(self, kind: str) -> tuple[str, str] | None:
        if kind in COMPOSITES:
            return self.softmax(kind) if kind in ("softmax", "log_softmax") else self.loss(kind)
        primitive = PRIMITIVES[kind]
        return getattr(self, _RULES[primitive.domain])(primitive)  # type: ignore[index]

    def finish(self, seed: int) -> Program:
        """Return the last node, plus the mean of every other unused node so all of them count."""
        last = self.names[-1]
        dangling = [n for n in self.names[len(self.inputs) : -1] if self.uses[n] == 0]
        result = " + ".join([last] + [f"{n}.mean()" for n in dangling])
        body = "\n".join(self.lines) or "    pass"
        source = f"def program({', '.join(self.names[: len(self.inputs)])}):\n{body}\n    return {result}\n"
        return Program(source, tuple(self.inputs), seed, frozenset(self.ops))


def _parenthesized(expr: str) -> str:
    """``expr`` wrapped in parentheses unless it is one operand already (no operator outside brackets)."""
    depth = 0
    for i, char in enumerate(expr):
        depth += (char in "([") - (char in ")]")
        if depth == 0 and (char == " " or (char == "-" and i == 0)):
            return f"({expr})"
    return expr


def _broadcasts(a: Shape, b: Shape) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _matmul_ok(a: Shape, b: Shape) -> bool:
    if not a or not b:
        return False
    try:
        np.matmul(np.zeros(a), np.zeros(b))
    except ValueError:
        return False
    return True


def _matmul_kind(left: int, right: int) -> str:
    if left > 2 or right > 2:
        return "@ batched"
    return f"@ {left}-D {right}-D"


def _tie_free(x: np.ndarray, axis: int | tuple[int, ...] | None) -> bool:
    """True if along ``axis`` the largest element beats the runner-up by at least MARGIN."""
    if x.ndim == 0:
        return True
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
    axes = tuple(a % x.ndim for a in axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    rows = np.transpose(x, kept + list(axes)).reshape(int(np.prod([x.shape[a] for a in kept])), -1)
    if rows.shape[1] < 2:
        return True
    top2 = np.sort(rows, axis=1)[:, -2:]
    return bool(np.all(top2[:, 1] - top2[:, 0] >= MARGIN))


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


@st.composite
def programs(
    draw: st.DrawFn,
    max_ops: int = 30,
    max_inputs: int = 3,
    max_side: int = 4,
    ops: Sequence[str] | None = None,
) -> Program:
    """Random `Program` s: 1 to ``max_ops`` statements over 1 to ``max_inputs`` float64 inputs.

    Inputs have mutually broadcastable random shapes (up to 3 axes of up to ``max_side``) and
    values in [-2, 2]; ops are drawn from ``ops`` (names of primitives and of the composite
    functions), by default from every op of the library (`OP_KINDS`), operands from all earlier
    nodes, so nodes are reused.
    """
    vocabulary = _vocabulary() if ops is None else tuple(ops)
    unknown = sorted(set(vocabulary) - set(_vocabulary()))
    if unknown:
        raise ValueError(f"programs: no rule draws the op(s) {unknown}; known: {', '.join(_vocabulary())}")
    count = draw(st.integers(1, max_inputs))
    shapes_ = draw(broadcastable_shapes(count, max_dims=3, max_side=max_side))
    builder = _Builder(draw, [draw(arrays(s, -2.0, 2.0)) for s in shapes_], vocabulary)
    while draw(_statement(builder)) and len(builder.lines) < max_ops:
        pass
    return builder.finish(draw(st.integers(0, 2**32 - 1)))


@st.composite
def _statement(draw: Callable[[st.SearchStrategy[Any]], Any], builder: _Builder) -> bool:
    """Add one statement to ``builder``; return whether another follows (odds 31 to 1).

    The statement and that decision are one draw, which the shrinker can delete as a whole.
    """
    builder.draw = draw
    builder.step()
    return bool(draw(st.integers(0, 31)))
