"""The articles' computations on their three flowers: the forward-pass table, d(total CE)/d(b3) by
`backward()`, gradient descent on b3 alone, and the pink curve (total cross-entropy against b3).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .arguments import count, finite
from .engine import no_grad
from .iris import SPECIES
from .network import ARTICLE_B3, ARTICLE_ROWS, IrisNetwork, Rows

__all__ = [
    "ARTICLE_LR",
    "B3_CURVE",
    "DEFAULT_STEPS",
    "ArticleTable",
    "Descent",
    "DescentStep",
    "TableRow",
    "article_table",
    "b3_curve",
    "b3_gradient",
    "b3_minimum",
    "optimize_b3",
]

B3_CURVE = np.linspace(-6.0, 4.0, 200)  # the b3 values of the articles' pink curve
B3_CURVE.setflags(write=False)
DEFAULT_STEPS = 10  # of gradient descent on b3, as the articles show them
ARTICLE_LR = 1.0  # the articles' learning rate for that descent


@dataclass(frozen=True)
class TableRow:
    petal: float
    sepal: float
    species: str
    p: float  # predicted probability of the true species
    cross_entropy: float


@dataclass(frozen=True)
class ArticleTable:
    b3: float
    rows: tuple[TableRow, ...]
    total_cross_entropy: float


def article_table(b3: float = ARTICLE_B3, rows: Rows = ARTICLE_ROWS) -> ArticleTable:
    """The forward pass of the articles' table: p and cross-entropy per row, and their total."""
    net = IrisNetwork(b3=b3)
    table = []
    with no_grad():
        for petal, sepal, species in rows:
            loss = net.row_loss(petal, sepal, species).item()
            table.append(TableRow(petal, sepal, SPECIES[species], math.exp(-loss), loss))
    total = math.fsum(row.cross_entropy for row in table)
    return ArticleTable(b3=float(b3), rows=tuple(table), total_cross_entropy=total)


def b3_gradient(b3: float, rows: Rows = ARTICLE_ROWS) -> tuple[float, float]:
    """(total cross-entropy, d total / d b3) at ``b3``, the derivative by `backward()`."""
    net = IrisNetwork(b3=b3)
    total = net.total_cross_entropy(rows)
    total.backward()
    return total.item(), float(net.b3.grad)


@dataclass(frozen=True)
class DescentStep:
    step: int
    b3: float  # before this step's update
    total_cross_entropy: float
    gradient: float


@dataclass(frozen=True)
class Descent:
    steps: tuple[DescentStep, ...]
    b3: float  # after the last update


def _descend(b3: float, lr: float) -> Iterator[DescentStep]:
    """Gradient descent on b3 over the articles' rows, forever: b3 <- b3 - lr * d total / d b3."""
    for k in itertools.count():
        total, gradient = b3_gradient(b3)
        yield DescentStep(k, b3, total, gradient)
        b3 -= lr * gradient


def optimize_b3(start: float = ARTICLE_B3, lr: float = ARTICLE_LR, steps: int = DEFAULT_STEPS) -> Descent:
    """``steps`` steps of gradient descent on b3 alone, starting from ``start``."""
    steps = count("optimize_b3: steps", steps)
    b3, rate = finite("start", start), finite("lr", lr)
    history = tuple(itertools.islice(_descend(b3, rate), steps))
    final = history[-1].b3 - rate * history[-1].gradient if history else b3
    return Descent(steps=history, b3=final)


def b3_minimum(start: float = ARTICLE_B3, tolerance: float = 1e-12, max_steps: int = 10_000) -> DescentStep:
    """Where descent with lr 1 settles: the first step whose |gradient| is below ``tolerance``."""
    for step in itertools.islice(_descend(finite("start", start), ARTICLE_LR), max_steps):
        if abs(step.gradient) < tolerance:
            return step
    raise RuntimeError(f"b3_minimum: no convergence in {max_steps} steps from b3 = {start}")


def b3_curve(b3_values: np.ndarray = B3_CURVE) -> np.ndarray:
    """Total cross-entropy of the articles' rows at each b3 (the pink curve)."""
    with no_grad():
        return np.array([IrisNetwork(b3=float(b3)).total_cross_entropy().item() for b3 in b3_values])
