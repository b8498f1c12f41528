"""Draw the computation graph behind a `Value` with Graphviz.

`draw_graph` builds a `graphviz.Digraph` (plain DOT text: no Graphviz program needed, and it
displays inline in Jupyter). `render_bytes` turns it into SVG, PNG, PDF or DOT bytes, calling
Graphviz's ``dot`` for everything but DOT; `render_graph` hands those bytes to `files` to write.

    from tinygrad_iris import Value, draw_graph, render_graph

    w = Value(-2.0, name="w")
    loss = ((w * 0.5 + 1.0).relu() - 3.0) ** 2
    loss.backward()
    render_graph(draw_graph(loss, highlight=w), "graph.svg")
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from .arguments import is_integer
from .engine import Value, toposort
from .files import format_from_name, write_bytes
from .ops import SOFTMAX_DENOMINATOR
from .steps import format_number

__all__ = [
    "FORMATS",
    "HIGHLIGHT",
    "GraphvizNotFoundError",
    "draw_graph",
    "format_data",
    "graph_nodes",
    "groups_from_stages",
    "render_bytes",
    "render_graph",
]

FORMATS = ("svg", "png", "pdf", "dot")
"""The formats `render_graph` and `render_bytes` write."""
_INSTALL_HINT = (
    "Graphviz's 'dot' program was not found on PATH; install it with "
    "'sudo apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS) "
    "or 'conda install graphviz', or write DOT text instead (format 'dot')"
)

# A group label for `groups=`: one cluster name, outer-to-inner names for nested clusters, or None.
GroupLabel = str | Sequence[str] | None
"""A node's group in a drawing: a frame label, a path of nested labels, or None for no frame."""

