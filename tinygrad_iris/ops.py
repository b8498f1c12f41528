"""Functions built on `Value`: stack, softmax, log-softmax and the cross-entropy losses.

`softmax` is composed from primitives so that its denominator, the sum of the exponentials,
is a node of its own (named ``SOFTMAX_DENOMINATOR``): the graph then shows every raw output
reaching every probability. `cross_entropy` is one fused node whose gradient is
``(softmax - onehot)``, equal to the composed ``nll_loss(log_softmax(x), t)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import engine
from .engine import Operand, Value, _define, _shape, _shape_of, as_value, no_grad

__all__ = ["SOFTMAX_DENOMINATOR", "cross_entropy", "log_softmax", "nll_loss", "softmax", "stack"]

SOFTMAX_DENOMINATOR = "softmax denominator"
"""The name `softmax` gives its sum of exponentials, so a drawing can point it out."""
_REDUCTIONS = ("mean", "sum", "none")


def _stack(*arrays: Any, axis: int) -> Any:
    return np.stack(arrays, axis=axis)


# stack: out[..., i, ...] = values[i]      d/d values[i] = g[..., i, ...]
def _stack_vjp(g: Any, out: Any, *inputs: Any, axis: int) -> tuple[Any, ...]:
    before: tuple[Any, ...] = (slice(None),) * axis
    return tuple(g[before + (i,)] for i in range(len(inputs)))  # noqa: RUF005 (Python 3.10)


STACK = _define("stack", _stack, _stack_vjp, derivatives=("1 at its slice",), domain="stack",
                syntax="stack([{inputs}], {attrs})")
"""`stack(values, axis)`: joins Values along a new axis; each gets its own slice of the gradient."""


def stack(values: Sequence[Operand], axis: int = 0) -> Value:
    """Join equally shaped values along a new axis: n scalars become a vector of shape (n,)."""
    if isinstance(values, Value) or not isinstance(values, Sequence) or len(values) == 0:
        raise TypeError("stack: expected a non-empty list of values")
    parents = tuple(as_value(v) for v in values)
    try:
        data = np.stack([v.data for v in parents], axis=axis)
    except ValueError as err:
        shapes = ", ".join(str(v.shape) for v in parents)
        raise ValueError(f"stack: cannot stack shapes {shapes} on axis {axis} ({err})") from None
    return STACK(*parents, axis=axis % data.ndim)


def _shift(x: Value, axis: int) -> Value:
    """x minus its (constant) max along ``axis``: softmax is shift-invariant, exp can't overflow.

    The max is an op under `no_grad` (a constant, as ``np.max`` of the data would be), so that
    `tinygrad_iris.compile` records it rather than freezing the traced batch's max.
    """
    with no_grad():
        peak = x.max(axis=axis, keepdims=True)
    return x - peak


def softmax(x: Value, axis: int = -1) -> Value:
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) along ``axis``; same shape as ``x``."""
    e = _shift(x, axis).exp()
    denominator = e.sum(axis=axis, keepdims=True)
    denominator.name = SOFTMAX_DENOMINATOR
    return e / denominator


def log_softmax(x: Value, axis: int = -1) -> Value:
    """log softmax(x)_i = x_i - log sum_j exp(x_j), computed with the max shift (stable)."""
    shifted = _shift(x, axis)
    denominator = shifted.exp().sum(axis=axis, keepdims=True)
    denominator.name = SOFTMAX_DENOMINATOR
    return shifted - denominator.log()


def _class_targets(targets: object, rows: int, classes: int, op: str) -> np.ndarray:
    """Check class indices: integers in [0, classes), one per row; return them as intp."""
    raw = targets.data if isinstance(targets, Value) else targets
    if isinstance(raw, (str, bytes)) or raw is None:
        raise TypeError(f"{op}: targets must be integer class indices, got {type(raw).__name__}")
    array = np.asarray(raw)
    if array.dtype.kind not in "iuf":  # bool is kind "b"
        raise TypeError(f"{op}: targets must be integer class indices, got dtype {array.dtype}")
    flat = array.reshape(-1)
    if array.ndim > 1 or flat.size != rows:
        raise ValueError(f"{op}: expected {rows} target(s), one per row of logits, got shape {array.shape}")
    if array.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
        if bad.size:
            raise ValueError(
                f"{op}: target {flat[bad[0]].item()!r} at position {bad[0]} is not an integer class index"
            )
        if flat.size and not (flat.min() >= 0 and flat.max() < classes):  # before the cast: it would wrap
            raise _out_of_range(flat, classes, op)
        return engine._copied(raw, flat.astype(np.intp), _class_targets, rows, classes, op)
    t = flat.astype(np.intp)  # a copy: the caller may reuse their array before backward()
    if t.size and t.view(np.uintp).max() >= classes:  # one reduction: a negative index is huge unsigned
        raise _out_of_range(flat, classes, op)
    return engine._copied(raw, t, _class_targets, rows, classes, op)


