"""`compile(fn)`: run a function of Values once to record its ops, then replay the recording.

The first call of ``compiled = compile(fn)`` (and every call with new shapes, dtypes, layouts,
kinds of arguments or grad mode) *traces*: it runs ``fn`` eagerly while the engine's one record
function reports every op. The ops become one generated Python function, a straight-line *tape*:
each op one line, a NumPy call writing into a buffer allocated once for arrays, plain float
arithmetic for scalars; then a ``yield`` of the result; then the recorded backward, in the order
`backward()` takes it, with the same VJP arithmetic (``compiled.tapes`` holds the source)::

    np.matmul(a0, p0, buf8)              x @ W1          (a0: the argument, p0 = W1.data)
    np.add(buf8, p1, buf11)              + b1
    np.maximum(buf11, 0, out=buf12)      relu
    ...                                  the cross-entropy, fused, into buffers
    g = yield v5                         the loss; backward() resumes here with its seed
    np.divide(buf23, buf21, buf32)       softmax - onehot, times g / rows
    ...
    g9 = np.matmul(a0_T, g7)             d loss / d W1
    g = yield (g9, g8, g5, g3)           added to the parameters' .grad

Later calls run that tape on the new arguments: no nodes are built, no Python per op beyond its
line. The call returns one `Value` recorded as a single op (``compiled fn``) whose inputs are the
parameters ``fn`` reached (the Values that require a gradient: closed over, or passed in); its
``backward()`` replays the recorded backward and the engine adds the results to their ``.grad``.
Loss and parameter gradients are the eager engine's, bit for bit: the tape runs the same NumPy
operations in the same order, on arrays laid out as the engine's (the first replay of every
trace is compared with its eager run, value by value; one that differs runs eagerly, warned).

Limits, as for ``jax.jit`` or tinygrad's ``TinyJit``:

- Python in ``fn`` runs at trace time only. Control flow that depends on values (``if
  loss.item() > 1``), NumPy computed from ``.data``, and integer arrays computed in Python from
  the arguments are frozen; so are the saved values an op of your own records in its
  attributes with `Primitive.record` (the library's cross-entropy recomputes its own).
- Integer arguments (targets, indices) are recognized where an op copies the argument itself
  (the array passed in, or a Value argument's data: the engine reports each such copy while
  tracing), never by their values: an integer array ``fn`` builds (`nll_loss`'s ``np.arange``)
  stays a constant whatever the targets hold. They are checked on every call as eagerly, and an
  index's gradient scatters by this call's index. A view of an argument made in ``fn``
  (``t[::-1]``) and one array passed as two arguments are refused; targets closed over are a
  constant, checked once. Plain ints, bools and strings are part of the cache key (a new value
  traces anew).
- Parameters are the Values ``fn`` reached while tracing; their ``.data`` is read on every call
  (it may change, not its shape, layout or dtype: that traces again).
- Inner nodes exist only while tracing: after ``backward()`` only the parameters (and Value
  arguments that require a gradient) have a ``.grad``. ``fn`` may return a tuple: its first
  Value is the result, the others come back as constants (e.g. logits for an accuracy).
- Array buffers are reused: call ``backward()`` on a call's result before calling the compiled
  function again (a stale result raises). One thread at a time per compiled function.
- Inside ``fn``, ``no_grad()`` works; ``detect_anomaly()``, ``backward()`` and ``grad()`` are
  refused at trace time. Called inside ``detect_anomaly()``, the compiled function runs ``fn``
  eagerly (every op checked). ``grad(..., create_graph=True)`` through a result is refused.
  Every eager run (there, and in the cases below) calls ``fn`` with the arguments tracing gives
  it: floats and float arrays as constant Values.
- A call whose replay meets a float error (a division by zero in float arithmetic, where NumPy
  gives inf; NumPy's floating-point errors under ``np.errstate`` or warnings turned into errors)
  or a bad target or index runs eagerly instead, with the eager engine's result or error. Any
  other error of a replay is raised as it is, with a note naming the tape's line: never hidden
  by an eager run.

The checking mode (``compile(fn, check=True)``, or ``TINYGRAD_IRIS_COMPILE_CHECK=1`` in the
environment when `compile` is called) runs ``fn`` eagerly beside every replay and raises
`ReplayMismatch` at the first op whose value or gradient differs, naming it.
"""

from __future__ import annotations

import builtins
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import engine
from .engine import Primitive, Value, _unbroadcast, grad, is_grad_enabled
from .ops import CROSS_ENTROPY, _columns_reduce_in_order

__all__ = ["CHECK_ENV", "Compiled", "ReplayMismatch", "compile"]

CHECK_ENV = "TINYGRAD_IRIS_COMPILE_CHECK"
"""The environment variable that turns the checking mode on (any value but empty or 0): eager runs beside
every replay."""


class ReplayMismatch(RuntimeError):
    """The checking mode found a replayed value or gradient that differs from the eager run's."""


class _Retrace(Exception):
    """A parameter's data changed shape, dtype or kind since the trace."""


class _Eager(Exception):
    """A replay met a bad integer argument (a target or index out of range): the eager run gives the error."""


# What a replay may raise where the eager engine gives a result or an error of its own, so the call
# runs eagerly: float arithmetic's ZeroDivisionError and OverflowError (NumPy's scalars give inf),
# NumPy's floating-point errors (under np.errstate(...='raise') or warnings filtered as errors), and
# a bad target or index (`_Eager`). Anything else is raised: the tape's fault, never hidden.
_EAGER_CASES = (ArithmeticError, RuntimeWarning, _Eager)


def _tape_line(tape: _Tape, err: BaseException) -> str:
    """The line of ``tape`` that raised ``err``, for the note an unexpected replay error carries."""
    tb, lineno = err.__traceback__, 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<tape of "):
            lineno = tb.tb_lineno
        tb = tb.tb_next
    lines = tape.source.splitlines()
    return f"line {lineno}, `{lines[lineno - 1].strip()}`" if 0 < lineno <= len(lines) else "an unknown line"


_tracing = threading.local()  # .active: this thread is tracing (an inner compiled call runs eagerly)


# ----- arguments: flattened into dynamic data and a cache key ---------------------------------------
_STATIC = (int, bool, str, type(None))


def _flatten(args: Sequence[Any], key: list[Any], dynamic: list[Any], values: list[Value]) -> None:
    """Append each argument's key part; its data to ``dynamic``; Values that require grad to ``values``."""
    for arg in args:
        kind = type(arg)
        if kind is float:
            key.append(float)
            dynamic.append(arg)
        elif kind is np.ndarray:  # the layout too: it decides the order reductions add in
            key.append((arg.dtype, arg.shape, arg.strides))
            dynamic.append(arg)
        elif kind is Value or isinstance(arg, Value):
            data = arg.data
            layout = (data.dtype, data.shape, data.strides) if type(data) is np.ndarray else type(data)
            key.append((Value, arg.requires_grad, layout))
            dynamic.append(data)
            if arg.requires_grad:
                values.append(arg)
        elif kind in (list, tuple):
            key.append((kind, len(arg)))
            _flatten(arg, key, dynamic, values)
        elif isinstance(arg, np.floating):
            key.append(kind)
            dynamic.append(arg)
        elif isinstance(arg, _STATIC):
            key.append((kind, arg))
        else:
            raise TypeError(
                f"compile: an argument of type {kind.__name__} is not supported; pass Values, NumPy "
                "arrays, numbers, strings, or lists and tuples of them"
            )


