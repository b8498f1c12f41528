"""The StatQuest iris network: petal and sepal width in, two ReLU nodes, three raw outputs.

    upper  = petal * w_petal_upper  + sepal * w_sepal_upper  + b1
    bottom = petal * w_petal_bottom + sepal * w_sepal_bottom + b2
    raw_k  = relu(upper) * w_upper_k + relu(bottom) * w_bottom_k + b_k
             for k = setosa (bias b3), versicolor (b4), virginica (b5)

then softmax over the three raw outputs and cross-entropy -log p(true species). The 15 weights
and biases are named scalar `Value`s; the per-row form (`row`, `forward_rows`,
`total_cross_entropy`) is the articles' scalar graph, and calling the network on an (n, 2) array
stacks the same scalars into matrices, so both forms put their gradients on the same parameters.
The articles' computations on it are in `article`, training in `training`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .arguments import finite, is_integer
from .engine import Value, no_grad
from .iris import SPECIES
from .nn import Module
from .ops import softmax, stack

__all__ = ["ARTICLE_B3", "ARTICLE_PARAMETERS", "ARTICLE_ROWS", "SPECIES", "IrisNetwork", "RowNodes", "Rows"]

# The network node by node, each node's parameters named once here, with the articles' values, in
# the order (weight of its first input, weight of its second input, bias). The hidden nodes'
# inputs are (petal, sepal); the raw outputs' inputs are (relu(upper), relu(bottom)).
_Layer = Mapping[str, Mapping[str, float]]
_HIDDEN: _Layer = {
    "upper": {"w_petal_upper": -2.5, "w_sepal_upper": 0.6, "b1": 1.6},
    "bottom": {"w_petal_bottom": -1.5, "w_sepal_bottom": 0.4, "b2": 0.7},
}
_OUTPUTS: _Layer = {  # one per species, in the order of SPECIES
    "raw Setosa": {"w_upper_setosa": -0.1, "w_bottom_setosa": 1.5, "b3": -2.0},
    "raw Versicolor": {"w_upper_versicolor": 2.4, "w_bottom_versicolor": -5.2, "b4": 0.0},
    "raw Virginica": {"w_upper_virginica": -2.2, "w_bottom_virginica": 3.7, "b5": 1.0},
}
ARTICLE_PARAMETERS = MappingProxyType(
    {name: value for layer in (_HIDDEN, _OUTPUTS) for node in layer.values() for name, value in node.items()}
)
"""The articles' 15 weights and biases by name (read-only)."""
ARTICLE_B3 = ARTICLE_PARAMETERS["b3"]
"""The articles' starting value of b3, -2."""

Rows = Sequence[tuple[float, float, int]]
"""(petal, sepal, species index) per flower."""
# The articles' three training rows as printed.
ARTICLE_ROWS: tuple[tuple[float, float, int], ...] = ((0.04, 0.42, 0), (1.00, 0.54, 2), (0.50, 0.37, 1))
"""The articles' three flowers: (petal, sepal, species index), rounded as the articles print them."""


def _species_index(species: object) -> int:
    if not is_integer(species):
        raise TypeError(f"species must be an integer index, got {type(species).__name__}")
    if not 0 <= species < len(SPECIES):
        raise ValueError(f"species must be 0 (Setosa), 1 (Versicolor) or 2 (Virginica), got {species}")
    return int(species)


@dataclass(frozen=True)
class RowNodes:
    """One flower's forward pass, node by node: what `IrisNetwork.row` computed, for a drawing to ask."""

    petal: float
    """The flower's petal width, scaled to [0, 1]."""
    sepal: float
    """The flower's sepal width, scaled to [0, 1]."""
    species: str
    """The flower's true species."""
    hidden: tuple[Value, Value]
    """Relu(upper), relu(bottom)."""
    raw: tuple[Value, Value, Value]
    """The raw outputs: Setosa, Versicolor, Virginica."""
    probabilities: Value
    """Softmax of the raw outputs, shape (3,)."""
    probability: Value
    """P(true species), picked from the softmax."""
    loss: Value
    """The row's cross entropy, -log p."""