def _out_of_range(flat: np.ndarray, classes: int, op: str) -> ValueError:
    i = np.flatnonzero((flat < 0) | (flat >= classes))[0]
    return ValueError(
        f"{op}: target {flat[i].item()!r} at position {i} is out of range "
        f"for {classes} classes (0..{classes - 1})"
    )


def _targets(x: Value, targets: object, reduction: str, op: str) -> np.ndarray:
    """The arguments of a loss checked; the targets as intp, one per row of ``x``."""
    if not isinstance(x, Value):
        raise TypeError(f"{op}: expected a Value of logits, got {type(x).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    shape = _shape(x.data)
    if len(shape) not in (1, 2):
        raise ValueError(f"{op}: expected logits of shape (classes,) or (rows, classes), got {shape}")
    return _class_targets(targets, 1 if len(shape) == 1 else shape[0], shape[-1], op)


def _reduce(losses: Value, reduction: str) -> Value:
    return losses.mean() if reduction == "mean" else losses.sum() if reduction == "sum" else losses


def nll_loss(log_probs: Value, targets: object, reduction: str = "mean") -> Value:
    """Negative log-likelihood: -log_probs[row, target[row]], reduced by ``reduction``."""
    t = _targets(log_probs, targets, reduction, "nll_loss")
    picked = log_probs[t[0]] if log_probs.ndim == 1 else log_probs[np.arange(len(t)), t]
    return _reduce(-picked, reduction)


def _ce_rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(1, -1) if x.ndim == 1 else x


def _row_max(rows: np.ndarray) -> np.ndarray:
    """Each row's maximum, as a column. NumPy reduces along short rows slowly (~30 ns a row, 6 us for
    the iris batch's 150 x 3); with many more rows than columns, a chain of elementwise maxima over
    the columns (~0.5 us a column) is several times faster, and max is exact: the same values."""
    count, classes = rows.shape
    if classes < 2 or count <= 16 * (classes - 1):
        return rows.max(axis=1, keepdims=True)
    top = rows[:, 0]
    for j in range(1, classes):
        top = np.maximum(top, rows[:, j])
    return top[:, None]


def _row_sum(rows: np.ndarray) -> np.ndarray:
    """Each row's sum, as a column: by the same chain as `_row_max` where that is faster and this
    NumPy's reduction adds such rows in that order (sums depend on the order): the same bits."""
    count, classes = rows.shape
    if count <= 16 * (classes - 1) or not _columns_reduce_in_order(classes, rows.dtype):
        return rows.sum(axis=1, keepdims=True)
    total = rows[:, 0] + rows[:, 1]
    for j in range(2, classes):
        total += rows[:, j]
    return total[:, None]


@functools.cache
def _columns_reduce_in_order(classes: int, dtype: np.dtype) -> bool:
    """Whether NumPy's max and sum over rows of ``classes`` elements equal the chain from the first
    column to the last, bit for bit (signed zeros, infinities and NaN included), on a probe."""
    if not 2 <= classes <= 7:  # longer rows: NumPy sums pairwise and takes maxima in SIMD lanes
        return False
    rng = np.random.default_rng(0)
    finite = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 1e-300, 1e300]  # the sums are of exponentials: finite
    probes = {
        np.maximum: [rng.choice(np.array([*finite, np.inf, -np.inf, np.nan]), (512, classes))],
        np.add: [rng.choice(np.array(finite), (512, classes)), rng.standard_normal((512, classes))],
    }
    with np.errstate(all="ignore"):
        for ufunc, arrays in probes.items():
            for probe in (a.astype(dtype) for a in arrays):
                chain = probe[:, 0].copy()
                for k in range(1, classes):
                    ufunc(chain, probe[:, k], out=chain)
                if chain.tobytes() != ufunc.reduce(probe, axis=1).tobytes():
                    return False
    return True