def _for_tracing(args: Sequence[Any], leaves: list[Value]) -> list[Any]:
    """The arguments as ``fn`` sees them while tracing: every float and float array a constant
    Value (so the ops on it are recorded), in the order `_flatten` lists the dynamic data."""
    out: list[Any] = []
    for arg in args:
        kind = type(arg)
        if isinstance(arg, Value):
            leaves.append(arg)
            out.append(arg)
        elif kind in (list, tuple):
            out.append(kind(_for_tracing(arg, leaves)))
        elif kind is float or isinstance(arg, np.floating) or (
            kind is np.ndarray and arg.dtype.kind == "f"
        ):
            leaf = engine._new(Value)
            engine._init_leaf(leaf, arg, None, False)  # no copy: the tape reads this very array
            leaves.append(leaf)
            out.append(leaf)
        elif kind is np.ndarray:  # an integer array (targets, indices): fn gets it as it is
            leaves.append(arg)
            out.append(arg)
        else:
            out.append(arg)
    return out


# ----- tracing -----------------------------------------------------------------------------------------
@dataclass
class _Op:
    """One op as the tracer saw it (the node is kept while the tape is generated and verified)."""

    node: Value
    primitive: Primitive
    attrs: dict[str, Any] | None
    parents: tuple[Value, ...]
    anomaly: bool


_trace_lock = threading.Lock()  # one trace at a time: each swaps the engine's record function


Copies = dict[int, tuple[Any, Any, Callable[..., Any], tuple[Any, ...]]]
"""The integer arrays ops copied while tracing: id of the copy -> (copy, source, remake, args), the
copy being ``remake(source, *args)`` (each kept alive, so no id is reused)."""


def _run_traced(fn: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, list[_Op], Copies]:
    """Run ``fn`` eagerly with every op it records reported, in order, and every integer array an op
    copies (targets, indices) with what it is a copy of."""
    ops: list[_Op] = []
    copies: Copies = {}
    thread = threading.get_ident()
    with _trace_lock:
        record, backprop, copied = engine._record, engine._backprop, engine._copied

        def traced_record(data: Any, parents: tuple[Value, ...], primitive: Primitive, attrs: Any) -> Value:
            out = record(data, parents, primitive, attrs)
            if threading.get_ident() == thread:
                ops.append(_Op(out, primitive, attrs, parents, engine._state.anomaly))
            return out

        def traced_backprop(*args: Any) -> None:
            if threading.get_ident() == thread:
                raise RuntimeError(
                    "compile: fn calls backward() or grad(); a compiled function records a forward "
                    "computation: call backward() on its result instead"
                )
            backprop(*args)

        def traced_copied(source: Any, copy: Any, remake: Callable[..., Any], *args: Any) -> Any:
            if threading.get_ident() == thread:
                copies[id(copy)] = (copy, source, remake, args)
            return copy

        engine._swap("_record", traced_record)
        engine._swap("_backprop", traced_backprop)
        engine._swap("_copied", traced_copied)
        _tracing.active = True
        try:
            out = fn(*args)
        finally:
            _tracing.active = False
            engine._swap("_record", record)
            engine._swap("_backprop", backprop)
            engine._swap("_copied", copied)
    return out, ops, copies


# ----- code generation -----------------------------------------------------------------------------
_ELEMENTWISE = {"+": "np.add", "-": "np.subtract", "*": "np.multiply", "/": "np.divide"}
_UNARY = {"neg": "np.negative", "exp": "np.exp", "log": "np.log", "tanh": "np.tanh"}
_REDUCE = {"sum": "np.add.reduce", "max": "np.maximum.reduce"}
_VIEWS = ("reshape", "T", "broadcast_to", "getitem")
# the VJPs of scalar ops, the engine's VJP bodies inlined as expressions: g upstream, o out
_SCALAR_VJP: dict[str, tuple[str, ...]] = {
    "+": ("{g}", "{g}"),
    "-": ("{g}", "-{g}"),
    "*": ("{g} * {b}", "{g} * {a}"),
    "/": ("{g} / {b}", "-{g} * {o} / {b}"),
    "neg": ("-{g}",),
    "exp": ("{g} * {o}",),
    "log": ("{g} / {a}",),
    "relu": ("{g} * ({a} > 0)",),
    "tanh": ("{g} * (1 - {o} * {o})",),
    "sigmoid": ("{g} * ({o} * (1 - {o}))",),
}


def _fit(pg: Any, array: bool, shape: tuple[int, ...], dtype: np.dtype, op: str) -> Any:
    """What `backward()` does to a gradient part before adding it to an input of shape ``shape``."""
    if type(pg) is np.ndarray and (not array or pg.shape != shape or pg.dtype != dtype):
        return _unbroadcast(pg, shape, dtype, op)
    return pg


def _is_array(x: Any) -> bool:
    return type(x) is np.ndarray


def _ce_fusable(op: _Op) -> bool:
    x = op.parents[0].data
    return (_is_array(x) and x.ndim == 2 and x.flags.c_contiguous and op.attrs is not None
            and op.attrs["reduction"] in ("mean", "sum"))


def _with_attrs(function: Callable[..., Any], attrs: dict[str, Any] | None) -> Callable[..., Any]:
    if not attrs:
        return function
    return lambda *data: function(*data, **attrs)


@dataclass(frozen=True)
class _Slot:
    """What the tape keeps of one traced op: enough to name it and to find its value and gradient."""

    primitive: Primitive
    label: str
    shape: tuple[int, ...]
    name: str  # the local (or namespace constant) holding its data; "" if a later op overwrote it
    grad: str | None  # the local holding its gradient, if the backward computes one


