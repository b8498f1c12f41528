"""Gradient checking: first and second derivatives against central finite differences, in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import Value, grad, no_grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with the finite-difference estimate."""


def _as_float64_leaf(x: object) -> Value:
    data = x.data if isinstance(x, Value) else x
    return Value(np.array(data, dtype=np.float64), name=getattr(x, "name", None))


def _contract(values: Sequence[Value], weights: list[np.ndarray]) -> float:
    """sum_k <weights_k, values_k>."""
    return float(sum(np.sum(np.asarray(v.data) * w) for v, w in zip(values, weights)))


def _compare(
    analytic: list[np.ndarray],
    objective: Callable[[list[np.ndarray]], float],
    leaves: list[Value],
    eps: float,
    atol: float,
    rtol: float,
    what: str,
) -> None:
    """Each element of ``analytic`` against the central difference of ``objective``; raise on the worst."""
    arrays = [np.array(leaf.data, dtype=np.float64) for leaf in leaves]
    worst: tuple[float, int, tuple[int, ...], float, float] | None = None
    for k, array in enumerate(arrays):
        flat = array.reshape(-1)  # a view: perturbing it perturbs `array`
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = objective(arrays)
            flat[i] = original - eps
            minus = objective(arrays)
            flat[i] = original
            numeric = (plus - minus) / (2 * eps)
            got = float(analytic[k].reshape(-1)[i])
            excess = abs(got - numeric) - (atol + rtol * abs(numeric))
            excess = excess if np.isfinite(excess) else np.inf
            if excess > 0 and (worst is None or excess > worst[0]):
                index = tuple(int(j) for j in np.unravel_index(i, array.shape))
                worst = (excess, k, index, got, numeric)
    if worst is not None:
        _, k, index, got, numeric = worst
        label = f"input {k}" + (f" ({leaves[k].name!r})" if leaves[k].name else "")
        raise GradcheckError(
            f"{what}: {label} of shape {arrays[k].shape}, element {index}: "
            f"the engine gives {got!r}, finite differences give {numeric!r} "
            f"(error {abs(got - numeric):.3g}, allowed {atol + rtol * abs(numeric):.3g})"
        )


def _call(fn: Callable[..., Value], leaves: list[Value], what: str) -> Value:
    out = fn(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"{what}: fn must return a Value, got {type(out).__name__}")
    return out


def _start(fn: Callable[..., Value], inputs: tuple[Any, ...], what: str) -> tuple[list[Value], Value]:
    """The inputs as float64 leaves, and ``fn`` of them."""
    if not inputs:
        raise ValueError(f"{what}: give at least one input to differentiate")
    leaves = [_as_float64_leaf(x) for x in inputs]
    return leaves, _call(fn, leaves, what)


def gradcheck(
    fn: Callable[..., Value],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s gradients with respect to every input; return True or raise `GradcheckError`.

    The output is contracted with a random upstream gradient u (seeded), never a plain sum:
    analytic ``d<u, fn(x)>/dx`` from `backward()` is compared with the central difference
    ``(<u, fn(x + eps e_i)> - <u, fn(x - eps e_i)>) / 2 eps`` for every element i, and must
    satisfy ``|analytic - numeric| <= atol + rtol * |numeric|``.
    """
    leaves, out = _start(fn, inputs, "gradcheck")
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    if out.requires_grad:  # else fn ignores its inputs: every gradient is zero
        out.backward(upstream)
    analytic = [np.array(leaf.grad, dtype=np.float64) for leaf in leaves]

    def objective(arrays: list[np.ndarray]) -> float:
        with no_grad():
            return _contract([fn(*(Value(a) for a in arrays))], [upstream])

    _compare(analytic, objective, leaves, eps, atol, rtol, "gradcheck")
    return True


def gradgradcheck(
    fn: Callable[..., Value],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s second derivatives; return True or raise `GradcheckError`.

    With random u (upstream of the output) and v_k (one per input), the Hessian-vector product
    ``d/dx sum_k <v_k, d<u, fn(x)>/dx_k>`` from ``grad(..., create_graph=True)`` differentiated
    again is compared with central differences of that same first derivative, computed by plain
    first-order passes at ``x +- eps e_i``. A VJP that is right at first order but treats an
    input as a constant (its raw data) passes `gradcheck` and fails here.
    """
    leaves, out = _start(fn, inputs, "gradgradcheck")
    rng = np.random.default_rng(seed)
    upstream = rng.standard_normal(out.shape)
    directions = [rng.standard_normal(leaf.shape) for leaf in leaves]
    first = grad(out, leaves, upstream, create_graph=True)
    total = sum(((g * v).sum() for g, v in zip(first, directions)), start=Value(0.0, requires_grad=False))
    analytic = [np.array(h.data, dtype=np.float64) for h in grad(total, leaves)]

    def objective(arrays: list[np.ndarray]) -> float:
        points = [Value(a) for a in arrays]
        return _contract(grad(_call(fn, points, "gradgradcheck"), points, upstream), directions)

    _compare(analytic, objective, leaves, eps, atol, rtol, "gradgradcheck")
    return True
