"""The engine's fast paths keep the plain semantics: backward order, leaves, the mode switches."""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tinygrad_iris import Value, cross_entropy, detect_anomaly, engine, is_grad_enabled, no_grad


def test_backward_of_a_leaf_adds_the_seed():
    x = Value(2.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_inner_nodes_reached_along_several_paths_get_every_contribution():
    # depth-first order must put `a` after both of its consumers, whichever path finds it first
    x = Value(1.5)
    a = x * 2.0
    b = a * a
    c = a + b
    loss = c * b + a
    loss.backward()
    av, bv = 3.0, 9.0
    d_a = (1 + 2 * av) * bv + (av + bv) * 2 * av + 1.0  # d(c b + a)/da with c = a + b, b = a^2
    assert x.grad == pytest.approx(2.0 * d_a, rel=1e-14)
    assert a.grad == pytest.approx(d_a, rel=1e-14)


def test_second_backward_adds_fresh_gradients_on_inner_nodes_too():
    w = Value(np.array([1.0, -2.0]))
    h = w * w
    loss = (h * h).sum()
    loss.backward()
    first_w, first_h = w.grad.copy(), h.grad.copy()
    loss.backward()
    np.testing.assert_array_equal(w.grad, 2 * first_w)
    np.testing.assert_array_equal(h.grad, 2 * first_h)


def test_mode_switches_nest_and_restore():
    x = Value(1.0)
    with detect_anomaly(), np.errstate(divide="ignore"):
        with no_grad():
            assert not (x * 2.0).requires_grad and not is_grad_enabled()
            with pytest.raises(FloatingPointError, match="anomaly"):
                x / 0.0
        assert (x * 2.0).requires_grad and is_grad_enabled()
        with pytest.raises(FloatingPointError, match="anomaly"):
            x / 0.0
    with np.errstate(divide="ignore"):
        assert (x / 0.0).data == np.inf  # anomaly mode is off again
    assert (x * 2.0).requires_grad
    assert engine._all_plain  # the fast path is back once every switch is restored


@contextlib.contextmanager
def another_thread_inside(switch):
    """Run the body while a second thread sits inside ``switch()``."""
    entered, release = threading.Event(), threading.Event()

    def hold():
        with switch():
            entered.set()
            release.wait(5)

    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(hold)
        assert entered.wait(5)
        try:
            yield
        finally:
            release.set()
            held.result()


def test_anomaly_mode_is_per_thread():
    with another_thread_inside(detect_anomaly), np.errstate(divide="ignore"):
        assert not engine._all_plain  # the module flag defers to each thread's own switch
        assert (Value(1.0) / 0.0).data == np.inf
    assert engine._all_plain


@pytest.mark.parametrize(
    "targets, message",
    [
        (np.array([0, 7], dtype=np.uint8), "target 7 at position 1 is out of range"),
        (np.array([0, -2], dtype=np.int32), "target -2 at position 1 is out of range"),
        (np.array([1e30, 0.0]), "target 1e\\+30 at position 0 is out of range"),
        (np.array([0, np.iinfo(np.int64).min]), "at position 1 is out of range"),
    ],
)
def test_cross_entropy_range_check_catches_both_ends(targets, message):
    with pytest.raises(ValueError, match=message):
        cross_entropy(Value(np.zeros((2, 3))), targets)


def test_cross_entropy_takes_a_zero_dimensional_upstream_gradient():
    logits = Value(np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]))
    loss = cross_entropy(logits, [1, 2])
    loss.backward(np.array(2.0))
    doubled = logits.grad.copy()
    logits.grad = None
    loss.sum().backward()  # sum's VJP hands the scalar loss a 0-d array
    np.testing.assert_allclose(doubled, 2 * logits.grad, rtol=1e-15)
