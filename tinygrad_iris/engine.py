"""The autodiff engine: `Value`, its primitive ops and reverse-mode `backward()`.

Every primitive is a forward computation plus a vector-Jacobian product (VJP): a plain
module-level function ``vjp(g, out) -> tuple of gradients, one per parent``. Nodes keep a
reference to that function, never a closure, so a graph holds no reference cycles and is freed
by reference counting as soon as the user drops the loss.

Broadcasting is undone in exactly one place, the backward loop (`_unbroadcast`), so no VJP
has to care about it. Scalars are held as plain floats (or NumPy scalars), arrays as
``np.ndarray``; both go through the same code.
"""

from __future__ import annotations

import functools
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
VJP = Callable[[Any, "Value"], Sequence[Any]]
Operand = Union["Value", float, int, np.ndarray, Sequence[Any]]

__all__ = ["Value", "as_value", "detect_anomaly", "is_grad_enabled", "no_grad", "record"]


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
    if isinstance(data, (bool, int, float, np.number)) and not isinstance(data, np.complexfloating):
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


def _seed(data: Data) -> Data:
    return np.ones_like(data) if type(data) is np.ndarray else type(data)(1)


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


def record(data: Data, parents: tuple[Value, ...], vjp: VJP, op: str, ctx: Any = None) -> Value:
    """Create the output node of a primitive: ``data`` computed from ``parents``.

    ``vjp(g, out)`` must return one gradient per parent (shaped like ``out``; broadcasting is
    undone by the engine), or None for a parent that does not require a gradient. This is the
    hook for defining new primitives, as `defvjp` is in HIPS autograd.
    """
    out = _new(Value)
    out.data = data
    out._grad = None
    out.name = None
    out.op = op
    plain = _all_plain or _state.plain
    if plain or _state.grad_enabled:
        for parent in parents:
            if parent.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._vjp = vjp
                out._ctx = ctx
                if not plain:  # recording with anomaly mode on
                    _anomaly_check_forward(out, parents)
                return out
    out.requires_grad = False
    out._parents = ()
    out._vjp = None
    out._ctx = None
    if not plain and _state.anomaly:
        _anomaly_check_forward(out, parents)
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
    leaf._vjp = None
    leaf._ctx = None
    leaf.op = ""
    leaf.name = name
    leaf.requires_grad = requires_grad


BinaryMethod = Callable[["Value", Operand], "Value"]


def _binary_op(forward: Callable[[Any, Any], Any], vjp: VJP, op: str) -> tuple[BinaryMethod, BinaryMethod]:
    """The methods for ``a op b`` and for its reflection (``b op a`` where b is no Value)."""

    def method(a: Value, b: Operand) -> Value:
        if type(b) is not Value:
            b = as_value(b)
        try:
            data = forward(a.data, b.data)
        except ZeroDivisionError:  # plain floats: follow NumPy (inf, nan), not Python
            data = forward(np.float64(a.data), b.data)
        except ValueError as err:
            raise ValueError(f"{op}: cannot combine shapes {a.shape} and {b.shape} ({err})") from None
        return record(data, (a, b), vjp, op)

    def reflected(b: Value, a: Operand) -> Value:
        return method(as_value(a), b)

    return method, reflected


# ----- the VJPs, each next to nothing but the forward it differentiates -----------------------
# add: a + b                 d/da = 1, d/db = 1
def _add_vjp(g: Any, out: Value) -> tuple[Any, Any]:
    return g, g


# sub: a - b                 d/da = 1, d/db = -1
def _sub_vjp(g: Any, out: Value) -> tuple[Any, Any]:
    return g, -g


# mul: a * b                 d/da = b, d/db = a
def _mul_vjp(g: Any, out: Value) -> tuple[Any, Any]:
    a, b = out._parents
    return g * b.data, g * a.data