class _Writer:
    """Builds the tape's source: one generator function, its constants in a namespace."""

    def __init__(self, leaves: list[Any], copies: Copies) -> None:
        self.ns: dict[str, Any] = {"np": np, "_scalar": engine._scalar, "_fit": _fit, "_power": engine._power,
                                   "_tanh": math.tanh, "_Retrace": _Retrace,
                                   "_Eager": _Eager}
        self.forward: list[str] = []
        self.names: dict[int, str] = {id(leaf): f"a{k}" for k, leaf in enumerate(leaves)}
        self.fixed: dict[str, Any] = {}  # names whose data is the same object on every call
        self.copies = copies
        # the arguments' arrays (an integer array as passed, a Value's data) -> their names; None
        # for an array passed twice, which the trace cannot tell apart
        self.arrays: dict[int, str | None] = {}
        self.array_objects: list[np.ndarray] = []
        for k, leaf in enumerate(leaves):
            data = leaf if _is_array(leaf) else leaf.data
            if _is_array(data):
                self.arrays[id(data)] = None if id(data) in self.arrays else f"a{k}"
                self.array_objects.append(data)
        self.indices: dict[str, str] = {}  # a getitem's output -> the local holding this call's index
        self.params: list[Value] = []
        self.targets = 0  # targets checked per call
        self.buffer_bytes = 0
        self.ce: dict[str, tuple[str, str, str]] = {}  # CE output -> (probs, flat indices, targets)
        # reusing a buffer: the ops that read each value, the buffers ops wrote (name -> its op),
        # and the ops whose value a later op overwrote in its buffer (the tape keeps no copy)
        self.readers: dict[int, int] = {}
        self.kept: set[int] = set()  # values the call returns: never overwritten
        self.written: dict[str, _Op] = {}
        self.overwritten: set[int] = set()
        # gradients: the buffers a kernel wrote for one gradient part alone, and the nodes whose
        # gradient buffer their own VJP overwrote (it was the last to read it)
        self.private: set[str] = set()
        self.own: dict[int, str] = {}
        self.grad_overwritten: set[int] = set()
        self.reusable: str | None = None

    def const(self, obj: Any, stem: str = "c") -> str:
        name = f"{stem}{len(self.ns)}"
        self.ns[name] = obj
        return name

    def fixed_const(self, obj: Any, stem: str = "c") -> str:
        name = self.const(obj, stem)
        self.fixed[name] = obj
        return name

    def buffer(self, shape: tuple[int, ...], dtype: Any) -> str:
        """A C-ordered buffer: for a value the engine also makes C-ordered (or whose layout no
        reduction reads)."""
        return self.buffer_like(np.empty(shape, dtype=dtype))

    def buffer_like(self, data: np.ndarray) -> str:
        """A buffer laid out as the engine's ``data`` is: a reduction over it then adds in the same order."""
        buf = np.empty_like(data)
        self.buffer_bytes += buf.nbytes
        return self.fixed_const(buf, "buf")

    def data(self, name: str, trace_data: Any) -> Any:
        return self.fixed.get(name, trace_data)

    def source(self, v: Value) -> str:
        """The name of an op's input: an argument, an earlier op, a parameter or a constant."""
        name = self.names.get(id(v))
        if name is not None:
            return name
        if v.requires_grad:  # a parameter fn closed over (or a node made before): read on every call
            self.params.append(v)
            name = f"p{len(self.params) - 1}"
            self.forward.append(f"    {name} = {self.const(v, 'P')}.data")
            self.forward.append(_data_check(self, name, v.data))
        else:
            name = self.fixed_const(v.data)
        self.names[id(v)] = name
        return name

    def bound_int(self, array: np.ndarray, op: str) -> str | None:
        """The expression that makes ``array``, an op's copy of an integer array (targets, an index),
        from this call's argument when it is a copy of an argument itself (the very array passed in);
        None when it is a copy of an array of fn's own: a constant. Never by value: fn's own
        ``np.arange(3)`` is no argument, whatever the targets passed hold."""
        calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        while (entry := self.copies.get(id(array))) is not None and entry[0] is array:
            _, array, remake, args = entry
            calls.append((remake, args))
        if not calls:
            return None
        if id(array) not in self.arrays:
            if _is_array(array) and any(np.shares_memory(array, a) for a in self.array_objects):
                raise ValueError(
                    f"compile: {op} uses an integer array that is a view of an argument, computed from "
                    "it in fn; the trace would freeze its values: pass the array the op uses as an argument"
                )
            return None
        name = self.arrays[id(array)]
        if name is None:
            raise ValueError(
                f"compile: {op} uses an integer array passed as two arguments; the trace cannot tell "
                "which one it uses on later calls: pass distinct arrays, or close over the constant one"
            )
        for remake, args in reversed(calls):
            name = f"{self.const(remake)}({', '.join([name, *map(self.literal, args)])})"
        return name

    def literal(self, obj: Any) -> str:
        return repr(obj) if type(obj) in (int, str) else self.const(obj)

    def guarded(self, lines: list[str]) -> None:
        """Forward lines that use an integer argument: a bad one (a target or index out of range)
        raises `_Eager`, and the call runs eagerly, which gives the error as the engine words it."""
        self.forward += ["    try:", *("    " + line for line in lines),
                         "    except (IndexError, TypeError, ValueError) as error:",
                         "        raise _Eager from error"]


def _data_check(w: _Writer, name: str, data: Any) -> str:
    """A line that raises `_Retrace` when a parameter's data is no longer what the trace saw."""
    if _is_array(data):
        dtype = w.const(data.dtype)
        return (f"    if ({name}.__class__ is not np.ndarray or {name}.shape != {data.shape!r}\n"
                f"            or {name}.strides != {data.strides!r} or {name}.dtype is not {dtype}):\n"
                "        raise _Retrace")
    return f"    if {name}.__class__ is not {w.const(type(data))}: raise _Retrace"


def _emit_forward(w: _Writer, op: _Op, ins: list[str], name: str) -> str:
    """Append the op's forward line(s); return the name that holds its data."""
    p, attrs, data = op.primitive, op.attrs, op.node.data
    kind = p.name
    emit = w.forward.append
    array = _is_array(data)
    in_data = [w.data(n, parent.data) for n, parent in zip(ins, op.parents)]
    if kind == "cross_entropy":
        return _emit_ce_forward(w, op, ins, name)
    if kind == "getitem" and attrs is not None and not attrs["basic"]:
        items = attrs["index"] if type(attrs["index"]) is tuple else (attrs["index"],)
        bound = [w.bound_int(item, "indexing") if _is_array(item) else None for item in items]
        rebuilt = [expr or w.const(item) for expr, item in zip(bound, items)]
        index = f"({', '.join(rebuilt)},)" if type(attrs["index"]) is tuple else rebuilt[0]
        if not any(bound):
            emit(f"    {name} = _scalar({ins[0]}[{index}])")
        else:  # this call's index, which the backward scatters by too
            w.indices[name] = f"i{name}"
            w.guarded([f"    i{name} = {index}", f"    {name} = _scalar({ins[0]}[i{name}])"])
        return name
    if array and kind in _ELEMENTWISE:
        buf = (_reused(w, op, ins) if kind in ("+", "-") else None) or w.buffer_like(data)
        emit(f"    {_ELEMENTWISE[kind]}({ins[0]}, {ins[1]}, {buf})")
        return _wrote(w, buf, op)
    if array and kind == "@" and all(_is_array(d) and d.ndim == 2 for d in in_data):
        buf = w.buffer_like(data)
        emit(f"    np.matmul({ins[0]}, {ins[1]}, {buf})")
        return _wrote(w, buf, op)
    if array and kind in _UNARY:
        buf = w.buffer_like(data)
        emit(f"    {_UNARY[kind]}({ins[0]}, {buf})")
        return _wrote(w, buf, op)
    if array and kind == "relu":
        buf = w.buffer_like(data)
        emit(f"    np.maximum({ins[0]}, 0, out={buf})")
        return buf
    if array and kind in _REDUCE and attrs is not None:
        buf = w.buffer_like(data)
        emit(f"    {_REDUCE[kind]}({ins[0]}, {attrs['axis']!r}, None, {buf}, {attrs['keepdims']!r})")
        return buf
    if array and kind in _VIEWS and ins[0] in w.fixed:
        view = engine._scalar(p.forward(*in_data, **(attrs or {})))
        if _is_array(view) and np.shares_memory(view, in_data[0]):
            return w.fixed_const(view, "view")  # a view of a buffer: the same on every call
    scalars = not array and not any(_is_array(d) for d in in_data)
    if scalars and attrs is None and kind in _ELEMENTWISE:
        emit(f"    {name} = {ins[0]} {kind} {ins[1]}")
    elif scalars and kind == "neg":
        emit(f"    {name} = -{ins[0]}")
    elif type(data) is float and type(in_data[0]) is float and kind == "relu":
        emit(f"    {name} = 0.0 if {ins[0]} < 0 else {ins[0]}")
    elif type(data) is float and type(in_data[0]) is float and kind == "tanh":
        emit(f"    {name} = _tanh({ins[0]})")
    elif scalars and kind == "**" and attrs is not None:
        emit(f"    {name} = _power({ins[0]}, {w.const(attrs['exponent'])})")
    else:  # the op as the engine computes it: its forward on the data, 0-d results made scalars
        emit(f"    {name} = _scalar({w.const(_with_attrs(p.forward, attrs))}({', '.join(ins)}))")
    return name


