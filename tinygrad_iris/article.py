"""The articles' computations on their three flowers: the forward-pass table, d(total CE)/d(b3) by
`backward()`, the pink curve (total cross-entropy against b3) and its curvature, and two ways down
it on b3 alone: gradient descent, and Newton's method.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .arguments import MAX_B3, count, finite
from .engine import grad, no_grad
from .iris import SPECIES
from .network import ARTICLE_B3, ARTICLE_ROWS, IrisNetwork, Rows

__all__ = [
    "ARTICLE_LR",
    "B3_CURVE",
    "DEFAULT_STEPS",
    "METHODS",
    "NEWTON_STEPS",
    "ArticleTable",
    "Descent",
    "DescentStep",
    "TableRow",
    "article_table",
    "b3_curve",
    "b3_derivatives",
    "b3_gradient",
    "b3_minimum",
    "optimize_b3",
]

B3_CURVE = np.linspace(-6.0, 4.0, 200)
"""The b3 values of the articles' pink curve."""
B3_CURVE.setflags(write=False)
DEFAULT_STEPS = 10
"""Of gradient descent on b3, as the articles show them."""
ARTICLE_LR = 1.0
"""The articles' learning rate for that descent."""
NEWTON_STEPS = 6
"""Of Newton's method: five reach the minimum to five digits, the sixth shows it is there."""
METHODS = ("gradient", "newton")
"""The ways `optimize_b3` steps down the curve."""


@dataclass(frozen=True)
class TableRow:
    """One row of the articles' forward-pass table: a flower, p(true species) and its cross entropy."""

    petal: float
    """The flower's petal width, scaled to [0, 1]."""
    sepal: float
    """The flower's sepal width, scaled to [0, 1]."""
    species: str
    """The flower's true species."""
    p: float
    """Predicted probability of the true species."""
    cross_entropy: float
    """-log p."""


@dataclass(frozen=True)
class ArticleTable:
    """The articles' forward-pass table at one b3: the three rows and their total."""

    b3: float
    """The b3 the table was computed at."""
    rows: tuple[TableRow, ...]
    """One row per flower, in the articles' order."""
    total_cross_entropy: float
    """The sum of the rows' cross entropies."""


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


# --8<-- [start:b3_derivatives] (docs/curvature.md shows this function as it is)
def b3_derivatives(
    b3: float, rows: Rows = ARTICLE_ROWS
) -> tuple[float, float, float]:
    """(total cross-entropy, its first and second derivative in b3) at ``b3``.

    The first `grad` records its backward pass (``create_graph=True``), so the
    gradient is a graph of its own, and the second `grad` differentiates it
    again. Per row the gradient is p_setosa - [species is Setosa], so the
    second derivative, the pink curve's curvature, is
    sum over rows of p_setosa (1 - p_setosa).
    """
    net = IrisNetwork(b3=b3)
    total = net.total_cross_entropy(rows)
    (gradient,) = grad(total, net.b3, create_graph=True)
    (curvature,) = grad(gradient, net.b3)
    return total.item(), gradient.item(), curvature.item()
# --8<-- [end:b3_derivatives]


@dataclass(frozen=True)
class DescentStep:
    """One step down the pink curve: where it starts, and the slope (and curvature) there."""

    step: int
    """The step's number, from 0."""
    b3: float
    """Before this step's update."""
    total_cross_entropy: float
    """The three rows' total cross entropy at this step's b3."""
    gradient: float
    """d(total CE)/d(b3) at this step's b3, by grad() (the first of the two)."""
    curvature: float
    """d²(total CE)/d(b3)² at this step's b3, by grad() twice (recorded for either method)."""

    def parabola(self, b3: np.ndarray) -> np.ndarray:
        """The curve's second-order Taylor polynomial at this step, at each of ``b3``: the parabola

            total + gradient (b - b3) + curvature / 2 (b - b3)^2

        whose lowest point, b3 - gradient / curvature, is where Newton's method steps to.
        """
        offset = np.asarray(b3, dtype=np.float64) - self.b3
        return self.total_cross_entropy + self.gradient * offset + 0.5 * self.curvature * offset**2


