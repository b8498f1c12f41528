"""The autodiff engine: `Value`, the table of primitives, and reverse mode.

A primitive is one `Primitive`: its forward (on NumPy data), its vector-Jacobian product, the
formula of its local derivatives, its label for drawing, and the domain its tests draw from.
Everything else comes from that one definition: `Value`'s methods call it, the renderer and the
step-by-step explainer read its label and formulas, the tests and the fuzzer draw its inputs.

A VJP ``vjp(g, out, *inputs, **attrs)`` returns one gradient per input, shaped like ``out``
(broadcasting is undone by the engine). It is written with operators and the dual helpers below,
which compute on NumPy data when given data and record nodes when given `Value`s. The first-order
pass calls it on data (fast); ``grad(..., create_graph=True)`` calls it on the graph's own nodes,
so the gradient is a graph too and differentiates again, to any order (as in HIPS autograd).

Adding an op is one entry. Here is ``tanh``, as defined below::

    def _tanh_vjp(g, out, a):
        return (g * (1 - out * out),)          # d/da tanh a = 1 - tanh^2 a: uses `out`, a node

    TANH = Primitive("tanh", np.tanh, _tanh_vjp, derivatives=("1 - out**2",), syntax="{0}.tanh()")

    class Value:
        def tanh(self): return TANH(self)

then add its tests: the op-table tests in tests/test_gradients.py pick it up by its ``domain``
(first and second order against finite differences), and so does the random-program fuzzer.

Graphs hold no reference cycles (a node keeps its inputs and its `Primitive`, never a closure),
so they are freed by reference counting as soon as the user drops the loss. Every walk over a
graph is `toposort`, iterative: graphs of any depth work.
"""

from __future__ import annotations

import functools
import math
import operator
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Union

import numpy as np

# A float, a NumPy float scalar or an ndarray; typed Any since NumPy's stubs cannot narrow that union.
Data = Any
"""A value's data: a float, a NumPy float scalar or an ndarray."""
Operand = Union["Value", float, int, np.ndarray, Sequence[Any]]
"""What an op accepts as an input: a `Value`, a number, an array or a nested sequence (the last three
become constants)."""

__all__ = [
    "PRIMITIVES",
    "Primitive",
    "Value",
    "as_value",
    "broadcast_to",
    "detect_anomaly",
    "exp",
    "grad",
    "is_grad_enabled",
    "log",
    "no_grad",
    "relu",
    "sigmoid",
    "sum_to",
    "tanh",
    "toposort",
]


class _ThreadState(threading.local):
    """Per-thread switches: `no_grad()` in one thread never affects another."""

    grad_enabled = True
    anomaly = False
    # grad_enabled and not anomaly, the common case: `record()` tests only this per op
    plain = True

    def __init__(self) -> None:
        # outer states of the open no_grad() / detect_anomaly() contexts, innermost last
        self.saved: list[bool] = []
        self.anomaly_saved: list[tuple[bool, Any]] = []

    def set(self, grad_enabled: bool, anomaly: bool) -> None:
        global _threads_not_plain, _all_plain
        plain = grad_enabled and not anomaly
        with _switch_lock:
            _threads_not_plain += (not plain) - (not self.plain)
            _all_plain = _threads_not_plain == 0
        self.grad_enabled, self.anomaly, self.plain = grad_enabled, anomaly, plain


_state = _ThreadState()
# While no thread is inside no_grad() or detect_anomaly(), `record()` reads this module flag
# instead of the (slower) thread-local switch.
_threads_not_plain = 0
_all_plain = True
_switch_lock = threading.Lock()


class no_grad:
    """Context manager (and decorator) that stops graph recording in the current thread.

    Values computed inside have no parents and ``requires_grad=False``, as in PyTorch.
    """

    def __enter__(self) -> None:
        _state.saved.append(_state.grad_enabled)
        _state.set(False, _state.anomaly)

    def __exit__(self, *exc: object) -> None:
        _state.set(_state.saved.pop(), _state.anomaly)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


def is_grad_enabled() -> bool:
    """True unless the current thread is inside `no_grad()`."""
    return _state.grad_enabled


class detect_anomaly:
    """Context manager: the first op whose output or gradient holds NaN/inf raises.

    The error is a `FloatingPointError` naming the op, its input shapes and the line of user
    code that created the node. Off by default; when off it costs next to nothing: the one
    switch `record()` tests per op also serves `no_grad()` (`make bench` measures it).
    Inside, NumPy's divide/overflow/invalid warnings are silenced (each such event becomes this
    error instead). Like `no_grad()`, it acts on the current thread only: the thread that runs an
    op or a ``backward()`` decides whether it is checked.
    """

    def __enter__(self) -> None:
        errstate = np.errstate(divide="ignore", over="ignore", invalid="ignore")
        errstate.__enter__()
        _state.anomaly_saved.append((_state.anomaly, errstate))
        _state.set(_state.grad_enabled, True)

    def __exit__(self, *exc: object) -> None:
        previous, errstate = _state.anomaly_saved.pop()
        _state.set(_state.grad_enabled, previous)
        errstate.__exit__(*exc)


def _as_data(data: object) -> Data:
    """Validate user input; return a float, a float32 NumPy scalar or a float array."""
    if type(data) is float:
        return data
    if isinstance(data, Value):
        raise TypeError("Value() got a Value; use value.detach() to copy one out of its graph")
    if isinstance(data, (bool, int, float, np.number, np.bool_)) and not isinstance(data, np.complexfloating):
        return np.float32(data) if isinstance(data, np.float32) else float(data)
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, (list, tuple)):
        try:
            array = np.array(data)
        except ValueError:
            raise ValueError(
                "Value() got a ragged nested list; every row must have the same length"
            ) from None
    else:
        raise TypeError(
            f"Value() takes a number, a (nested) list of numbers or a NumPy array; "
            f"got {type(data).__name__} {data!r:.60}"
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Value() takes real numbers; got an array of dtype {array.dtype} (from {type(data).__name__})"
        )
    dtype = np.float32 if array.dtype == np.float32 else np.float64
    if array.ndim == 0:
        return np.float32(array) if dtype is np.float32 else float(array)
    return np.array(array, dtype=dtype)  # a copy: optimizers update .data in place


def _shape(data: Data) -> tuple[int, ...]:
    return () if type(data) is float else data.shape


def _data(x: Any) -> Data:
    """The NumPy data of ``x``: a Value's data, or ``x`` itself (constants never carry gradients)."""
    return x.data if type(x) is Value else x


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...], dtype: np.dtype, op: str) -> Any:
    """Sum a broadcast gradient back down to ``shape`` and ``dtype``: those of an input of ``op``."""
    extra = g.ndim - len(shape)
    if extra and g.shape[extra:] == shape and g.dtype == dtype:  # leading axes only, e.g. a bias
        return g.sum(axis=0) if extra == 1 else g.sum(axis=tuple(range(extra)))
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if g.shape[extra:] != shape:  # a VJP's bug (e.g. a user primitive's): never reshape it away
        raise ValueError(
            f"backward of op '{op}': a gradient of shape {g.shape} does not fit its input of shape {shape}"
        )
    g = g.reshape(shape)
    if g.dtype != dtype:  # NumPy promoted the op (float32 with a float64 constant): the grad is not
        g = g.astype(dtype)
    return g[()] if g.ndim == 0 else g


def _ones(data: Data) -> Data:
    return np.ones_like(data) if type(data) is np.ndarray else type(data)(1)


