"""The StatQuest iris network: petal and sepal width in, two ReLU nodes, three raw outputs.

    upper  = petal * w_petal_upper  + sepal * w_sepal_upper  + b1
    bottom = petal * w_petal_bottom + sepal * w_sepal_bottom + b2
    raw_k  = relu(upper) * w_upper_k + relu(bottom) * w_bottom_k + b_k
             for k = setosa (bias b3), versicolor (b4), virginica (b5)

then softmax over the three raw outputs and cross-entropy -log p(true species). The 15 weights
and biases are named scalar `Value`s; the per-row form (`raw_outputs`, `row_loss`,
`total_cross_entropy`) is the articles' scalar graph, and calling the network on an (n, 2) array
stacks the same scalars into matrices, so both forms put their gradients on the same parameters.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .engine import Value, no_grad
from .iris import SPECIES
from .nn import Module
from .ops import cross_entropy, softmax, stack
from .optim import SGD, Adam, Optimizer

__all__ = [
    "ARTICLE_B3",
    "ARTICLE_PARAMETERS",
    "ARTICLE_ROWS",
    "B3_CURVE",
    "DEFAULT_EPOCHS",
    "DEFAULT_LR",
    "OPTIMIZERS",
    "SPECIES",
    "ArticleTable",
    "Descent",
    "DescentStep",
    "IrisNetwork",
    "TableRow",
    "TrainingHistory",
    "accuracy",
    "article_table",
    "b3_curve",
    "b3_gradient",
    "b3_minimum",
    "evaluate",
    "optimize_b3",
    "train",
]

Rows = Sequence[tuple[float, float, int]]  # (petal, sepal, species index) per flower
# The articles' three training rows as printed.
ARTICLE_ROWS: tuple[tuple[float, float, int], ...] = ((0.04, 0.42, 0), (1.00, 0.54, 2), (0.50, 0.37, 1))
ARTICLE_B3 = -2.0
ARTICLE_PARAMETERS = MappingProxyType(
    {
        "w_petal_upper": -2.5, "w_sepal_upper": 0.6, "b1": 1.6,
        "w_petal_bottom": -1.5, "w_sepal_bottom": 0.4, "b2": 0.7,
        "w_upper_setosa": -0.1, "w_bottom_setosa": 1.5, "b3": ARTICLE_B3,
        "w_upper_versicolor": 2.4, "w_bottom_versicolor": -5.2, "b4": 0.0,
        "w_upper_virginica": -2.2, "w_bottom_virginica": 3.7, "b5": 1.0,
    }
)  # fmt: skip
# Each node: (name, weight of its first input, weight of its second input, bias). The hidden
# nodes' inputs are (petal, sepal); the raw outputs' inputs are (relu(upper), relu(bottom)).
_HIDDEN = (
    ("upper", "w_petal_upper", "w_sepal_upper", "b1"),
    ("bottom", "w_petal_bottom", "w_sepal_bottom", "b2"),
)
_OUTPUTS = tuple(
    (f"raw {species}", f"w_upper_{species.lower()}", f"w_bottom_{species.lower()}", f"b{3 + k}")
    for k, species in enumerate(SPECIES)
)
B3_CURVE = np.linspace(-6.0, 4.0, 200)  # the b3 values of the articles' pink curve
B3_CURVE.setflags(write=False)
OPTIMIZERS = ("adam", "sgd")
DEFAULT_EPOCHS = 1000
DEFAULT_LR = MappingProxyType({"adam": 0.05, "sgd": 0.5})


def _finite(name: str, value: object) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _species_index(species: object) -> int:
    if isinstance(species, (bool, np.bool_)) or not isinstance(species, (int, np.integer)):
        raise TypeError(f"species must be an integer index, got {type(species).__name__}")
    if not 0 <= species < len(SPECIES):
        raise ValueError(f"species must be 0 (Setosa), 1 (Versicolor) or 2 (Virginica), got {species}")
    return int(species)


class IrisNetwork(Module):
    """The 2-2-3 network with its 15 named scalar parameters (attributes of the same names).

    ``IrisNetwork()`` has the articles' values (b3 = -2); ``IrisNetwork(b3=0.0, b4=1.0)`` overrides
    any of them by name. ``net(X)`` maps an (n, 2) array of (petal, sepal) to (n, 3) raw outputs.
    """

    w_petal_upper: Value
    w_sepal_upper: Value
    b1: Value
    w_petal_bottom: Value
    w_sepal_bottom: Value
    b2: Value
    w_upper_setosa: Value
    w_bottom_setosa: Value
    b3: Value
    w_upper_versicolor: Value
    w_bottom_versicolor: Value
    b4: Value
    w_upper_virginica: Value
    w_bottom_virginica: Value
    b5: Value

    def __init__(self, b3: float = ARTICLE_B3, **values: float):
        unknown = sorted(values.keys() - ARTICLE_PARAMETERS.keys())
        if unknown:
            raise TypeError(
                f"IrisNetwork: unknown parameter {', '.join(unknown)}; "
                f"the parameters are {', '.join(ARTICLE_PARAMETERS)}"
            )
        initial = {**ARTICLE_PARAMETERS, "b3": b3, **values}
        for name, value in initial.items():
            setattr(self, name, Value(_finite(name, value), name=name))

    @classmethod
    def random(cls, seed: int | None = None) -> IrisNetwork:
        """A random start that keeps both ReLUs alive, on inputs spread over [0, 1]^2.

        Hidden weights are He-normal (std sqrt(2 / fan_in) = 1), and each hidden bias puts its
        node's kink through a random point of [0.3, 0.7]^2, inside the flowers' cloud, so the node
        is active on part of the data. The output weights and biases start at 0 (every species
        equally likely): random output weights make the first gradient steps on the hidden nodes
        noise, which pushed both kinks off the data for about one seed in ten in our trials.
        """
        rng = np.random.default_rng(seed)
        values = dict.fromkeys(ARTICLE_PARAMETERS, 0.0)
        for _, first, second, bias in _HIDDEN:
            weights = rng.normal(0.0, math.sqrt(2 / 2), 2)
            kink = rng.uniform(0.3, 0.7, 2)
            values.update({first: weights[0], second: weights[1], bias: -float(weights @ kink)})
        return cls(**values)

    # ----- the per-row scalar graph (the articles' pictures) ----------------------------------
    def _node(self, inputs: tuple[Value, Value], layout: tuple[str, str, str, str]) -> Value:
        _, first, second, bias = layout
        out = inputs[0] * getattr(self, first) + inputs[1] * getattr(self, second) + getattr(self, bias)
        out.name = layout[0]
        return out

    def raw_outputs(self, petal: float, sepal: float) -> tuple[Value, Value, Value]:
        """The raw outputs (Setosa, Versicolor, Virginica) for one flower, as scalar Values."""
        inputs = (
            Value(_finite("petal", petal), name="petal", requires_grad=False),
            Value(_finite("sepal", sepal), name="sepal", requires_grad=False),
        )
        upper, bottom = (self._node(inputs, layout) for layout in _HIDDEN)
        activated = (upper.relu(), bottom.relu())
        setosa, versicolor, virginica = (self._node(activated, layout) for layout in _OUTPUTS)
        return setosa, versicolor, virginica

    def row_probabilities(self, petal: float, sepal: float) -> Value:
        """softmax of the three raw outputs, shape (3,); its denominator is a node of its own."""
        probabilities = softmax(stack(self.raw_outputs(petal, sepal)))
        probabilities.name = "softmax"
        return probabilities

    def row_loss(self, petal: float, sepal: float, species: int) -> Value:
        """Cross-entropy of one flower: -log softmax(raw outputs)[species]."""
        index = _species_index(species)
        p = self.row_probabilities(petal, sepal)[index]
        p.name = f"p({SPECIES[index]})"
        loss = -p.log()
        loss.name = "cross entropy"
        return loss

    def total_cross_entropy(self, rows: Rows = ARTICLE_ROWS) -> Value:
        """Sum of `row_loss` over ``rows`` of (petal, sepal, species)."""
        if len(rows) == 0:
            raise ValueError("total_cross_entropy: got no rows")
        losses = [self.row_loss(*row) for row in rows]
        total = losses[0]
        for loss in losses[1:]:
            total = total + loss
        total.name = "total cross entropy"
        return total

    # ----- the batched form (training, plots) -------------------------------------------------
    def _layer(self, layouts: tuple[tuple[str, str, str, str], ...]) -> tuple[Value, Value]:
        """(weights (2, nodes), biases (nodes,)) stacked from the named scalar parameters."""
        first = stack([getattr(self, layout[1]) for layout in layouts])
        second = stack([getattr(self, layout[2]) for layout in layouts])
        return stack([first, second]), stack([getattr(self, layout[3]) for layout in layouts])

    def hidden(self, X: Any) -> Value:
        """relu(upper), relu(bottom) for an (n, 2) array of (petal, sepal): shape (n, 2)."""
        inputs = X if isinstance(X, Value) else np.asarray(X, dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[1] != 2:
            raise ValueError(
                f"IrisNetwork: expected inputs of shape (n, 2) (petal, sepal), got {inputs.shape}"
            )
        weights, biases = self._layer(_HIDDEN)
        return (inputs @ weights + biases).relu()

    def forward(self, X: Any) -> Value:
        """Raw outputs (n, 3), columns Setosa, Versicolor, Virginica, for (n, 2) inputs."""
        weights, biases = self._layer(_OUTPUTS)
        return self.hidden(X) @ weights + biases

    def predict(self, X: Any) -> np.ndarray:
        """Species index (n,) of the largest raw output for each row of X."""
        with no_grad():
            return np.argmax(self(X).data, axis=1)

    def dead_units(self, X: Any) -> list[str]:
        """Names of the hidden nodes that output 0 on every row of X (their gradient is 0 too)."""
        with no_grad():
            active = self.hidden(X).data > 0
        return [layout[0] for layout, alive in zip(_HIDDEN, active.any(axis=0)) if not alive]


# ----- the articles' computations ----------------------------------------------------------------
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


def optimize_b3(start: float = ARTICLE_B3, lr: float = 1.0, steps: int = 10) -> Descent:
    """``steps`` steps of gradient descent on b3 alone, starting from ``start``."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"optimize_b3: steps must be a non-negative integer, got {steps!r}")
    b3, rate = _finite("start", start), _finite("lr", lr)
    history = tuple(itertools.islice(_descend(b3, rate), steps))
    final = history[-1].b3 - rate * history[-1].gradient if history else b3
    return Descent(steps=history, b3=final)


