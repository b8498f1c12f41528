"""Workload 1: one training step of the iris network on 150 flowers (2 -> 2 ReLU -> 3).

The inputs are a fixed random (150, 2) array in [0, 1] (the scaled petal and sepal widths
live in that range) with 50 flowers per class: the step's cost depends only on the shapes.
"""

from __future__ import annotations

from . import mlp_step
from .timing import Budget, Row

NAME = "iris step (150x2 -> 2 -> 3)"
TARGET = 1.3  # x the NumPy floor, eager (issue 14; 1.5 before it)
COMPILED_TARGET = 1.0  # x the floor, and ahead of JAX jit


def run(budget: Budget) -> list[Row]:
    shape = mlp_step.Shape(rows=150, inputs=2, hidden=2, classes=3, seed=0)
    return mlp_step.run(NAME, shape, budget, TARGET, COMPILED_TARGET, "jax")
