"""The named figures: what each is drawn from, how it is drawn, and the files it goes to.

`tinygrad-iris demo` writes every figure in `FIGURES` into its folder, the documentation build
puts every one on the site (docs/hooks.py), and the ``curve`` and ``graph`` commands draw one
each. A new figure is one decorated function below (docs/files-and-cli.md, "Adding a figure or a
command").

Importing this module does not import matplotlib: a plot's function gets the `plots` module
when it is drawn, so the command line and the graph work without the ``plot`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import graphviz

from .article import B3_CURVE, DEFAULT_STEPS, b3_curve, b3_minimum, optimize_b3
from .article_graph import article_graph
from .backprop_page import article_page
from .files import IMAGE_FORMATS, format_from_name, write_bytes
from .iris import load_iris
from .network import ARTICLE_B3, IrisNetwork
from .render import FORMATS, render_bytes
from .training import Trained, train

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGURES", "Inputs", "NamedFigure", "backprop_steps", "figure", "graph", "plot", "plots_module"]


class Inputs:
    """What the figures are drawn from: b3 for the graph, and the network trained on the 150 flowers.

    The training is `tinygrad-iris train`'s (the articles' start, the defaults of `training.train`),
    run on first use and once, unless ``trained`` is given (the demo passes the one it has shown).
    """

    def __init__(self, b3: float = ARTICLE_B3, trained: Trained | None = None):
        self.b3 = b3
        self._trained = trained

    @property
    def trained(self) -> Trained:
        if self._trained is None:
            net, data = IrisNetwork(), load_iris()
            self._trained = Trained.measure(net, data, train(net, data.X, data.labels))
        return self._trained


Render = Callable[[Inputs, str], bytes]  # (inputs, format) -> the file's bytes
DrawPlot = Callable[[Inputs, ModuleType], "Figure"]  # (inputs, the plots module) -> a matplotlib Figure
DrawGraph = Callable[[Inputs], graphviz.Digraph]


@dataclass(frozen=True)
class NamedFigure:
    """A figure by name: its demo file, its docs file, the formats it can be written in, and its bytes."""

    name: str
    file: str  # in the demo's folder; the extension is the format written there
    docs_file: str  # under figures/ on the documentation site
    formats: tuple[str, ...]
    render: Render

    def write(self, inputs: Inputs, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Render (in ``format``, by default the one ``path``'s extension names), then write atomically."""
        data = self.render(inputs, format_from_name(path) if format is None else format)
        return write_bytes(path, data)


FIGURES: dict[str, NamedFigure] = {}  # in the order the demo writes them


def figure(name: str, file: str, docs_file: str, formats: tuple[str, ...]) -> Callable[[Render], Render]:
    """Register ``render(inputs, format) -> bytes`` as the figure ``name`` (see `plot` and `graph`)."""

    def register(render: Render) -> Render:
        if name in FIGURES:
            raise ValueError(f"figure {name!r} is registered twice")
        FIGURES[name] = NamedFigure(name, file, docs_file, formats, render)
        return render

    return register


def plots_module() -> ModuleType:
    """`tinygrad_iris.plots`, or a RuntimeError saying how to install matplotlib."""
    try:
        from . import plots
    except ImportError as err:
        raise RuntimeError(
            f"drawing needs matplotlib ({err}); install it with: pip install 'tinygrad_iris[plot]'"
        ) from None
    return plots


def plot(name: str, file: str, docs_file: str) -> Callable[[DrawPlot], DrawPlot]:
    """Register ``draw(inputs, plots) -> matplotlib Figure`` as a figure written as PNG, SVG or PDF."""

    def register(draw: DrawPlot) -> DrawPlot:
        def render(inputs: Inputs, format: str) -> bytes:
            plots = plots_module()
            return plots.figure_bytes(draw(inputs, plots), format)

        figure(name, file, docs_file, IMAGE_FORMATS)(render)
        return draw

    return register


def graph(name: str, file: str, docs_file: str) -> Callable[[DrawGraph], DrawGraph]:
    """Register ``draw(inputs) -> graphviz.Digraph`` as a figure written as SVG, PNG, PDF or DOT text."""

    def register(draw: DrawGraph) -> DrawGraph:
        figure(name, file, docs_file, FORMATS)(lambda inputs, format: render_bytes(draw(inputs), format))
        return draw

    return register


# ----- the figures ------------------------------------------------------------------------------------
@plot("curve", file="curve.png", docs_file="b3-curve.png")
def pink_curve(inputs: Inputs, plots: ModuleType) -> Figure:
    """Total cross entropy against b3, gradient descent's and Newton's steps on it, and the minimum."""
    steps = optimize_b3(steps=DEFAULT_STEPS).steps
    newton = optimize_b3(method="newton").steps
    return plots.plot_b3_curve(B3_CURVE, b3_curve(), steps, b3_minimum(), newton)


@graph("graph", file="graph.svg", docs_file="article-graph.svg")
def three_rows_graph(inputs: Inputs) -> graphviz.Digraph:
    """The three rows' computation graph at b3, after backward(), b3's paths in pink."""
    return article_graph(inputs.b3)


@figure("backprop", file="backprop.html", docs_file="backprop.html", formats=("html",))
def backprop_steps(inputs: Inputs, format: str) -> bytes:
    """The three rows' backward() step by step, as one self-contained page (`backprop_page`)."""
    return article_page(inputs.b3).html.encode("utf-8")


@plot("training", file="training.png", docs_file="training.png")
def training_curves(inputs: Inputs, plots: ModuleType) -> Figure:
    return plots.plot_training(inputs.trained.history)


@plot("hidden_surfaces", file="hidden_surfaces.png", docs_file="hidden-surfaces.png")
def hidden_surfaces(inputs: Inputs, plots: ModuleType) -> Figure:
    return plots.plot_hidden_surfaces(inputs.trained.net, "Hidden nodes after training")


@plot("raw_outputs", file="raw_outputs.png", docs_file="raw-outputs.png")
def raw_output_surfaces(inputs: Inputs, plots: ModuleType) -> Figure:
    return plots.plot_raw_output_surfaces(inputs.trained.net, "Raw outputs after training")


@plot("decision_regions", file="decision_regions.png", docs_file="decision-regions.png")
def decision_regions(inputs: Inputs, plots: ModuleType) -> Figure:
    return plots.plot_decision_regions(inputs.trained.net, inputs.trained.data)
