"""Anomaly mode catches the first NaN/inf at its source; outside it, NumPy's rules and no stray warnings."""

import re
import sys
import threading
import warnings

import numpy as np
import pytest

from tinygrad_iris import Value, cross_entropy, detect_anomaly, log_softmax, nll_loss, softmax, stack


def _here() -> int:
    """The caller's line number."""
    return sys._getframe(1).f_lineno


def _site(line: int) -> str:
    return re.escape(f"{__file__}:{line}")


# ----- forward: the op that first makes a NaN or inf -------------------------------------------------
FORWARD = [  # (what is computed, op, its input shapes); each lambda on one line: that line is the site
    (lambda: Value([1.0, -1.0]).log(), "log", "(2,)"),
    (lambda: Value(0.0).log(), "log", "()"),
    (lambda: Value([1.0, 2.0]) / Value([0.0]), "/", "(2,), (1,)"),
    (lambda: 1.0 / Value(0.0), "/", "(), ()"),
    (lambda: Value(800.0).exp(), "exp", "()"),
    (lambda: Value(np.float32(100.0)).exp(), "exp", "()"),
    (lambda: Value([-8.0, 8.0]) ** 0.5, "**0.5", "(2,)"),
    (lambda: Value(1e200) * Value(1e200), "*", "(), ()"),
    (lambda: Value(np.full((2, 2), 1e200)) @ Value(np.full((2, 3), 1e200)), "@", "(2, 2), (2, 3)"),
    (lambda: Value([1e308, 1e308]).sum(), "sum", "(2,)"),
    (lambda: Value([[np.inf, 0.0]]) - 1.0, "-", "(1, 2), ()"),
    (lambda: cross_entropy(Value([[np.inf, 0.0]]), [1]), "cross_entropy", "(1, 2)"),
    (lambda: stack([Value(1.0), Value(np.inf)]), "stack", "(), ()"),
]


@pytest.mark.parametrize(("compute", "op", "shapes"), FORWARD, ids=[f"{c[1]} {c[2]}" for c in FORWARD])
def test_forward_anomaly_names_op_shapes_and_the_users_line(compute, op, shapes):
    expected = rf"op '{re.escape(op)}' on inputs of shapes {re.escape(shapes)} .* created at "
    with detect_anomaly(), pytest.raises(FloatingPointError) as caught:
        compute()
    assert re.search(expected + _site(compute.__code__.co_firstlineno), str(caught.value))


def test_forward_anomaly_through_a_library_function_points_at_the_callers_line():
    x = Value([[np.nan, 0.0, 1.0]])
    with detect_anomaly(), pytest.raises(FloatingPointError) as caught:
        line = _here() + 1
        softmax(x)  # the NaN appears in softmax's max shift, inside ops.py
    assert re.search(r"op 'max\(axis=-1\)' on inputs of shapes \(1, 3\) .*" + _site(line), str(caught.value))
    with detect_anomaly(), pytest.raises(FloatingPointError) as caught:
        line = _here() + 1
        nll_loss(log_softmax(x), [2])
    assert re.search(r"'max\(axis=-1\)'.*" + _site(line), str(caught.value))


def test_only_the_first_anomaly_is_reported():
    x = Value([1.0, -1.0])
    with detect_anomaly():
        y = x * 2.0  # finite: no error
        with pytest.raises(FloatingPointError, match="'log'"):
            (y.log() * 3.0).exp()  # log makes the NaN; '*' and 'exp' never run
    assert np.all(np.isfinite(y.data))


# ----- backward: the op whose gradient first holds a NaN or inf --------------------------------------
def test_backward_anomaly_names_the_op_and_the_line_that_created_it():
    x = Value([0.0, 4.0])
    with detect_anomaly(), pytest.raises(FloatingPointError) as caught:
        line = _here() + 1
        root = (x**0.5 * 3.0).sum()  # the gradient of sqrt at 0 is inf; '*' and 'sum' are finite
        root.backward()
    expected = r"backward of op '\*\*0.5' \(inputs of shapes \(2,\)\) produced a non-finite gradient.*"
    assert re.search(expected + _site(line), str(caught.value))