def _zeros(data: Data) -> Data:
    return np.zeros_like(data) if type(data) is np.ndarray else type(data)(0)


def _power(x: Data, p: float) -> Data:
    """``x ** p`` with NumPy semantics (inf/nan, never an exception or a complex)."""
    if type(x) is float:
        try:
            result = x**p
            if type(result) is float:
                return result
        except ArithmeticError:
            pass
        x = np.float64(x)
    return np.power(x, p)


_new = object.__new__
Label = str | Callable[[dict[str, Any]], str]
"""A primitive's label: a string, or a function of the node's attributes returning one."""


class Primitive:
    """One differentiable op, defined once: forward, VJP, derivative formulas, label, test domain.

    - ``forward(*data, **attrs)``: the output's data from the inputs' NumPy data.
    - ``vjp(g, out, *inputs, **attrs)``: one gradient per input (None: no gradient), written with
      operators and dual helpers, so that it runs on data and on Values alike. Where the gradients
      are expensive, give a tuple of one such function per input, each returning its one gradient:
      the engine then computes only those that an input needs (as HIPS autograd's ``defvjp``).
    - ``derivatives``: d out / d input as text, one per input, the inputs named a, b, ...: ``("b", "a")``
      for ``a * b``. ``label``: a short name for drawings, or a function of the attributes.
    - ``domain``: the keyword `tinygrad_iris.testing` draws inputs and attributes by ("unary",
      "positive", "binary", "reduce", ...); ``syntax``: the call as Python source, ``{0}`` the
      first input, ``{attrs}`` the attributes as keywords (``"{0}.sum({attrs})"``).

    Calling it applies it: ``p(x, y, axis=0)`` records a node when an input is a `Value`
    (constants are wrapped), and `Primitive.apply` computes plain data when none is.
    """

    __slots__ = (
        "_by_needs", "_plain_vjp", "_vjp", "derivatives", "domain", "forward", "label", "name", "syntax"
    )

    def __init__(
        self,
        name: str,
        forward: Callable[..., Data],
        vjp: Callable[..., Sequence[Any]] | tuple[Callable[..., Any], ...],
        *,
        derivatives: Sequence[str],
        label: Label | None = None,
        domain: str | None = None,
        syntax: str | None = None,
    ):
        if not isinstance(name, str) or not name:
            raise TypeError(f"Primitive: name must be a non-empty string, got {name!r}")
        if not callable(forward) or not (callable(vjp) or (type(vjp) is tuple and all(map(callable, vjp)))):
            raise TypeError(f"Primitive {name!r}: forward and vjp must be functions")
        self.name = name
        """The op's name: the key in `PRIMITIVES` and a node's `_op`."""
        self.forward = forward
        """forward(*data, **attrs): the output's data from the inputs' NumPy data."""
        self.vjp = vjp
        self.derivatives = tuple(derivatives)
        """d out / d input as text, one per input, the inputs named a, b, ... (`("b", "a")` for a * b)."""
        self.label: Label = label if label is not None else name
        """The op's short name in drawings, or a function of its attributes that returns one."""
        self.domain = domain
        """What `tinygrad_iris.testing` draws this op's inputs from ("unary", "positive", "binary", ...);
        None: not fuzzed."""
        self.syntax = syntax
        """The call as Python source (`{0}` the first input, `{attrs}` the attributes), for fuzzer
        programs; None if it has none."""

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"

    @property
    def vjp(self) -> Any:
        """The VJP: one function for all inputs, or a tuple of one function per input."""
        return self._vjp

    @vjp.setter
    def vjp(self, vjp: Any) -> None:
        self._vjp = vjp
        self._plain_vjp = None if type(vjp) is tuple else vjp  # what a node's backward calls
        self._by_needs: dict[int, Callable[..., Sequence[Any]]] = {}

    def _vjp_for(self, inputs: tuple[Value, ...]) -> Callable[..., Any]:
        """A tuple of per-input VJPs as one VJP that runs only those of the inputs needing a
        gradient: chosen when the node is recorded, made once per pattern of needs."""
        needs = 0  # the pattern as the bits of an int: cheaper to make than a tuple
        for x in inputs:
            needs = 2 * needs + x.requires_grad
        vjp = self._by_needs.get(needs)
        if vjp is None:
            vjp = self._by_needs[needs] = _per_input(self._vjp, [x.requires_grad for x in inputs])
        return vjp

    def describe(self, attrs: dict[str, Any] | None) -> str:
        """The label of a node made by this op with these attributes (e.g. ``**2``, ``sum(axis=0)``)."""
        label = self.label
        return label if isinstance(label, str) else label(attrs or {})

    def __call__(self, *inputs: Operand, **attrs: Any) -> Value:
        """Apply to Values (or constants, wrapped as constant Values): the output node."""
        values = tuple(x if type(x) is Value else as_value(x) for x in inputs)
        try:
            data = self.forward(*(v.data for v in values), **attrs)
        except ZeroDivisionError:  # plain floats: follow NumPy (inf, nan), not Python
            data = self.forward(*(np.float64(v.data) for v in values), **attrs)
        return _record(_scalar(data), values, self, attrs or None)

    def record(self, data: Data, inputs: Sequence[Value], **attrs: Any) -> Value:
        """The output node for ``data`` that the caller computed already (with values its VJP saves)."""
        return _record(_scalar(data), tuple(inputs), self, attrs or None)

    def apply(self, *inputs: Any, **attrs: Any) -> Any:
        """Dual: a node if any input is a `Value`, else the plain data (the fast first-order pass)."""
        for x in inputs:
            if type(x) is Value:
                return self(*inputs, **attrs)
        return self.forward(*inputs, **attrs)


def _per_input(vjps: tuple[Callable[..., Any], ...], needs: list[bool]) -> Callable[..., Sequence[Any]]:
    chosen = [f if need else None for f, need in zip(vjps, needs)]
    if len(chosen) == 2:  # a binary op (matmul): no loop, no packing of the inputs
        first, second = chosen
        if first is None and second is not None:
            return lambda g, out, a, b, **attrs: (None, second(g, out, a, b, **attrs))
        if second is None and first is not None:
            return lambda g, out, a, b, **attrs: (first(g, out, a, b, **attrs), None)

    def vjp(g: Any, out: Any, *inputs: Any, **attrs: Any) -> list[Any]:
        grads = []  # a loop, not a comprehension: no frame of its own (Python 3.11)
        for f in chosen:
            grads.append(None if f is None else f(g, out, *inputs, **attrs))
        return grads

    return vjp


def _scalar(data: Data) -> Data:
    """0-d arrays are held as NumPy scalars, like every other scalar."""
    return data[()] if type(data) is np.ndarray and data.ndim == 0 else data


def _record(
    data: Data, parents: tuple[Value, ...], primitive: Primitive, attrs: dict[str, Any] | None
) -> Value:
    """The output node of ``primitive`` on ``parents``: a constant unless recording for a parent."""
    out = _new(Value)
    out.data = data
    out._grad = None
    out.name = None
    plain = _all_plain or _state.plain
    if plain or _state.grad_enabled:
        for parent in parents:
            if parent.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._primitive = primitive
                out._attrs = attrs
                out._vjp = primitive._plain_vjp or primitive._vjp_for(parents)
                if not plain:  # recording with anomaly mode on
                    _anomaly_check_forward(out, parents)
                return out
    out.requires_grad = False
    out._parents = ()
    out._primitive = None
    out._attrs = None
    out._vjp = None
    if not plain and _state.anomaly:
        out._primitive, out._attrs = primitive, attrs  # named in the error, then dropped
        _anomaly_check_forward(out, parents)
        out._primitive = out._attrs = None
    return out


