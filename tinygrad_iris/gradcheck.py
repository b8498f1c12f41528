"""Gradient checking: `backward()` against central finite differences, in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import Value, no_grad

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite-difference estimate."""


def _as_float64_leaf(x: object) -> Value:
    data = x.data if isinstance(x, Value) else x
    return Value(np.array(data, dtype=np.float64), name=getattr(x, "name", None))


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
    if not inputs:
        raise ValueError("gradcheck: give at least one input to differentiate")
    leaves = [_as_float64_leaf(x) for x in inputs]
    out = fn(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: fn must return a Value, got {type(out).__name__}")
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    if out.requires_grad:  # else fn ignores its inputs: every gradient is zero
        out.backward(upstream)
    analytic = [np.array(leaf.grad, dtype=np.float64) for leaf in leaves]

    def objective(arrays: list[np.ndarray]) -> float:
        with no_grad():
            return float(np.sum(np.asarray(fn(*(Value(a) for a in arrays)).data) * upstream))

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
            f"gradcheck: {label} of shape {arrays[k].shape}, element {index}: "
            f"backward() gives {got!r}, finite differences give {numeric!r} "
            f"(error {abs(got - numeric):.3g}, allowed {atol + rtol * abs(numeric):.3g})"
        )
    return True