class IrisNetwork(Module):
    """The 2-2-3 network with its 15 named scalar parameters (attributes of the same names).

    ``IrisNetwork()`` has the articles' values (b3 = -2); ``IrisNetwork(b3=0.0, b4=1.0)`` overrides
    any of them by name. ``net(X)`` maps an (n, 2) array of (petal, sepal) to (n, 3) raw outputs.
    """

    if TYPE_CHECKING:  # the parameters are attributes named in the tables above, each a Value

        def __getattr__(self, name: str) -> Value: ...

    def __init__(self, b3: float = ARTICLE_B3, **values: float):
        unknown = sorted(values.keys() - ARTICLE_PARAMETERS.keys())
        if unknown:
            raise TypeError(
                f"IrisNetwork: unknown parameter {', '.join(unknown)}; "
                f"the parameters are {', '.join(ARTICLE_PARAMETERS)}"
            )
        initial = {**ARTICLE_PARAMETERS, "b3": b3, **values}
        for name, value in initial.items():
            setattr(self, name, Value(finite(name, value), name=name))

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
        for first, second, bias in _HIDDEN.values():
            weights = rng.normal(0.0, math.sqrt(2 / 2), 2)
            kink = rng.uniform(0.3, 0.7, 2)
            values.update({first: weights[0], second: weights[1], bias: -float(weights @ kink)})
        return cls(**values)

    # ----- the per-row scalar graph (the articles' pictures) ----------------------------------
    def _nodes(self, layer: _Layer, inputs: tuple[Value, Value]) -> list[Value]:
        nodes = []
        for name, (first, second, bias) in layer.items():
            out = inputs[0] * getattr(self, first) + inputs[1] * getattr(self, second) + getattr(self, bias)
            out.name = name
            nodes.append(out)
        return nodes

    def _hidden_and_raw(
        self, petal: float, sepal: float
    ) -> tuple[tuple[Value, Value], tuple[Value, Value, Value]]:
        inputs = (
            Value(finite("petal", petal), name="petal", requires_grad=False),
            Value(finite("sepal", sepal), name="sepal", requires_grad=False),
        )
        upper, bottom = self._nodes(_HIDDEN, inputs)
        hidden = (upper.relu(), bottom.relu())
        setosa, versicolor, virginica = self._nodes(_OUTPUTS, hidden)
        return hidden, (setosa, versicolor, virginica)

    def raw_outputs(self, petal: float, sepal: float) -> tuple[Value, Value, Value]:
        """The raw outputs (Setosa, Versicolor, Virginica) for one flower, as scalar Values."""
        return self._hidden_and_raw(petal, sepal)[1]

    def row(self, petal: float, sepal: float, species: int) -> RowNodes:
        """One flower's forward pass to its cross-entropy, -log softmax(raw outputs)[species].

        The softmax's denominator is a node of its own; every node the articles name is in the result.
        """
        index = _species_index(species)
        hidden, raw = self._hidden_and_raw(petal, sepal)
        probabilities = softmax(stack(raw))
        probabilities.name = "softmax"
        p = probabilities[index]
        p.name = f"p({SPECIES[index]})"
        loss = -p.log()
        loss.name = "cross entropy"
        return RowNodes(float(petal), float(sepal), SPECIES[index], hidden, raw, probabilities, p, loss)

    def row_loss(self, petal: float, sepal: float, species: int) -> Value:
        """Cross-entropy of one flower: -log softmax(raw outputs)[species]."""
        return self.row(petal, sepal, species).loss

    def forward_rows(self, rows: Rows = ARTICLE_ROWS) -> tuple[Value, tuple[RowNodes, ...]]:
        """The sum of the rows' cross-entropies, and each row's nodes (see `row`)."""
        if len(rows) == 0:
            raise ValueError("total_cross_entropy: got no rows")
        nodes = tuple(self.row(*row) for row in rows)
        total = nodes[0].loss
        for row in nodes[1:]:
            total = total + row.loss
        total.name = "total cross entropy"
        return total, nodes

    def total_cross_entropy(self, rows: Rows = ARTICLE_ROWS) -> Value:
        """Sum of `row_loss` over ``rows`` of (petal, sepal, species)."""
        return self.forward_rows(rows)[0]

    # ----- the batched form (training, plots) -------------------------------------------------
    def _stacked(self, layer: _Layer) -> tuple[Value, Value]:
        """(weights (2, nodes), biases (nodes,)) stacked from the named scalar parameters."""
        columns = zip(*(tuple(node) for node in layer.values()))  # first weights, second weights, biases
        first, second, bias = ([getattr(self, name) for name in column] for column in columns)
        return stack([stack(first), stack(second)]), stack(bias)

    def hidden(self, X: Any) -> Value:
        """relu(upper), relu(bottom) for an (n, 2) array of (petal, sepal): shape (n, 2)."""
        inputs = X if isinstance(X, Value) else np.asarray(X, dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[1] != 2:
            raise ValueError(
                f"IrisNetwork: expected inputs of shape (n, 2) (petal, sepal), got {inputs.shape}"
            )
        weights, biases = self._stacked(_HIDDEN)
        return (inputs @ weights + biases).relu()

    def forward(self, X: Any) -> Value:
        """Raw outputs (n, 3), columns Setosa, Versicolor, Virginica, for (n, 2) inputs."""
        weights, biases = self._stacked(_OUTPUTS)
        return self.hidden(X) @ weights + biases

    def predict(self, X: Any) -> np.ndarray:
        """Species index (n,) of the largest raw output for each row of X."""
        with no_grad():
            return np.argmax(self(X).data, axis=1)

    def dead_units(self, X: Any) -> list[str]:
        """Names of the hidden nodes that output 0 on every row of X (their gradient is 0 too)."""
        with no_grad():
            active = self.hidden(X).data > 0
        return [name for name, alive in zip(_HIDDEN, active.any(axis=0)) if not alive]