def as_value(x: Operand) -> Value:
    """``x`` itself if it is a Value, else a constant Value wrapping it (it gets no gradient)."""
    if isinstance(x, Value):
        return x
    out = _new(Value)
    _init_leaf(out, x if type(x) is float else _as_data(x), None, False)
    return out


def _init_leaf(leaf: Value, data: Data, name: str | None, requires_grad: bool) -> None:
    """Fill in a node that no op made: a parameter, an input or a constant."""
    leaf.data = data
    leaf._grad = None
    leaf._parents = ()
    leaf._primitive = None
    leaf._attrs = None
    leaf._vjp = None
    leaf.name = name
    leaf.requires_grad = requires_grad


BinaryMethod = Callable[["Value", Operand], "Value"]
"""The type of a `Value` operator method such as `__add__`: (value, operand) -> Value."""


def _binary_method(primitive: Primitive) -> tuple[BinaryMethod, BinaryMethod]:
    """The methods for ``a op b`` and its reflection; one frame per op on the hot path."""
    forward, name = primitive.forward, primitive.name

    def method(a: Value, b: Operand) -> Value:
        if type(b) is not Value:
            b = as_value(b)
        try:
            data = forward(a.data, b.data)
        except ZeroDivisionError:  # plain floats: follow NumPy (inf, nan), not Python
            data = forward(np.float64(a.data), b.data)
        except ValueError as err:
            raise ValueError(f"{name}: cannot combine shapes {a.shape} and {b.shape} ({err})") from None
        return _record(data, (a, b), primitive, None)

    def reflected(b: Value, a: Operand) -> Value:
        return method(as_value(a), b)

    return method, reflected


PRIMITIVES: dict[str, Primitive] = {}
"""Every `Primitive` by name, in definition order: the one table the methods, drawings and tests read."""


def _define(name: str, forward: Callable[..., Data], vjp: Any, **how: Any) -> Primitive:
    """Define a primitive of this library and enter it in `PRIMITIVES` (tests and fuzzer read it)."""
    primitive = Primitive(name, forward, vjp, **how)
    PRIMITIVES[name] = primitive
    return primitive


def _keepdims_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """``shape`` with the reduced axes kept as size 1."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _shape_of(x: Any) -> tuple[int, ...]:
    return x.shape if type(x) is Value else np.shape(x)


def _short(obj: object, limit: int = 24) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ===== the primitives: each forward next to its VJP ============================================
# add: a + b            d/da = 1, d/db = 1
def _add_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    return g, g


ADD = _define("+", operator.add, _add_vjp, derivatives=("1", "1"), domain="binary", syntax="{0} + {1}")
"""`a + b`, elementwise with broadcasting: d/da = d/db = 1."""


# sub: a - b            d/da = 1, d/db = -1
def _sub_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    return g, -g


SUB = _define("-", operator.sub, _sub_vjp, derivatives=("1", "-1"), label="−", domain="binary",
              syntax="{0} - {1}")
"""`a - b`, elementwise with broadcasting: d/da = 1, d/db = -1."""


# mul: a * b            d/da = b, d/db = a
def _mul_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    return g * b, g * a


MUL = _define("*", operator.mul, _mul_vjp, derivatives=("b", "a"), label="×", domain="binary",
              syntax="{0} * {1}")
"""`a * b`, elementwise with broadcasting: d/da = b, d/db = a."""


# div: a / b            d/da = 1/b, d/db = -a/b^2 = -out/b
def _div_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    return g / b, -g * out / b


DIV = _define("/", operator.truediv, _div_vjp, derivatives=("1/b", "-out/b"), label="÷", domain="divide",
              syntax="{0} / {1}")
"""`a / b`: d/da = 1/b, d/db = -a/b^2."""


# matmul: a @ b (1-D operands act as a row / column vector, batch dims broadcast)
# One VJP per input, so the engine computes only the products an input needs (data @ weights
# needs none for the data). ``swapaxes`` works on arrays and Values alike.
def _matmul_vjp_a(g: Any, out: Any, a: Any, b: Any) -> Any:
    """d/da: g @ b^T."""
    if b.ndim == 1:  # (..., m, k) @ (k) -> (..., m), or (k) @ (k)
        return g * b if a.ndim == 1 else g[..., None] * b
    if a.ndim == 1:  # (k) @ (..., k, n) -> (..., n)
        return (b @ g[..., None])[..., 0]
    return g @ b.swapaxes(-1, -2)


def _matmul_vjp_b(g: Any, out: Any, a: Any, b: Any) -> Any:
    """d/db: a^T @ g."""
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a[:, None] * g[..., None, :]
    if b.ndim == 1:
        return (a.swapaxes(-1, -2) @ g[..., None])[..., 0]
    return a.swapaxes(-1, -2) @ g


MATMUL = _define("@", operator.matmul, (_matmul_vjp_a, _matmul_vjp_b), derivatives=("g @ b.T", "a.T @ g"),
                 domain="matmul", syntax="{0} @ {1}")
"""`a @ b`, NumPy's matmul (1-D, 2-D and batched): the gradients are g @ b.T and a.T @ g."""


# neg: -a               d/da = -1
def _neg_vjp(g: Any, out: Any, a: Any) -> tuple[Any]:
    return (-g,)


NEG = _define("neg", operator.neg, _neg_vjp, derivatives=("-1",), label="−x", domain="unary", syntax="-{0}")
"""`-x`: d/dx = -1."""


def _pow(x: Any, p: float) -> Any:
    return x**p if type(x) is Value else _power(x, p)


# pow: a ** p (p a number)   d/da = p * a^(p-1), and 0 for p = 0 (even at a = 0, where a^-1 is inf)
def _pow_vjp(g: Any, out: Any, a: Any, exponent: float) -> tuple[Any]:
    if exponent == 0:
        return (g * 0,)
    return (g * exponent * _pow(a, exponent - 1),)


POW = _define("**", lambda a, exponent: _power(a, exponent), _pow_vjp, derivatives=("p * a**(p-1)",),
              label=lambda attrs: f"**{attrs['exponent']}", domain="power", syntax="{0} ** {exponent}")
"""`x ** p` for a constant exponent p: d/dx = p x^(p-1)."""


# exp: e^a              d/da = e^a = out
def _exp_vjp(g: Any, out: Any, a: Any) -> tuple[Any]:
    return (g * out,)


EXP = _define("exp", np.exp, _exp_vjp, derivatives=("out",), domain="unary", syntax="{0}.exp()")
"""`x.exp()`: d/dx = e^x, the output itself."""


# log: ln a             d/da = 1/a
def _log_vjp(g: Any, out: Any, a: Any) -> tuple[Any]:
    return (g / a,)


LOG = _define("log", np.log, _log_vjp, derivatives=("1/a",), domain="positive", syntax="{0}.log()")
"""`x.log()`, the natural log: d/dx = 1/x."""


def _relu(x: Data) -> Data:
    return np.maximum(x, 0) if type(x) is np.ndarray else (type(x)(0) if x < 0 else x)


# relu: max(a, 0)       d/da = [a > 0]  (0 at the kink a = 0, as in PyTorch); the mask is a constant
def _relu_vjp(g: Any, out: Any, a: Any) -> tuple[Any]:
    return (g * (_data(a) > 0),)


