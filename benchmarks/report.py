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

from .results import COLUMNS, cells, write_atomically

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
- **detect_anomaly on** is the engine inside `detect_anomaly()`. When it is off, it leaves
  one test of a local flag in `record()` (the switch that also serves `no_grad()`) and one
  per node in `backward()`; the scalar MLP row reports what those tests cost per op.

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
  the environment, as the last of those notes does) removes the faults; a buffer pool reused
  across steps would remove them inside the engine.
"""


def markdown(record: dict[str, Any], plot: str) -> str:
    """The Performance page for one recorded run; ``plot`` is the image path relative to the page."""
    header = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS)
    lines = ["| " + " | ".join(c.replace("|", "/") for c in cells(r)) + " |" for r in record["rows"]]
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
autograd and micrograd, all in one process run.

This page is generated by `python -m benchmarks.report` from a recorded run
([the JSON]({ASSETS}/{JSON_NAME})); re-run `make bench` to measure your own machine.

- command: `{record["command"]}`, which `make bench` runs (budget `{record["budget"]}`,
  {record["seconds"]} s; load average {load["before"]:.2f} before, {load["after"]:.2f} after)
- date: {record["date"]}
- machine: {m["cpu"]}, {m["cores"]} cores, {m["platform"]}
- BLAS: {blas}; `OPENBLAS_CORETYPE={m["OPENBLAS_CORETYPE"]}`, `OPENBLAS_L2_SIZE={m["OPENBLAS_L2_SIZE"]}`
- versions: {versions}

{header}
{chr(10).join(lines)}

![chain backward time and memory per node against graph size]({plot})

{EXPLANATION}
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
