"""Watch backpropagation happen: a `BackwardRecord` as one self-contained HTML page.

The graph is laid out by Graphviz (`render.draw_graph`, as SVG); the steps are data (JSON) in the
page, and a small script (``backprop_page.js``, inlined with ``backprop_page.css``) plays them:
"Previous step", "Next step", "Reset", "Play" at a chosen speed, the arrow keys; a live region
says what each step does; pan and zoom, and the view follows the current node. Nothing is
fetched: the page opens offline from ``file://``, and its content security policy forbids
requests. Every drawn node carries ``data-name`` (its name, or its op) and ``data-grad`` (the
gradient it shows: empty until computed, then the number as shown).

    from tinygrad_iris import Value, record_backward
    from tinygrad_iris.backprop_page import BackpropPage

    a, b = Value(-3.0, name="a"), Value(2.0, name="b")
    page = BackpropPage(record_backward((a * b + b**3).relu()))
    page.write("steps.html")        # or just `page` as a notebook cell's last line

A page may have views: other drawings of parts of the graph (the article's page has one per
training row), chosen by the "Show" menu; the steps are the same, shown on whatever is drawn.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .article_graph import ArticleGraph, row_stages
from .engine import Value
from .files import write_bytes
from .network import ARTICLE_B3, ARTICLE_ROWS, IrisNetwork, Rows
from .render import GroupLabel, draw_graph, format_data, graph_nodes, groups_from_stages, render_bytes
from .steps import BackwardRecord, format_number, node_title, record_backward

__all__ = ["BackpropPage", "View", "article_page"]

MAX_NODES = 400
"""A larger graph is unreadable as a page, and its data grows with steps x nodes."""


@dataclass(frozen=True)
class View:
    """One drawing the page can show: the graph behind ``root`` (a node of the recorded graph).

    ``label`` names it in the "Show" menu; ``short`` names it where gradients are summed ("row 1");
    ``groups`` and ``highlight`` are `draw_graph`'s.
    """

    label: str
    """The view's name in the "Show" menu."""
    root: Value
    """The node of the recorded graph whose graph this view draws."""
    short: str = ""
    """The view's short name where gradients are summed ("row 1")."""
    groups: Callable[[Value], GroupLabel] | None = None
    """`draw_graph`'s groups: each node's frame, or None."""
    highlight: Value | None = None
    """The value whose paths to the root are drawn in pink, or None."""