RELU = _define("relu", _relu, _relu_vjp, derivatives=("1 if a > 0 else 0",), domain="kink_free",
               syntax="{0}.relu()")
"""`x.relu()` = max(x, 0): d/dx = 1 where x > 0, else 0 (0 at exactly 0)."""


# tanh: tanh a          d/da = 1 - tanh^2 a = 1 - out^2
def _tanh_vjp(g: Any, out: Any, a: Any) -> tuple[Any]:
    return (g * (1 - out * out),)


def _tanh(x: Data) -> Data:
    return math.tanh(x) if type(x) is float else np.tanh(x)


TANH = _define("tanh", _tanh, _tanh_vjp, derivatives=("1 - out**2",), domain="unary", syntax="{0}.tanh()")
"""`x.tanh()`: d/dx = 1 - out^2."""


def _sigmoid(x: Data) -> Data:
    z = np.exp(-np.abs(x))  # the two forms of 1 / (1 + e^-x), each where it cannot overflow
    y = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return y if type(x) is np.ndarray else type(x)(y)


# sigmoid: 1 / (1 + e^-a)   d/da = out (1 - out)
def _sigmoid_vjp(g: Any, out: Any, a: Any) -> tuple[Any]:
    return (g * (out * (1 - out)),)


SIGMOID = _define("sigmoid", _sigmoid, _sigmoid_vjp, derivatives=("out * (1 - out)",), domain="unary",
                  syntax="{0}.sigmoid()")
"""`x.sigmoid()` = 1 / (1 + e^-x): d/dx = out (1 - out)."""


def _reduction_attrs(axis: Any, keepdims: bool) -> dict[str, Any] | None:
    """A reduction's attributes; None at the defaults (all axes, dropped), which the backward
    loop then calls inline."""
    return None if axis is None and not keepdims else {"axis": axis, "keepdims": keepdims}


def _reduction_label(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda attrs: name if attrs.get("axis") is None else f"{name}(axis={attrs['axis']})"


def _sum(a: Data, axis: Any = None, keepdims: bool = False) -> Data:
    return _scalar(np.sum(a, axis=axis, keepdims=keepdims))


# sum over axis         d/da = 1, broadcast back over the reduced axes
def _sum_vjp(g: Any, out: Any, a: Any, axis: Any = None, keepdims: bool = False) -> tuple[Any]:
    shape = _shape_of(a)
    return (BROADCAST_TO.apply(RESHAPE.apply(g, shape=_keepdims_shape(shape, axis)), shape=shape),)


SUM = _define("sum", _sum, _sum_vjp, derivatives=("1",), label=_reduction_label("sum"), domain="reduce",
              syntax="{0}.sum({attrs})")
"""`x.sum(axis, keepdims)`: d sum / d x = 1 for every element summed."""


def _mean(a: Data, axis: Any = None, keepdims: bool = False) -> Data:
    return _scalar(np.mean(a, axis=axis, keepdims=keepdims))


# mean over axis        d/da = 1/n, n the number of elements averaged
def _mean_vjp(g: Any, out: Any, a: Any, axis: Any = None, keepdims: bool = False) -> tuple[Any]:
    shape = _shape_of(a)
    count = int(np.prod(shape)) // max(int(np.prod(_shape_of(out))), 1)
    return (BROADCAST_TO.apply(RESHAPE.apply(g, shape=_keepdims_shape(shape, axis)) / count, shape=shape),)


MEAN = _define("mean", _mean, _mean_vjp, derivatives=("1/n",), label=_reduction_label("mean"),
               domain="reduce", syntax="{0}.mean({attrs})")
"""`x.mean(axis, keepdims)`: d mean / d x = 1/n for each of the n elements averaged."""


def _max(a: Data, axis: Any = None, keepdims: bool = False) -> Data:
    return _scalar(np.max(a, axis=axis, keepdims=keepdims))


# max over axis         d/da = [a is the max], split evenly between exact ties (the mask is a constant)
def _max_vjp(g: Any, out: Any, a: Any, axis: Any = None, keepdims: bool = False) -> tuple[Any]:
    x = _data(a)
    kept = _keepdims_shape(np.shape(x), axis)
    mask = x == np.reshape(_data(out), kept)
    ties = mask.sum(axis=axis, keepdims=True, dtype=np.result_type(x))  # an int count would upcast
    return (mask * (RESHAPE.apply(g, shape=kept) / ties),)


MAX = _define("max", _max, _max_vjp, derivatives=("1 if a is the max else 0",), label=_reduction_label("max"),
              domain="reduce_tie_free", syntax="{0}.max({attrs})")
"""`x.max(axis, keepdims)`: d max / d x is 1 at the maximum, split evenly between exact ties."""


def _reshape(a: Data, shape: tuple[int, ...]) -> Data:
    return _scalar(np.reshape(a, shape))


# reshape               d/da: g reshaped back
def _reshape_vjp(g: Any, out: Any, a: Any, shape: tuple[int, ...]) -> tuple[Any]:
    return (RESHAPE.apply(g, shape=_shape_of(a)),)


RESHAPE = _define("reshape", _reshape, _reshape_vjp, derivatives=("1 (reshaped back)",), domain="reshape",
                  syntax="{0}.reshape({shape})")
"""`x.reshape(shape)`: the same elements in a new shape; its gradient is reshaped back."""


def _transpose(a: Data, axes: tuple[int, ...] | None = None) -> Data:
    return np.transpose(a, axes) if type(a) is np.ndarray else a


# transpose (axes permuted; None reverses them)   d/da: g permuted back
def _transpose_vjp(g: Any, out: Any, a: Any, axes: tuple[int, ...] | None = None) -> tuple[Any]:
    return (TRANSPOSE.apply(g, axes=None if axes is None else tuple(np.argsort(axes))),)


TRANSPOSE = _define("T", _transpose, _transpose_vjp, derivatives=("1 (permuted back)",),
                    label=lambda attrs: "T" if attrs.get("axes") is None else f"transpose{attrs['axes']}",
                    domain="transpose", syntax="{0}.transpose({axes})")
"""`x.T`, `x.transpose(axes)`: permutes the axes; its gradient is permuted back."""


def _broadcast(a: Data, shape: tuple[int, ...]) -> Data:
    return _scalar(np.broadcast_to(a, shape))


# broadcast_to: a repeated over new or size-1 axes      d/da: g summed back (sum_to)
def _broadcast_vjp(g: Any, out: Any, a: Any, shape: tuple[int, ...]) -> tuple[Any]:
    return (SUM_TO.apply(g, shape=_shape_of(a)),)


BROADCAST_TO = _define("broadcast_to", _broadcast, _broadcast_vjp, derivatives=("1 (summed back)",),
                       domain="broadcast_to", syntax="broadcast_to({0}, {shape})")
"""`broadcast_to(x, shape)`: NumPy broadcasting as an op; its gradient is summed back."""


def _sum_to(a: Data, shape: tuple[int, ...]) -> Data:
    if type(a) is not np.ndarray:
        return a
    return _unbroadcast(a, shape, a.dtype, "sum_to")


# sum_to: a summed over the axes broadcasting added (undoing broadcasting)    d/da: g broadcast back
def _sum_to_vjp(g: Any, out: Any, a: Any, shape: tuple[int, ...]) -> tuple[Any]:
    return (BROADCAST_TO.apply(g, shape=_shape_of(a)),)


SUM_TO = _define("sum_to", _sum_to, _sum_to_vjp, derivatives=("1 (broadcast back)",), domain="sum_to",
                 syntax="sum_to({0}, {shape})")
"""`sum_to(x, shape)`: sums x down to a shape it was broadcast from (the VJP of broadcasting)."""


def _getitem(a: Data, index: Any, basic: bool) -> Data:
    return _scalar(a[index])


# indexing              d/da: g scattered back into zeros (index_add)
def _getitem_vjp(g: Any, out: Any, a: Any, index: Any, basic: bool) -> tuple[Any]:
    return (INDEX_ADD.apply(g, index=index, basic=basic, shape=_shape_of(a)),)


GETITEM = _define("getitem", _getitem, _getitem_vjp, derivatives=("1 at the indexed elements",),
                  label=lambda attrs: f"[{_short(attrs['index'])}]", domain="index", syntax="{0}[{index}]")
"""`x[index]`: basic and integer-array indexing; its gradient adds into the indexed elements."""


def _index_add(g: Data, index: Any, basic: bool, shape: tuple[int, ...]) -> Data:
    grad = np.zeros(shape, dtype=np.result_type(g))
    if basic:
        grad[index] = g
    else:
        np.add.at(grad, index, g)  # repeated integer indices add up
    return _scalar(grad)


# index_add: zeros of `shape` with g added at `index`      d/dg: the upstream gradient indexed
def _index_add_vjp(g: Any, out: Any, a: Any, index: Any, basic: bool, shape: tuple[int, ...]) -> tuple[Any]:
    return (GETITEM.apply(g, index=index, basic=basic),)


INDEX_ADD = _define("index_add", _index_add, _index_add_vjp, derivatives=("1 at the indexed elements",),
                    label=lambda attrs: f"index_add[{_short(attrs['index'])}]")
"""`index_add(x, index, values)`: x with values added at index, repeats adding up (the VJP of indexing)."""


# Dual functions, for writing VJPs (as autograd.numpy is): a Value in gives a node, data gives data.
exp, log, relu, tanh, sigmoid = EXP.apply, LOG.apply, RELU.apply, TANH.apply, SIGMOID.apply


def broadcast_to(x: Operand, shape: Sequence[int]) -> Value:
    """``x`` repeated to ``shape`` by NumPy's broadcasting rules (its gradient sums back)."""
    x = as_value(x)
    shape = tuple(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return BROADCAST_TO(x, shape=shape)


def sum_to(x: Operand, shape: Sequence[int]) -> Value:
    """``x`` summed down to ``shape``, the inverse of broadcasting (its gradient broadcasts back)."""
    x = as_value(x)
    shape = tuple(shape)
    try:
        fits = np.broadcast_shapes(shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"sum_to: shape {x.shape} is not a broadcast of {shape}")
    return SUM_TO(x, shape=shape)


def _snapshot(index: Any) -> Any:
    """A copy of an advanced index, so changing the caller's index array can't move the gradient."""
    if type(index) is tuple:
        return tuple(_copied(item, np.array(item), np.array) if isinstance(item, (np.ndarray, list)) else item
                     for item in index)
    return _copied(index, np.array(index), np.array) if isinstance(index, (np.ndarray, list)) else index


def _is_basic_index(index: Any) -> bool:
    """True for ints, slices, None and Ellipsis: such an index never repeats an element."""
    items = index if type(index) is tuple else (index,)
    return all(
        item is None
        or item is Ellipsis
        or isinstance(item, slice)
        or (isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)))
        for item in items
    )


