"""One SGD training step of a ReLU MLP: the shared body of the iris and wide-MLP workloads.

The step: ``logits = relu(x @ W1 + b1) @ W2 + b2``, loss = mean softmax cross-entropy
against integer targets, backward, then ``p -= lr * p.grad`` for W1, b1, W2, b2. Every
contender computes the loss and the four gradients (checked against tinygrad_iris before
timing) and applies the same update, all in float64.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from typing import Any

import numpy as np

import tinygrad_iris

from .peers import NOT_INSTALLED, optional, single_thread_jax, single_thread_torch
from .results import seconds
from .timing import Budget, Contender, Row, assert_same, compare, rows_against_floor

LEARNING_RATE = 0.1
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMETERS = ("W1", "b1", "W2", "b2")
FLOOR = "NumPy by hand (floor)"
OURS = "tinygrad_iris"
COMPILED = "tinygrad_iris compiled"
JAX = "JAX jit (CPU, 1 thread)"


@dataclass(frozen=True)
class Shape:
    rows: int
    inputs: int
    hidden: int
    classes: int
    seed: int


@dataclass(frozen=True)
class Problem:
    x: np.ndarray  # (rows, inputs), a constant
    targets: np.ndarray  # (rows,) integer classes
    params: tuple[np.ndarray, ...]  # initial W1 (inputs, hidden), b1, W2 (hidden, classes), b2


def make_problem(shape: Shape) -> Problem:
    """Inputs uniform in [0, 1], balanced targets, He-style random weights (fixed seed)."""
    rows, inputs, hidden, classes = shape.rows, shape.inputs, shape.hidden, shape.classes
    rng = np.random.default_rng(shape.seed)
    x = rng.uniform(0.0, 1.0, size=(rows, inputs))
    targets = np.arange(rows) % classes
    params = (
        rng.standard_normal((inputs, hidden)) * np.sqrt(2.0 / inputs),
        rng.uniform(-0.1, 0.1, hidden),
        rng.standard_normal((hidden, classes)) * np.sqrt(2.0 / hidden),
        rng.uniform(-0.1, 0.1, classes),
    )
    return Problem(x, targets, params)


class Stepper:
    """A contender's model: ``step()`` trains once; ``outcome()`` reads the last step's results."""

    def __init__(self, problem: Problem) -> None:
        self.loss: Any = None

    def step(self) -> None:
        raise NotImplementedError

    def __call__(self, _: object) -> None:  # a Contender's timed call
        self.step()

    def grads(self) -> Sequence[Any]:
        raise NotImplementedError

    def outcome(self) -> list[tuple[str, Any]]:
        """The loss and every parameter gradient of the last step (the engine's full output)."""
        return [("loss", self.loss), *(("d loss/d " + p, g) for p, g in zip(PARAMETERS, self.grads()))]


class NumpyFloor(Stepper):
    """Forward and backward written out in NumPy: the least work any framework can do."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.x, self.targets = problem.x, problem.targets
        self.rows = np.arange(len(problem.x))
        self.params = [p.copy() for p in problem.params]

    def step(self) -> None:
        x, rows, targets = self.x, self.rows, self.targets
        w1, b1, w2, b2 = self.params
        z = x @ w1 + b1
        h = np.maximum(z, 0.0)
        logits = h @ w2 + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        self.loss = (np.log(total[:, 0]) - shifted[rows, targets]).sum() / len(rows)
        d_logits = e / total  # softmax - onehot, over the rows: d loss / d logits
        d_logits[rows, targets] -= 1.0
        d_logits *= 1.0 / len(rows)
        d_h = d_logits @ w2.T
        d_z = d_h * (z > 0)
        self._grads = (x.T @ d_z, d_z.sum(axis=0), h.T @ d_logits, d_logits.sum(axis=0))
        for p, g in zip(self.params, self._grads):
            p -= LEARNING_RATE * g

    def grads(self) -> Sequence[Any]:
        return self._grads


class Ours(Stepper):
    """The same step with tinygrad_iris: the data is a constant Value, the weights are leaves.

    ``package`` is the engine to run: tinygrad_iris, or an older commit of it (`benchmarks.paired`).
    """

    def __init__(self, problem: Problem, anomaly: bool = False, package: Any = tinygrad_iris) -> None:
        super().__init__(problem)
        self.tg = package
        self.x = package.Value(problem.x, requires_grad=False)
        self.targets = problem.targets
        self.params = [package.Value(p, name=n) for p, n in zip(problem.params, PARAMETERS)]
        self.anomaly = anomaly

    def _step(self) -> None:
        w1, b1, w2, b2 = self.params
        for p in self.params:
            p.grad = None
        loss = self.tg.cross_entropy((self.x @ w1 + b1).relu() @ w2 + b2, self.targets)
        loss.backward()
        for p in self.params:
            p.data -= LEARNING_RATE * p.grad
        self.loss = loss.data

    def step(self) -> None:
        if self.anomaly:
            with self.tg.detect_anomaly():
                self._step()
        else:
            self._step()

    def grads(self) -> Sequence[Any]:
        return [p.grad for p in self.params]


class OursCompiled(Ours):
    """The same step through `tinygrad_iris.compile`: traced on the first call, then replayed.

    The data is the argument (a new batch could come every call); the targets are closed over,
    as the floor keeps them: a constant of the trace, validated once when it is traced.
    """

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        w1, b1, w2, b2 = self.params
        targets = problem.targets
        self.data = problem.x
        self.compiled = tinygrad_iris.compile(
            lambda x: tinygrad_iris.cross_entropy((x @ w1 + b1).relu() @ w2 + b2, targets)
        )

    def step(self) -> None:
        for p in self.params:
            p.grad = None
        loss = self.compiled(self.data)
        loss.backward()
        for p in self.params:
            p.data -= LEARNING_RATE * p.grad
        self.loss = loss.data


class JaxJit(Stepper):
    """JAX: the whole step (loss, gradients, SGD update) under one `jax.jit`, float64, on the CPU."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        jax = single_thread_jax()
        assert jax is not None
        jnp = jax.numpy
        rows = len(problem.x)

        def loss_of(params: Any, x: Any, targets: Any) -> Any:
            w1, b1, w2, b2 = params
            logits = jnp.maximum(x @ w1 + b1, 0.0) @ w2 + b2
            shifted = logits - jnp.max(logits, axis=1, keepdims=True)
            log_total = jnp.log(jnp.sum(jnp.exp(shifted), axis=1))
            return (log_total - shifted[jnp.arange(rows), targets]).sum() / rows

        def step(params: Any, x: Any, targets: Any) -> Any:
            loss, grads = jax.value_and_grad(loss_of)(params, x, targets)
            return [p - LEARNING_RATE * g for p, g in zip(params, grads)], loss, grads

        self.jitted = jax.jit(step)
        self.x, self.targets = jnp.asarray(problem.x), jnp.asarray(problem.targets)
        self.params = [jnp.asarray(p) for p in problem.params]

    def step(self) -> None:
        self.params, self.loss, self._grads = self.jitted(self.params, self.x, self.targets)
        self.loss.block_until_ready()

    def outcome(self) -> list[tuple[str, Any]]:
        self.loss = float(self.loss)
        return super().outcome()

    def grads(self) -> Sequence[Any]:
        return [np.asarray(g) for g in self._grads]


class Torch(Stepper):
    """PyTorch eager on the CPU, one thread, float64."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        torch = single_thread_torch()
        assert torch is not None
        self.torch = torch
        self.x = torch.from_numpy(problem.x)
        self.targets = torch.from_numpy(problem.targets).long()
        self.params = [torch.tensor(p, requires_grad=True) for p in problem.params]

    def step(self) -> None:
        torch = self.torch
        w1, b1, w2, b2 = self.params
        for p in self.params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(torch.relu(self.x @ w1 + b1) @ w2 + b2, self.targets)
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p.sub_(p.grad, alpha=LEARNING_RATE)
        self.loss = loss

    def outcome(self) -> list[tuple[str, Any]]:
        self.loss = self.loss.item()
        return super().outcome()

    def grads(self) -> Sequence[Any]:
        return [p.grad.numpy() for p in self.params]


class HipsAutograd(Stepper):
    """HIPS autograd: the loss as a NumPy function, differentiated by `value_and_grad`."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        import autograd.numpy as anp
        from autograd import value_and_grad

        rows = np.arange(len(problem.x))

        def loss_of(params: list[Any], x: np.ndarray, targets: np.ndarray) -> Any:
            w1, b1, w2, b2 = params
            logits = anp.maximum(x @ w1 + b1, 0.0) @ w2 + b2
            shifted = logits - anp.max(logits, axis=1, keepdims=True)  # autograd.scipy needs SciPy
            log_total = anp.log(anp.sum(anp.exp(shifted), axis=1))
            return (log_total - shifted[rows, targets]).sum() / len(rows)

        self.value_and_grad = value_and_grad(loss_of)
        self.x, self.targets = problem.x, problem.targets
        self.params = [p.copy() for p in problem.params]

    def step(self) -> None:
        self.loss, self._grads = self.value_and_grad(self.params, self.x, self.targets)
        for p, g in zip(self.params, self._grads):
            p -= LEARNING_RATE * g

    def grads(self) -> Sequence[Any]:
        return self._grads


# glibc settings that stop it from handing freed heap memory back to the OS after every step
NO_HEAP_TRIM = {"MALLOC_TRIM_THRESHOLD_": str(256 << 20), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}


def alone_in_a_process(shape: Shape, repeats: int, steps: int = 30) -> list[dict[str, Any]]:
    """Median seconds and page faults per step of the floor and of tinygrad_iris, each alone in a process.

    In the benchmark process every contender's memory shares one heap, which hides how a
    training loop alone in a process gets its memory from the allocator each step. The
    processes run one after another (floor, ours, ours with `NO_HEAP_TRIM`), ``repeats`` times.
    """
    runs: list[dict[str, Any]] = [
        {"contender": FLOOR, "env": {}, "samples": []},
        {"contender": OURS, "env": {}, "samples": []},
        {"contender": OURS, "env": NO_HEAP_TRIM, "samples": []},
        {"contender": COMPILED, "env": {}, "samples": []},
    ]
    for _ in range(repeats):
        for run in runs:
            args = json.dumps([*astuple(shape), run["contender"], steps])
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.mlp_step", args],
                capture_output=True,
                text=True,
                check=True,
                cwd=_REPOSITORY,
                env={**os.environ, **run["env"]},
            )
            run["samples"].append(json.loads(done.stdout))
    for run in runs:
        faults, times = zip(*run.pop("samples"))
        run.update(page_faults=float(np.median(faults)), seconds=float(np.median(times)))
    return runs


