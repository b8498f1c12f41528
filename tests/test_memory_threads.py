"""Graphs are freed by reference counting alone (a 10,000-step soak), and threads do not interfere."""

import gc
import sys
import threading
import tracemalloc

import numpy as np

from tinygrad_iris import Value, cross_entropy, detect_anomaly, log_softmax, no_grad, softmax, stack

ROWS = 150
NOISE = 64 * 1024  # bytes: allocator and tracemalloc bookkeeping, far below one graph per step


def _iris_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """150 rows of two features in [0, 1], 50 per class, like the scaled petal and sepal widths."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.1, 0.6], [0.5, 0.3], [0.8, 0.45]])
    targets = np.repeat(np.arange(3), ROWS // 3)
    return np.clip(centres[targets] + rng.normal(0, 0.1, (ROWS, 2)), 0, 1), targets


def _network(seed: int = 1) -> list[Value]:
    """The 2-2-3 network's parameters: W1 (2, 2), b1 (2,), W2 (2, 3), b2 (3,)."""
    rng = np.random.default_rng(seed)
    return [
        Value(rng.normal(0, 1, (2, 2)), name="W1"),
        Value(np.full(2, 0.5), name="b1"),
        Value(rng.normal(0, 1, (2, 3)), name="W2"),
        Value(np.zeros(3), name="b2"),
    ]


def _sgd_step(params: list[Value], x: np.ndarray, targets: np.ndarray, lr: float = 0.5) -> float:
    w1, b1, w2, b2 = params
    loss = cross_entropy((x @ w1 + b1).relu() @ w2 + b2, targets)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
        p.grad = None
    return loss.item()


def test_training_memory_stays_flat_without_the_cyclic_gc():
    x, targets = _iris_like()
    params = _network()
    steps, warm_up, half = 10_000, 500, 5_250
    first_loss = _sgd_step(params, x, targets)
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        for _ in range(1, warm_up):
            _sgd_step(params, x, targets)
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(warm_up, half):
            _sgd_step(params, x, targets)
        middle, first_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(half, steps - 1):
            _sgd_step(params, x, targets)
        last_loss = _sgd_step(params, x, targets)
        end, second_peak = tracemalloc.get_traced_memory()
        unreachable = gc.collect()
    finally:
        tracemalloc.stop()
        gc.enable()
    print(
        f"\n{steps} steps: traced memory {baseline} B after {warm_up} steps, {middle} B after {half}, "
        f"{end} B after {steps}; the peak (one step's graph) {first_peak - baseline} B above the "
        f"baseline in the first half, {second_peak - baseline} B in the second"
    )
    assert abs(middle - baseline) < NOISE and abs(end - baseline) < NOISE
    assert second_peak < first_peak + NOISE  # the largest graph did not grow either
    assert unreachable == 0  # no reference cycles were left for the cyclic GC to find
    assert last_loss < 0.5 * first_loss  # and it did train


# ----- threads -----------------------------------------------------------------------------------------
def _workload(seed: int, rounds: int = 30) -> list[np.ndarray]:
    """A graph over many ops, differentiated, then a few SGD steps: everything it computes."""
    rng = np.random.default_rng(seed)
    x, targets = _iris_like(seed)
    params = _network(seed)
    a = Value(rng.normal(size=(4, 3)))
    b = Value(rng.normal(size=(3,)))
    results = []
    for _ in range(rounds):
        h = softmax(a @ b.reshape(3, 1) * a, axis=0) + log_softmax(a.T, axis=1).T.exp()
        out = stack([h.max(axis=1), h[[0, 2, 2, 1]].sum(axis=1) / (b * b + 1.0).mean(), h.mean(axis=1)])
        loss = cross_entropy(out.T, [0, 1, 2, 1], reduction="sum") + (out**2).sum()
        loss.backward()
        results += [loss.data, a.grad.copy(), b.grad.copy()]
        a.grad, b.grad = None, None
        results.append(np.array(_sgd_step(params, x, targets)))
    return results + [p.data.copy() for p in params]


def test_eight_threads_give_exactly_the_single_threaded_results():
    expected = {k: _workload(k) for k in range(8)}
    got: dict[int, list[np.ndarray]] = {}
    start = threading.Barrier(9)

    def worker(k):
        start.wait()
        if k % 2:  # anomaly mode in half of the threads changes nothing here (no NaN anywhere)
            with detect_anomaly():
                got[k] = _workload(k)
        else:
            got[k] = _workload(k)

    toggled = []  # per no_grad() round in the toggler: did its op record a graph? (must not)

    def no_grad_toggler(stop):
        start.wait()
        while not stop.is_set():  # another thread switching no_grad() on and off all the time
            with no_grad():
                toggled.append((Value(1.0) * 2.0).requires_grad)

    stop = threading.Event()
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, to interleave the graphs finely
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    toggler = threading.Thread(target=no_grad_toggler, args=(stop,))
    try:
        for t in [*threads, toggler]:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop.set()
        toggler.join()
        sys.setswitchinterval(switch_interval)
    assert toggled and not any(toggled)
    assert sorted(got) == list(range(8))
    for k in range(8):
        assert len(got[k]) == len(expected[k])
        assert all(np.array_equal(g, e) for g, e in zip(got[k], expected[k])), f"thread {k} differs"


def test_no_grad_in_one_thread_never_reaches_another():
    inside, done = threading.Event(), threading.Event()
    seen = []

    def recorder():
        inside.wait(5)
        for _ in range(1000):
            y = Value(1.0) * 2.0
            seen.append(y.requires_grad and len(y._parents) == 2)
        done.set()

    thread = threading.Thread(target=recorder)
    thread.start()
    with no_grad():
        inside.set()
        done.wait(5)
        assert not (Value(1.0) * 2.0).requires_grad  # still off here
    thread.join()
    assert len(seen) == 1000 and all(seen)