class Value:
    """A scalar or an array in a recorded computation graph.

    ``Value(data, name=None, requires_grad=True)``: ``data`` is a number, a (nested) list of
    numbers or a NumPy array, stored as float64 (float32 arrays stay float32). After
    ``loss.backward()``, ``v.grad`` holds d(loss)/d(v), shaped like ``v.data``.
    """

    __slots__ = (
        "__weakref__",
        "_attrs",
        "_grad",
        "_parents",
        "_primitive",
        "_vjp",
        "data",
        "name",
        "requires_grad",
    )
    __array_ufunc__ = None  # make `ndarray + Value` defer to Value.__radd__

    data: Data
    """The value itself: a float, a NumPy scalar or an ndarray (float64 unless made from float32)."""
    name: str | None
    """The name drawings and error messages show, or None (micrograd's `label` is the same attribute)."""
    requires_grad: bool
    """Whether `backward()` and `grad` compute a gradient for this value (False for constants).
    Set it before computing with the value, as in PyTorch: an op reads it when it is recorded (a
    product with `@` computes only the gradients its inputs asked for then). Switching it on later
    is not supported: ops recorded before may or may not pass the value a gradient."""
    _grad: Any
    _parents: tuple[Value, ...]
    _primitive: Primitive | None
    _attrs: dict[str, Any] | None
    _vjp: Callable[..., Sequence[Any]] | None  # the VJP the backward loop calls inline, if any

    def __init__(
        self, data: object, name: str | None = None, requires_grad: bool = True, *, label: str | None = None
    ):
        if isinstance(name, (tuple, list, set)):
            raise TypeError(
                "Value(data, children, op) is micrograd's internal constructor; here a new op is a "
                "Primitive(name, forward, vjp, derivatives=...), called on its inputs (see "
                "help(tinygrad_iris.Primitive) or the docs page 'Adding an op')"
            )
        if label is not None:  # micrograd's name for it
            name = label or None
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Value(name=...) must be a string or None, got {type(name).__name__}")
        _init_leaf(self, _as_data(data), name, bool(requires_grad))

    # ----- state ---------------------------------------------------------------------------
    @property
    def grad(self) -> Data:
        """d(root)/d(self) accumulated by `backward()`; zeros until then."""
        g = self._grad
        return _zeros(self.data) if g is None else g

    @grad.setter
    def grad(self, value: object) -> None:
        if value is None or (np.isscalar(value) and value == 0):
            self._grad = None
            return
        g = np.asarray(value, dtype=self.dtype)
        if g.shape != self.shape:
            raise ValueError(f"grad of shape {g.shape} does not match the value's shape {self.shape}")
        self._grad = g[()] if g.ndim == 0 else g

    @property
    def op(self) -> str:
        """The name of the op that made this value (``"*"``, ``"relu"``, ...); ``""`` for a leaf."""
        return self._primitive.name if self._primitive is not None else ""

    @property
    def primitive(self) -> Primitive | None:
        """The `Primitive` that made this value, or None for a leaf."""
        return self._primitive

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The values this one was computed from, in the op's order; ``()`` for a leaf."""
        return self._parents

    @property
    def attrs(self) -> dict[str, Any]:
        """The op's named attributes (axis, keepdims, exponent, index, ...): a copy."""
        return dict(self._attrs or {})

    # ----- micrograd's names, so its lecture code runs unchanged ----------------------------------
    @property
    def label(self) -> str:
        """micrograd's name for `name` ("" when there is none)."""
        return self.name or ""

    @label.setter
    def label(self, label: str | None) -> None:
        if label is not None and not isinstance(label, str):
            raise TypeError(f"label must be a string, got {type(label).__name__}")
        self.name = label or None

    @property
    def _prev(self) -> set[Value]:
        """micrograd's set of the inputs."""
        return set(self._parents)

    @property
    def _op(self) -> str:
        """micrograd's op symbol ("" on a leaf)."""
        return _op_label(self) if self._primitive is not None else ""

    def _backward(self) -> None:
        """micrograd's one step: add this node's ``.grad`` times its local derivative into its inputs'
        ``.grad`` (the same step `backward()` takes at this node)."""
        if self._primitive is not None and self._grad is not None:
            before = [parent._grad for parent in self._parents]
            try:
                _backprop([self], False, None)
            except BaseException:  # an anomaly: the inputs keep the gradients they had
                for parent, grad in zip(self._parents, before):
                    parent._grad = grad
                raise

    @property
    def shape(self) -> tuple[int, ...]:
        """The data's shape; () for a scalar."""
        return _shape(self.data)

    @property
    def ndim(self) -> int:
        """The number of axes: len(shape)."""
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        """The data's NumPy dtype (float64 for a Python float)."""
        return np.dtype(float) if type(self.data) is float else self.data.dtype

    def item(self) -> float:
        """The value as a Python float (size-1 values only)."""
        if np.size(self.data) != 1:
            raise ValueError(f"item() needs a value with one element, got shape {self.shape}")
        return float(np.reshape(self.data, ()))

    def __float__(self) -> float:
        return self.item()

    def detach(self) -> Value:
        """The same data, cut from the graph (``requires_grad=False``)."""
        return as_value(self.data)

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name else ""
        if type(self.data) is not np.ndarray:  # + 0.0: never -0.0
            return f"Value(data={float(self.data) + 0.0!r}, grad={float(self.grad) + 0.0!r}{name})"
        preview = np.array2string(self.data + 0.0, precision=4, threshold=12, separator=", ")  # no -0.
        return f"Value(shape={self.shape}, dtype={self.dtype}{name}, data={preview})"

    # ----- arithmetic ----------------------------------------------------------------------
    __add__, __radd__ = _binary_method(ADD)
    __sub__, __rsub__ = _binary_method(SUB)
    __mul__, __rmul__ = _binary_method(MUL)
    __truediv__, __rtruediv__ = _binary_method(DIV)
    __matmul__, __rmatmul__ = _binary_method(MATMUL)

    def __neg__(self) -> Value:
        return _record(-self.data, (self,), NEG, None)

    def __pow__(self, exponent: float) -> Value:
        """x ** p for a number p; NumPy's rules: negative x to a fractional p is NaN, 0 to a
        negative p is inf, each with NumPy's warning (and so is the gradient of 0 ** p, p < 1)."""
        if isinstance(exponent, (bool, np.bool_)) or not isinstance(exponent, (int, float, np.number)):
            raise TypeError(
                f"**: the exponent must be a number, got {type(exponent).__name__} "
                "(gradients with respect to the exponent are not supported)"
            )
        p = exponent if type(exponent) in (int, float) else float(exponent)
        return _record(_power(self.data, p), (self,), POW, {"exponent": p})

    def exp(self) -> Value:
        """e^x; beyond x = 709.78 (88.72 in float32) it overflows to inf, with NumPy's warning."""
        return _record(np.exp(self.data), (self,), EXP, None)

    def log(self) -> Value:
        """Natural log; log of a negative number is NaN, log 0 is -inf (NumPy's rules, with its warning)."""
        return _record(np.log(self.data), (self,), LOG, None)

    def relu(self) -> Value:
        """max(x, 0); its gradient at exactly 0 is taken as 0."""
        return _record(_relu(self.data), (self,), RELU, None)

    def tanh(self) -> Value:
        """tanh x = (e^2x - 1) / (e^2x + 1), in (-1, 1); d/dx = 1 - tanh^2 x."""
        return _record(_tanh(self.data), (self,), TANH, None)

    def sigmoid(self) -> Value:
        """1 / (1 + e^-x), in (0, 1), without overflow for large |x|; d/dx = s (1 - s)."""
        return _record(_sigmoid(self.data), (self,), SIGMOID, None)

    # ----- reductions and shape ----------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """The sum over ``axis`` (all axes when None), as NumPy's; its gradient is 1 for every element
        summed."""
        return _record(_sum(self.data, axis, keepdims), (self,), SUM, _reduction_attrs(axis, keepdims))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """The mean over ``axis`` (all axes when None), as NumPy's; its gradient is 1/n for each of the n
        elements."""
        return _record(_mean(self.data, axis, keepdims), (self,), MEAN, _reduction_attrs(axis, keepdims))

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Maximum; the gradient goes to the arg-max (split evenly between exact ties)."""
        return _record(_max(self.data, axis, keepdims), (self,), MAX, _reduction_attrs(axis, keepdims))

    def reshape(self, *shape: int | tuple[int, ...]) -> Value:
        """The same elements in a new shape (``x.reshape(2, 3)`` or ``x.reshape((2, 3))``); the gradient is
        reshaped back."""
        target = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            data = np.reshape(self.data, target)  # type: ignore[type-var]
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {self.shape} into {tuple(target)}") from None
        return _record(_scalar(data), (self,), RESHAPE, {"shape": data.shape})

    @property
    def T(self) -> Value:
        """The transpose (axes reversed); a scalar is its own transpose."""
        return _record(_transpose(self.data), (self,), TRANSPOSE, {"axes": None})

    def transpose(self, *axes: int) -> Value:
        """The axes permuted as ``axes`` says (NumPy's ``transpose``); no axes reverses them."""
        order = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if not order:
            return self.T
        try:
            data = np.transpose(self.data, order)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"transpose: axes {tuple(order)} do not fit shape {self.shape} ({err})"
            ) from None
        return _record(data, (self,), TRANSPOSE, {"axes": tuple(int(a) % self.ndim for a in order)})

    def swapaxes(self, axis1: int, axis2: int) -> Value:
        """Two axes exchanged (NumPy's ``swapaxes``)."""
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(*axes)

    def __getitem__(self, index: Any) -> Value:
        if isinstance(index, Value) or (type(index) is tuple and any(isinstance(i, Value) for i in index)):
            raise TypeError("indexing: use integers, slices or integer arrays, not a Value")
        try:
            data = self.data[index]
        except (IndexError, TypeError) as err:
            raise type(err)(
                f"indexing: index {index!r} is not valid for shape {self.shape} ({err})"
            ) from None
        basic = _is_basic_index(index)
        attrs = {"index": index if basic else _snapshot(index), "basic": basic}
        return _record(_scalar(data), (self,), GETITEM, attrs)

    def __iter__(self) -> Iterator[Value]:
        if type(self.data) is not np.ndarray:
            raise TypeError("iteration over a scalar Value")
        return (self[i] for i in range(self.shape[0]))

    # ----- reverse mode --------------------------------------------------------------------
    def backward(self, gradient: object = None, *, on_step: StepHook | None = None) -> None:
        """Add d(self)/d(node) to ``node.grad`` for every node of the graph behind ``self``.

        ``gradient`` is the upstream gradient (required unless ``self`` is a scalar). Like
        PyTorch, a second call accumulates: gradients add up until `zero_grad()`.
        ``on_step(node, upstream, added)``, if given, is called after each node is processed, in
        the engine's order: ``added`` holds what went into each input's ``.grad`` (None where
        nothing did), and every ``.grad`` already includes it (`tinygrad_iris.steps` uses it).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this value does not require a gradient (it was made under "
                "no_grad(), from constants only, or by detach())"
            )
        seed = _seed(self, gradient, "backward()", "gradient")
        if not self._parents:  # a leaf: d self/d self is the seed itself
            self._grad = seed if self._grad is None else self._grad + seed
            return
        earlier: list[tuple[Value, Any]] = []
        try:
            order = _inner_nodes(self, earlier)
            self._grad = seed
            _backprop(order, False, on_step)
            for node, grad in earlier:
                node._grad = grad + node._grad
        except BaseException:  # an anomaly or Ctrl-C half-way: leave every .grad as it was
            self.zero_grad()
            for node, grad in earlier:
                node._grad = grad
            raise

    def zero_grad(self) -> None:
        """Reset ``.grad`` of every node in the graph behind this value (itself included)."""
        for node in toposort(self):
            node._grad = None


StepHook = Callable[[Value, Any, tuple[Any, ...]], None]
"""A function called as hook(node, upstream, gradients) for each node `backward()` processes (see
steps.record_backward)."""


def _seed(root: Value, gradient: object, caller: str, argument: str) -> Data:
    """The upstream gradient of ``root``: ones for a scalar, else ``gradient`` checked and copied."""
    if gradient is None:
        if type(root.data) is np.ndarray:  # anything else is a (NumPy) scalar
            raise ValueError(
                f"{caller}: the output has shape {root.shape}; pass {argument}= an array of "
                "that shape, or reduce it to a scalar first (e.g. .sum())"
            )
        return _ones(root.data)
    if type(gradient) is Value:
        gradient = gradient.data
    try:
        given = np.asarray(gradient)
    except ValueError as err:  # a ragged list
        raise ValueError(f"{caller}: {argument} is not an array of numbers ({err})") from None
    wrong = TypeError(
        f"{caller}: {argument} must be a real number, an array of them or a Value, "
        f"got {type(gradient).__name__}" + (f" of dtype {given.dtype}" if given.dtype != object else "")
    )
    if given.dtype.kind not in "biufO":  # a string, complex numbers: the wrong kind
        raise wrong
    try:  # objects that are numbers (a list of scalar Values, say) convert; a dict does not
        seed = np.array(given, dtype=root.dtype)  # a copy: the caller keeps theirs
    except (TypeError, ValueError):
        raise wrong from None
    if seed.shape != root.shape:
        raise ValueError(
            f"{caller}: {argument} of shape {seed.shape} does not match the output's shape {root.shape}"
        )
    if _state.anomaly and not np.all(np.isfinite(seed)):
        raise FloatingPointError(f"anomaly: the gradient passed to {caller} is not finite")
    return seed[()] if seed.ndim == 0 else seed


_EMIT = object()  # on the traversal stack: the node below it has all its inputs ordered
_NO_ATTRS: dict[str, Any] = {}


def toposort(root: Value) -> list[Value]:
    """Every node behind ``root`` (itself included), each after all of its inputs.

    Iterative depth-first post-order, inputs visited in the order the op took them, so the same
    graph always gives the same order and graphs of any depth work. This is the one walk over
    graphs: backward, zero_grad, grad, the renderer, the step recorder and the fuzzer all use it.
    """
    return _walk(root, True, [])


def _inner_nodes(root: Value, earlier: list[tuple[Value, Any]]) -> list[Value]:
    """The recorded nodes behind ``root``, ordered; the gradients already on the graph taken off.

    They are returned in ``earlier``: the pass computes fresh ones and adds them back at the
    end, or restores them if it fails half-way.
    """
    return _walk(root, False, earlier)


def _walk(root: Value, leaves: bool, stash: list[tuple[Value, Any]]) -> list[Value]:
    """toposort; or, without ``leaves`` (and for a root that an op made), the recorded nodes only,
    with the gradients found on the graph moved into ``stash``."""
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Any] = [root]
    push, pop, emit, visit = stack.append, stack.pop, order.append, visited.add
    while stack:
        node = pop()
        if node is _EMIT:
            emit(pop())
            continue
        if node in visited:  # an input of several consumers, pushed by each: it was emitted already
            continue
        visit(node)
        if leaves:
            if node._parents:
                push(node)
                push(_EMIT)
                for parent in reversed(node._parents):  # pushed last-first: popped in the op's order
                    push(parent)
            else:
                emit(node)
            continue
        if node._grad is not None:
            stash.append((node, node._grad))
            node._grad = None
        push(node)
        push(_EMIT)
        for parent in node._parents:
            if parent._parents:
                push(parent)
            elif parent._grad is not None and parent.requires_grad:
                stash.append((parent, parent._grad))
                parent._grad = None
    return order


def _backprop(order: list[Value], create_graph: bool, on_step: StepHook | None) -> None:
    """The reverse pass over ``order`` (the root last, its ``_grad`` seeded): each node's VJP,
    broadcasting undone, the parts of a reused node's gradient added up. On data, or, with
    ``create_graph``, on the graph's own nodes, so that every step is itself recorded."""
    anomaly = _state.anomaly
    watched = anomaly or on_step is not None
    ndarray = np.ndarray  # a local: this loop runs once per edge of the graph
    for node in reversed(order):
        g = node._grad
        parents = node._parents
        vjp: Any = node._vjp
        try:
            # inline, the common cases: first order, two inputs and no attributes, or one input
            attrs = node._attrs
            if create_graph:
                grads = _vjp(node, g, True)
            elif len(parents) == 2 and attrs is None:
                a, b = parents
                grads = vjp(g, node.data, a.data, b.data)
            elif len(parents) == 1:
                if attrs is None:
                    grads = vjp(g, node.data, parents[0].data)
                else:
                    grads = vjp(g, node.data, parents[0].data, **attrs)
            else:
                grads = _vjp(node, g, False)
        except ZeroDivisionError:  # a plain-float zero divisor: NumPy semantics instead
            grads = _vjp(node, np.float64(g), create_graph)
        for parent, pg in zip(parents, grads):
            if parent.requires_grad and pg is not None:
                if type(pg) is ndarray:
                    pd = parent.data
                    if type(pd) is not ndarray or pd.shape != pg.shape or pd.dtype is not pg.dtype:
                        pg = _unbroadcast(pg, _shape(pd), parent.dtype, node.op)
                    elif not parent._parents:  # a leaf's .grad is the user's: its own array
                        pg = pg.copy()
                current = parent._grad
                parent._grad = pg if current is None else current + pg
        if watched:  # one test per node for both: the checks can follow the sums (a failure undoes them)
            if anomaly:
                _anomaly_check_step(node, grads)
            if on_step is not None:
                on_step(node, g, _added(node, grads))