# ops whose VJP reads the op's own output (so it must survive until the backward)
_READS_OUTPUT = ("exp", "tanh", "sigmoid", "/", "cross_entropy")


def _reused(w: _Writer, op: _Op, ins: list[str]) -> str | None:
    """An input's buffer this op (a + or -, whose VJP reads no input) may write its result into:
    one written by an earlier op whose VJP does not read it, that nothing else reads, that the
    call does not return, laid out as this result. Elementwise, in place gives the same bits."""
    data = op.node.data
    for name, parent in zip(ins, op.parents):
        source = w.written.get(name)
        if (source is not None and source.node is parent and w.readers.get(id(parent)) == 1
                and id(parent) not in w.kept and source.primitive.name not in _READS_OUTPUT):
            buf = w.fixed[name]
            if buf.shape == data.shape and buf.dtype == data.dtype and buf.strides == data.strides:
                w.overwritten.add(id(parent))
                return name
    return None


def _wrote(w: _Writer, buf: str, op: _Op) -> str:
    w.written[buf] = op
    return buf


def _emit_targets(w: _Writer, op: _Op, name: str) -> tuple[str, bool]:
    """The name of the cross-entropy's targets, and whether they are a constant (else an argument,
    checked on every call as `cross_entropy` checks it)."""
    assert op.attrs is not None
    t = op.attrs["targets"]
    bound = w.bound_int(t, "cross_entropy")  # the targets checked as cross_entropy checks them
    if bound is None:
        return w.fixed_const(t), True
    w.guarded([f"    t{name} = {bound}"])
    return f"t{name}", False


def _emit_ce_forward(w: _Writer, op: _Op, ins: list[str], name: str) -> str:
    """The fused cross-entropy: the engine's `_ce_forward` into buffers (the probabilities, which
    only the backward needs, are computed there, from the same buffers)."""
    assert op.attrs is not None
    targets, constant = _emit_targets(w, op, name)
    emit = w.forward.append
    x = op.parents[0].data
    if not _ce_fusable(op):
        forward = _with_attrs(op.primitive.forward, {"reduction": op.attrs["reduction"]})
        emit(f"    {name} = _scalar({w.const(forward)}({ins[0]}, {targets}))")
        w.ce[name] = ("", "", targets)
        return name
    rows, classes = x.shape
    mx, tot = w.buffer((rows, 1), x.dtype), w.buffer((rows, 1), x.dtype)
    sh, e = w.buffer(x.shape, x.dtype), w.buffer(x.shape, x.dtype)
    lg, pick, losses = (w.buffer((rows,), x.dtype) for _ in range(3))
    tot0, shf = w.fixed_const(w.fixed[tot][:, 0], "view"), w.fixed_const(w.fixed[sh].reshape(-1), "view")
    offsets = np.arange(rows) * classes
    onehot = np.zeros(x.shape, dtype=x.dtype)  # p - onehot is the engine's p[r, t] -= 1, bit for bit
    onehot_name = w.fixed_const(onehot)
    if constant:
        flat = w.fixed_const(offsets + op.attrs["targets"])
        onehot.reshape(-1)[w.fixed[flat]] = 1
    else:
        flat = f"f{name}"
        emit(f"    {flat} = {w.fixed_const(offsets)} + {targets}")
        emit(f"    {onehot_name}.fill(0)")
        emit(f"    {w.fixed_const(onehot.reshape(-1), 'view')}[{flat}] = 1")
    if ins[0] in w.fixed and _columns_reduce_in_order(classes, x.dtype):
        # a few classes: the row max and sum as a chain over the columns, which is how this NumPy's
        # reductions of so short rows go (checked once per class count and dtype), in fewer steps
        _emit_column_chain(w, "np.maximum", w.fixed[ins[0]], w.fixed[mx])
        emit(f"    np.subtract({ins[0]}, {mx}, {sh})")
        emit(f"    np.exp({sh}, {e})")
        _emit_column_chain(w, "np.add", w.fixed[e], w.fixed[tot])
    else:
        emit(f"    np.maximum.reduce({ins[0]}, 1, None, {mx}, True)")
        emit(f"    np.subtract({ins[0]}, {mx}, {sh})")
        emit(f"    np.exp({sh}, {e})")
        emit(f"    np.add.reduce({e}, 1, None, {tot}, True)")
    emit(f"    np.log({tot0}, {lg})")
    emit(f"    {shf}.take({flat}, None, {pick})")
    emit(f"    np.subtract({lg}, {pick}, {losses})")
    mean = f" / {rows}" if op.attrs["reduction"] == "mean" else ""
    emit(f"    {name} = np.add.reduce({losses}){mean}")
    w.ce[name] = (e, tot, onehot_name)
    return name


def _emit_column_chain(w: _Writer, ufunc: str, rows: np.ndarray, out: np.ndarray) -> None:
    """``out[:, 0] = ufunc(...ufunc(rows[:, 0], rows[:, 1])..., rows[:, -1])``, on views made once."""
    target = w.fixed_const(out[:, 0], "view")
    first = w.fixed_const(rows[:, 0], "view")
    for k in range(1, rows.shape[1]):
        w.forward.append(f"    {ufunc}({first}, {w.fixed_const(rows[:, k], 'view')}, out={target})")
        first = target