HIGHLIGHT = "#d6246e"
"""The colour of highlighted paths: StatQuest's pink, darkened so thin edges show."""
_HIGHLIGHT_FILL = "#fcdcea"
_PARAMETER_FILL, _PARAMETER_LINE = "#fff2cc", "#b08800"
_DENOMINATOR_FILL, _DENOMINATOR_LINE = "#d6e6f5", "#2f6ea8"
_OPERATION_LINE = "#777777"
_EDGE = "#8c8c8c"
_RANKDIRS = ("LR", "RL", "TB", "BT")


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is needed to render SVG/PNG/PDF and is not installed."""


def graph_nodes(root: Value, *, max_nodes: int | None = None) -> list[Value]:
    """Every value behind ``root``, inputs before outputs; `draw_graph` names the i-th ``n{i}``.

    The engine's `toposort` (inputs in the order the op took them), so the same graph always
    gives the same order. Raises ValueError past ``max_nodes`` values.
    """
    if not isinstance(root, Value):
        raise TypeError(f"graph_nodes: root must be a Value, got {type(root).__name__}")
    order = toposort(root)
    if max_nodes is not None and len(order) > max_nodes:
        raise ValueError(
            f"draw_graph: the graph behind root has more than {max_nodes} values, too "
            "large to draw legibly; draw a part of it by passing an intermediate value "
            "as root, or raise max_nodes="
        )
    return order


def groups_from_stages(
    stages: Sequence[tuple[GroupLabel, Sequence[Value]]],
) -> Callable[[Value], GroupLabel]:
    """A ``groups=`` function for `draw_graph`: each node joins the first stage whose outputs need it.

    ``stages`` lists ``(label, outputs)`` in the order they were computed, for example
    ``[(("row 1", "hidden layer"), [relu_upper, relu_bottom]), (("row 1", "softmax"), [probs]), ...]``.
    Parameters stay outside every group (drawn at the inputs' end); so does anything no stage needs.
    """
    labels: dict[Value, GroupLabel] = {}
    for label, outputs in stages:
        for output in outputs:
            for node in graph_nodes(output):
                if node not in labels and not _is_parameter(node):
                    labels[node] = label
    return labels.get


def draw_graph(
    root: Value,
    highlight: Value | None = None,
    *,
    groups: Callable[[Value], GroupLabel] | None = None,
    max_nodes: int = 1000,
    rankdir: str = "LR",
    title: str | None = None,
) -> graphviz.Digraph:
    """The computation graph that produced ``root``, as a `graphviz.Digraph` (inputs -> outputs).

    One node per value: its name (if any), the op that made it, its data and its gradient
    (arrays: shape and a short preview). Parameters (leaves that require grad) are yellow and
    lined up on the input side; constants are small plain numbers; softmax denominators are
    blue double octagons. ``highlight=v`` colours pink every node and edge on a path from ``v``
    to ``root``. ``groups(node)`` returns a cluster label for the node, a sequence of labels
    (outer to inner) for nested clusters, or None; a dict of labels works as ``groups=labels.get``.
    Node ids are ``n{i}`` in `graph_nodes` order, so the same graph gives the same DOT text.
    More than ``max_nodes`` values raise ValueError (Graphviz takes seconds past ~1000 nodes, and
    the picture stops being readable): draw an intermediate value instead, or raise the limit.
    """
    if highlight is not None and not isinstance(highlight, Value):
        raise TypeError(f"draw_graph: highlight must be a Value or None, got {type(highlight).__name__}")
    if not is_integer(max_nodes) or max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be a positive integer, got {max_nodes!r}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
    nodes = graph_nodes(root, max_nodes=max_nodes)
    ids = {node: f"n{i}" for i, node in enumerate(nodes)}
    if highlight is not None and highlight not in ids:
        raise ValueError(
            f"draw_graph: highlight {_display_name(highlight)} is not in the graph behind root"
        )
    on_path = _descendants(nodes, highlight) if highlight is not None else set()

    graph = graphviz.Digraph("computation_graph")
    graph.attr(rankdir=rankdir, nodesep="0.12", ranksep="0.3", fontname="Helvetica")
    graph.attr("node", shape="box", style="rounded,filled", fillcolor="white", color=_OPERATION_LINE,
               fontname="Helvetica", fontsize="10", margin="0.06,0.03", height="0.3")
    graph.attr("edge", color=_EDGE, arrowsize="0.6")

    clusters: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]] = {(): []}
    parameters_outside_groups = []
    for node in nodes:
        labels = _group_path(groups(node)) if groups is not None else ()
        for depth in range(1, len(labels) + 1):
            clusters.setdefault(labels[:depth], [])
        clusters[labels].append((ids[node], _node_attributes(node, node in on_path)))
        if not labels and _is_parameter(node):
            parameters_outside_groups.append(ids[node])
    _add_clusters(graph, clusters)
    if parameters_outside_groups:
        # rank=source lines parameters up at the inputs' end, where a reader looks for them first.
        with graph.subgraph() as side:
            side.attr(rank="source")
            for node_id in parameters_outside_groups:
                side.node(node_id)
    for node in nodes:
        for parent in node.inputs:
            if parent in on_path:
                graph.edge(ids[parent], ids[node], color=HIGHLIGHT, penwidth="2")
            else:
                graph.edge(ids[parent], ids[node])
    has_denominator = any(node.name == SOFTMAX_DENOMINATOR for node in nodes)
    graph.attr(label=_legend(title, highlight, has_denominator), labelloc="b", labeljust="l", fontsize="11")
    return graph


def render_bytes(graph: graphviz.Digraph, format: str = "svg") -> bytes:
    """The drawing as ``format`` ("svg", "png", "pdf" or "dot"); all but "dot" run Graphviz's ``dot``."""
    format = _check_format(format)
    if format == "dot":
        return graph.source.encode("utf-8")
    try:
        return graph.pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(_INSTALL_HINT) from None


def render_graph(graph: graphviz.Digraph, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write the drawing to ``path`` and return it; ``format`` defaults to the file's extension.

    The bytes are rendered first and written atomically (`files.write_bytes`): a failure never
    leaves a half-written file behind.
    """
    if format is None:
        format = format_from_name(path)
        if not format:
            raise ValueError(
                f"render_graph: cannot tell the format of {str(Path(path))!r}; give it an extension "
                f"({', '.join(FORMATS)}) or pass format="
            )
    return write_bytes(path, render_bytes(graph, format))


# ----- helpers ------------------------------------------------------------------------------------
def _descendants(nodes: list[Value], start: Value) -> set[Value]:
    """``start`` and every node in ``nodes`` computed from it (``nodes`` inputs-first)."""
    reached = {start}
    for node in nodes:
        if any(parent in reached for parent in node.inputs):
            reached.add(node)
    return reached


def _is_parameter(node: Value) -> bool:
    return node.requires_grad and not node.inputs


def _is_constant(node: Value) -> bool:
    return not node.requires_grad and not node.inputs


def _group_path(label: object) -> tuple[str, ...]:
    if label is None:
        return ()
    if isinstance(label, str):
        return (label,)
    if isinstance(label, Sequence) and all(isinstance(part, str) for part in label):
        return tuple(label)
    raise TypeError(
        f"draw_graph: groups(node) must return a string, a sequence of strings or None, got {label!r:.60}"
    )


def _add_clusters(graph: graphviz.Digraph, clusters: dict[tuple[str, ...], list[Any]]) -> None:
    """Emit each group as a (nested) cluster; clusters are numbered in order of first appearance."""
    subgraphs: dict[tuple[str, ...], graphviz.Digraph] = {(): graph}
    for number, path in enumerate(clusters):
        if path:
            subgraphs[path] = graphviz.Digraph(f"cluster_{number - 1}")
            subgraphs[path].attr(label=_html(path[-1]), style="rounded,dashed", color="#aaaaaa",
                                 fontsize="11", labeljust="l")
        for node_id, attributes in clusters[path]:
            subgraphs[path].node(node_id, **attributes)
    # A subgraph is copied into its parent when attached, so attach the innermost ones first.
    for path in sorted(subgraphs, key=len, reverse=True):
        if path:
            subgraphs[path[:-1]].subgraph(subgraphs[path])


def _node_attributes(node: Value, highlighted: bool) -> dict[str, str]:
    if _is_constant(node):
        lines = ([_bold(node.name)] if node.name else []) + [_escape(format_data(node.data))]
        return {"label": _label(lines), "shape": "plaintext", "style": "", "fontsize": "9",
                "fontcolor": HIGHLIGHT if highlighted else "#555555"}
    attributes: dict[str, str] = {}
    if node.name == SOFTMAX_DENOMINATOR:
        attributes.update(shape="doubleoctagon", style="filled", fillcolor=_DENOMINATOR_FILL,
                          color=_DENOMINATOR_LINE)
    elif _is_parameter(node):
        attributes.update(fillcolor=_PARAMETER_FILL, color=_PARAMETER_LINE)
    if highlighted:
        attributes.update(fillcolor=_HIGHLIGHT_FILL, color=HIGHLIGHT, penwidth="2")
    what = "parameter" if _is_parameter(node) else _describe_op(node)
    head = [_bold(node.name), _escape(what)] if node.name else [_bold(what)]
    data = "data " + format_data(node.data)
    grad = "grad " + format_data(node.grad)
    attributes["label"] = _label([*head, _escape(data), _escape(grad)])
    return attributes


def _describe_op(node: Value) -> str:
    primitive = node.primitive
    return primitive.describe(node.attrs) if primitive is not None else node.op


def format_data(data: Any) -> str:
    """A scalar to 4 significant digits; an array as its shape and a short preview (3 digits)."""
    if type(data) is not np.ndarray:
        return format_number(data, 4)
    preview = np.array2string(data, threshold=6, edgeitems=2, separator=", ", max_line_width=48,
                              formatter={"float_kind": lambda x: format_number(x, 3)})
    return f"{data.shape} {preview.replace(chr(10) * 2, chr(10))}"


def _display_name(node: Value) -> str:
    return repr(node.name) if node.name else f"(op {node.op or 'leaf'!r}, shape {node.shape})"


def _escape(text: str) -> str:
    """Text for a Graphviz HTML-like label: markup escaped, newlines as line breaks.

    Graphviz parses these labels as XML, so control characters (which XML forbids) and lone
    surrogates (which UTF-8 cannot encode) are spelled out as Python escapes.
    """
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(c if c == "\n" or c >= " " else c.encode("unicode_escape").decode() for c in text)
    return html.escape(text).replace("\n", "<BR/>")


def _html(text: str) -> str:
    return f"<{_escape(text)}>"


def _bold(text: str) -> str:
    return f"<B>{_escape(text)}</B>"


def _label(lines: list[str]) -> str:
    return "<" + "<BR/>".join(lines) + ">"


def _legend(title: str | None, highlight: Value | None, has_denominator: bool) -> str:
    """A key under the drawing, two entries a row: a colour swatch and a few words per kind of node."""
    entries = [
        (_PARAMETER_FILL, _PARAMETER_LINE, "parameter (leaf that requires grad)"),
        ("white", _OPERATION_LINE, "op result: name, op, data, grad"),
    ]
    if has_denominator:
        entries.append((_DENOMINATOR_FILL, _DENOMINATOR_LINE, "softmax denominator (double octagon)"))
    if highlight is not None:
        who = highlight.name or "the highlighted value"
        entries.append((_HIGHLIGHT_FILL, HIGHLIGHT, f"on a path from {who} to the output"))
    cells = [
        f'<TD BGCOLOR="{fill}" COLOR="{line}" BORDER="1" WIDTH="14" HEIGHT="14"></TD>'
        f'<TD ALIGN="LEFT">{_escape(text)}</TD>'
        for fill, line, text in entries
    ]
    rows = ["<TR>" + "".join(cells[i : i + 2]) + "</TR>" for i in range(0, len(cells), 2)]
    rows.append('<TR><TD></TD><TD ALIGN="LEFT" COLSPAN="3">small grey numbers: constants</TD></TR>')
    legend = f'<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="2">{"".join(rows)}</TABLE>'
    if not title:
        return f"<{legend}>"
    # The title goes beside the key, not above it: Graphviz stretches a table to fill its cell, and a
    # title wider than the key would spread the swatches away from their words.
    return (
        f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2"><TR><TD ALIGN="LEFT" BALIGN="LEFT" '
        f'VALIGN="TOP">{_bold(title)}</TD><TD VALIGN="TOP">{legend}</TD></TR></TABLE>>'
    )


def _check_format(format: str) -> str:
    if not isinstance(format, str) or format.lower() not in FORMATS:
        raise ValueError(f"unknown graph format {format!r}; use one of {', '.join(FORMATS)}")
    return format.lower()
