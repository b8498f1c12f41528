"""The articles' computation graph: total cross-entropy of the three flowers, b3's paths in pink.

b3 is added into the raw Setosa output of every row, and every raw output sits in its row's
softmax denominator, so b3 reaches all three probabilities of every row. backward() follows
those paths in reverse: each row's raw Setosa node gets d CE_row / d raw = p_setosa - [Setosa],
and b3, added with weight 1, collects their sum: d total / d b3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import graphviz

from .engine import Value
from .iris import SPECIES
from .network import ARTICLE_B3, ARTICLE_ROWS, IrisNetwork, Rows
from .render import GroupLabel, draw_graph, graph_nodes, groups_from_stages

__all__ = ["STAGES", "ArticleGraph", "RowNodes", "article_graph", "build_article_graph", "draw_article_graph"]

STAGES = ("hidden layer", "raw outputs", "softmax", "cross entropy")


@dataclass(frozen=True)
class RowNodes:
    """One training row's nodes in the graph, stage by stage (see `STAGES`)."""

    label: str  # "row 1: Setosa (petal 0.04, sepal 0.42)"
    species: str  # the flower's true species
    hidden: tuple[Value, ...]  # relu(upper), relu(bottom)
    raw: tuple[Value, ...]  # the raw outputs: Setosa, Versicolor, Virginica
    probabilities: Value  # softmax of the raw outputs, shape (3,)
    probability: Value  # p(true species), picked from the softmax
    loss: Value  # the row's cross entropy, -log p

    def stages(self) -> list[tuple[GroupLabel, Sequence[Value]]]:
        """``((label, stage), outputs)`` per stage, for `groups_from_stages`."""
        outputs = (self.hidden, self.raw, (self.probability,), (self.loss,))
        return [((self.label, stage), nodes) for stage, nodes in zip(STAGES, outputs)]


@dataclass(frozen=True)
class ArticleGraph:
    """`IrisNetwork.total_cross_entropy` of the articles' rows after backward(), with its rows' nodes."""

    net: IrisNetwork
    total: Value
    rows: tuple[RowNodes, ...]


def _row_nodes(total: Value, rows: Rows) -> tuple[RowNodes, ...]:
    """Find each row's stage outputs by the names `IrisNetwork.row_loss` gives them."""
    losses = [node for node in graph_nodes(total) if node.name == "cross entropy"]
    if len(rows) == 1:  # total_cross_entropy of one row is that row's loss, renamed
        losses = [total]
    if len(losses) != len(rows):
        raise ValueError(f"article graph: found {len(losses)} rows' cross entropies, expected {len(rows)}")
    found = []
    for number, (loss, (petal, sepal, species)) in enumerate(zip(losses, rows), 1):
        nodes = graph_nodes(loss)
        by_name = {node.name: node for node in nodes if node.name}
        found.append(
            RowNodes(
                label=f"row {number}: {SPECIES[species]} (petal {petal:.2f}, sepal {sepal:.2f})",
                species=SPECIES[species],
                hidden=tuple(node for node in nodes if node.op == "relu"),
                raw=tuple(by_name[f"raw {name}"] for name in SPECIES),
                probabilities=by_name["softmax"],
                probability=by_name[f"p({SPECIES[species]})"],
                loss=loss,
            )
        )
    return tuple(found)


def build_article_graph(b3: float = ARTICLE_B3, rows: Rows = ARTICLE_ROWS) -> ArticleGraph:
    """The articles' network at ``b3``: total cross-entropy of ``rows``, backward() already run."""
    net = IrisNetwork(b3=b3)
    total = net.total_cross_entropy(rows)
    total.backward()
    return ArticleGraph(net, total, _row_nodes(total, rows))


def article_graph(b3: float = ARTICLE_B3, rows: Rows = ARTICLE_ROWS) -> graphviz.Digraph:
    """The drawing of `build_article_graph`: b3's paths in pink, one cluster per row and stage.

    The 15 parameters line up on the left; the title says what the pink means and sums the raw
    Setosa nodes' gradients into b3's.
    """
    return draw_article_graph(build_article_graph(b3, rows))


def draw_article_graph(graph: ArticleGraph) -> graphviz.Digraph:
    """Draw an already built `ArticleGraph` (see `article_graph`)."""
    rows = graph.rows
    b3 = float(graph.net.b3.data)
    stages = [stage for row in graph.rows for stage in row.stages()]
    raw_setosa_grads = " + ".join(f"({row.raw[0].grad:.4g})" for row in graph.rows)
    title = (
        f"The articles' network on {len(rows)} flowers at b3 = {b3:g}, after backward(): "
        f"total cross entropy {graph.total.item():.4g}.\n"
        "Pink: every path from b3 to the loss. b3 is added into each row's raw Setosa output, and\n"
        "every raw output sits in its row's softmax denominator, so b3 moves all three probabilities\n"
        "of every row. Each raw Setosa node's grad is p_setosa - [species is Setosa]; b3's grad is\n"
        "their sum: "
        f"{raw_setosa_grads} = {float(graph.net.b3.grad):.4g}"
    )
    return draw_graph(graph.total, highlight=graph.net.b3, groups=groups_from_stages(stages), title=title)