def _emit_backward(w: _Writer, ops: list[_Op], out: Value, inputs: Sequence[Value],
                   grad_names: dict[int, str]) -> tuple[list[str], list[bool]]:
    """The backward pass of `Value.backward`, written out: same order, same VJP arithmetic.

    Also returns, per input of the compiled op (``inputs``), whether its gradient is a new array
    on every call (then it needs no copy to become that leaf's own ``.grad``).
    """
    earlier: list[tuple[Value, Any]] = []
    by_id = {id(op.node): op for op in ops}
    order = [node for node in engine._inner_nodes(out, earlier) if id(node) in by_id]
    for node, g in earlier:
        node._grad = g
    edges: dict[int, int] = {}  # how many gradient parts reach each value
    for node in order:
        for parent in by_id[id(node)].parents:
            if parent.requires_grad:
                edges[id(parent)] = edges.get(id(parent), 0) + 1
    ends = {id(v) for v in inputs}
    fresh: dict[int, bool] = {}
    c_order: dict[int, bool] = {id(out): True}  # the gradient is known C-ordered (a seed is)
    lines: list[str] = []
    grad_names[id(out)] = "g"
    for node in reversed(order):
        op = by_id[id(node)]
        ins = [w.names[id(p)] for p in op.parents]
        alone = [id(p) in ends and edges.get(id(p)) == 1 for p in op.parents]
        g, g_c = grad_names[id(node)], c_order[id(node)]
        w.reusable = w.own.get(id(node))  # this node's gradient, if in a buffer no one else reads
        parts = _emit_vjp(w, op, g, g_c, w.names[id(node)], ins, alone, lines)
        for parent, part in zip(op.parents, parts):
            if not parent.requires_grad or part is None:
                continue
            expr, fitted, new, c = part
            if not fitted:
                shape, dtype = np.shape(parent.data), w.const(parent.dtype)
                expr = f"_fit({expr}, {_is_array(parent.data)}, {shape!r}, {dtype}, {node.op!r})"
                new = c = False
            target = grad_names.get(id(parent))
            if target is None:
                target = grad_names[id(parent)] = f"g{len(grad_names)}"
                lines.append(f"    {target} = {expr}")
                fresh[id(parent)], c_order[id(parent)] = new, c
                if expr in w.private and edges.get(id(parent)) == 1:
                    w.own[id(parent)] = expr
            else:
                lines.append(f"    {target} = {target} + {expr}")
                fresh[id(parent)], c_order[id(parent)] = True, c and c_order[id(parent)]
    return lines, [fresh.get(id(v), False) for v in inputs]


# A gradient part: (expression, whether it already fits its input, whether it is a new array,
# whether it is known to be C-ordered). A buffer is C-ordered, so a kernel writes into one only
# where the engine's array would be C-ordered too (its array operands are): every array then has
# the engine's layout, and every reduction adds in the engine's order.
Part = tuple[str, bool, bool, bool] | None
"""A gradient part of the generated tape: (expression, fits its input, is a new array, is C-ordered), or
None."""


def _c(data: Any) -> bool:
    return not _is_array(data) or data.flags.c_contiguous


def _into(w: _Writer, lines: list[str], call: str, shape: tuple[int, ...], dtype: Any, new: bool) -> str:
    """``call`` (a NumPy call without its closing out argument) into a buffer allocated once; or,
    with ``new``, the call itself as the expression: a new array on every call."""
    if new:
        return f"{call})"
    buf = w.buffer(shape, dtype)
    w.private.add(buf)
    lines.append(f"    {call}, {buf})")
    return buf


def _emit_vjp(w: _Writer, op: _Op, g: str, g_c: bool, o: str, ins: list[str], alone: list[bool],
              lines: list[str]) -> list[Part]:
    """One node's gradient parts, one per input (None where the input takes no gradient).
    ``alone[k]``: input k is an input of the compiled op that takes only this part (a new array
    there saves the copy a leaf's ``.grad`` needs)."""
    p, attrs, data = op.primitive, op.attrs, op.node.data
    kind = p.name
    needs = [parent.requires_grad for parent in op.parents]
    in_data = [w.data(n, parent.data) for n, parent in zip(ins, op.parents)]
    if not _is_array(data) and not any(_is_array(d) for d in in_data):
        if kind in _SCALAR_VJP and attrs is None:
            names = dict(zip("ab", ins), g=g, o=o)
            return [(f"({t.format(**names)})", True, False, True) if need else None
                    for need, t in zip(needs, _SCALAR_VJP[kind])]
        if kind == "**" and attrs is not None:
            exponent = attrs["exponent"]
            if exponent == 0:
                return [(f"({g} * 0)", True, False, True)]
            power = f"_power({ins[0]}, {w.const(exponent - 1)})"
            return [(f"({g} * {w.const(exponent)} * {power})", True, False, True)]
    if kind == "cross_entropy" and _ce_fusable(op):
        e, tot, onehot = w.ce[o]
        x = op.parents[0].data
        buf = w.buffer(x.shape, x.dtype)
        mean = op.attrs is not None and op.attrs["reduction"] == "mean"
        weight = f"{g} * {1.0 / x.shape[0]!r}" if mean else g  # the engine's _row_weights
        lines.append(f"    np.divide({e}, {tot}, {buf})")  # softmax, as _ce_forward computes it
        lines.append(f"    np.subtract({buf}, {onehot}, {buf})")
        lines.append(f"    np.multiply({buf}, {weight}, {buf})")
        return [(buf, True, False, True)]  # the engine's is dlogits * weight: C-ordered
    if _is_array(data) and attrs is None and kind in ("+", "-", "*", "relu", "neg", "exp"):
        return [_array_part(w, op, k, g, g_c, o, ins, in_data, alone[k], lines) if need else None
                for k, need in enumerate(needs)]
    if _is_array(data) and kind == "@" and all(_is_array(d) and d.ndim == 2 for d in in_data):
        parts: list[Part] = [None, None]
        for k in (0, 1):
            if needs[k]:
                other = _transposed(w, ins[1 - k], lines)
                call = f"np.matmul({g}, {other}" if k == 0 else f"np.matmul({other}, {g}"
                dtype = np.result_type(data, in_data[1 - k])
                expr = _into(w, lines, call, in_data[k].shape, dtype, alone[k])
                parts[k] = (expr, dtype == op.parents[k].dtype, alone[k], True)  # matmul's are C-ordered
        return parts
    return [_generic_part(w, op, k, g, o, ins, lines) if need else None for k, need in enumerate(needs)]