class BackpropPage:
    """The step-by-step page of ``record``; ``str(page)`` or `html` is the page, `write` saves it.

    ``views``: the drawings to choose from; by default the whole graph behind the root.
    ``watch``: nodes whose gradient the page spells out part by part as it arrives (default: the
    parameters, when there are at most six). ``title`` heads the page.
    """

    def __init__(
        self,
        record: BackwardRecord,
        *,
        views: Sequence[View] | None = None,
        watch: Sequence[Value] | None = None,
        title: str = "Backpropagation, step by step",
        intro: str = "",
    ):
        if not isinstance(record, BackwardRecord):
            raise TypeError(f"BackpropPage: expected a BackwardRecord, got {type(record).__name__}")
        self.record = record
        """The recorded backward() the page steps through."""
        self.nodes = graph_nodes(record.root, max_nodes=MAX_NODES)
        """The nodes the page draws (at most `MAX_NODES`)."""
        self.views = tuple(views) if views else (View("the whole graph", record.root),)
        """The drawings the "Show" menu offers."""
        index = {node: i for i, node in enumerate(self.nodes)}
        for view in self.views:
            if view.root not in index:
                raise ValueError(f"BackpropPage: view {view.label!r} draws a node that is not in the graph")
        if watch is None:
            parameters = [node for node in self.nodes if node.requires_grad and not node.inputs]
            watch = parameters if len(parameters) <= 6 else []
        for node in watch:
            if node not in index:
                raise ValueError(f"BackpropPage: watched {node_title(node)} is not in the graph")
        self.watch = tuple(watch)
        """The nodes whose gradient the page spells out part by part as it arrives."""
        self.title = title
        """The page's heading and title."""
        self.intro = intro
        """The paragraph under the title."""
        self._index = index
        self._html: str | None = None

    # ----- the page -------------------------------------------------------------------------------
    @property
    def html(self) -> str:
        """The page: one HTML document, its drawings, data, style and script inline."""
        if self._html is None:
            self._html = self._build()
        return self._html

    def __str__(self) -> str:
        return self.html

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically (`files.write_bytes`); return the path."""
        return write_bytes(path, self.html.encode("utf-8"))

    def _repr_html_(self) -> str:
        """The page in a notebook: in an iframe, so that its script and ids stay its own."""
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="{html.escape(self.title)}" '
            'style="width: 100%; height: 640px; border: 1px solid #ccc"></iframe>'
        )

    def _build(self) -> str:
        drawings = "\n".join(
            f'<div class="view" data-view="{k}"{"" if k == 0 else " hidden"}>{self._svg(view)}</div>'
            for k, view in enumerate(self.views)
        )
        options = "".join(
            f'<option value="{k}">{html.escape(view.label)}</option>' for k, view in enumerate(self.views)
        )
        # "<" escaped: no name can end the script element or open an HTML comment inside it
        data = json.dumps(self._data(), ensure_ascii=False, allow_nan=False).replace("<", "\\u003c")
        return _TEMPLATE.format(
            title=html.escape(self.title),
            intro=html.escape(self.intro),
            steps=len(self.record),
            view_options=options,
            view_hidden="" if len(self.views) > 1 else " hidden",
            drawings=drawings,
            data=data,
            css=_asset("backprop_page.css"),
            script=_asset("backprop_page.js"),
        )

    # ----- the steps as data ----------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        index, record = self._index, self.record
        labels = self._part_labels()
        parts: dict[Value, list[str]] = {}
        steps = []
        for k, step in enumerate(record.steps):
            updates = []
            for arrival in step.arrivals:
                shown = format_number(arrival.added)
                label = labels[k, arrival.position]
                terms = parts.setdefault(arrival.input, [])
                terms.append(f"{shown if not terms or shown.startswith('-') else '+' + shown} ({label})")
                total = " ".join(terms)
                if len(terms) > 1:
                    total += f" = {format_number(arrival.grad)}"
                updates.append([index[arrival.input], _grad_text(arrival.grad), total, len(terms),
                                node_title(arrival.input)])
            steps.append({
                "node": index[step.node],
                "text": step.describe(),
                "updates": updates,
            })
        return {
            "root": index[record.root],
            "seed": _grad_text(record.seed),
            "start": (
                "Before backward(): every node shows its forward data; the output's gradient is seeded with "
                f"{format_number(record.seed)}. Press “Next step” (or the right arrow key)."
            ),
            "steps": steps,
            "watch": [[index[node], node_title(node)] for node in self.watch],
            "views": [index[view.root] for view in self.views],
        }

    def _part_labels(self) -> dict[tuple[int, int], str]:
        """What each part of a summed gradient is called, by (step, input position): the short name
        of the view its step is in ("row 1"), where that tells an input's parts apart; else the node
        it came from ("from ×")."""
        where: dict[Value, str] = {}
        for view in self.views:
            if view.short:
                for node in graph_nodes(view.root):
                    where.setdefault(node, view.short)
        sources: dict[Value, list[tuple[int, int]]] = {}
        for k, step in enumerate(self.record.steps):
            for arrival in step.arrivals:
                sources.setdefault(arrival.input, []).append((k, arrival.position))
        labels: dict[tuple[int, int], str] = {}
        for parts in sources.values():
            nodes = [self.record.steps[k].node for k, _ in parts]
            shorts = [where.get(node) for node in nodes]
            distinct = None not in shorts and len(set(shorts)) == len(shorts)
            for part, node, short in zip(parts, nodes, shorts):
                labels[part] = short if distinct and short else f"from {node_title(node)}"
        return labels

    # ----- the drawings ---------------------------------------------------------------------------
    def _svg(self, view: View) -> str:
        """Graphviz's SVG of ``view``, each node and edge tagged with the graph-wide node numbers."""
        drawn = graph_nodes(view.root)
        graph = draw_graph(view.root, view.highlight, groups=view.groups, max_nodes=MAX_NODES)
        svg = render_bytes(graph, "svg").decode("utf-8")
        svg = svg[svg.index("<svg"):]
        svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
        svg = re.sub(r'<svg width="[^"]*" height="[^"]*"', '<svg class="drawing"', svg, count=1)

        svg = re.sub(r'<g id="node\d+" class="node">\n<title>n(\d+)</title>.*?</g>',
                     lambda m: self._tag_node(drawn[int(m.group(1))], m.group(0)), svg, flags=re.DOTALL)
        svg = re.sub(
            r'<g id="edge\d+" class="edge">\n<title>n(\d+)&#45;&gt;n(\d+)</title>',
            lambda m: (
                f'<g class="edge" data-from="{self._index[drawn[int(m.group(1))]]}" '
                f'data-to="{self._index[drawn[int(m.group(2))]]}">'
            ),
            svg,
        )
        return re.sub(r' id="(graph0|clust\d+)"', "", svg)

    def _tag_node(self, value: Value, group: str) -> str:
        """One node's ``<g>``: its numbers and name as data attributes, its grad lines made live.

        The drawing was laid out with the final gradients, so the box has room for them: their
        first line (the label's last line starting "grad ") and an array preview's next lines are
        emptied, centred, and filled in by the script as the gradient arrives.
        """
        lines = _grad_text(self.record.seed).split("\n") if value is self.record.root else []
        name = value.name or (value.primitive.describe(value.attrs) if value.primitive else "constant")
        head = (
            f'<g class="node" data-node="{self._index[value]}" data-name="{html.escape(name, quote=True)}" '
            f'data-grad="{html.escape(" ".join(lines), quote=True)}">\n'
            f"<title>{html.escape(node_title(value))}</title>"
        )
        body = group[group.index("</title>") + len("</title>"):]
        texts = list(re.finditer(r'<text text-anchor="start" x="[\d.-]+"([^>]*)>grad [^<]*</text>', body))
        if not texts:  # a constant: no gradient
            return head + body
        first, centre = texts[-1], _centre_x(body)
        rest = re.findall(r'<text text-anchor="start" x="[\d.-]+"([^>]*)>[^<]*</text>', body[first.end():])
        shown = lines + [""] * (1 + len(rest) - len(lines))
        kinds = ["grad", *["grad-more"] * len(rest)]
        words = [("grad " + shown[0]).rstrip(), *shown[1:]]
        live = [
            f'<text class="{kind}" text-anchor="middle" x="{centre:g}"{attributes}>{html.escape(text)}</text>'
            for kind, attributes, text in zip(kinds, [first.group(1), *rest], words)
        ]
        return head + body[: first.start()] + "\n".join(live) + "\n</g>"