def test_backward_of_a_graph_built_outside_says_so():
    x = Value([0.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        root = (x**0.5).sum()
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"'\*\*0.5'.*outside detect_anomaly"):
        root.backward()


def test_backward_anomaly_in_a_non_finite_seed_and_in_an_overflowing_sum_of_gradients():
    x = Value([1.0, 2.0])
    with detect_anomaly():
        y = x * 1.0
        with pytest.raises(FloatingPointError, match=r"gradient passed to backward\(\) is not finite"):
            y.backward(np.array([1.0, np.nan]))
        line = _here() + 1
        z = x * 1.0
        with pytest.raises(FloatingPointError) as caught:
            (z + z).backward(np.full(2, 1e308))  # each part is finite, their sum is not
    assert re.search(r"output of op '\*' \(shape \(2,\)\) overflowed.*" + _site(line), str(caught.value))


def test_backward_that_raises_leaves_every_grad_as_it_was():
    w = Value([1.0, 4.0])
    (w * w).sum().backward()
    loss = ((w - 1.0) ** 0.5).sum()  # infinite gradient at w = 1
    loss_node_grad = loss.grad
    with detect_anomaly(), pytest.raises(FloatingPointError):
        loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 8.0])
    assert loss.grad == loss_node_grad


# ----- the switch: only inside the context, only in this thread --------------------------------------
def test_nothing_is_raised_outside_the_context():
    with detect_anomaly():
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = Value([1.0, -1.0]).log()  # NumPy's rule: nan, no exception
        assert np.isnan(y.data[1])
        x = Value([0.0, 4.0])
        (x**0.5).sum().backward()
    assert x.grad[0] == np.inf


def test_a_graph_built_inside_is_not_checked_by_a_backward_outside():
    x = Value([0.0, 4.0])
    with detect_anomaly():
        root = (x**0.5).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        root.backward()
    assert x.grad[0] == np.inf


def test_nesting_reuse_and_exceptions_restore_the_previous_state():
    guard = detect_anomaly()
    with guard:
        with guard:
            pass
        with pytest.raises(FloatingPointError):
            Value(-1.0).log()  # still on after the inner exit
    with pytest.raises(ValueError), detect_anomaly():
        raise ValueError("leaves the context by an exception")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(Value(-1.0).log().data)  # off again


def test_inside_numpy_warnings_become_the_anomaly_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would pre-empt the anomaly error
        with detect_anomaly(), pytest.raises(FloatingPointError, match="'log'"):
            Value(-1.0).log()
        with pytest.raises(RuntimeWarning):  # outside, NumPy's warning is back
            Value(-1.0).log()