def _array_part(w: _Writer, op: _Op, k: int, g: str, g_c: bool, o: str, ins: list[str], in_data: list[Any],
                alone: bool, lines: list[str]) -> Part:
    """Input ``k``'s gradient part for an elementwise op on arrays, summed down where it was broadcast."""
    kind, data = op.primitive.name, op.node.data
    parent = op.parents[k].data
    dtype = np.result_type(data, in_data[1 - k]) if kind == "*" else data.dtype
    same = _is_array(parent) and parent.dtype == dtype
    exact = same and parent.shape == data.shape
    bias = same and not exact and parent.shape == data.shape[1:]  # _unbroadcast sums the leading axis
    operand = {"*": in_data[1 - k] if len(in_data) > 1 else None, "exp": data, "relu": in_data[0]}.get(kind)
    c = g_c and _c(operand)  # the engine's result is C-ordered: a buffer may hold it
    new = (alone and exact) or not c
    if kind == "+" or (kind == "-" and k == 0):
        expr, new, c = g, False, g_c
    elif kind == "*":
        other = in_data[1 - k]
        if _is_array(other) and other.ndim > data.ndim:
            return _generic_part(w, op, k, g, o, ins, lines)
        expr = _into(w, lines, f"np.multiply({g}, {ins[1 - k]}", data.shape, dtype, new)
    elif kind == "exp":
        expr = _into(w, lines, f"np.multiply({g}, {o}", data.shape, dtype, new)
    elif kind == "relu":  # g * (a > 0)
        mask = w.buffer(data.shape, bool)
        lines.append(f"    np.greater({ins[0]}, 0, {mask})")
        own = w.reusable
        if own is not None and not new and w.fixed[own].shape == data.shape and w.fixed[own].dtype == dtype:
            # the upstream gradient's buffer is read by this part alone: multiplied in place
            lines.append(f"    np.multiply({g}, {mask}, {own})")
            w.grad_overwritten.add(id(op.node))
            w.private.add(own)
            expr = own
        else:
            expr = _into(w, lines, f"np.multiply({g}, {mask}", data.shape, dtype, new)
    else:  # the negated gradient: of neg, and of b in a - b
        expr = _into(w, lines, f"np.negative({g}", data.shape, dtype, new)
    if exact:
        return expr, True, new, c
    if bias:  # a 1-D result: contiguous whatever the order it is summed in
        summed = _into(w, lines, f"np.add.reduce({expr}, 0, None", parent.shape, dtype, alone)
        return summed, True, alone, True
    return expr, False, False, c


def _transposed(w: _Writer, name: str, lines: list[str]) -> str:
    """``name`` with its last two axes swapped: a view made once if its data is fixed, else per call."""
    if name in w.fixed:
        return w.fixed_const(w.fixed[name].swapaxes(-1, -2), "view")
    lines.append(f"    {name}_T = {name}.T")  # for 2-D arrays, as swapaxes(-1, -2)
    return f"{name}_T"


def _generic_part(w: _Writer, op: _Op, k: int, g: str, o: str, ins: list[str], lines: list[str]) -> Part:
    """Input ``k``'s gradient part as the engine computes it: the primitive's own VJP on the data."""
    p, attrs = op.primitive, dict(op.attrs or {})
    if p is CROSS_ENTROPY:  # its saved gradient and targets come from this call, not the trace
        attrs.pop("dlogits", None)
        attrs.pop("targets")
        targets = w.ce[o][2]
        vjp = w.const(lambda g_, o_, x_, t_, _f=p.vjp, _a=attrs: _f(g_, o_, x_, **_a, targets=t_))
        return f"{vjp}({g}, {o}, {ins[0]}, {targets})[0]", False, False, False
    if o in w.indices:  # an index of this call's, not the trace's
        attrs.pop("index")
        vjp = w.const(lambda g_, o_, x_, i_, _f=p.vjp, _a=attrs: _f(g_, o_, x_, index=i_, **_a))
        return f"{vjp}({g}, {o}, {ins[0]}, {w.indices[o]})[0]", False, False, False
    args = f"{g}, {o}, {', '.join(ins)}"
    if type(p.vjp) is tuple:  # one VJP per input
        return f"{w.const(_with_attrs(p.vjp[k], attrs))}({args})", False, False, False
    if k == 0 or not any(parent.requires_grad for parent in op.parents[:k]):
        lines.append(f"    t_{o} = {w.const(_with_attrs(p.vjp, attrs))}({args})")
    return f"t_{o}[{k}]", False, False, False


def _no_forward(*data: Any, **attrs: Any) -> Any:
    raise TypeError("a compiled function's op is applied by calling the compiled function")


def _compiled_vjp(g: Any, out: Any, *inputs: Any, call: _Call) -> Sequence[Any]:
    if type(g) is Value:
        raise NotImplementedError(
            f"grad(..., create_graph=True) through {call.tape.primitive.name}: a compiled function "
            "records first derivatives only; differentiate the function itself, uncompiled"
        )
    return call.backward(g)


@dataclass
class _Tape:
    """One trace, generated: ``replay(*dynamic)`` yields the output's data, then, for each upstream
    gradient sent, the gradients of the parameters and Value arguments (None where none reaches)."""

    replay: Callable[..., Any]
    params: tuple[Value, ...]
    slots: list[_Slot]
    ns: dict[str, Any]
    source: str
    buffer_bytes: int
    primitive: Primitive
    output_grad: bool  # the output takes a gradient (backward is generated)
    fresh: tuple[bool, ...]  # per input: its gradient is a new array on every call
    leaf_params: bool  # every parameter is a leaf (none is a node of a graph made before the trace)
    extras: int  # how many more Values fn returns after the first (given back without a graph)
    trace_seconds: float = 0.0
    eager_only: str = ""  # why this trace runs eagerly instead (its replay did not match)
    generation: int = 0

    def value_of(self, frame: dict[str, Any], name: str) -> Any:
        return frame[name] if name in frame else self.ns.get(name)


def _generate(fn_name: str, ops: list[_Op], out: Value, extras: Sequence[Value], leaves: list[Any],
              n_dynamic: int, copies: Copies) -> _Tape:
    """The tape of one trace: forward lines, a yield of the output (and of the ``extras`` fn also
    returned), then the backward in a loop."""
    w = _Writer(leaves, copies)
    for op in ops:
        for parent in op.parents:
            w.readers[id(parent)] = w.readers.get(id(parent), 0) + 1
    w.kept = {id(out), *map(id, extras)}
    held: list[str] = []
    for i, op in enumerate(ops):
        if op.anomaly and not engine._state.anomaly:
            raise RuntimeError(
                "compile: fn enters detect_anomaly(); call the compiled function inside "
                "detect_anomaly() instead (it then runs fn eagerly, every op checked)"
            )
        ins = [w.source(p) for p in op.parents]
        name = _emit_forward(w, op, ins, f"v{i}")
        w.names[id(op.node)] = name
        held.append(name)
    root = w.names.get(id(out))
    if root is None or root.startswith(("a", "p", "c")):
        raise TypeError(f"compile: {fn_name} must return a Value computed by ops from its inputs")
    if not out.requires_grad:
        w.params.clear()  # nothing flows back: the result is a constant, as eagerly
    results = [w.names[id(v)] if id(v) in w.names else w.source(v) for v in extras]
    lines = list(w.forward)
    returned = [  # buffers are reused: what the call returns is a copy
        f"{name}.copy()" if _is_array(v.data) else name for name, v in zip([root, *results], [out, *extras])
    ]
    lines.append(f"    g = yield ({', '.join(returned)},)" if extras else f"    g = yield {returned[0]}")
    grad_names: dict[int, str] = {}
    fresh: list[bool] = []
    if out.requires_grad:
        lines.append("    while True:")
        inputs = (*w.params, *_value_args(leaves))
        back, fresh = _emit_backward(w, ops, out, inputs, grad_names)
        lines += ["    " + line for line in back]
        grads = [grad_names.get(id(v), "None") for v in inputs]
        lines.append(f"        g = yield ({', '.join(grads)},)")
    text = f"def replay({', '.join(f'a{k}' for k in range(n_dynamic))}):\n" + "\n".join(lines) + "\n"
    exec(builtins.compile(text, f"<tape of {fn_name}>", "exec"), w.ns)
    slots = [
        _Slot(op.primitive, _label(op), op.node.shape, "" if id(op.node) in w.overwritten else name,
              None if id(op.node) in w.grad_overwritten else grad_names.get(id(op.node)))
        for op, name in zip(ops, held)
    ]
    primitive = Primitive(f"compiled {fn_name}", _no_forward, _compiled_vjp,
                          derivatives=("the recorded backward",))
    return _Tape(w.ns.pop("replay"), tuple(w.params), slots, w.ns, text, w.buffer_bytes, primitive,
                 out.requires_grad, tuple(fresh), not any(p._parents for p in w.params), len(extras))


