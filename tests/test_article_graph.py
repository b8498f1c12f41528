"""The articles' three-row graph: b3's paths into every row's softmax denominator; rows as clusters."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from article_reference import ROWS, hand_gradient, hand_probabilities, hand_total

import tinygrad_iris as ti
from tinygrad_iris.article_graph import STAGES, article_graph, build_article_graph
from tinygrad_iris.render import HIGHLIGHT

NODE = re.compile(r"^\t+(n\d+) \[(.*)\]$", re.MULTILINE)
EDGE = re.compile(r"^\t(n\d+) -> (n\d+)(?: \[(.*)\])?$", re.MULTILINE)


def clusters(source: str) -> dict[str, str]:
    """Each cluster's label -> the DOT text of its body, nested clusters included."""
    found = {}
    for match in re.finditer(r"subgraph cluster_\d+ \{\n", source):
        depth, end = 1, match.end()
        while depth:
            opening, closing = source.find("{", end), source.find("}", end)
            depth, end = (depth + 1, opening + 1) if -1 < opening < closing else (depth - 1, closing + 1)
        body = source[match.end() : end]
        label = re.search(r"label=<([^>]*)>", body)
        assert label is not None
        found.setdefault(label.group(1), "")
        found[label.group(1)] += body
    return found


def test_the_graph_is_the_articles_total_after_backward():
    graph = build_article_graph()
    assert graph.total.item() == pytest.approx(hand_total(-2.0), abs=1e-12)
    assert graph.net.b3.grad == pytest.approx(hand_gradient(-2.0), abs=1e-12)
    assert round(float(graph.net.b3.grad), 4) == -0.7732  # FACTS


def test_each_rows_raw_setosa_grad_is_p_setosa_minus_the_setosa_indicator():
    graph = build_article_graph()
    assert len(graph.rows) == 3
    for row, (petal, sepal, species) in zip(graph.rows, ROWS):
        probabilities = hand_probabilities(petal, sepal, -2.0)
        assert row.probabilities.data == pytest.approx(probabilities, abs=1e-12)
        expected = probabilities[0] - (species == 0)
        assert row.raw[0].grad == pytest.approx(expected, abs=1e-12)
        assert [node.name for node in row.raw] == ["raw Setosa", "raw Versicolor", "raw Virginica"]
        assert row.loss.item() == pytest.approx(-math.log(probabilities[species]), abs=1e-12)
    assert sum(row.raw[0].grad for row in graph.rows) == pytest.approx(graph.net.b3.grad, abs=1e-15)


def test_b3_is_highlighted_into_all_three_denominators():
    source = article_graph().source
    nodes = dict(NODE.findall(source))
    denominators = [attributes for attributes in nodes.values() if ti.SOFTMAX_DENOMINATOR in attributes]
    assert len(denominators) == 3
    assert all(f'color="{HIGHLIGHT}"' in attributes for attributes in denominators)
    b3 = next(node for node, attributes in nodes.items() if attributes.startswith("label=<<B>b3</B>"))
    edges = EDGE.findall(source)
    highlighted_from_b3 = [b for a, b, attributes in edges if a == b3 and HIGHLIGHT in attributes]
    assert len(highlighted_from_b3) == 3  # into each row's raw Setosa output
    for node in highlighted_from_b3:
        assert nodes[node].startswith("label=<<B>raw Setosa</B>")


def test_rows_and_stages_are_nested_clusters_and_parameters_stay_on_the_left():
    source = article_graph().source
    found = clusters(source)
    rows = [label for label in found if label.startswith("row ")]
    assert rows == [
        "row 1: Setosa (petal 0.04, sepal 0.42)",
        "row 2: Virginica (petal 1.00, sepal 0.54)",
        "row 3: Versicolor (petal 0.50, sepal 0.37)",
    ]
    for stage in STAGES:
        assert source.count(f"label=<{stage}>") == 3
    for row in rows:
        body = found[row]
        assert body.count("softmax denominator") == 1
        for name in ("upper", "bottom", "raw Setosa", "raw Versicolor", "raw Virginica", "cross entropy"):
            assert body.count(f"<B>{name}</B>") == 1, (row, name)
    assert "<B>upper</B>" in found["hidden layer"] and "<B>raw Setosa</B>" in found["raw outputs"]
    assert "<B>softmax denominator</B>" in found["softmax"] and "<B>log</B>" in found["cross entropy"]
    parameters = re.search(r"\{\n\t\trank=source\n((?:\t\tn\d+\n)+)\t\}", source)
    assert parameters is not None and len(parameters.group(1).split()) == 15


def test_the_title_says_what_pink_means_and_sums_the_gradient():
    source = article_graph().source
    assert "Pink: every path from b3 to the loss" in source
    terms = [hand_probabilities(petal, sepal, -2.0)[0] - (species == 0) for petal, sepal, species in ROWS]
    assert " + ".join(f"({term:.4g})" for term in terms) + " = -0.7732" in source
    assert "on a path from b3 to the output" in source  # the legend


def test_another_b3_and_other_rows():
    source = article_graph(b3=0.5, rows=[(0.2, 0.3, 1)]).source
    assert "at b3 = 0.5" in source and "row 1: Versicolor (petal 0.20, sepal 0.30)" in source
    assert f"= {hand_gradient(0.5, [(0.2, 0.3, 1)]):.4g}" in source


def svg_texts(svg: bytes) -> list[str]:
    return [element.text or "" for element in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]


def test_the_same_graph_gives_the_same_dot_and_a_valid_svg():
    assert article_graph().source == article_graph().source
    texts = svg_texts(ti.render_bytes(article_graph(), "svg"))
    assert "b3" in texts and texts.count(ti.SOFTMAX_DENOMINATOR) == 3


def test_the_readmes_graph_is_what_the_code_draws_now():
    """docs/img/graph.svg (shown in the README, made by `tinygrad-iris graph -o docs/img/graph.svg`)."""
    committed = Path(__file__).resolve().parent.parent / "docs" / "img" / "graph.svg"
    assert svg_texts(committed.read_bytes()) == svg_texts(ti.render_bytes(article_graph(), "svg"))
