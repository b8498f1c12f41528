"""Drawing the computation graph: DOT text, highlighting, escaping, rendering with Graphviz's dot."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import graphviz
import numpy as np
import pytest

import tinygrad_iris as ti
from tinygrad_iris import SOFTMAX_DENOMINATOR, Value, softmax, stack
from tinygrad_iris.render import HIGHLIGHT

# ----- the articles' network on its three training rows, built from primitives ------------------------
PARAMETERS = {
    "w_petal_upper": -2.5, "w_sepal_upper": 0.6, "b1": 1.6,
    "w_petal_bottom": -1.5, "w_sepal_bottom": 0.4, "b2": 0.7,
    "w_upper_setosa": -0.1, "w_bottom_setosa": 1.5, "b3": -2.0,
    "w_upper_versicolor": 2.4, "w_bottom_versicolor": -5.2, "b4": 0.0,
    "w_upper_virginica": -2.2, "w_bottom_virginica": 3.7, "b5": 1.0,
}  # fmt: skip
ROWS = [(0.04, 0.42, 0), (1.00, 0.54, 2), (0.50, 0.37, 1)]  # petal, sepal, species index
SPECIES = ("setosa", "versicolor", "virginica")
BIASES = ("b3", "b4", "b5")


def three_row_graph() -> tuple[Value, dict[str, Value], list]:
    """Total cross-entropy of the three rows (after backward), the parameters, and per-row stages."""
    p = {name: Value(value, name=name) for name, value in PARAMETERS.items()}
    losses, stages = [], []
    for row, (petal, sepal, species) in enumerate(ROWS, 1):
        upper = petal * p["w_petal_upper"] + sepal * p["w_sepal_upper"] + p["b1"]
        bottom = petal * p["w_petal_bottom"] + sepal * p["w_sepal_bottom"] + p["b2"]
        hidden = [upper.relu(), bottom.relu()]
        raw = [
            hidden[0] * p[f"w_upper_{kind}"] + hidden[1] * p[f"w_bottom_{kind}"] + p[bias]
            for kind, bias in zip(SPECIES, BIASES)
        ]
        probabilities = softmax(stack(raw))
        loss = -probabilities[species].log()
        losses.append(loss)
        label = f"row {row}"
        stages += [((label, "hidden"), hidden), ((label, "raw"), raw), ((label, "softmax"), [probabilities])]
    total = losses[0] + losses[1] + losses[2]
    total.name = "total cross entropy"
    total.backward()
    return total, p, stages


def test_the_fixture_is_the_articles_network():
    total, p, _ = three_row_graph()
    assert total.data == pytest.approx(2.66594, abs=1e-5)
    assert p["b3"].grad == pytest.approx(-0.7732, abs=1e-4)


# ----- helpers written independently of render.py -----------------------------------------------------
EDGE = re.compile(r"^\t(n\d+) -> (n\d+)(?: \[(.*)\])?$", re.MULTILINE)
NODE = re.compile(r"^\t+(n\d+) \[(.*)\]$", re.MULTILINE)


def all_values(root: Value) -> list[Value]:
    seen, todo = {root}, [root]
    while todo:
        for parent in todo.pop()._parents:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return list(seen)


def edges_on_paths(source: Value, root: Value) -> set[tuple[Value, Value]]:
    """Every edge on some path source -> root, by enumerating the paths one by one."""
    children = defaultdict(list)
    for node in all_values(root):
        for parent in node._parents:
            children[parent].append(node)
    found: set[tuple[Value, Value]] = set()
    paths = [(source, ())]
    while paths:
        node, edges = paths.pop()
        if node is root:
            found.update(edges)
        for child in children[node]:
            paths.append((child, (*edges, (node, child))))
    return found


def dot_edges(source: str) -> list[tuple[str, str, str]]:
    return [(a, b, attributes or "") for a, b, attributes in EDGE.findall(source)]


def dot_nodes(source: str) -> dict[str, str]:
    return dict(NODE.findall(source))


def svg_texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [element.text or "" for element in root.iter("{http://www.w3.org/2000/svg}text")]


# ----- DOT text ---------------------------------------------------------------------------------------
GOLDEN = """\
digraph computation_graph {
	fontname=Helvetica nodesep=0.12 rankdir=LR ranksep=0.3
	node [color="#777777" fillcolor=white fontname=Helvetica fontsize=10 height=0.3 margin="0.06,0.03" shape=box style="rounded,filled"]
	edge [arrowsize=0.6 color="#8c8c8c"]
	n0 [label=<<B>x</B><BR/>parameter<BR/>data 2<BR/>grad 3> color="#b08800" fillcolor="#fff2cc"]
	n1 [label=<3> fontcolor="#555555" fontsize=9 shape=plaintext style=""]
	n2 [label=<<B>y</B><BR/>×<BR/>data 6<BR/>grad 1>]
	{
		rank=source
		n0
	}
	n0 -> n2
	n1 -> n2
	fontsize=11 label=<<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="2"><TR><TD BGCOLOR="#fff2cc" COLOR="#b08800" BORDER="1" WIDTH="14" HEIGHT="14"></TD><TD ALIGN="LEFT">parameter (leaf that requires grad)</TD><TD BGCOLOR="white" COLOR="#777777" BORDER="1" WIDTH="14" HEIGHT="14"></TD><TD ALIGN="LEFT">op result: name, op, data, grad</TD></TR><TR><TD></TD><TD ALIGN="LEFT" COLSPAN="3">small grey numbers: constants</TD></TR></TABLE>> labeljust=l labelloc=b
}
"""  # noqa: E501


def test_golden_dot_of_a_tiny_graph():
    x = Value(2.0, name="x")
    y = x * 3.0
    y.name = "y"
    y.backward()
    assert ti.draw_graph(y).source == GOLDEN


def test_the_same_graph_gives_the_same_dot_every_time():
    first, _, _ = three_row_graph()
    second, p, _ = three_row_graph()
    assert ti.draw_graph(first).source == ti.draw_graph(second).source
    assert ti.draw_graph(second, p["b3"]).source == ti.draw_graph(second, p["b3"]).source


def test_one_node_per_value_and_one_edge_per_input():
    total, _, _ = three_row_graph()
    values = all_values(total)
    source = ti.draw_graph(total).source
    assert len(dot_nodes(source)) == len(values)
    assert len(dot_edges(source)) == sum(len(v._parents) for v in values)
    assert {v.name for v in values if v.requires_grad and not v._parents} == set(PARAMETERS)


def test_arrays_show_shape_and_a_preview():
    w = Value(np.arange(10.0), name="w")
    source = ti.draw_graph(w.sum()).source
    assert "data (10,) [0, 1, ..., 8, 9]" in source
    assert "grad (10,) [0, 0, ..., 0, 0]" in source
    total, _, _ = three_row_graph()
    source = ti.draw_graph(total).source
    assert source.count("<BR/>sum(axis=-1)<BR/>data (1,) [") == 3  # each softmax denominator
    assert "<B>[0]</B>" in source and "<B>[2]</B>" in source  # picking the true species


# ----- highlighting -----------------------------------------------------------------------------------
def test_b3_reaches_every_rows_softmax_denominator():
    total, p, _ = three_row_graph()
    nodes = dot_nodes(ti.draw_graph(total, highlight=p["b3"]).source)
    denominators = [attributes for attributes in nodes.values() if SOFTMAX_DENOMINATOR in attributes]
    assert len(denominators) == 3
    for attributes in denominators:
        assert "shape=doubleoctagon" in attributes
        assert f'color="{HIGHLIGHT}"' in attributes


@pytest.mark.parametrize("name", ["b3", "b1", "w_upper_virginica"])
def test_highlighted_edges_are_exactly_those_on_paths_to_the_root(name):
    total, p, _ = three_row_graph()
    source = ti.draw_graph(total, highlight=p[name]).source
    ids = {node: f"n{i}" for i, node in enumerate(ti.graph_nodes(total))}
    expected = {(ids[a], ids[b]) for a, b in edges_on_paths(p[name], total)}
    highlighted = {(a, b) for a, b, attributes in dot_edges(source) if HIGHLIGHT in attributes}
    plain = {(a, b) for a, b, attributes in dot_edges(source) if HIGHLIGHT not in attributes}
    assert highlighted == expected
    assert not highlighted & plain
    assert "on a path from " + name + " to the output" in source


def test_b3_paths_avoid_what_b3_cannot_change():
    total, p, _ = three_row_graph()
    nodes = dot_nodes(ti.draw_graph(total, highlight=p["b3"]).source)
    highlighted = [attributes for attributes in nodes.values() if f'color="{HIGHLIGHT}"' in attributes]
    # b3, three raw setosa outputs, and per row stack, shift, exp, denominator, divide, index, log, neg;
    # then the two additions of the rows' losses
    assert len(highlighted) == 1 + 3 + 3 * 8 + 2
    assert not any("<B>relu</B>" in attributes for attributes in highlighted)


def test_highlight_must_be_in_the_graph():
    total, _, _ = three_row_graph()
    with pytest.raises(ValueError, match="'stranger' is not in the graph behind root"):
        ti.draw_graph(total, highlight=Value(1.0, name="stranger"))
    with pytest.raises(TypeError, match="highlight must be a Value"):
        ti.draw_graph(total, highlight="b3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="root must be a Value"):
        ti.draw_graph(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_nodes must be a positive integer"):
        ti.draw_graph(total, max_nodes=0)
    with pytest.raises(ValueError, match="rankdir"):
        ti.draw_graph(total, rankdir="sideways")


# ----- grouping -----------------------------------------------------------------------------------------
def test_groups_become_nested_clusters_and_parameters_stay_outside():
    total, _, stages = three_row_graph()
    source = ti.draw_graph(total, groups=ti.groups_from_stages(stages)).source
    for row in (1, 2, 3):
        assert f"label=<row {row}>" in source
    assert source.count("label=<softmax>") == 3
    assert source.count("subgraph cluster_") == 3 + 3 * 3
    parameters = re.search(r"\{\n\t\trank=source\n((?:\t\tn\d+\n)+)\t\}", source)
    assert parameters is not None and len(parameters.group(1).split()) == len(PARAMETERS)


def test_groups_must_return_labels():
    total, _, _ = three_row_graph()
    with pytest.raises(TypeError, match="groups"):
        ti.draw_graph(total, groups=lambda node: 3)  # type: ignore[arg-type,return-value]


# ----- escaping -----------------------------------------------------------------------------------------
HOSTILE = ['say "hi"', "<b>bold</b>", "{a|b}", "back\\slash", "two\nlines", "tab\there", "amp &amp;", "]]>"]


def test_hostile_names_render_as_written():
    leaves = [Value(float(i), name=name) for i, name in enumerate(HOSTILE)]
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    total.name = "<root> \x00 \ud800"
    graph = ti.draw_graph(total, highlight=leaves[1], groups=lambda n: ("{c|l}", '"q"'), title="</TABLE>")
    texts = svg_texts(ti.render_bytes(graph, "svg"))
    for name in ['say "hi"', "<b>bold</b>", "{a|b}", "back\\slash", "two", "lines", "amp &amp;", "]]>"]:
        assert name in texts, name
    assert "tab\\there" in texts  # a control character is spelled out, never sent to Graphviz raw
    assert "<root> \\x00 \\ud800" in texts
    assert {"{c|l}", '"q"', "</TABLE>"} <= set(texts)


# ----- rendering with Graphviz ---------------------------------------------------------------------------
def test_rendered_svg_is_valid_xml_and_names_b3(tmp_path: Path):
    total, p, stages = three_row_graph()
    graph = ti.draw_graph(total, highlight=p["b3"], groups=ti.groups_from_stages(stages))
    path = ti.render_graph(graph, tmp_path / "graph.svg")
    texts = svg_texts(path.read_bytes())
    assert "b3" in texts
    assert texts.count(SOFTMAX_DENOMINATOR) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.svg"]  # no temporary file left


@pytest.mark.parametrize(
    ("filename", "magic"),
    [("g.png", b"\x89PNG"), ("g.pdf", b"%PDF"), ("g.dot", b"digraph"), ("g.gv", b"digraph")],
)
def test_the_format_follows_the_extension(tmp_path: Path, filename: str, magic: bytes):
    x = Value(1.0, name="x")
    assert ti.render_graph(ti.draw_graph(x.exp()), tmp_path / filename).read_bytes().startswith(magic)


def test_format_overrides_the_extension_and_bad_formats_are_refused(tmp_path: Path):
    graph = ti.draw_graph(Value(1.0, name="x").exp())
    out = ti.render_graph(graph, tmp_path / "graph.txt", format="svg")
    assert b"<svg" in out.read_bytes()
    with pytest.raises(ValueError, match="unknown graph format 'jpeg'"):
        ti.render_graph(graph, tmp_path / "graph.jpeg")
    with pytest.raises(ValueError, match="cannot tell the format"):
        ti.render_graph(graph, tmp_path / "graph")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.txt"]


def test_an_existing_file_is_replaced_whole(tmp_path: Path):
    path = tmp_path / "graph.dot"
    path.write_text("old")
    graph = ti.draw_graph(Value(1.0, name="x").exp())
    ti.render_graph(graph, path)
    assert path.read_text() == graph.source


def test_missing_dot_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    graph = ti.draw_graph(Value(1.0, name="x").exp())
    path = tmp_path / "graph.svg"
    path.write_text("keep me")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert shutil.which("dot") is None
    with pytest.raises(ti.GraphvizNotFoundError) as caught:
        ti.render_graph(graph, path)
    message = str(caught.value)
    for command in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz"):
        assert command in message
    assert "\n" not in message
    assert path.read_text() == "keep me"
    assert ti.render_bytes(graph, "dot") == graph.source.encode()  # DOT text needs no Graphviz program


def test_jupyter_shows_the_graph_inline():
    graph = ti.draw_graph(Value(1.0, name="x").exp())
    assert isinstance(graph, graphviz.Digraph)
    assert "x" in svg_texts(graph._repr_mimebundle_()["image/svg+xml"].encode())


# ----- big graphs ------------------------------------------------------------------------------------------
def chain(length: int) -> Value:
    x = Value(1.0, name="start")
    for _ in range(length):
        x = -x
    return x


def test_a_100000_node_chain_draws_without_recursion():
    source = ti.draw_graph(chain(100_000), max_nodes=100_001).source
    assert len(dot_edges(source)) == 100_000
    assert "n100000 [" in source


def test_too_large_a_graph_says_how_to_draw_part_of_it():
    with pytest.raises(ValueError, match="more than 1000 values") as caught:
        ti.draw_graph(chain(5000))
    assert "intermediate value as root" in str(caught.value)
    assert "max_nodes=" in str(caught.value)