def _label(op: _Op) -> str:
    """The op as errors name it (as the engine's anomaly messages do); constants' nodes included."""
    p = op.primitive
    return p.name if isinstance(p.label, str) else p.describe(op.attrs)


def _value_args(leaves: list[Any]) -> list[Value]:
    return [leaf for leaf in leaves if type(leaf) is Value and leaf.requires_grad]


# ----- the calls ---------------------------------------------------------------------------------------
class _Call:
    """One call's replay, suspended after its forward with this call's values, for its backward."""

    __slots__ = ("args", "compiled", "eager", "generation", "inputs", "leaves", "replay", "tape")

    def __init__(self, compiled: Compiled, tape: _Tape, replay: Any, args: Any, inputs: tuple[Value, ...],
                 leaves: bool):
        self.compiled, self.tape, self.replay, self.args, self.inputs = compiled, tape, replay, args, inputs
        self.leaves = leaves  # every input is a leaf: the result's backward may skip the engine's walk
        self.generation = tape.generation
        self.eager: Any = None  # the checking mode's eager run of the same call

    def backward(self, g: Any) -> Sequence[Any]:
        tape = self.tape
        if tape.buffer_bytes and self.generation != tape.generation:
            raise RuntimeError(
                f"backward() of a stale result of {tape.primitive.name}: a later call reused its "
                "buffers; call backward() on each result before calling the compiled function again"
            )
        try:
            grads = self.replay.send(g)
        except _EAGER_CASES:  # e.g. a float division by zero, which eagerly gives NumPy's inf
            out = _first(self.compiled._eager(self.args))
            return [v.data for v in grad(out, list(self.inputs), grad_outputs=g)]
        except Exception as err:
            self.compiled._note_failure(tape, err, "backward")
            raise
        if self.eager is not None:
            out, ops = self.eager
            problem = _compare_backward(tape, self.replay, ops, out, self.inputs, g, grads)
            if problem is not None:
                raise ReplayMismatch(f"compile check of {self.compiled.__name__}: {problem}")
        return grads


class _Result(Value):
    """A compiled call's output: one node, the call's op, on the parameters and Value arguments.

    Its ``backward()`` is `Value.backward`; in the common case (a scalar, no ``gradient`` or
    ``on_step``, every input a leaf, anomaly mode off) it skips the engine's walk of this one
    node and adds the replayed gradients to the inputs' ``.grad`` directly, as that walk would.
    """

    __slots__ = ()

    def backward(self, gradient: object = None, *, on_step: engine.StepHook | None = None) -> None:
        parents = self._parents
        data = self.data
        call = self._attrs["call"] if parents else None  # type: ignore[index]
        if (call is None or not call.leaves or gradient is not None or on_step is not None
                or type(data) is np.ndarray or not (engine._all_plain or engine._state.plain)):
            return Value.backward(self, gradient, on_step=on_step)
        seed = engine._ones(data)
        grads = call.backward(seed)
        for parent, pg, new in zip(parents, grads, call.tape.fresh):
            if pg is not None:
                if type(pg) is np.ndarray and not new:  # a leaf's .grad is an array of its own
                    pg = pg.copy()
                current = parent._grad
                parent._grad = pg if current is None else current + pg
        self._grad = seed if self._grad is None else self._grad + seed


def _result(data: Any, inputs: tuple[Value, ...], primitive: Primitive, call: _Call) -> Value:
    """The output node of one compiled call (a constant when no input takes a gradient)."""
    out = engine._new(_Result)
    out.data = data
    out._grad = None
    out.name = None
    out.requires_grad = bool(inputs)
    out._parents = inputs
    out._primitive = primitive if inputs else None
    out._attrs = {"call": call} if inputs else None
    out._vjp = primitive._plain_vjp if inputs else None  # as engine._record sets it: what backward calls
    return out