# div: a / b                 d/da = 1/b, d/db = -a/b^2 = -out/b
def _div_vjp(g: Any, out: Value) -> tuple[Any, Any]:
    b = out._parents[1].data
    return g / b, -g * out.data / b


# matmul: a @ b (1-D operands act as a row / column vector, batch dims broadcast)
def _matmul_vjp(g: Any, out: Value) -> tuple[Any, Any]:
    a, b = out._parents
    x, y = a.data, b.data
    if x.ndim == 1 and y.ndim == 1:
        return g * y, g * x
    if x.ndim == 1:  # (k) @ (..., k, n) -> (..., n)
        ga = (y @ g[..., None])[..., 0] if a.requires_grad else None
        gb = x[:, None] * g[..., None, :] if b.requires_grad else None
    elif y.ndim == 1:  # (..., m, k) @ (k) -> (..., m)
        ga = g[..., None] * y if a.requires_grad else None
        gb = (x.swapaxes(-1, -2) @ g[..., None])[..., 0] if b.requires_grad else None
    else:
        ga = g @ y.swapaxes(-1, -2) if a.requires_grad else None
        gb = x.swapaxes(-1, -2) @ g if b.requires_grad else None
    return ga, gb


def _neg_vjp(g: Any, out: Value) -> tuple[Any]:
    return (-g,)


# pow: a ** p (p a number)   d/da = p * a^(p-1), and 0 for p = 0 (even at a = 0, where a^-1 is inf)
def _pow_vjp(g: Any, out: Value) -> tuple[Any]:
    p = out._ctx
    if p == 0:
        return (g * 0,)
    return (g * p * _power(out._parents[0].data, p - 1),)


# exp: e^a                   d/da = e^a = out
def _exp_vjp(g: Any, out: Value) -> tuple[Any]:
    return (g * out.data,)


# log: ln a                  d/da = 1/a
def _log_vjp(g: Any, out: Value) -> tuple[Any]:
    return (g / out._parents[0].data,)


# relu: max(a, 0)            d/da = [a > 0]  (0 at the kink a = 0, as in PyTorch)
def _relu_vjp(g: Any, out: Value) -> tuple[Any]:
    return (g * (out._parents[0].data > 0),)


def _expand_reduced(g: Any, axis: Any, keepdims: bool) -> Any:
    return g if keepdims or axis is None else np.expand_dims(g, axis)


# sum over axis              d/da = 1, broadcast back over the reduced axes
def _sum_vjp(g: Any, out: Value) -> tuple[Any]:
    axis, keepdims = out._ctx
    return (np.broadcast_to(_expand_reduced(g, axis, keepdims), out._parents[0].shape),)


# mean over axis             d/da = 1/n
def _mean_vjp(g: Any, out: Value) -> tuple[Any]:
    axis, keepdims, count = out._ctx
    return (np.broadcast_to(_expand_reduced(g, axis, keepdims) / count, out._parents[0].shape),)


# max over axis              d/da = [a is the max], split evenly between exact ties
def _max_vjp(g: Any, out: Value) -> tuple[Any]:
    axis, keepdims = out._ctx
    x = out._parents[0].data
    mask = x == _expand_reduced(out.data, axis, keepdims)
    ties = mask.sum(axis=axis, keepdims=True, dtype=out.dtype)  # an int count would upcast float32
    share = _expand_reduced(g, axis, keepdims) / ties
    return (mask * share,)


def _reshape_vjp(g: Any, out: Value) -> tuple[Any]:
    return (np.reshape(g, out._parents[0].shape),)


def _transpose_vjp(g: Any, out: Value) -> tuple[Any]:
    return (np.transpose(g),)


# indexing: scatter g back; np.add.at sums repeated integer indices
def _getitem_vjp(g: Any, out: Value) -> tuple[Any]:
    index, basic = out._ctx
    grad = np.zeros_like(out._parents[0].data)
    if basic:
        grad[index] = g
    else:
        np.add.at(grad, index, g)
    return (grad,)