def _vjp(node: Value, g: Any, create_graph: bool) -> Sequence[Any]:
    """``node``'s VJP in general: any number of inputs, on data, or on Values (then each gradient
    is a node, summed back to its input's shape where it was broadcast)."""
    parents = node._parents
    vjp: Any = node._vjp
    attrs = node._attrs or _NO_ATTRS
    if create_graph:
        return _gradient_nodes(vjp(g, node, *parents, **attrs), parents)
    return vjp(g, node.data, *map(_get_data, parents), **attrs)


_get_data = operator.attrgetter("data")


def _gradient_nodes(grads: Sequence[Any], parents: tuple[Value, ...]) -> list[Any]:
    """Recorded gradients: Values, each summed back to its input's shape where it was broadcast."""
    nodes: list[Any] = []
    for pg, parent in zip(grads, parents):
        if pg is not None:
            pg = pg if type(pg) is Value else as_value(pg)
            if pg.shape != parent.shape:
                pg = SUM_TO(pg, shape=parent.shape)
        nodes.append(pg)
    return nodes


def _added(node: Value, grads: Sequence[Any]) -> tuple[Any, ...]:
    """What the backward loop added to each input's gradient (None: nothing), for ``on_step``:
    the same deterministic `_unbroadcast`, so the same bits."""
    added = []
    for parent, pg in zip(node._parents, grads):
        if not parent.requires_grad or pg is None:
            pg = None
        elif type(pg) is np.ndarray and (type(parent.data) is not np.ndarray or parent.shape != pg.shape
                                         or parent.dtype is not pg.dtype):
            pg = _unbroadcast(pg, parent.shape, parent.dtype, node.op)
        added.append(pg)
    return tuple(added)