class Compiled:
    """``fn`` traced once per kind of call, then replayed (what `compile` returns).

    ``tapes`` holds one trace per cache key (grad mode; the arguments' structure, kinds, shapes,
    dtypes and layouts). ``check``: the checking mode is on.
    """

    def __init__(self, fn: Callable[..., Any], check: bool | None = None):
        if not callable(fn):
            raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
        self.fn = fn
        """The function traced and replayed."""
        self.check = os.environ.get(CHECK_ENV, "") not in ("", "0") if check is None else bool(check)
        """Whether the checking mode is on: each replay is compared with an eager run."""
        self.tapes: dict[tuple[Any, ...], _Tape] = {}
        """One recorded trace per cache key (grad mode, the arguments' structure, kinds, shapes, dtypes and
        layouts)."""
        self.__name__ = getattr(fn, "__name__", "fn")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __repr__(self) -> str:
        return f"compile({self.__name__})"

    @property
    def trace_seconds(self) -> float:
        """Seconds spent tracing, generating and verifying, over every trace so far."""
        return sum(t.trace_seconds for t in self.tapes.values())

    @property
    def buffer_bytes(self) -> int:
        """Bytes of the array buffers the traces hold (allocated once, reused by every call)."""
        return sum(t.buffer_bytes for t in self.tapes.values())

    def __call__(self, *args: Any) -> Any:
        """``fn(*args)``: traced when no trace fits these arguments (run eagerly, its result
        returned as it is), else replayed: one `Value` on the parameters and the Value arguments
        that require a gradient (or, when ``fn`` returns a tuple, that Value and the tuple's
        other values, as constants). Floats and float arrays are data; integer arrays are data
        where an op uses them unchanged (targets, indices); ints, bools, strings and None are
        part of the cache key."""
        key: list[Any] = [is_grad_enabled()]
        dynamic: list[Any] = []
        values: list[Value] = []
        _flatten(args, key, dynamic, values)
        if getattr(_tracing, "active", False) or (not engine._all_plain and engine._state.anomaly):
            return self._eager(args)  # inside another trace, or every op checked: eagerly
        frozen = tuple(key)
        tape = self.tapes.get(frozen)
        if tape is None:
            return self._trace(args, frozen)
        if tape.eager_only:
            return self._eager(args)
        tape.generation += 1
        replay = tape.replay(*dynamic)
        try:
            data = next(replay)
            if tape.extras:
                data, *extras = data
        except _Retrace:
            del self.tapes[frozen]
            return self._trace(args, frozen)
        except _EAGER_CASES:  # e.g. a float division by zero or a bad target: as eagerly (inf, or its error)
            return self._eager(args)
        except Exception as err:
            self._note_failure(tape, err, "forward")
            raise
        inputs = (*tape.params, *values) if tape.output_grad and key[0] else ()
        leaves = tape.leaf_params and not any(v._parents for v in values) if values else tape.leaf_params
        call = _Call(self, tape, replay, args, inputs, leaves)
        if self.check:
            self._check_forward(call, tape, args, data)
        result = _result(data, inputs, tape.primitive, call)
        return (result, *map(engine.as_value, extras)) if tape.extras else result

    def _eager(self, args: Sequence[Any]) -> Any:
        """``fn`` run eagerly, on its arguments as tracing gives them (floats and float arrays as
        constant Values): every path calls ``fn`` with the same kinds of arguments."""
        return self.fn(*_for_tracing(args, []))

    def _note_failure(self, tape: _Tape, err: Exception, part: str) -> None:
        """Add to ``err``, which the replay of ``tape`` raised where the eager run is not expected to
        differ, a note naming the tape's line (the op)."""
        add_note = getattr(err, "add_note", None)  # Python 3.11 on; 3.10 raises the error without it
        if add_note is not None:
            add_note(
                f"compile: raised by the {part} replay of {self.__name__}'s tape at {_tape_line(tape, err)} "
                "(compiled.tapes holds its source; compile(fn, check=True) compares each op with eager)"
            )

    def _trace(self, args: Sequence[Any], key: tuple[Any, ...]) -> Any:
        started = time.perf_counter()
        leaves: list[Any] = []
        result, ops, copies = _run_traced(self.fn, _for_tracing(args, leaves))
        outs = result if type(result) is tuple and result else (result,)
        if not all(isinstance(v, Value) for v in outs):
            raise TypeError(
                f"compile: {self.__name__} must return a Value (or a tuple of Values), got "
                f"{type(result).__name__}"
            )
        dynamic: list[Any] = []
        _flatten(args, [], dynamic, [])
        tape = _generate(self.__name__, ops, outs[0], outs[1:], leaves, len(dynamic), copies)
        self.tapes[key] = tape
        self._verify(tape, dynamic, outs[0], ops, _value_args(leaves))
        tape.trace_seconds = time.perf_counter() - started
        return result

    def _verify(self, tape: _Tape, dynamic: list[Any], out: Value, ops: list[_Op],
                values: list[Value]) -> None:
        """Replay once on the traced arguments and compare with the eager run, value by value."""
        replay = tape.replay(*dynamic)
        try:
            first = next(replay)
            problem = _compare_forward(tape, replay, first[0] if tape.extras else first, ops, out)
            if problem is None and out.requires_grad:
                seed = np.ones_like(out.data) if _is_array(out.data) else engine._ones(out.data)
                grads = replay.send(seed)
                problem = _compare_backward(tape, replay, ops, out, (*tape.params, *values), seed, grads)
        except Exception as err:  # a replay that fails where the eager run did not
            problem = f"the replay raised {type(err).__name__}: {err}"
        if problem is not None:
            if self.check:
                raise ReplayMismatch(f"compile check of {self.__name__}, at trace time: {problem}")
            tape.eager_only = problem
            warnings.warn(f"compile: {self.__name__} runs eagerly: {problem}", RuntimeWarning, stacklevel=4)

    def _check_forward(self, call: _Call, tape: _Tape, args: Sequence[Any], data: Any) -> None:
        """The checking mode: run ``fn`` eagerly on the same arguments; compare op by op."""
        result, ops, _ = _run_traced(self.fn, _for_tracing(args, []))
        out = _first(result)
        for k in range(max(len(ops), len(tape.slots))):
            ran = ops[k].primitive.name if k < len(ops) else "nothing"
            traced = tape.slots[k].primitive.name if k < len(tape.slots) else "nothing"
            if ran != traced:
                raise ReplayMismatch(
                    f"compile check of {self.__name__}: at op {k} the trace has '{traced}' but fn ran "
                    f"'{ran}': Python control flow that depends on values is frozen at trace time"
                )
        problem = _compare_forward(tape, call.replay, data, ops, out)
        if problem is not None:
            raise ReplayMismatch(f"compile check of {self.__name__}: {problem}")
        call.eager = (out, ops)


def _first(result: Any) -> Value:
    """fn's result to differentiate: itself, or the first of the tuple it returned."""
    return result[0] if type(result) is tuple else result


def _same_bits(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _describe(slot: _Slot, k: int) -> str:
    return f"op {k} ('{slot.label}', shape {slot.shape})"


def _compare_forward(tape: _Tape, replay: Any, first: Any, ops: list[_Op], out: Value) -> str | None:
    """Name the first op whose value in the replay's forward (which gave ``first``) differs from the
    eager run's."""
    frame = replay.gi_frame.f_locals
    for k, (slot, op) in enumerate(zip(tape.slots, ops)):
        if slot.name and not _same_bits(tape.value_of(frame, slot.name), op.node.data):
            return f"the value of {_describe(slot, k)} differs from the eager run's"
    if not _same_bits(first, out.data):
        return "the output differs from the eager run's"
    return None


def _compare_backward(tape: _Tape, replay: Any, ops: list[_Op], out: Value, inputs: Sequence[Value],
                      seed: Any, grads: Sequence[Any]) -> str | None:
    """Compare the replayed gradients, node by node in backward order, with the eager ``grad()``'s."""
    inner = [(k, slot, op) for k, (slot, op) in enumerate(zip(tape.slots, ops)) if slot.grad is not None]
    expected = grad(out, [op.node for _, _, op in inner] + list(inputs), grad_outputs=seed)
    frame = replay.gi_frame.f_locals
    for (k, slot, op), want in sorted(zip(inner, expected), key=lambda item: -item[0][0]):
        got = _fit(frame[slot.grad], _is_array(op.node.data), op.node.shape, op.node.dtype, slot.label)
        if not _same_bits(got, want.data):
            return f"the gradient reaching {_describe(slot, k)} differs from the eager backward's"
    for j, (value, got, want) in enumerate(zip(inputs, grads, expected[len(inner):])):
        if got is not None and not _same_bits(_fit(got, _is_array(value.data), value.shape, value.dtype, ""),
                                              want.data):
            return f"the gradient of input {j} ({value.name or 'unnamed'}, shape {value.shape}) differs"
    return None


def compile(fn: Callable[..., Any] | None = None, *, check: bool | None = None) -> Any:
    """``fn`` traced on its first call and replayed on later ones: `Compiled`. Also a decorator
    (``@compile`` or ``@compile(check=True)``). ``check``: run ``fn`` eagerly beside every replay and
    raise `ReplayMismatch` at the first difference (default: the ``TINYGRAD_IRIS_COMPILE_CHECK``
    environment variable)."""
    if fn is None:
        return lambda f: Compiled(f, check)
    return Compiled(fn, check)
