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
from .network import ARTICLE_B3, ARTICLE_ROWS, IrisNetwork, RowNodes, Rows
from .render import GroupLabel, draw_graph, groups_from_stages

__all__ = [
    "STAGES",
    "ArticleGraph",
    "article_graph",
    "build_article_graph",
    "draw_article_graph",
    "row_stages",
]

STAGES = ("hidden layer", "raw outputs", "softmax", "cross entropy")
"""The stages of a row, left to right, as the drawing frames them."""


@dataclass(frozen=True)
class ArticleGraph:
    """`IrisNetwork.forward_rows` of the articles' rows after backward(): the total and each row's nodes."""

    net: IrisNetwork
    """The network the graph was built from."""
    total: Value
    """The total cross entropy of the rows, after backward()."""
    rows: tuple[RowNodes, ...]
    """Each row's nodes, in the order of the articles' rows."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Each row's caption: "row 1: Setosa (petal 0.04, sepal 0.42)"."""
        return tuple(
            f"row {number}: {row.species} (petal {row.petal:.2f}, sepal {row.sepal:.2f})"
            for number, row in enumerate(self.rows, 1)
        )


def row_stages(label: str, row: RowNodes) -> list[tuple[GroupLabel, Sequence[Value]]]:
    """``((label, stage), outputs)`` per stage of `STAGES`, for `groups_from_stages`."""
    outputs = (row.hidden, row.raw, (row.probability,), (row.loss,))
    return [((label, stage), nodes) for stage, nodes in zip(STAGES, outputs)]


def build_article_graph(b3: float = ARTICLE_B3, rows: Rows = ARTICLE_ROWS) -> ArticleGraph:
    """The articles' network at ``b3``: total cross-entropy of ``rows``, backward() already run."""
    net = IrisNetwork(b3=b3)
    total, nodes = net.forward_rows(rows)
    total.backward()
    return ArticleGraph(net, total, nodes)


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
    stages = [stage for label, row in zip(graph.labels, rows) for stage in row_stages(label, row)]
    raw_setosa_grads = " + ".join(f"({row.raw[0].grad:.4g})" for row in rows)
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