def _as_list(x: Any, what: str) -> list[Value]:
    items = [x] if isinstance(x, Value) else list(x) if isinstance(x, (list, tuple)) else None
    if items is None or not items:
        raise TypeError(
            f"grad(): {what} must be a Value or a non-empty list of Values, got {type(x).__name__}"
        )
    for k, item in enumerate(items):
        if not isinstance(item, Value):
            raise TypeError(f"grad(): {what}[{k}] must be a Value, got {type(item).__name__}")
    return items


def grad(
    outputs: Value | Sequence[Value],
    inputs: Value | Sequence[Value],
    grad_outputs: Any = None,
    create_graph: bool = False,
) -> tuple[Value, ...]:
    """d(outputs)/d(inputs), one `Value` per input, as ``torch.autograd.grad``; no ``.grad`` changes.

    ``grad_outputs`` is the upstream gradient of each output (needed for non-scalar outputs; by
    default ones for a scalar): the result is sum_k d<grad_outputs_k, outputs_k>/d input. An input
    the outputs do not depend on gets zeros of its shape (as in JAX). With ``create_graph=True``
    the backward pass is itself recorded, so the results differentiate again, to any order:
    ``grad(grad(f(x), x, create_graph=True)[0], x)`` is f''(x) for a scalar x.
    """
    outs = _as_list(outputs, "outputs")
    ins = _as_list(inputs, "inputs")
    if grad_outputs is None:
        upstream: list[Any] = [None] * len(outs)
    else:
        upstream = [grad_outputs] if isinstance(outputs, Value) else list(grad_outputs)
        if len(upstream) != len(outs):
            raise ValueError(f"grad(): {len(outs)} output(s) but {len(upstream)} grad_outputs")
    results: list[Any] = [None] * len(ins)
    for k, (out, u) in enumerate(zip(outs, upstream)):
        which = "grad_outputs" if len(outs) == 1 else f"grad_outputs[{k}]"
        seed: Any = _seed(out, u, "grad()", which)
        if create_graph:
            seed = u if type(u) is Value and u.shape == out.shape else as_value(seed)
        if out.requires_grad:
            for i, g in enumerate(_gradients(out, seed, ins, create_graph)):
                if g is not None:
                    results[i] = g if results[i] is None else results[i] + g
    return tuple(
        (g if type(g) is Value else as_value(g)) if g is not None else as_value(_zeros(x.data))
        for g, x in zip(results, ins)
    )


