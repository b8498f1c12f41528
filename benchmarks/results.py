"""The results of a run: the printed table, the JSON record and the scaling plot."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from .timing import Row

COLUMNS = ("workload", "contender", "median", "spread (IQR)", "x floor", "target", "note")


def seconds(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def cells(row: dict[str, Any]) -> list[str]:
    """A row (as recorded in the JSON) as the table's text cells."""
    t = row["timing"]
    return [
        row["workload"],
        row["contender"],
        seconds(t["median"]) if t else "-",
        f"{seconds(t['q1'])} - {seconds(t['q3'])}" if t else "-",
        "floor" if row["floor"] else f"{row['ratio']:.2f}x" if row["ratio"] is not None else "-",
        row["target"],
        row["note"],
    ]


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The plain-text table printed on stdout."""
    lines = [list(COLUMNS), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def as_dicts(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(r) for r in rows]


def write_atomically(path: str, write: Any, suffix: str) -> None:
    """Write through ``write(temp_path)`` into a temporary file beside ``path``, then rename it."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, suffix=suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(temp)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 would make a shared results file private
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def write_json(path: str, record: dict[str, Any]) -> None:
    def write(temp: str) -> None:
        with open(temp, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")

    write_atomically(path, write, ".json")


def plot_scaling(path: str, rows: Sequence[dict[str, Any]]) -> None:
    """Log-log: chain backward time against n (left), memory per node against n (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (time_ax, memory_ax) = plt.subplots(1, 2, figsize=(10, 4))
    series: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        n = row["extra"].get("n")
        if n is None:
            continue
        s = series.setdefault(row["contender"], {"n": [], "time": [], "mn": [], "memory": []})
        if "backward_seconds" in row["extra"]:
            s["n"].append(n)
            s["time"].append(row["extra"]["backward_seconds"])
        if "bytes_per_node" in row["extra"]:
            s["mn"].append(n)
            s["memory"].append(row["extra"]["bytes_per_node"])
    for i, (name, s) in enumerate(series.items()):
        color = f"C{i}"  # one colour per contender in both panels
        if s["time"]:
            time_ax.loglog(s["n"], s["time"], "o-", color=color, label=name)
        if s["memory"]:
            memory_ax.semilogx(s["mn"], s["memory"], "o-", color=color, label=name)
    ours = series.get("tinygrad_iris")
    if ours and ours["time"]:
        n0, t0 = ours["n"][0], ours["time"][0]
        ends = [ours["n"][0], ours["n"][-1]]
        time_ax.loglog(ends, [t0 * m / n0 for m in ends], "k:", label="linear from the first point")
    time_ax.set(xlabel="chain length n (ops)", ylabel="backward time (s)", title="backward time")
    memory_ax.set(xlabel="chain length n (ops)", ylabel="bytes per node", title="memory per node")
    memory_ax.set_ylim(bottom=0)
    for ax in (time_ax, memory_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    write_atomically(path, lambda temp: fig.savefig(temp, format="png", dpi=110), ".png")
    plt.close(fig)