def _snapshot(index: Any) -> Any:
    """A copy of an advanced index, so changing the caller's index array can't move the gradient."""
    if type(index) is tuple:
        return tuple(np.array(item) if isinstance(item, (np.ndarray, list)) else item for item in index)
    return np.array(index) if isinstance(index, (np.ndarray, list)) else index


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
        "_ctx",
        "_grad",
        "_parents",
        "_vjp",
        "data",
        "name",
        "op",
        "requires_grad",
    )
    __array_ufunc__ = None  # make `ndarray + Value` defer to Value.__radd__

    data: Data
    _grad: Any
    _parents: tuple[Value, ...]
    _vjp: VJP | None
    _ctx: Any
    op: str
    name: str | None
    requires_grad: bool

    def __init__(self, data: object, name: str | None = None, requires_grad: bool = True):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Value(name=...) must be a string or None, got {type(name).__name__}")
        _init_leaf(self, _as_data(data), name, bool(requires_grad))

    # ----- state ---------------------------------------------------------------------------
    @property
    def grad(self) -> Data:
        """d(root)/d(self) accumulated by `backward()`; zeros until then."""
        g = self._grad
        if g is not None:
            return g
        d = self.data
        return np.zeros_like(d) if type(d) is np.ndarray else type(d)(0)

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
    def shape(self) -> tuple[int, ...]:
        return _shape(self.data)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
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
        if type(self.data) is not np.ndarray:
            return f"Value(data={float(self.data)!r}, grad={float(self.grad)!r}{name})"
        preview = np.array2string(self.data, precision=4, threshold=12, separator=", ")
        return f"Value(shape={self.shape}, dtype={self.dtype}{name}, data={preview})"

    # ----- arithmetic ----------------------------------------------------------------------
    # one frame per op: these methods are generated, not wrappers around a shared helper
    __add__, __radd__ = _binary_op(operator.add, _add_vjp, "+")
    __sub__, __rsub__ = _binary_op(operator.sub, _sub_vjp, "-")
    __mul__, __rmul__ = _binary_op(operator.mul, _mul_vjp, "*")
    __truediv__, __rtruediv__ = _binary_op(operator.truediv, _div_vjp, "/")
    __matmul__, __rmatmul__ = _binary_op(operator.matmul, _matmul_vjp, "@")

    def __neg__(self) -> Value:
        return record(-self.data, (self,), _neg_vjp, "neg")

    def __pow__(self, exponent: float) -> Value:
        """x ** p for a number p; NumPy's rules: negative x to a fractional p is NaN, 0 to a
        negative p is inf, each with NumPy's warning (and so is the gradient of 0 ** p, p < 1)."""
        if isinstance(exponent, (bool, np.bool_)) or not isinstance(exponent, (int, float, np.number)):
            raise TypeError(
                f"**: the exponent must be a number, got {type(exponent).__name__} "
                "(gradients with respect to the exponent are not supported)"
            )
        p = exponent if type(exponent) in (int, float) else float(exponent)
        return record(_power(self.data, p), (self,), _pow_vjp, f"**{p}", p)

    def exp(self) -> Value:
        """e^x; beyond x = 709.78 (88.72 in float32) it overflows to inf, with NumPy's warning."""
        return record(np.exp(self.data), (self,), _exp_vjp, "exp")

    def log(self) -> Value:
        """Natural log; log of a negative number is NaN, log 0 is -inf (NumPy's rules, with its warning)."""
        return record(np.log(self.data), (self,), _log_vjp, "log")

    def relu(self) -> Value:
        """max(x, 0); its gradient at exactly 0 is taken as 0."""
        x = self.data
        y = np.maximum(x, 0) if type(x) is np.ndarray else (type(x)(0) if x < 0 else x)
        return record(y, (self,), _relu_vjp, "relu")

    # ----- reductions and shape ----------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        data = np.sum(self.data, axis=axis, keepdims=keepdims)
        return record(data, (self,), _sum_vjp, "sum", (axis, keepdims))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        data = np.mean(self.data, axis=axis, keepdims=keepdims)
        count = np.size(self.data) // max(np.size(data), 1)
        return record(data, (self,), _mean_vjp, "mean", (axis, keepdims, count))

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        """Maximum; the gradient goes to the arg-max (split evenly between exact ties)."""
        data = np.max(self.data, axis=axis, keepdims=keepdims)
        return record(data, (self,), _max_vjp, "max", (axis, keepdims))

    def reshape(self, *shape: int | tuple[int, ...]) -> Value:
        target = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            data = np.reshape(self.data, target)  # type: ignore[type-var]
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {self.shape} into {tuple(target)}") from None
        if data.ndim == 0:  # a scalar, held as one like every other scalar
            data = data[()]
        return record(data, (self,), _reshape_vjp, "reshape")

    @property
    def T(self) -> Value:
        """The transpose (axes reversed); a scalar is its own transpose."""
        data = self.data
        return record(np.transpose(data) if type(data) is np.ndarray else data, (self,), _transpose_vjp, "T")

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
        return record(data, (self,), _getitem_vjp, "getitem", (index if basic else _snapshot(index), basic))

    def __iter__(self) -> Iterator[Value]:
        if type(self.data) is not np.ndarray:
            raise TypeError("iteration over a scalar Value")
        return (self[i] for i in range(self.shape[0]))

    # ----- reverse mode --------------------------------------------------------------------
    def backward(self, gradient: object = None) -> None:
        """Add d(self)/d(node) to ``node.grad`` for every node of the graph behind ``self``.

        ``gradient`` is the upstream gradient (required unless ``self`` is a scalar). Like
        PyTorch, a second call accumulates: gradients add up until `zero_grad()`.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this value does not require a gradient (it was made under "
                "no_grad(), from constants only, or by detach())"
            )
        if gradient is None:
            if type(self.data) is np.ndarray:  # anything else is a (NumPy) scalar
                raise ValueError(
                    f"backward(): the value has shape {self.shape}; pass gradient= an array of "
                    "that shape, or reduce it to a scalar first (e.g. .sum())"
                )
            seed = _seed(self.data)
        else:
            seed = np.array(gradient, dtype=self.dtype)  # a copy: the caller keeps theirs
            if seed.shape != self.shape:
                raise ValueError(
                    f"backward(): gradient of shape {seed.shape} does not match the value's "
                    f"shape {self.shape}"
                )
            seed = seed[()] if seed.ndim == 0 else seed
        if not self._parents:  # a leaf: d self/d self is the seed itself
            self._grad = seed if self._grad is None else self._grad + seed
            return
        earlier: list[tuple[Value, Any]] = []
        anomaly = _state.anomaly
        ndarray = np.ndarray  # a local: this loop runs once per edge of the graph
        try:
            order = _inner_nodes(self, earlier)
            self._grad = seed
            if anomaly and not np.all(np.isfinite(seed)):
                raise FloatingPointError("anomaly: the gradient passed to backward() is not finite")
            for node in reversed(order):  # every node after all of its consumers
                g = node._grad
                try:
                    grads = node._vjp(g, node)  # type: ignore[misc]
                except ZeroDivisionError:  # a plain-float zero divisor: NumPy semantics instead
                    grads = node._vjp(np.float64(g), node)  # type: ignore[misc]
                if anomaly:
                    _anomaly_check_backward(node, grads)
                for parent, pg in zip(node._parents, grads):
                    if parent.requires_grad:
                        if type(pg) is ndarray:
                            pd = parent.data
                            if type(pd) is not ndarray or pd.shape != pg.shape or pd.dtype is not pg.dtype:
                                pg = _unbroadcast(pg, _shape(pd), parent.dtype, node.op)
                            elif not parent._parents:  # a leaf's .grad is the user's: its own array
                                pg = pg.copy()
                        current = parent._grad
                        if current is None:
                            parent._grad = pg
                        else:
                            parent._grad = current + pg
                            if anomaly:
                                _anomaly_check_sum(parent)
            for node, grad in earlier:
                node._grad = grad + node._grad
        except BaseException:  # an anomaly or Ctrl-C half-way: leave every .grad as it was
            self.zero_grad()
            for node, grad in earlier:
                node._grad = grad
            raise

    def zero_grad(self) -> None:
        """Reset ``.grad`` of every node in the graph behind this value (itself included)."""
        for node in _count_consumers(self):
            node._grad = None


_EMIT = object()  # on the traversal stack: the node below it has all its inputs ordered


def _inner_nodes(root: Value, earlier: list[tuple[Value, Any]]) -> list[Value]:
    """The recorded (non-leaf) nodes behind ``root``, each after all of its inputs.

    Iterative depth-first post-order (no recursion), so graphs of any depth work. Gradients
    already on the graph's nodes, leaves included, are taken off and returned: the pass computes
    fresh ones and adds them back at the end, or restores them if the pass fails half-way.
    """
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Any] = [root]
    push, pop, emit, visit = stack.append, stack.pop, order.append, visited.add
    while stack:
        node = pop()
        if node is _EMIT:
            emit(pop())
        elif node not in visited:
            visit(node)
            if node._grad is not None:
                earlier.append((node, node._grad))
                node._grad = None
            push(node)
            push(_EMIT)
            for parent in node._parents:
                if parent._parents:
                    if parent not in visited:
                        push(parent)
                elif parent._grad is not None and parent.requires_grad:
                    earlier.append((parent, parent._grad))
                    parent._grad = None
    return order


def _count_consumers(root: Value) -> dict[Value, int]:
    """Every node that requires grad behind ``root``, with how many of its uses lie on the graph.

    Iterative (no recursion), in first-visit order, so graphs of any depth work.
    """
    counts = {root: 0}
    stack = [root]
    while stack:
        for parent in stack.pop()._parents:
            if parent in counts:
                counts[parent] += 1
            elif parent.requires_grad:
                counts[parent] = 1
                stack.append(parent)
    return counts


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


def _anomaly_check_forward(out: Value, parents: tuple[Value, ...]) -> None:
    site = _user_frame()
    _created_at[out] = site
    if not np.all(np.isfinite(out.data)):
        shapes = ", ".join(str(p.shape) for p in parents)
        raise FloatingPointError(
            f"anomaly: op '{out.op}' on inputs of shapes {shapes} produced a non-finite "
            f"value; the node was created at {site}"
        )


def _anomaly_check_sum(node: Value) -> None:
    """The gradient of ``node`` just grew by one more part: did the sum overflow?"""
    if not np.all(np.isfinite(node._grad)):
        if not node._parents:
            what = f"leaf {node.name}" if node.name else "a leaf"
            raise FloatingPointError(
                f"anomaly: the gradients reaching {what} (shape {node.shape}) overflowed when added up"
            )
        site = _created_at.get(node, "<created outside detect_anomaly()>")
        raise FloatingPointError(
            f"anomaly: the gradients reaching the output of op '{node.op}' (shape {node.shape}) "
            f"overflowed when added up; the node was created at {site}"
        )


def _anomaly_check_backward(node: Value, grads: Sequence[Any]) -> None:
    for pg in grads:
        if pg is not None and not np.all(np.isfinite(pg)):
            shapes = ", ".join(str(p.shape) for p in node._parents)
            site = _created_at.get(node, "<created outside detect_anomaly()>")
            raise FloatingPointError(
                f"anomaly: the backward of op '{node.op}' (inputs of shapes {shapes}) produced "
                f"a non-finite gradient; the node was created at {site}"
            )