def b3_minimum(start: float = ARTICLE_B3, tolerance: float = 1e-12, max_steps: int = 10_000) -> DescentStep:
    """Where descent with lr 1 settles: the first step whose |gradient| is below ``tolerance``."""
    for step in itertools.islice(_descend(_finite("start", start), 1.0), max_steps):
        if abs(step.gradient) < tolerance:
            return step
    raise RuntimeError(f"b3_minimum: no convergence in {max_steps} steps from b3 = {start}")


def b3_curve(b3_values: np.ndarray = B3_CURVE) -> np.ndarray:
    """Total cross-entropy of the articles' rows at each b3 (the pink curve)."""
    with no_grad():
        return np.array([IrisNetwork(b3=float(b3)).total_cross_entropy().item() for b3 in b3_values])


# ----- training on the whole data set ----------------------------------------------------------------
@dataclass
class TrainingHistory:
    """Mean cross-entropy and accuracy of each epoch, measured before that epoch's update."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)


def accuracy(net: IrisNetwork, X: Any, labels: Any) -> float:
    """Fraction of rows whose largest raw output is the true species."""
    return float(np.mean(net.predict(X) == np.asarray(labels)))


def _optimizer(name: str, params: list[Value], lr: float | None) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    rate = DEFAULT_LR[name] if lr is None else lr
    return Adam(params, lr=rate) if name == "adam" else SGD(params, lr=rate, momentum=0.9)


def train(
    net: IrisNetwork,
    X: Any,
    labels: Any,
    epochs: int = DEFAULT_EPOCHS,
    optimizer: str = "adam",
    lr: float | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> TrainingHistory:
    """Full-batch training of all 15 parameters on mean cross-entropy.

    ``optimizer`` is "adam" or "sgd" (momentum 0.9); ``lr`` defaults to `DEFAULT_LR`.
    ``on_epoch(epoch, loss, accuracy)`` is called after each epoch (for progress bars).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"train: epochs must be a non-negative integer, got {epochs!r}")
    targets = np.asarray(labels)
    step = _optimizer(optimizer, net.parameters(), lr)
    history = TrainingHistory()
    for epoch in range(epochs):
        logits = net(X)
        loss = cross_entropy(logits, targets)
        step.zero_grad()
        loss.backward()
        step.step()
        history.loss.append(loss.item())
        history.accuracy.append(float(np.mean(np.argmax(logits.data, axis=1) == targets)))
        if on_epoch is not None:
            on_epoch(epoch, history.loss[-1], history.accuracy[-1])
    return history


def evaluate(net: IrisNetwork, X: Any, labels: Any) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the network on the rows of X."""
    with no_grad():
        return cross_entropy(net(X), labels).item(), accuracy(net, X, labels)