def _grad_text(grad: Any) -> str:
    """A gradient as its node shows it, line by line (as the static drawing does)."""
    return "\n".join(line for line in format_data(grad).split("\n") if line.strip())


def _centre_x(body: str) -> float:
    """The middle of a node's outline: the mean of the leftmost and rightmost points of its shape."""
    shape = re.search(r'<(?:path|polygon|ellipse)[^>]*?(?: d| points)="([^"]*)"', body)
    xs = [float(x) for x, _ in re.findall(r"(-?[\d.]+),(-?[\d.]+)", shape.group(1))] if shape else []
    return (min(xs) + max(xs)) / 2 if xs else 0.0


def _asset(name: str) -> str:
    return resources.files("tinygrad_iris").joinpath(name).read_text(encoding="utf-8")


# ----- the articles' page -----------------------------------------------------------------------------
def article_page(b3: float = ARTICLE_B3, rows: Rows = ARTICLE_ROWS) -> BackpropPage:
    """The articles' three rows at ``b3``, backward() step by step; one view per row, b3 watched."""
    net = IrisNetwork(b3=b3)
    total, nodes = net.forward_rows(rows)
    record = record_backward(total)
    graph = ArticleGraph(net, total, nodes)
    stages = [stage for label, row in zip(graph.labels, nodes) for stage in row_stages(label, row)]
    views = [View("all rows", total, groups=groups_from_stages(stages), highlight=net.b3)]
    for number, (label, row) in enumerate(zip(graph.labels, nodes), 1):
        views.append(View(label, row.loss, short=f"row {number}",
                          groups=groups_from_stages(row_stages(label, row)), highlight=net.b3))
    intro = (
        f"The articles' network on its {len(nodes)} flowers at b3 = {b3:g}: total cross entropy "
        f"{total.item():.4g}. Each step is one node of backward(), in the engine's order: its upstream "
        "gradient times each input's local derivative is added to that input's grad. Pink: every path "
        "from b3 to the loss; watch b3 gather one part from each row."
    )
    return BackpropPage(record, views=views, watch=[net.b3], title="Backpropagation through the iris network",
                        intro=intro)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="intro">{intro}</p>
<div class="controls" role="toolbar" aria-label="Steps">
<button type="button" id="previous">Previous step</button>
<button type="button" id="next">Next step</button>
<button type="button" id="reset">Reset</button>
<button type="button" id="play">Play</button>
<label>Speed <select id="speed">
<option value="1500">slow</option><option value="700" selected>normal</option>
<option value="250">fast</option><option value="40">fastest</option>
</select></label>
<span id="counter" aria-live="off">step 0 of {steps}</span>
<label{view_hidden}>Show <select id="view">{view_options}</select></label>
<label><input type="checkbox" id="follow" checked> follow the current node</label>
<button type="button" id="zoom-in" aria-label="Zoom in">+</button>
<button type="button" id="zoom-out" aria-label="Zoom out">−</button>
<button type="button" id="fit">Fit</button>
</div>
<p id="status" role="status" aria-live="polite"></p>
<div id="watch"></div>
</header>
<main id="stage">
{drawings}
</main>
<footer class="key">
<span class="swatch current"></span> the current node
<span class="swatch flow"></span> edges its gradient flows along, and the inputs it reaches
<span class="swatch pending"></span> grad not computed yet. Drag to pan, wheel to zoom.
</footer>
<script type="application/json" id="backprop-data">{data}</script>
<script>
{script}
</script>
</body>
</html>
"""