def _gradients(root: Value, seed: Any, inputs: list[Value], create_graph: bool) -> list[Any]:
    """One reverse pass from ``root``; the inputs' gradients (None: not reached). Every ``.grad``
    on the graph is the same afterwards as before."""
    earlier: list[tuple[Value, Any]] = []
    if root._parents:
        order = _inner_nodes(root, earlier)
    else:  # a leaf: its gradient is the seed
        order = []
        if root._grad is not None:
            earlier.append((root, root._grad))
    reached = {root, *order}
    for node in order:
        reached.update(p for p in node._parents if p.requires_grad)
    try:
        root._grad = seed
        _backprop(order, create_graph, None)
        return [x._grad if x in reached else None for x in inputs]
    finally:
        for node in reached:
            node._grad = None
        for node, g in earlier:
            node._grad = g


# ----- anomaly mode (active only inside detect_anomaly()) ----------------------------------------
_created_at: weakref.WeakKeyDictionary[Value, str] = weakref.WeakKeyDictionary()
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frame() -> str:
    """The innermost stack frame outside this package: the user's line that made the node."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _op_label(node: Value) -> str:
    """The op as error messages name it: its name, with its attributes where its label shows them."""
    primitive = node._primitive
    if primitive is None:
        return "leaf"
    return primitive.name if isinstance(primitive.label, str) else primitive.describe(node._attrs)


def _anomaly_check_forward(out: Value, parents: tuple[Value, ...]) -> None:
    site = _user_frame()
    _created_at[out] = site
    if not np.all(np.isfinite(out.data)):
        shapes = ", ".join(str(p.shape) for p in parents)
        raise FloatingPointError(
            f"anomaly: op '{_op_label(out)}' on inputs of shapes {shapes} produced a non-finite "
            f"value; the node was created at {site}"
        )


def _anomaly_check_sum(node: Value) -> None:
    """The gradient of ``node`` after a step added a part to it: did the sum overflow?"""
    if not np.all(np.isfinite(_data(node._grad))):
        if not node._parents:
            what = f"leaf {node.name}" if node.name else "a leaf"
            raise FloatingPointError(
                f"anomaly: the gradients reaching {what} (shape {node.shape}) overflowed when added up"
            )
        site = _created_at.get(node, "<created outside detect_anomaly()>")
        raise FloatingPointError(
            f"anomaly: the gradients reaching the output of op '{_op_label(node)}' (shape {node.shape}) "
            f"overflowed when added up; the node was created at {site}"
        )


def _anomaly_check_backward(node: Value, grads: Sequence[Any]) -> None:
    for pg in grads:
        if pg is not None and not np.all(np.isfinite(_data(pg))):
            shapes = ", ".join(str(p.shape) for p in node._parents)
            site = _created_at.get(node, "<created outside detect_anomaly()>")
            raise FloatingPointError(
                f"anomaly: the backward of op '{_op_label(node)}' (inputs of shapes {shapes}) produced "
                f"a non-finite gradient; the node was created at {site}"
            )


def _anomaly_check_step(node: Value, grads: Sequence[Any]) -> None:
    """After ``node``'s step: its VJP's gradients finite, then its inputs' running sums (a sum of
    finite parts that is not finite overflowed)."""
    _anomaly_check_backward(node, grads)
    for parent, pg in zip(node._parents, grads):
        if parent.requires_grad and pg is not None:  # the inputs this step added to, as the loop
            _anomaly_check_sum(parent)


# ----- tracing (tinygrad_iris.compiled): the one switch, off the hot path ------------------------------
def _swap(name: str, function: Any) -> Any:
    """Install ``function`` as the engine's `_record`, `_backprop` or `_copied`; return the one it
    replaces.

    Every op records through `_record`, every reverse pass runs `_backprop`, and every op that copies
    an integer array it was given (targets, an index) reports it to `_copied`, each looked up by name
    when called: the tracer of `tinygrad_iris.compile` swaps in its own for one call, so ops cost
    nothing extra while no one traces.
    """
    if name not in ("_record", "_backprop", "_copied"):
        raise ValueError(f"_swap: the engine swaps _record, _backprop or _copied, not {name!r}")
    previous = globals()[name]
    globals()[name] = function
    return previous


def _copied(source: Any, copy: Any, remake: Callable[..., Any], *args: Any) -> Any:
    """``copy``, an op's own copy of an integer array it was given (an index, targets), which is
    ``remake(source, *args)``: returned as it is. The tracer swaps in its own, which notes where
    each copy came from: an op then uses an integer argument of a compiled function if its copy
    is of that very array (not one that merely holds the same values)."""
    return copy