def test_anomaly_mode_is_per_thread():
    entered, checked, results = threading.Event(), threading.Event(), {}

    def anomaly_thread():
        with detect_anomaly():
            entered.set()
            checked.wait(5)
            try:
                Value(-1.0).log()
            except FloatingPointError as err:
                results["anomaly thread"] = str(err)

    thread = threading.Thread(target=anomaly_thread)
    thread.start()
    entered.wait(5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            results["this thread"] = Value(-1.0).log().data  # not checked: anomaly is on elsewhere
    finally:
        checked.set()
        thread.join()
    assert np.isnan(results["this thread"])
    assert "'log'" in results["anomaly thread"] and __file__ in results["anomaly thread"]


def test_each_thread_reports_its_own_line():
    lines, errors = {}, {}

    def worker(k):
        with detect_anomaly():
            try:
                lines[k] = _here() + 1
                (Value(float(k)) - 100.0).log()
            except FloatingPointError as err:
                errors[k] = str(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(errors) == list(range(8))
    assert all(f"{__file__}:{lines[k]}" in errors[k] for k in range(8))


# ----- outside anomaly mode: no stray NumPy warnings, and NumPy's rules for genuine domain errors -----
BIG = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3e4, 3e4, -2e4]])
NORMAL_USE = {
    "softmax of logits 1e4": lambda: softmax(Value(BIG)),
    "log_softmax of logits 1e4": lambda: log_softmax(Value(BIG), axis=0),
    "cross_entropy of logits 1e4": lambda: cross_entropy(Value(BIG), [1, 2, 0], reduction="none"),
    "cross_entropy sum 1e4": lambda: cross_entropy(Value(BIG), [1, 2, 0], reduction="sum"),
    "nll_loss of log_softmax 1e4": lambda: nll_loss(log_softmax(Value(BIG)), [1, 2, 0]),
    "float32 logits 1e4": lambda: cross_entropy(Value(BIG.astype(np.float32)), [2, 0, 1]),
    "float32 softmax 1e4": lambda: softmax(Value(BIG.astype(np.float32))),
    "relu at 0": lambda: Value([0.0, -0.0, 1.0]).relu() + Value(0.0).relu(),
    "max with ties": lambda: Value([[2.0, 2.0], [0.0, 0.0]]).max(axis=1),
    "x ** 0 at 0": lambda: Value([0.0, 1.0]) ** 0,
    "x ** 2 at 0": lambda: Value(0.0) ** 2,
    "x ** 1 at 0": lambda: Value([0.0]) ** 1,
    "exp of -1e4": lambda: Value([-1e4, 0.0]).exp(),
    "mean of huge": lambda: Value([1e300, 1e300]).mean(),
}


@pytest.mark.parametrize("name", sorted(NORMAL_USE))
def test_normal_use_leaks_no_numpy_warning(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = NORMAL_USE[name]()
        out.backward(np.ones(out.shape))
        assert np.all(np.isfinite(out.data))
        leaves = list(_leaves(out))
        assert leaves and all(np.all(np.isfinite(leaf.grad)) for leaf in leaves)


def _leaves(root):
    seen, todo = set(), [root]
    while todo:
        node = todo.pop()
        if not node._parents and node.requires_grad and id(node) not in seen:
            seen.add(id(node))
            yield node
        todo.extend(node._parents)


DOMAIN_ERRORS = {  # NumPy's semantics: a nan or inf, with NumPy's RuntimeWarning
    "log of a negative number": (lambda: Value(-1.0).log(), np.nan),
    "log of 0": (lambda: Value([0.0]).log(), -np.inf),
    "division by 0": (lambda: Value(1.0) / 0.0, np.inf),
    "0 / 0": (lambda: Value([0.0]) / Value([0.0]), np.nan),
    "negative ** 0.5": (lambda: Value(-4.0) ** 0.5, np.nan),
    "0 ** -1": (lambda: Value(0.0) ** -1, np.inf),
    "exp overflow": (lambda: Value(1000.0).exp(), np.inf),
}


@pytest.mark.parametrize("name", sorted(DOMAIN_ERRORS))
def test_domain_errors_follow_numpy(name):
    compute, expected = DOMAIN_ERRORS[name]
    with pytest.warns(RuntimeWarning):
        out = compute()
    np.testing.assert_array_equal(out.data, expected)


def test_overflow_when_gradients_add_up_on_a_leaf():
    x = Value(1e-300, name="x")
    with detect_anomaly():
        y = x * 1e308 + x * 1e308  # every part is finite, their sum on x is not
        with pytest.raises(FloatingPointError, match="leaf x"):
            y.backward()
    assert x._grad is None


def test_a_constants_own_grad_is_neither_checked_nor_lost():
    c = Value(1.0, requires_grad=False)
    c.grad = np.inf  # not the graph's: backward never adds to a constant
    x = Value(2.0)
    with detect_anomaly():
        (x * c).backward()
    assert x.grad == 1.0 and c.grad == np.inf


def test_micrograds_single_step_that_fails_leaves_its_inputs_as_they_were():
    x = Value(0.0)
    with detect_anomaly():
        r = x**0.5
        r.grad = 1.0
        with pytest.raises(FloatingPointError, match=r"backward of op '\*\*0.5'"):
            r._backward()
    assert x._grad is None
