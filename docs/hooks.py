"""MkDocs hooks: every figure and generated number in these docs is produced by the project's code
while the site builds, so the pages cannot drift from the code.

- ``FIGURES`` maps a file path inside the site to a function returning that file's bytes; pages
  link to the path like any other file (``![graph](figures/first-graph.svg)``). Every figure of
  `tinygrad_iris.figures.FIGURES` is there, at ``figures/<its docs_file>``.
- ``SNIPPETS`` maps a name to a function returning Markdown; a page writes
  ``<!-- generated: name -->`` where that text goes. An unknown name fails the build.
- Math (``$...$`` inline, ``$$...$$`` on its own lines, through pymdownx.arithmatex) is typeset by
  KaTeX while the site builds, so a page needs no script to show it and a TeX error fails the build.
  KaTeX comes from the npm registry (``package.json``; ``make docs`` runs ``npm ci``) and its style
  sheet and fonts are served with the site, under ``assets/katex/``.
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import json
import math
import re
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

import tinygrad_iris as ti
from tinygrad_iris import article, article_graph, cli, figures, network, steps, training
from tinygrad_iris.arguments import MAX_B3
from tinygrad_iris.files import format_from_name
from tinygrad_iris.iris import COLUMNS as data_columns
from tinygrad_iris.network import IrisNetwork

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PLACEHOLDER = re.compile(r"<!-- generated: ([\w-]+) -->")
KATEX = ROOT / "node_modules" / "katex" / "dist"
# what pymdownx.arithmatex (generic mode) writes: \(...\) in a span, \[...\] in a div
MATH = re.compile(r'<(span|div) class="arithmatex">\\[(\[](.*?)\\[)\]]</\1>', re.DOTALL)
# KaTeX's renderToString on a JSON list of [tex, display] read from stdin; a ParseError exits non-zero
RENDER_MATH = """
const katex = require("katex");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const html = JSON.parse(input).map(([tex, displayMode]) =>
    katex.renderToString(tex, { displayMode, throwOnError: true }));
  process.stdout.write(JSON.stringify(html));
});
"""


def _example(name: str) -> dict[str, Any]:
    """Run examples/<name>.py as a module (not as __main__) and return its globals."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


def first_graph_svg() -> bytes:
    return ti.render_bytes(_example("first_graph")["first_graph"](), "svg")


def example_output(name: str) -> str:
    """What examples/<name>.py prints when run, as a fenced text block."""
    printed = io.StringIO()
    argv = sys.argv
    try:
        sys.argv = [f"{name}.py"]
        with contextlib.redirect_stdout(printed):
            runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    finally:
        sys.argv = argv
    return f"```text\n{printed.getvalue().rstrip()}\n```"


