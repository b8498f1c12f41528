"""Functions built on `Value`: stack, softmax, log-softmax and the cross-entropy losses.

`softmax` is composed from primitives so that its denominator, the sum of the exponentials,
is a node of its own (named ``SOFTMAX_DENOMINATOR``): the graph then shows every raw output
reaching every probability. `cross_entropy` is one fused node whose gradient is
``(softmax - onehot)``, equal to the composed ``nll_loss(log_softmax(x), t)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .engine import Operand, Value, _shape, as_value, record

__all__ = ["SOFTMAX_DENOMINATOR", "cross_entropy", "log_softmax", "nll_loss", "softmax", "stack"]

SOFTMAX_DENOMINATOR = "softmax denominator"
_REDUCTIONS = ("mean", "sum", "none")


# stack: out[..., i, ...] = values[i]      d/d values[i] = g[..., i, ...]
def _stack_vjp(g: Any, out: Value) -> tuple[Any, ...]:
    return tuple(np.moveaxis(g, out._ctx, 0))


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
    return record(data, parents, _stack_vjp, "stack", axis)


def _shift(x: Value, axis: int) -> Value:
    """x minus its (constant) max along ``axis``: softmax is shift-invariant, exp can't overflow."""
    return x - np.max(x.data, axis=axis, keepdims=True)


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
        return flat.astype(np.intp)
    t = flat.astype(np.intp)  # a copy: the caller may reuse their array before backward()
    if t.size and t.view(np.uintp).max() >= classes:  # one reduction: a negative index is huge unsigned
        raise _out_of_range(flat, classes, op)
    return t


def _out_of_range(flat: np.ndarray, classes: int, op: str) -> ValueError:
    i = np.flatnonzero((flat < 0) | (flat >= classes))[0]
    return ValueError(
        f"{op}: target {flat[i].item()!r} at position {i} is out of range "
        f"for {classes} classes (0..{classes - 1})"
    )


def _rows_and_targets(x: Value, targets: object, reduction: str, op: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(x, Value):
        raise TypeError(f"{op}: expected a Value of logits, got {type(x).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    shape = _shape(x.data)
    if len(shape) not in (1, 2):
        raise ValueError(f"{op}: expected logits of shape (classes,) or (rows, classes), got {shape}")
    rows = 1 if len(shape) == 1 else shape[0]
    t = _class_targets(targets, rows, shape[-1], op)
    return np.arange(rows), t


def _reduce(losses: Value, reduction: str) -> Value:
    return losses.mean() if reduction == "mean" else losses.sum() if reduction == "sum" else losses


def nll_loss(log_probs: Value, targets: object, reduction: str = "mean") -> Value:
    """Negative log-likelihood: -log_probs[row, target[row]], reduced by ``reduction``."""
    rows, t = _rows_and_targets(log_probs, targets, reduction, "nll_loss")
    picked = log_probs[t[0]] if log_probs.ndim == 1 else log_probs[rows, t]
    return _reduce(-picked, reduction)


# fused cross-entropy: loss = logsumexp(x) - x[t]     d/dx = softmax(x) - onehot(t)
def _cross_entropy_vjp(g: Any, out: Value) -> tuple[Any]:
    exps, totals, rows, t, scale, shape = out._ctx
    grad = exps / totals
    grad[rows, t] -= 1
    grad *= g[:, None] if type(g) is np.ndarray else g * scale
    return (grad.reshape(shape),)


def cross_entropy(logits: Value, targets: object, reduction: str = "mean") -> Value:
    """Softmax cross-entropy of logits (rows, classes) against integer targets (rows,).

    loss_r = -log softmax(logits_r)[targets_r]; ``reduction`` is "mean", "sum" or "none".
    One fused node: same values and gradients as ``nll_loss(log_softmax(logits), targets)``.
    """
    rows, t = _rows_and_targets(logits, targets, reduction, "cross_entropy")
    x = logits.data
    if x.ndim == 1:
        x = x.reshape(1, -1)
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    losses = np.log(total[:, 0]) - shifted[rows, t]
    if reduction == "none":
        data: Any = losses if logits.data.ndim == 2 else losses[0]
    else:
        data = losses.sum() / len(rows) if reduction == "mean" else losses.sum()
    scale = 1.0 / len(rows) if reduction == "mean" else 1.0
    ctx = (e, total, rows, t, scale, logits.data.shape)
    return record(data, (logits,), _cross_entropy_vjp, "cross_entropy", ctx)
