"""Workload 2: one training step of a wider MLP, 1024 x 64 -> 256 ReLU -> 10 (BLAS-bound)."""

from __future__ import annotations

from . import mlp_step
from .timing import Budget, Row

NAME = "wide MLP step (1024x64 -> 256 -> 10)"
TARGET = 1.15  # x the NumPy floor
COMPILED_TARGET = 1.0  # x the floor, and no page faults per step alone in a process


def run(budget: Budget) -> list[Row]:
    rows, inputs, hidden = (32, 8, 16) if budget.tiny else (1024, 64, 256)
    shape = mlp_step.Shape(rows=rows, inputs=inputs, hidden=hidden, classes=10, seed=1)
    return mlp_step.run(NAME, shape, budget, TARGET, COMPILED_TARGET, "faults")