@dataclass(frozen=True)
class Descent:
    """A run of `optimize_b3`: its method, its steps, and where b3 ends."""

    method: str
    """One of METHODS."""
    steps: tuple[DescentStep, ...]
    """The steps, in order."""
    b3: float
    """After the last update."""


def _update(step: DescentStep, lr: float, method: str) -> float:
    """The next b3: gradient descent's b3 - lr * gradient, or Newton's b3 - lr * gradient / curvature.

    Newton's method needs a curve that bends up (curvature > 0): it steps to the lowest point of
    the parabola `DescentStep.parabola`. A RuntimeError names the step if it cannot, or if b3 leaves
    [-MAX_B3, MAX_B3], where the probabilities underflow and the curve is no longer worth following.
    """
    name = "Newton's method" if method == "newton" else "gradient descent"
    where = f"optimize_b3: {name}, step {step.step} from b3 = {step.b3:g}"
    if method == "newton":
        if not (math.isfinite(step.curvature) and step.curvature > 0):
            raise RuntimeError(
                f"{where}: the step needs a positive curvature, got d^2(total CE)/d(b3)^2 = "
                f"{step.curvature:g} (the curve is flat there in float64); start nearer the minimum, "
                "or use gradient descent"
            )
        b3 = step.b3 - lr * step.gradient / step.curvature
    else:
        b3 = step.b3 - lr * step.gradient
    if not (math.isfinite(b3) and abs(b3) <= MAX_B3):
        raise RuntimeError(
            f"{where} (gradient {step.gradient:.4g}, curvature {step.curvature:.4g}) goes to b3 = {b3:g}, "
            f"outside [-{MAX_B3:g}, {MAX_B3:g}]: it diverges; start nearer the minimum or take smaller steps"
        )
    return b3


def _descend(b3: float, lr: float, method: str) -> Iterator[DescentStep]:
    """``method``'s steps down the curve from ``b3``, forever (see `_update`)."""
    for k in itertools.count():
        step = DescentStep(k, b3, *b3_derivatives(b3))
        yield step
        b3 = _update(step, lr, method)


def optimize_b3(
    start: float = ARTICLE_B3, lr: float = ARTICLE_LR, steps: int | None = None, method: str = "gradient"
) -> Descent:
    """``steps`` steps on b3 alone from ``start``, each step's curvature recorded.

    ``method="gradient"``: gradient descent, b3 <- b3 - lr * gradient (`DEFAULT_STEPS` steps by
    default). ``method="newton"``: Newton's method, b3 <- b3 - lr * gradient / curvature, with lr 1
    the full step to the bottom of the parabola fitted at b3 (`NEWTON_STEPS` steps by default).
    A RuntimeError, naming the step, if Newton's method meets a curvature that is not positive,
    or if b3 leaves [-MAX_B3, MAX_B3] (the run diverges).
    """
    if method not in METHODS:
        raise ValueError(f"optimize_b3: method must be one of {', '.join(METHODS)}, got {method!r}")
    default = NEWTON_STEPS if method == "newton" else DEFAULT_STEPS
    steps = count("optimize_b3: steps", default if steps is None else steps)
    b3, rate = finite("start", start), finite("lr", lr)
    history = tuple(itertools.islice(_descend(b3, rate, method), steps))
    final = _update(history[-1], rate, method) if history else b3
    return Descent(method=method, steps=history, b3=final)


def b3_minimum(start: float = ARTICLE_B3, tolerance: float = 1e-12, max_steps: int = 10_000) -> DescentStep:
    """Where descent with lr 1 settles: the first step whose |gradient| is below ``tolerance``."""
    for step in itertools.islice(_descend(finite("start", start), ARTICLE_LR, "gradient"), max_steps):
        if abs(step.gradient) < tolerance:
            return step
    raise RuntimeError(f"b3_minimum: no convergence in {max_steps} steps from b3 = {start}")


def b3_curve(b3_values: np.ndarray = B3_CURVE) -> np.ndarray:
    """Total cross-entropy of the articles' rows at each b3 (the pink curve)."""
    with no_grad():
        return np.array([IrisNetwork(b3=float(b3)).total_cross_entropy().item() for b3 in b3_values])