def _step_alone(args: str) -> None:
    *numbers, name, steps = json.loads(args)
    model = {FLOOR: NumpyFloor, OURS: Ours, COMPILED: OursCompiled}[name](make_problem(Shape(*numbers)))
    for _ in range(steps):  # warm up: let the allocator settle
        model.step()
    before, times = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, []
    for _ in range(steps):
        start = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - start)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps
    print(json.dumps([faults, float(np.median(times))]))


def run(workload: str, shape: Shape, budget: Budget, target: float, compiled_target: float,
        versus: str) -> list[Row]:
    """Check every contender against tinygrad_iris on one step, then time them all, interleaved.

    The compiled step's target: at most ``compiled_target`` x the floor, and ``versus`` "jax"
    (ahead of JAX jit's ratio) or "faults" (no page faults per step alone in a process).
    """
    problem = make_problem(shape)
    makers: dict[str, Any] = {FLOOR: NumpyFloor, OURS: Ours, COMPILED: OursCompiled}
    missing = []
    for name, module, maker in (
        ("PyTorch eager (1 thread)", "torch", Torch),
        ("HIPS autograd", "autograd", HipsAutograd),
        (JAX, "jax", JaxJit),
    ):
        if importlib.util.find_spec(module) is None:  # not imported here: JAX reads its flags when it is
            missing.append(name)
        else:
            makers[name] = maker
    makers[OURS + " (detect_anomaly on)"] = lambda problem: Ours(problem, anomaly=True)

    reference = Ours(problem)
    reference.step()
    expected = reference.outcome()
    models: dict[str, Stepper] = {}
    for name, maker in makers.items():
        check = maker(problem)
        check.step()
        assert_same(workload, name, check.outcome(), expected)
        models[name] = maker(problem)

    contenders = [Contender(name, model) for name, model in models.items()]
    timings = compare(contenders, budget)
    rows = rows_against_floor(workload, contenders, timings, FLOOR)
    compiled = models[COMPILED].compiled  # type: ignore[attr-defined]
    trace = f"traced once in {seconds(compiled.trace_seconds)}; holds {compiled.buffer_bytes / 1024:.0f} KiB"
    alone = alone_in_a_process(shape, repeats=1 if budget.tiny else 3)
    for row in rows:
        if row.timing:  # memory the OS maps in costs time: this shows where it differs
            row.note = f"{row.timing.page_faults:.0f} page faults/step"
        mine = [run for run in alone if run["contender"] == row.contender]
        if mine:
            row.extra["alone"] = mine
            row.note += "; alone in a process: " + "; ".join(
                f"{seconds(run['seconds'])}, {run['page_faults']:.0f} faults"
                + (" with glibc heap trimming off" if run["env"] else "")
                for run in mine
            )
        if row.contender == OURS and row.ratio is not None:
            met = "met" if row.ratio <= target else "MISSED"
            row.target = f"<= {target}x floor: {row.ratio:.2f}x, {met}"
        if row.contender == COMPILED and row.ratio is not None:
            row.note = f"{trace} of buffers; " + row.note
            row.extra.update(trace_seconds=compiled.trace_seconds, buffer_bytes=compiled.buffer_bytes)
            row.target = _compiled_target(row.ratio, compiled_target, versus, rows, mine)
    rows += [Row(workload, name, None, note=NOT_INSTALLED) for name in missing]
    return rows


def _compiled_target(ratio: float, target: float, versus: str, rows: list[Row],
                     alone: list[dict[str, Any]]) -> str:
    """The compiled step's target: at most ``target`` x the floor, and ahead of JAX jit's ratio
    (``versus`` "jax") or no page faults per step alone in a process ("faults")."""
    parts = [f"<= {target}x floor: {ratio:.2f}x"]
    met = ratio <= target
    jax = next((r.ratio for r in rows if r.contender == JAX and r.ratio is not None), None)
    if versus == "jax" and jax is not None:
        parts.append(f"ahead of JAX jit ({jax:.2f}x)")
        met = met and ratio < jax
    if versus == "faults" and alone:
        faults = alone[0]["page_faults"]
        parts.append(f"0 faults/step alone: {faults:.0f}")
        met = met and faults == 0
    return ", ".join(parts) + (", met" if met else ", MISSED")


if __name__ == "__main__":
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is not None:  # as in the benchmark process
        threadpoolctl.threadpool_limits(limits=1, user_api="blas")
    _step_alone(sys.argv[1])