def _ce_forward(x: np.ndarray, targets: np.ndarray, reduction: str) -> tuple[Any, np.ndarray]:
    """The loss (reduced), and softmax(x) - onehot(targets) shaped like x: d loss_r / d x_r, which
    the first-order backward only has to scale (as a hand-written backward would)."""
    rows = _ce_rows(x)
    shifted = rows - _row_max(rows)
    e = np.exp(shifted)
    total = _row_sum(e)
    picked = (np.arange(len(rows)), targets)
    losses = np.log(total[:, 0]) - shifted[picked]
    if reduction == "none":
        data: Any = losses if x.ndim == 2 else losses[0]
    else:
        data = losses.sum() / len(rows) if reduction == "mean" else losses.sum()
    dlogits = e / total
    dlogits[picked] -= 1
    return data, dlogits if x.ndim == 2 else dlogits[0]


def _row_weights(g: Any, reduction: str, rows: int, ndim: int) -> Any:
    """The upstream gradient of each row's loss: g per row (as a column), or g / rows for "mean"."""
    if reduction == "none":
        return g[:, None] if ndim == 2 else g
    return g * (1.0 / rows) if reduction == "mean" else g


def _onehot(shape: tuple[int, ...], targets: np.ndarray) -> np.ndarray:
    onehot = np.zeros(shape)
    _ce_rows(onehot)[np.arange(len(targets)), targets] = 1.0
    return onehot


# cross-entropy's gradient: (softmax(x) - onehot(t)) weighted by each row's upstream gradient
def _ce_grad(x: Any, g: Any, targets: np.ndarray, reduction: str) -> Any:
    grad = _softmax_data(x)
    _ce_rows(grad)[np.arange(len(targets)), targets] -= 1
    grad *= _row_weights(g, reduction, len(targets), grad.ndim)
    return grad


def _softmax_data(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# its VJP, for second and higher derivatives: with p = softmax(x), w the row weights, G upstream,
#   d/dx = w * p * (G - <G, p>),   d/dg = <G, p - onehot> (per row, or summed and scaled as the loss)
def _ce_grad_vjp(G: Any, out: Any, x: Any, g: Any, targets: np.ndarray, reduction: str) -> tuple[Any, Any]:
    p = softmax(x) if isinstance(x, Value) else _softmax_data(x)
    w = _row_weights(g, reduction, len(targets), len(_shape_of(x)))
    dx = w * p * (G - (G * p).sum(axis=-1, keepdims=True))
    per_row = (G * (p - _onehot(_shape_of(x), targets))).sum(axis=-1)
    if reduction == "none":
        return dx, per_row
    return dx, per_row.sum() * (1.0 / len(targets) if reduction == "mean" else 1.0)


CE_GRAD = _define("cross_entropy_grad", _ce_grad, _ce_grad_vjp, derivatives=("w * dsoftmax", "p - onehot"))
"""Cross-entropy's gradient, softmax(raw) - one_hot(targets) scaled by the reduction, as a primitive of its
own so it differentiates again."""


# fused cross-entropy: loss = logsumexp(x) - x[t]     d/dx = softmax(x) - onehot(t)
# ``dlogits`` is that gradient, saved by `cross_entropy`'s forward (absent when the fuzzer applies
# the primitive itself): the first-order backward scales it, the recorded one differentiates CE_GRAD.
def _cross_entropy_vjp(g: Any, out: Any, x: Any, targets: np.ndarray, reduction: str,
                       dlogits: Any = None) -> tuple[Any]:
    if isinstance(x, Value):  # recording the backward: the gradient is a node, differentiable again
        return (CE_GRAD(x, g, targets=targets, reduction=reduction),)
    if dlogits is None:
        return (_ce_grad(x, g, targets, reduction),)
    return (dlogits * _row_weights(g, reduction, len(targets), dlogits.ndim),)


CROSS_ENTROPY = _define(
    "cross_entropy", lambda x, targets, reduction, dlogits=None: _ce_forward(x, targets, reduction)[0],
    _cross_entropy_vjp, derivatives=("softmax(a) - onehot(t)",), domain="cross_entropy",
    syntax="cross_entropy({0}, {targets}, reduction={reduction})",
)
"""The fused softmax cross-entropy primitive behind `cross_entropy` (stable at 1e4, differentiable twice)."""


def cross_entropy(logits: Value, targets: object, reduction: str = "mean") -> Value:
    """Softmax cross-entropy of logits (rows, classes) against integer targets (rows,).

    loss_r = -log softmax(logits_r)[targets_r]; ``reduction`` is "mean", "sum" or "none".
    One fused node: same values and gradients as ``nll_loss(log_softmax(logits), targets)``,
    and differentiable again (its gradient is the op ``cross_entropy_grad``).
    """
    t = _targets(logits, targets, reduction, "cross_entropy")
    data, dlogits = _ce_forward(logits.data, t, reduction)
    return CROSS_ENTROPY.record(data, (logits,), targets=t, reduction=reduction, dlogits=dlogits)
