"""Optimizers with PyTorch's names and update rules: `SGD` (with momentum) and `Adam`.

Each ``step()`` reads ``p.grad`` and updates ``p.data``: arrays in place, scalars by assignment.
A parameter that received no gradient counts as having gradient zero (PyTorch skips it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .arguments import number_in
from .engine import Value

__all__ = ["SGD", "Adam", "Optimizer"]


def _subtract(parameter: Value, update: Any) -> None:
    if type(parameter.data) is np.ndarray:
        parameter.data -= update
    else:
        parameter.data = type(parameter.data)(parameter.data - update)


class Optimizer:
    """Holds the parameters; subclasses define `step()`."""

    def __init__(self, params: Iterable[Value], lr: float):
        self.params = list(params)
        """The parameters it updates, in order."""
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty list of parameters")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, not a Value")
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: parameter {i} ({p.name}) does not require grad")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears more than once")
        self.lr = number_in("lr", lr, 0.0)
        """The learning rate."""

    def zero_grad(self) -> None:
        """Reset every parameter's ``.grad`` to zeros, before the next ``backward()``."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter in place from its ``.grad``; subclasses define the rule."""
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr * v, with v = g (momentum 0) or v = momentum * v + g (v = g on the first step)."""

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0):
        super().__init__(params, lr)
        self.momentum = number_in("momentum", momentum, 0.0)
        """The momentum factor (0: plain gradient descent)."""
        self._velocity: list[Any] = [None] * len(self.params)

    def step(self) -> None:
        """v = momentum * v + grad; p -= lr * v (PyTorch's rule; plain p -= lr * grad when momentum is 0)."""
        for i, p in enumerate(self.params):
            g = p.grad
            if self.momentum:
                previous = self._velocity[i]
                g = g if previous is None else self.momentum * previous + g
                self._velocity[i] = g
            _subtract(p, self.lr * g)


class Adam(Optimizer):
    """Adam (Kingma & Ba): m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of numbers, got {betas!r}")
        self.betas = (
            number_in("betas[0]", betas[0], 0.0, 1.0, high_open=True),
            number_in("betas[1]", betas[1], 0.0, 1.0, high_open=True),
        )
        """The decay rates (beta1, beta2) of the first and second moment estimates."""
        self.eps = number_in("eps", eps, 0.0)
        """Added to the denominator's square root, for stability."""
        self._steps = 0
        self._m: list[Any] = [0.0] * len(self.params)
        self._v: list[Any] = [0.0] * len(self.params)

    def step(self) -> None:
        """Kingma and Ba's update: bias-corrected moment estimates m and v, then p -= lr * m / (sqrt(v) +
        eps)."""
        self._steps += 1
        beta1, beta2 = self.betas
        m_correction = 1 - beta1**self._steps
        v_correction = 1 - beta2**self._steps
        for i, p in enumerate(self.params):
            g = p.grad
            m = self._m[i] = beta1 * self._m[i] + (1 - beta1) * g
            v = self._v[i] = beta2 * self._v[i] + (1 - beta2) * g * g
            _subtract(p, self.lr * (m / m_correction) / (np.sqrt(v / v_correction) + self.eps))
