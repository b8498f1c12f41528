"""The articles' figures and what the network learned, drawn with matplotlib.

Uses matplotlib's object API (``Figure``, rendered by Agg), never pyplot, so importing this
module changes no global backend. Each ``plot_*`` function returns its ``Figure``;
`figure_bytes` renders one as PNG, SVG or PDF, and `files` writes those bytes. The colours
follow the articles: blue and orange bent surfaces for the hidden nodes; green, red and purple
crinkled surfaces for Setosa, Versicolor and Virginica.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .engine import no_grad
from .iris import SPECIES as SPECIES_NAMES
from .iris import IrisData

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .article import DescentStep
    from .network import IrisNetwork
    from .training import TrainingHistory

__all__ = [
    "figure_bytes",
    "plot_b3_curve",
    "plot_decision_regions",
    "plot_hidden_surfaces",
    "plot_raw_output_surfaces",
    "plot_training",
]

SPECIES_COLORS = ("tab:green", "tab:red", "tab:purple")
HIDDEN_COLORS = ("tab:blue", "tab:orange")
_DPI = 100


def figure_bytes(figure: Figure, format: str) -> bytes:
    """The figure rendered as ``format`` ("png", "svg" or "pdf", as `files.IMAGE_FORMATS`)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=format, dpi=_DPI)
    return buffer.getvalue()