# ----- the walk-through (docs/walkthrough.md) and training (docs/training.md) pages -------------------
def _markdown_table(header: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter per column, l (text) or r (numbers)."""
    rule = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "".join(rule[a] + "|" for a in align)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


@functools.cache
def _inputs() -> figures.Inputs:
    """What every figure and number of the build is drawn from: one training, as `tinygrad-iris train`'s."""
    return figures.Inputs()


def _figure_file(figure: figures.NamedFigure) -> bytes:
    return figure.render(_inputs(), format_from_name(figure.docs_file))


def network_parameters() -> str:
    """The five nodes, three named parameters each, with the articles' values."""
    nodes = ("upper (ReLU)", "bottom (ReLU)", "raw Setosa", "raw Versicolor", "raw Virginica")
    inputs = [("petal", "sepal")] * 2 + [("relu(upper)", "relu(bottom)")] * 3
    cells = [f"`{name}` = {value.item():g}" for name, value in IrisNetwork().named_parameters()]
    rows = [
        [node, f"{first} × {cells[3 * k]}", f"{second} × {cells[3 * k + 1]}", cells[3 * k + 2]]
        for k, (node, (first, second)) in enumerate(zip(nodes, inputs))
    ]
    return _markdown_table(["node", "first input × weight", "second input × weight", "bias"], rows, "llll")


def forward_table() -> str:
    table = article.article_table()
    rows = [
        [f"{r.petal:.2f}", f"{r.sepal:.2f}", r.species, f"{r.p:.2f}", f"{r.cross_entropy:.2f}"]
        for r in table.rows
    ]
    rows.append(["", "", "**total**", "", f"**{table.total_cross_entropy:.2f}**"])
    return _markdown_table(["petal", "sepal", "species", "p(true species)", "cross entropy"], rows, "rrlrr")


def descent_table() -> str:
    """The steps that examples/b3_descent.py computes, as the page shows its code."""
    descend = _example("b3_descent")["descend"]
    steps = descend(b3=network.ARTICLE_B3, lr=article.ARTICLE_LR, steps=article.DEFAULT_STEPS)
    rows = [[str(k), f"{b3:.4f}", f"{total:.4f}", f"{gradient:.4f}"] for k, b3, total, gradient in steps]
    return _markdown_table(["step", "b3", "total cross entropy", "d(total CE)/d(b3)"], rows, "rrrr")


def gradient_terms() -> str:
    """Each row's p_setosa (on the graph's softmax node) and its raw Setosa node's grad; their sums."""
    graph = article_graph.build_article_graph()
    terms = [(float(row.probabilities.data[0]), int(row.species == "Setosa")) for row in graph.rows]
    grads = [float(row.raw[0].grad) for row in graph.rows]
    rows = [
        [label, f"{p_setosa:.4f}", str(setosa), f"{p_setosa - setosa:.4f}", f"{grad:.4f}"]
        for label, (p_setosa, setosa), grad in zip(graph.labels, terms, grads)
    ]
    term_sum = math.fsum(p_setosa - setosa for p_setosa, setosa in terms)
    rows.append(["**sum over the rows**", "", "", f"**{term_sum:.4f}**", f"**{math.fsum(grads):.4f}**"])
    rows.append(["**b3's grad, by backward()**", "", "", "", f"**{float(graph.net.b3.grad):.4f}**"])
    header = ["row", "p_setosa", "[species is Setosa]", "p_setosa − [Setosa]", "raw Setosa's grad"]
    return _markdown_table(header, rows, "lrrrr")


def row_one_path() -> str:
    """Row 1's path from its cross entropy down to its raw Setosa output, each input the op's first,
    with the local derivatives and gradients of the step record (`tinygrad_iris.steps`)."""
    total, rows = IrisNetwork().forward_rows()
    record = steps.record_backward(total)
    path = [rows[0].loss]
    while path[-1] is not rows[0].raw[0]:
        path.append(path[-1].inputs[0])
    cells = []
    for k, row in enumerate(record.path(path)):
        node = row.node
        title = steps.node_title(node)
        op = node.primitive.describe(node.attrs) if node.primitive is not None else ""
        name = f"**{title}** ({op})" if node.name else f"**{title}**"
        formula = "" if row.formula is None else f"`{row.formula}`"
        local = "" if row.local is None else steps.local_text(row.local, path[k - 1], node)
        cells.append([name, steps.format_number(node.data), formula, local, steps.format_number(row.grad)])
    header = ["node", "data", "local derivative, from the node above", "its numbers", "grad"]
    return _markdown_table(header, cells, "lrlrr")


def training_numbers() -> str:
    trained = _inputs().trained
    data, loss, accuracy = trained.data, trained.loss, trained.accuracy
    start = IrisNetwork(b3=0.0)
    start_loss, start_accuracy = training.evaluate(start, data.X, data.labels)
    n = len(data.labels)
    rows = [
        [f"the articles' values with b3 = {start.b3.item():g}", "none", f"{start_loss:.4f}",
         f"{start_accuracy:.1%} ({round(start_accuracy * n)} of {n})"],
        [f"the articles' values (b3 = {network.ARTICLE_B3:g}), then {training.DEFAULT_EPOCHS} epochs",
         f"full batch, Adam, learning rate {training.DEFAULT_LR['adam']:g}", f"{loss:.4f}",
         f"{accuracy:.1%} ({round(accuracy * n)} of {n})"],
    ]  # fmt: skip
    return _markdown_table(["network", "training", "mean cross entropy", "accuracy"], rows, "llrr")


# ----- the curvature page (docs/curvature.md) ----------------------------------------------------------
def curvature_terms(b3: float) -> str:
    """Each row's p_setosa, p_setosa (1 - p_setosa) from it, and the row's d2 CE/d b3^2 by grad() twice."""
    net = IrisNetwork(b3=b3)
    rows = []
    with ti.no_grad():
        p_setosas = [float(net.row(*row).probabilities.data[0]) for row in network.ARTICLE_ROWS]
    for k, (row, p_setosa) in enumerate(zip(network.ARTICLE_ROWS, p_setosas)):
        by_grad = article.b3_derivatives(b3, [row])[2]
        label = f"{k + 1} ({network.SPECIES[row[2]]})"
        rows.append([label, f"{p_setosa:.5f}", f"{p_setosa * (1 - p_setosa):.5f}", f"{by_grad:.5f}"])
    term_sum = math.fsum(p * (1 - p) for p in p_setosas)
    rows.append(["**sum over the rows**", f"{math.fsum(p_setosas):.5f}", f"**{term_sum:.5f}**", ""])
    total = article.b3_derivatives(b3)[2]
    rows.append(["**the total's, by grad() twice**", "", "", f"**{total:.5f}**"])
    header = ["row", "p_setosa", "p_setosa (1 − p_setosa)", "the row's d²CE/d(b3)², by grad() twice"]
    return _markdown_table(header, rows, "lrrr")


@functools.cache
def _newton() -> article.Descent:
    return article.optimize_b3(method="newton")


@functools.cache
def _minimum() -> article.DescentStep:
    return article.b3_minimum()


def newton_table() -> str:
    """Newton's steps from b3 = -2, each with its distance to the minimum."""
    rows = [
        [str(s.step), f"{s.b3:.6f}", f"{s.total_cross_entropy:.6f}", f"{s.gradient:.4g}",
         f"{s.curvature:.5f}", f"{s.b3 - _minimum().b3:+.2e}"]
        for s in _newton().steps
    ]  # fmt: skip
    header = ["step", "b3", "total cross entropy", "gradient", "curvature", "b3 − minimum"]
    return _markdown_table(header, rows, "rrrrrr")


def _steps_to_digits(method: str, digits: int = 5) -> int:
    """The first step whose b3 is within half a unit of the ``digits``-th decimal of the minimum."""
    steps = article.optimize_b3(steps=100, method=method).steps
    return next(s.step for s in steps if abs(s.b3 - _minimum().b3) < 0.5 * 10.0**-digits)


@functools.cache
def _overshoot() -> dict[str, str]:
    """The numbers of the overshoot: Newton's first step from -2 against the distance to the minimum."""
    first, second = _newton().steps[:2]
    distance = _minimum().b3 - first.b3
    mean_curvature = -first.gradient / distance  # the curve's average bend between b3 = -2 and the minimum
    return {
        "step": f"{second.b3 - first.b3:.4f}",
        "distance": f"{distance:.4f}",
        "past": f"{second.b3 - _minimum().b3:.4f}",
        "ratio": f"{(second.b3 - first.b3) / distance:.2f}",
        "mean_curvature": f"{mean_curvature:.4f}",
        "parabola_bottom": f"{float(first.parabola(np.array(second.b3))):.4f}",
    }


@functools.cache
def _diverging() -> dict[str, str]:
    """The first start below -2, in steps of 0.1, from which Newton's method is refused, and its swings
    (the b3 after each step) up to the step that is refused."""
    start = network.ARTICLE_B3
    while True:
        start = round(start - 0.1, 10)
        swings = []
        try:
            for steps in range(1, 50):
                swings.append(article.optimize_b3(start, steps=steps, method="newton").b3)
        except RuntimeError:
            break
    return {"start": f"{start:g}", "swings": ", ".join(f"{b3:.4f}" for b3 in swings)}


def _probabilities(net: IrisNetwork, X: Any) -> Any:
    with ti.no_grad():
        return ti.softmax(net(X), axis=1).data


def _misclassified() -> Any:
    """The rows of the 150 flowers that the trained network gets wrong."""
    trained = _inputs().trained
    return np.flatnonzero(trained.net.predict(trained.data.X) != np.asarray(trained.data.labels))


def misclassified_table() -> str:
    """The flowers the trained network gets wrong, with p(true species) before training (b3 = 0) and after."""
    trained = _inputs().trained
    data, labels = trained.data, np.asarray(trained.data.labels)
    before, after = _probabilities(IrisNetwork(b3=0.0), data.X), _probabilities(trained.net, data.X)
    rows = []
    for i in _misclassified():
        twins = [j for j in np.flatnonzero(np.all(data.X[i] == data.X, axis=1)) if labels[j] != labels[i]]
        twin = ", ".join(f"{j + 1} ({data.species[labels[j]]})" for j in twins) or "none"
        petal, sepal = (data.measurements[i, data_columns.index(c)] for c in ("petal_width", "sepal_width"))
        p_true = f"{before[i, labels[i]]:.2f}", f"{after[i, labels[i]]:.2f}"
        rows.append([str(i + 1), f"{petal:g}, {sepal:g}", data.species[labels[i]], *p_true, twin])
    header = ["flower", "petal, sepal (cm)", "species", "p(true), b3 = 0", "p(true), trained"]
    header.append("same widths as")
    return _markdown_table(header, rows, "rrlrrl")


def _training_start() -> tuple[float, float]:
    data = _inputs().trained.data
    return training.evaluate(IrisNetwork(), data.X, data.labels)


def cli_commands() -> str:
    """Every subcommand of `tinygrad-iris` with its one-line help, in `--help`'s order."""
    return "\n".join(f"- `tinygrad-iris {name}`: {each.help}" for name, each in cli.COMMANDS.items())


FIGURES: dict[str, Callable[[], bytes]] = {
    "figures/first-graph.svg": first_graph_svg,
    **{
        f"figures/{each.docs_file}": functools.partial(_figure_file, each)
        for each in figures.FIGURES.values()
    },
}
SNIPPETS: dict[str, Callable[[], str]] = {
    "first_value_output": lambda: example_output("first_value"),
    "gradcheck_bug_output": lambda: example_output("gradcheck_catches_a_bug"),
    "softplus_output": lambda: example_output("softplus_second_derivative"),
    "micrograd_neuron_output": lambda: example_output("micrograd_neuron"),
    "network_parameters": network_parameters,
    "forward_table": forward_table,
    "descent_table": descent_table,
    "gradient_terms": gradient_terms,
    "row_one_path": row_one_path,
    "training_numbers": training_numbers,
    "misclassified_table": misclassified_table,
    "cli_commands": cli_commands,
    # numbers inside sentences
    "b3_grad": lambda: f"{article.b3_gradient(network.ARTICLE_B3)[1]:.4f}",
    "b3_minimum": lambda: f"{article.b3_minimum().b3:.5f}",
    "ce_minimum": lambda: f"{article.b3_minimum().total_cross_entropy:.4f}",
    "descent_steps": lambda: str(article.DEFAULT_STEPS),
    "training_start_ce": lambda: f"{_training_start()[0]:.4f}",
    "training_start_correct": lambda: f"{round(_training_start()[1] * 150)} of 150",
    "wrong_count": lambda: str(len(_misclassified())),
    # the curvature page
    "curvature_terms_start": lambda: curvature_terms(network.ARTICLE_B3),
    "curvature_terms_minimum": lambda: curvature_terms(_minimum().b3),
    "newton_table": newton_table,
    "curvature_start": lambda: f"{_newton().steps[0].curvature:.4f}",
    "curvature_minimum": lambda: f"{_minimum().curvature:.4f}",
    "gradient_start": lambda: f"{_newton().steps[0].gradient:.4f}",
    "newton_first": lambda: f"{_newton().steps[1].b3:.4f}",
    "newton_second": lambda: f"{_newton().steps[2].b3:.4f}",
    "curvature_first": lambda: f"{_newton().steps[1].curvature:.4f}",
    "b3_range": lambda: f"-{MAX_B3:g}, {MAX_B3:g}",
    "newton_steps_to_5_digits": lambda: str(_steps_to_digits("newton")),
    "gradient_steps_to_5_digits": lambda: str(_steps_to_digits("gradient")),
    "gradient_rate": lambda: f"{1 - _minimum().curvature:.2f}",
    "overshoot_step": lambda: _overshoot()["step"],
    "overshoot_distance": lambda: _overshoot()["distance"],
    "overshoot_past": lambda: _overshoot()["past"],
    "overshoot_ratio": lambda: _overshoot()["ratio"],
    "overshoot_mean_curvature": lambda: _overshoot()["mean_curvature"],
    "overshoot_parabola_bottom": lambda: _overshoot()["parabola_bottom"],
    "diverging_start": lambda: _diverging()["start"],
    "diverging_swings": lambda: _diverging()["swings"],
}


def on_files(files: Files, config: Any) -> Files:
    for path, make in FIGURES.items():
        files.append(File.generated(config, path, content=make()))
    if not (KATEX / "katex.min.css").is_file():
        raise PluginError(f"KaTeX is not installed in {KATEX.parent}: run `npm ci` (make docs does)")
    for source in [KATEX / "katex.min.css", *sorted((KATEX / "fonts").glob("*.woff2"))]:
        uri = "assets/katex/" + source.relative_to(KATEX).as_posix()
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files


def typeset(formulas: list[tuple[str, bool]], where: str) -> list[str]:
    """KaTeX's HTML for each (TeX, display mode), from one node process."""
    try:
        done = subprocess.run(
            ["node", "-e", RENDER_MATH], input=json.dumps(formulas), capture_output=True, text=True,
            cwd=ROOT, timeout=60,
        )  # fmt: skip
    except FileNotFoundError:
        raise PluginError("node is not installed: KaTeX typesets the math while the site builds") from None
    if done.returncode != 0:
        message = next((line for line in done.stderr.splitlines() if "Error" in line), done.stderr)
        raise PluginError(f"{where}: KaTeX could not typeset a formula: {message.strip()}")
    return list(json.loads(done.stdout))


def on_page_content(content: str, page: Any, config: Any, files: Files) -> str:
    found = list(MATH.finditer(content))
    if not found:
        return content
    typeset_html = iter(typeset([(html.unescape(m.group(2)), m.group(1) == "div") for m in found],
                                page.file.src_uri))  # fmt: skip
    return MATH.sub(lambda m: next(typeset_html), content)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in SNIPPETS:
            raise PluginError(f"{page.file.src_uri}: no generated snippet named {name!r} in docs/hooks.py")
        return SNIPPETS[name]()

    return PLACEHOLDER.sub(fill, markdown)
