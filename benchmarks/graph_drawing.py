"""Workload 5: drawing the articles' three-row graph; DOT text generation, not Graphviz's layout.

The graph (the network on the article's three rows at b3 = -2, after backward()) is built once,
untimed. tinygrad_iris times `draw_article_graph(graph).source`: the walk, the highlight of b3's
paths, the row and stage clusters, the escaped labels and the DOT text. The floor is the graphviz
package writing a digraph with the same nodes and edges and bare labels: the cost of the library
alone, which any drawing of this graph pays.
"""

from __future__ import annotations

from dataclasses import replace

import graphviz

from tinygrad_iris.article_graph import ArticleGraph, build_article_graph, draw_article_graph
from tinygrad_iris.render import graph_nodes

from .timing import Budget, Contender, Row, compare, rows_against_floor

NAME = "graph drawing (3-row iris graph, DOT)"
FLOOR = "graphviz package, bare labels (floor)"
OURS = "tinygrad_iris"

Edges = tuple[list[str], list[tuple[str, str]]]


def bare_edges(graph: ArticleGraph) -> Edges:
    """Node ids and input -> output edges of the graph, in `graph_nodes` order."""
    nodes = graph_nodes(graph.total)
    ids = {node: f"n{i}" for i, node in enumerate(nodes)}
    edges = [(ids[parent], ids[node]) for node in nodes for parent in node._parents]
    return list(ids.values()), edges


def bare_drawing(edges: Edges) -> str:
    nodes, links = edges
    dot = graphviz.Digraph()
    for node in nodes:
        dot.node(node, node)
    for tail, head in links:
        dot.edge(tail, head)
    return dot.source


def our_drawing(graph: ArticleGraph) -> str:
    return draw_article_graph(graph).source


def run(budget: Budget) -> list[Row]:
    graph = build_article_graph()
    edges = bare_edges(graph)
    contenders = [
        Contender(FLOOR, bare_drawing, setup=lambda: edges),
        Contender(OURS, our_drawing, setup=lambda: graph),
    ]
    size = f"{len(edges[0])} nodes, {len(edges[1])} edges"
    rows = rows_against_floor(NAME, contenders, compare(contenders, budget), FLOOR)
    return [replace(row, note=size) for row in rows]