def _unit_grid(points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A points x points grid over [0, 1]^2: (petal, sepal, their (points^2, 2) stack)."""
    petal, sepal = np.meshgrid(np.linspace(0, 1, points), np.linspace(0, 1, points))
    return petal, sepal, np.stack([petal.ravel(), sepal.ravel()], axis=1)


def plot_b3_curve(
    b3_values: np.ndarray,
    totals: np.ndarray,
    steps: Sequence[DescentStep],
    minimum: DescentStep,
    newton: Sequence[DescentStep] = (),
) -> Figure:
    """The pink curve (total cross-entropy against b3), gradient descent's steps and the labelled minimum;
    with ``newton``, Newton's steps and the parabola it fits at its first step, whose lowest point is
    where that step lands.
    """
    figure = Figure(figsize=(8, 5))
    ax = figure.add_subplot()
    ax.plot(b3_values, totals, color="hotpink", linewidth=2.5, label="total cross entropy")
    b3s = [step.b3 for step in steps]
    ces = [step.total_cross_entropy for step in steps]
    ax.plot(b3s, ces, "o-", color="black", markersize=4, linewidth=0.8, label="gradient descent (lr 1)")
    for step in steps[:3]:
        ax.annotate(
            f"{step.b3:.4f}", (step.b3, step.total_cross_entropy), textcoords="offset points", xytext=(6, 4)
        )
    if newton:
        _plot_newton(ax, b3_values, newton)
    ax.plot([minimum.b3], [minimum.total_cross_entropy], "*", color="crimson", markersize=14)
    ax.annotate(
        f"minimum: b3 = {minimum.b3:.5f}\ntotal CE = {minimum.total_cross_entropy:.4f}",
        (minimum.b3, minimum.total_cross_entropy),
        textcoords="offset points",
        xytext=(0, 90),
        ha="center",
        arrowprops={"arrowstyle": "->"},
    )
    ax.set_xlabel("b3")
    ax.set_ylabel("total cross entropy (3 rows)")
    ax.set_title("Cross entropy vs b3" + (": gradient descent and Newton's method" if newton else ""))
    ax.legend(loc="upper center")
    figure.tight_layout()
    return figure


def _plot_newton(ax: Axes, b3_values: np.ndarray, steps: Sequence[DescentStep]) -> None:
    """Newton's steps as arrows, and the parabola fitted at the first: that step lands at the b3 of its
    lowest point, where the curve itself is much higher."""
    first = steps[0]
    ax.plot(
        b3_values,
        first.parabola(b3_values),
        "--",
        color="tab:blue",
        linewidth=1.2,
        label=f"parabola Newton fits at b3 = {first.b3:g} (curvature {first.curvature:.4f})",
    )
    bottom = first.b3 - first.gradient / first.curvature
    lowest = float(first.parabola(np.array(bottom)))
    ax.plot([bottom], [lowest], "o", color="tab:blue", markersize=5)
    if len(steps) > 1:
        ax.plot([bottom, bottom], [lowest, steps[1].total_cross_entropy], ":", color="tab:blue", linewidth=1)
    ax.annotate(
        f"its lowest point: b3 = {bottom:.4f}",
        (bottom, lowest),
        textcoords="offset points",
        xytext=(-8, -4),
        ha="right",
        va="top",
        color="tab:blue",
    )
    low = min(lowest, *(step.total_cross_entropy for step in steps))
    ax.set_ylim(bottom=low - 0.5)  # room for the labels under the parabola
    ax.plot(
        [step.b3 for step in steps],
        [step.total_cross_entropy for step in steps],
        "s",
        color="tab:blue",
        markersize=7,
        markerfacecolor="none",
        label="Newton's method (arrows: its steps)",
    )
    for before, after in itertools.pairwise(steps[:4]):
        ax.annotate(
            "",
            (after.b3, after.total_cross_entropy),
            (before.b3, before.total_cross_entropy),
            arrowprops={"arrowstyle": "->", "color": "tab:blue", "connectionstyle": "arc3,rad=-0.25"},
        )
    leader = {"arrowstyle": "-", "color": "tab:blue", "linewidth": 0.6}
    for step, offset, line in zip(steps[1:3], [(10, -4), (-150, -40)], [None, leader]):
        ax.annotate(
            f"Newton {step.step}: {step.b3:.4f}",
            (step.b3, step.total_cross_entropy),
            textcoords="offset points",
            xytext=offset,
            color="tab:blue",
            arrowprops=line,
        )


def plot_training(history: TrainingHistory) -> Figure:
    """Mean cross-entropy (log scale) and accuracy per epoch."""
    figure = Figure(figsize=(9, 3.8))
    loss_ax, accuracy_ax = figure.subplots(1, 2)
    epochs = np.arange(1, len(history.loss) + 1)
    loss_ax.semilogy(epochs, history.loss, color="hotpink")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("mean cross entropy")
    accuracy_ax.plot(epochs, np.asarray(history.accuracy) * 100, color="tab:blue")
    accuracy_ax.set_xlabel("epoch")
    accuracy_ax.set_ylabel("accuracy (%)")
    accuracy_ax.set_ylim(0, 100)
    figure.suptitle("Full-batch training on the 150 flowers")
    figure.tight_layout()
    return figure


def _surfaces(
    grid: tuple[np.ndarray, np.ndarray],
    values: np.ndarray,
    titles: Sequence[str],
    colors: Sequence[str],
    title: str,
) -> Figure:
    """One 3-D surface per column of ``values`` (points^2, k) over the (petal, sepal) ``grid``."""
    petal, sepal = grid
    figure = Figure(figsize=(4.2 * len(titles), 4.2))
    for i, (label, color) in enumerate(zip(titles, colors)):
        ax = figure.add_subplot(1, len(titles), i + 1, projection="3d")
        ax.plot_surface(petal, sepal, values[:, i].reshape(petal.shape), color=color, alpha=0.85)
        ax.set_xlabel("petal width")
        ax.set_ylabel("sepal width")
        ax.set_title(label)
    figure.suptitle(title)
    return figure


def plot_hidden_surfaces(net: IrisNetwork, title: str = "Hidden nodes", points: int = 41) -> Figure:
    """The two bent surfaces: relu(upper) and relu(bottom) over petal x sepal in [0, 1]^2."""
    petal, sepal, grid = _unit_grid(points)
    with no_grad():
        values = net.hidden(grid).data
    return _surfaces((petal, sepal), values, ("relu(upper)", "relu(bottom)"), HIDDEN_COLORS, title)


def plot_raw_output_surfaces(net: IrisNetwork, title: str = "Raw outputs", points: int = 41) -> Figure:
    """The three crinkled surfaces: the raw outputs for Setosa, Versicolor, Virginica."""
    petal, sepal, grid = _unit_grid(points)
    with no_grad():
        values = net(grid).data
    titles = [f"raw output: {name}" for name in SPECIES_NAMES]
    return _surfaces((petal, sepal), values, titles, SPECIES_COLORS, title)


def plot_decision_regions(net: IrisNetwork, data: IrisData, points: int = 300) -> Figure:
    """The species the network predicts over [0, 1]^2, with the 150 flowers on top."""
    petal, sepal, grid = _unit_grid(points)
    regions = net.predict(grid).reshape(points, points)
    predicted = net.predict(data.X)
    figure = Figure(figsize=(6.5, 5.5))
    ax = figure.add_subplot()
    ax.pcolormesh(petal, sepal, regions, cmap=ListedColormap(SPECIES_COLORS), alpha=0.18, shading="auto")
    for label, (name, color) in enumerate(zip(SPECIES_NAMES, SPECIES_COLORS)):
        mine = data.labels == label
        ax.scatter(
            data.X[mine, 0], data.X[mine, 1], s=28, color=color, edgecolor="black", linewidth=0.4, label=name
        )
    wrong = predicted != data.labels
    ax.scatter(
        data.X[wrong, 0],
        data.X[wrong, 1],
        s=110,
        facecolor="none",
        edgecolor="black",
        linewidth=1.2,
        label="misclassified",
    )
    ax.set_xlabel("petal width (scaled to [0, 1])")
    ax.set_ylabel("sepal width (scaled to [0, 1])")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    correct = int(np.sum(~wrong))
    ax.set_title(f"Decision regions: {correct} of {len(data.labels)} flowers correct")
    ax.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure
