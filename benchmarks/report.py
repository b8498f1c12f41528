"""Turn a recorded run (`make bench`'s JSON and plot) into the docs' Performance page.

``python -m benchmarks.report [--json out/bench.json] [--plot out/bench_scaling.png] [--docs docs]``
copies the JSON and the plot into ``docs/assets/`` and writes ``docs/performance.md`` from
them, so the page builds without re-running the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

from .results import cells, write_atomically

ASSETS = "assets"
JSON_NAME, PLOT_NAME = "bench.json", "bench_scaling.png"

EXPLANATION = """\
## What the numbers mean

- **median** is the median, over the repetitions, of the time of one call: one training
  step, or for the chain one backward pass divided by its n ops. **spread** is the
  interquartile range (25th to 75th percentile) over the same repetitions. All contenders of
  a workload are measured in one process run, interleaved: each repetition runs every
  contender once, in a rotated order, after a warm-up; short calls are batched so that one
  sample lasts about 20 ms.
- **x floor** is the median, over repetitions, of a contender's time divided by the floor's
  time in the same repetition (measured back to back, so a change in machine load during the
  run cancels out). The floor is the same computation written by hand: NumPy for the array
  workloads, Python floats for the scalar ones (NumPy costs more than it saves on scalars).
  It computes the same loss and every gradient the engine computes. Before timing, each
  contender's loss and gradients are checked against tinygrad_iris (to 1e-9 relative), so
  no contender can be faster by doing less.
- **iris step** and **wide MLP step**: one SGD step (forward, mean softmax cross-entropy,
  backward, update of W1, b1, W2, b2), in float64. The iris inputs are a fixed random
  (150, 2) array in [0, 1] with 50 rows per class (the cost depends only on the shapes).
  PyTorch runs eager on the CPU with one thread, and NumPy's BLAS is limited to one thread
  too (threadpoolctl), so matrix products compare like for like. The note counts the page
  faults per step (memory the operating system had to map in during the step).
- **scalar MLP**: micrograd's own `nn.MLP(2, [16, 16, 1])` code, run once with micrograd's
  `Value` and once with ours (same weights): forward over 20 samples (sum of squared
  errors), `zero_grad()`, `backward()`, with the cyclic GC off for every contender
  (micrograd's closures form reference cycles that would otherwise trigger collections
  inside the timed call). The note gives the time per recorded op. Its target compares
  with micrograd, paired per repetition like **x floor**.
- **chain**: `x = x * c` and `x = x + d` alternating n times; the timed call is
  `backward()` on a graph built (untimed) just before. All lengths are timed in the same
  repetitions, so "flat" compares the time per op at the largest and smallest n, paired per
  repetition. **B/node** is what tracemalloc sees allocated per op while the chain is built;
  **released without GC: True** means that with `gc.disable()`, dropping the loss freed
  the graph (a weak reference to its first node died): reference counting alone frees it.
  micrograd's recursive topological sort fails at Python's default recursion limit on
  chains this long, so it gets no time there.
- **graph drawing**: `draw_article_graph(graph).source` for the articles' three-row graph
  (built once, untimed): the walk, b3's highlighted paths, the row and stage clusters, the
  escaped labels and the DOT text, without running Graphviz's `dot`. The floor writes the same
  nodes and edges with bare labels through the graphviz package. No target is set for it.
- **compiled** is the same step through `tinygrad_iris.compile` (below): traced on its first
  call (before timing), replayed on every timed one; the data is its argument. Its note gives
  the trace's one-off cost (tracing, generating and verifying the tape) and the memory its
  buffers hold for as long as the compiled function lives. Its loss and gradients are checked
  like every contender's, and `tests/test_compiled.py` checks them bit for bit. **JAX jit**
  is the same step (loss, gradients and update) under one `jax.jit`, float64, on the CPU with
  XLA's thread pool off: the peer that also traces once and replays.
- **detect_anomaly on** is the engine inside `detect_anomaly()`. When it is off, it leaves
  one test of a local flag in `record()` (the switch that also serves `no_grad()`) and one
  per node in `backward()`; the scalar MLP row reports what those tests cost per op.

## Trace and replay: `tinygrad_iris.compile`

`compiled = tinygrad_iris.compile(fn)` runs `fn` eagerly on its first call while the engine's
one record function reports every op, then writes those ops out as one Python function, the
*tape*: a line per op, in order, calling NumPy with preallocated output buffers (plain float
arithmetic for scalar graphs), then the recorded backward pass in the order `backward()` takes
it, with the same VJP arithmetic. Later calls run the tape on the new arguments: no nodes, no
per-op dispatch, no memory allocated for arrays that have a buffer.

```
 first call: trace             later calls: replay the tape
 fn runs eagerly; each op      np.matmul(a0, p0, buf1)    x @ W (p0: W.data)
 is reported as it runs:       np.add(buf1, p1, buf2)     + b
   x @ W          -> op 0      ...cross-entropy into buffers...
   + b            -> op 1      g = yield loss      <- loss.backward()
   cross_entropy  -> op 2      np.divide(e, total, buf3)       softmax
 they become the tape's        np.subtract(buf3, onehot, buf3)
 lines; its first replay is    np.multiply(buf3, g / rows, buf3)
 compared with the eager       gb = np.add.reduce(buf3, 0)
 run, op by op                 gW = np.matmul(a0.T, buf3)
                               yield gW, gb        -> W.grad, b.grad
```

TAPE_EXAMPLE

Python in `fn` runs only while tracing: control flow on values and NumPy on `.data` are frozen
(the checking mode, `compile(fn, check=True)` or `TINYGRAD_IRIS_COMPILE_CHECK=1`, runs `fn`
eagerly beside each replay and names the first op that differs). New shapes, dtypes, layouts
or kinds of argument trace again.

## Where the time goes, and what is left

- Scalar graphs: per op, the forward pass costs one Python method call, one node allocation
  and its slot writes; `backward()` costs an iterative depth-first ordering of the inner
  nodes (a set of visited nodes, no recursion) and one VJP call per node. That is already
  fewer instructions than micrograd (whose nodes carry a set, a closure and a dict each), but
  most of the remaining time is the bytecode of those two passes. Closing the gap to the
  hand-written floor (about 10x) needs code that is not interpreted per node: a compiled
  extension, or tracing a scalar graph once into a vectorized NumPy program.
- Small arrays (iris): each op costs a few microseconds of Python around NumPy calls that
  take about as long; the cross-entropy node validates its targets on every call.
- Large arrays (wide MLP): the arithmetic is the same BLAS calls as the floor's. The engine
  keeps every intermediate array and gradient alive until the graph is dropped (they are part
  of the API: every node has `.data` and `.grad`), so a step frees ~10 MB at once when its
  graph goes. Alone in a process, glibc then hands that memory back to the operating system
  and the next step faults it back in, page by page: see the "alone in a process" notes,
  where each step runs in a fresh process of its own (not interleaved, so noisier). In the
  benchmark process the other contenders' memory keeps the heap from shrinking. Raising
  glibc's thresholds (`MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=33554432` in
  the environment, as the last of those notes does) removes the faults; the compiled step,
  whose arrays live in buffers allocated once, has none to fault in.
- Compiled: the tape makes the same NumPy calls as the hand-written floor, so what it saves is
  the floor's Python around them: a new array per operation (the buffers, one reused where no
  later step reads its value: the product `x @ W1` takes the bias, relu's gradient is
  multiplied into its upstream gradient's buffer: that cut the wide MLP's buffers from 10.7 to
  6.8 MiB and its compiled step by about 7%, measured paired), the method wrappers
  of `.max()` and `.sum()` (the tape calls `np.maximum.reduce` and `np.add.reduce` itself),
  and, for a few classes, the row reductions of the cross-entropy, which it takes as a chain
  over the columns where this NumPy's reduction of so short rows adds in that order (checked
  on a probe). What remains on top of the NumPy calls is one Python line each, the checks that
  the parameters kept their shapes, and one `Value` for the result. On scalar graphs the tape
  is plain float arithmetic, one line per op and per gradient: no node, no method call.
"""


def tape_example() -> str:
    """The tape `compile` generates for a small loss, as the page shows it (generated, not copied)."""
    import numpy as np

    import tinygrad_iris

    W = tinygrad_iris.Value(np.array([[0.5, -1.0, 0.2], [1.5, 0.3, -0.7]]), name="W")
    b = tinygrad_iris.Value(np.array([0.1, 0.0, -0.1]), name="b")
    targets = np.array([0, 2, 1, 0])
    compiled = tinygrad_iris.compile(lambda x: tinygrad_iris.cross_entropy(x @ W + b, targets))
    compiled(np.linspace(0.0, 1.0, 8).reshape(4, 2))
    (tape,) = compiled.tapes.values()
    return (
        "The tape of `cross_entropy(x @ W + b, targets)` with `targets` closed over, as `compile`\n"
        "generates it for a batch of 4 rows (`a0` is the argument `x`; `p0`, `p1` the data of `W`\n"
        "and `b`, read on every call and checked; `buf`, `view` and `c` are buffers, views of them\n"
        "and constants made once; `g` is the upstream gradient that `backward()` sends in):\n\n"
        f"```python\n{tape.source}```"
    )


def tables(rows: Sequence[dict[str, Any]]) -> str:
    """One narrow table per workload (contender, median, x floor, target met), each row's spread,
    target and note listed under it, so that the page fits the docs' text width."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        sections.setdefault(row["workload"].split(" (n=")[0], []).append(row)
    text = []
    for workload, mine in sections.items():
        lines = [f"### {workload}", "", "| contender | median | x floor | target |", "|---|---|---|---|"]
        notes = []
        for row in mine:
            _, name, median, spread, ratio, target, note = cells(row)
            if row["workload"] != workload:  # the chain's sizes: one section, n in the contender
                name = f"{name}, {row['workload'][len(workload):].strip(' ()')}"
            verdict = target.rsplit(", ", 1)[-1] if target else ""
            lines.append(f"| {name} | {median} | {ratio} | {verdict} |")
            parts = (f"spread {spread}" if spread != "-" else "", target, note)
            details = "; ".join(part for part in parts if part)
            notes.append(f"- {name}: {details}")
        text.append("\n".join([*lines, "", *notes]))
    return "\n\n".join(text)


def markdown(record: dict[str, Any], plot: str) -> str:
    """The Performance page for one recorded run; ``plot`` is the image path relative to the page."""
    versions = ", ".join(f"{k} {v}" for k, v in record["versions"].items())
    m, load = record["machine"], record["load_average_1min"]
    blas = "; ".join(
        f"{b.get('internal_api', '')} {b.get('version', '')} ({b.get('architecture', '')} kernel, "
        f"limited to {b.get('num_threads', '?')} thread)"
        if "internal_api" in b
        else b.get("note", "")
        for b in m["blas"]
    )
    return f"""# Performance

What an autodiff framework in Python adds on top of NumPy is per-op overhead: the arithmetic
is NumPy's (or Python's, for scalars), everything else is the engine's. `make bench` measures
that overhead against the same computation written by hand, and against PyTorch, HIPS
autograd, JAX's `jit` and micrograd, all in one process run; `tinygrad_iris.compile` (below)
takes most of it away.

This page is generated by `python -m benchmarks.report` from a recorded run
([the JSON]({ASSETS}/{JSON_NAME})); re-run `make bench` to measure your own machine.

- command: `{record["command"]}`, which `make bench` runs (budget `{record["budget"]}`,
  {record["seconds"]} s; load average {load["before"]:.2f} before, {load["after"]:.2f} after)
- date: {record["date"]}
- machine: {m["cpu"]}, {m["cores"]} cores, {m["platform"]}
- BLAS: {blas}; `OPENBLAS_CORETYPE={m["OPENBLAS_CORETYPE"]}`, `OPENBLAS_L2_SIZE={m["OPENBLAS_L2_SIZE"]}`
- versions: {versions}

A load average above the machine's {m["cores"]} cores means other processes shared it during the
run: the medians include their interference, the paired ratios less so (each pair of samples
runs back to back), and the spreads show how much remained.

Each workload's table lists the contenders; under it, each one's spread (interquartile range),
its target in full, and its note.

{tables(record["rows"])}

![chain backward time and memory per node against graph size]({plot})

{EXPLANATION.replace("TAPE_EXAMPLE", tape_example())}
## The environment

Some machines set `OPENBLAS_CORETYPE` (and `OPENBLAS_L2_SIZE`) because older OpenBLAS builds
compute wrong results on their processors; it also picks the kernel a current NumPy runs,
usually a slower one. The run records both variables and the BLAS kernel in use. The NumPy
floor and tinygrad_iris share that BLAS, so their ratio does not depend on it; PyTorch
brings its own BLAS, so its ratios on the BLAS-bound wide MLP do.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("--json", default=os.path.join("out", JSON_NAME), help="the recorded run")
    parser.add_argument("--plot", default=os.path.join("out", PLOT_NAME), help="its scaling plot")
    parser.add_argument("--docs", default="docs", help="the docs folder to write into")
    args = parser.parse_args(argv)
    with open(args.json) as f:
        record = json.load(f)
    assets = os.path.join(args.docs, ASSETS)
    os.makedirs(assets, exist_ok=True)
    for source, name in ((args.json, JSON_NAME), (args.plot, PLOT_NAME)):
        target = os.path.join(assets, name)
        if os.path.abspath(source) != os.path.abspath(target):
            write_atomically(target, lambda temp, source=source: shutil.copyfile(source, temp), name)
    page = markdown(record, f"{ASSETS}/{PLOT_NAME}")

    def write(temp: str) -> None:
        with open(temp, "w") as f:
            f.write(page)

    write_atomically(os.path.join(args.docs, "performance.md"), write, ".md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
