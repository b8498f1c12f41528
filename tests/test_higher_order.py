"""Derivatives of derivatives: grad(create_graph=True), gradgradcheck, and the op table behind them."""

import functools
import gc
import threading
import warnings
import weakref

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygrad_iris import (
    GradcheckError,
    Primitive,
    Value,
    cross_entropy,
    detect_anomaly,
    engine,
    grad,
    gradcheck,
    gradgradcheck,
    log_softmax,
    no_grad,
    softmax,
)
from tinygrad_iris.testing import COMPOSITES, OP_KINDS, arrays, positive_arrays, programs, shapes

tight = {"atol": 1e-6, "rtol": 1e-6}


# ----- grad(): values checked against derivatives worked out by hand ------------------------------
def test_derivatives_of_a_cubic_to_the_fourth_order():
    x = Value(1.5)
    y = x**3 - 2.0 * x
    (d1,) = grad(y, x, create_graph=True)
    (d2,) = grad(d1, x, create_graph=True)
    (d3,) = grad(d2, x, create_graph=True)
    (d4,) = grad(d3, x)
    assert d1.item() == pytest.approx(3 * 1.5**2 - 2.0, rel=1e-15)
    assert d2.item() == pytest.approx(6 * 1.5, rel=1e-15)
    assert d3.item() == 6.0
    assert d4.item() == 0.0  # d3 is a constant: the gradient of a constant output is zeros, not an error


def test_hessian_of_a_quadratic_form_row_by_row():
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    x = Value(np.array([0.3, -0.7]))
    (g,) = grad((x @ (a @ x)), x, create_graph=True)  # g = (A + A^T) x
    np.testing.assert_allclose(g.data, (a + a.T) @ x.data, rtol=1e-15)
    rows = [grad(g[i], x)[0].data for i in range(2)]
    np.testing.assert_allclose(np.stack(rows), a + a.T, rtol=1e-15)


def test_grad_touches_no_grad_attribute():
    w = Value(np.array([1.0, 2.0]))
    (w * w).sum().backward()
    before = w.grad.copy()
    y = (w.exp() * w).sum()
    (gw,) = grad(y, w, create_graph=True)
    grad(gw.sum(), w)
    np.testing.assert_array_equal(w.grad, before)
    assert y._grad is None and gw._grad is None


def test_grad_of_an_input_the_output_ignores_is_zeros_of_its_shape():
    x, unused = Value(2.0), Value(np.ones((2, 3)))
    gx, gu = grad(x * 3.0, [x, unused])
    assert gx.item() == 3.0
    np.testing.assert_array_equal(gu.data, np.zeros((2, 3)))
    constant = Value(1.0, requires_grad=False) * 2.0
    (g,) = grad(constant, x)
    assert g.item() == 0.0


def test_grad_outputs_weights_a_non_scalar_output_and_sums_several():
    x = Value(np.array([1.0, 2.0, 3.0]))
    (g,) = grad(x * x, x, grad_outputs=np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(g.data, [2.0, 0.0, -6.0])
    (g,) = grad([x.sum(), (x * x).sum()], x)
    np.testing.assert_array_equal(g.data, 1.0 + 2.0 * x.data)


def test_grad_of_a_leaf_with_respect_to_itself_is_the_upstream_gradient():
    x = Value(np.array([1.0, 2.0]))
    (g,) = grad(x, x, grad_outputs=np.array([3.0, 4.0]))
    np.testing.assert_array_equal(g.data, [3.0, 4.0])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: grad(x * x, x), ValueError, r"grad\(\): the output has shape \(2,\); pass grad_outputs="),
        (lambda x: grad(x.sum(), np.ones(2)), TypeError, r"inputs must be a Value"),
        (lambda x: grad(x.sum(), [x, 3.0]), TypeError, r"inputs\[1\] must be a Value, got float"),
        (lambda x: grad(2.0, x), TypeError, r"outputs must be a Value"),
        (lambda x: grad(x * x, x, np.ones(3)), ValueError, r"grad_outputs of shape \(3,\) .* \(2,\)"),
        (lambda x: grad([x.sum(), x.sum()], x, [1.0]), ValueError, r"2 output\(s\) but 1 grad_outputs"),
        (lambda x: grad(x * x, x, "ab"), TypeError, r"grad\(\): grad_outputs must be a real .* got str"),
        (lambda x: grad(x * x, x, {}), TypeError, r"grad\(\): grad_outputs must be a real .* got dict"),
        (lambda x: grad(x * x, x, [1j, 2]), TypeError, r"got list of dtype complex128"),
        (lambda x: grad(x * x, x, [[1.0], 2.0]), ValueError, r"grad\(\): grad_outputs is not an array of"),
        (lambda x: (x * x).backward("ab"), TypeError, r"backward\(\): gradient must be a real .* got str"),
        (lambda x: (x * x).backward(object()), TypeError, r"backward\(\): gradient must be .* got object"),
    ],
)
def test_bad_calls_to_grad_name_what_is_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call(Value(np.array([1.0, 2.0])))


def test_a_gradient_of_scalar_values_converts_like_numbers():
    x = Value(np.array([1.0, 2.0]))
    (x * 3.0).backward([Value(1.0), Value(10.0)])
    np.testing.assert_array_equal(x.grad, [3.0, 30.0])


# ----- gradgradcheck can fail, where gradcheck cannot see the bug --------------------------------
def _raw(x):
    return x.data if isinstance(x, Value) else x


def test_gradgradcheck_catches_a_vjp_that_is_right_only_at_first_order():
    # d/da a^2 = 2a, but the VJP multiplies by a's raw data: a constant to the engine
    frozen = Primitive("square", lambda a: a * a, lambda g, out, a: (g * 2 * _raw(a),), derivatives=("2a",))
    x = np.array([0.5, -1.25, 2.0])
    assert gradcheck(frozen, x, **tight)
    with pytest.raises(GradcheckError, match=r"gradgradcheck: input 0 of shape \(3,\), element \(\d,\)"):
        gradgradcheck(frozen, x)
    honest = Primitive("square", lambda a: a * a, lambda g, out, a: (g * 2 * a,), derivatives=("2a",))
    assert gradgradcheck(honest, x, **tight)


def test_gradgradcheck_catches_a_wrong_second_derivative_of_a_library_op(monkeypatch):
    x = np.array([0.3, -0.8, 1.1])
    assert gradgradcheck(lambda v: v.tanh(), x, **tight)
    # tanh' written as 1 - out (wrong), then as 1 - out^2 with out frozen (right at first order only)
    monkeypatch.setattr(engine.TANH, "vjp", lambda g, out, a: (g * (1 - _raw(out) * _raw(out)),))
    assert gradcheck(lambda v: v.tanh(), x, **tight)
    with pytest.raises(GradcheckError, match="gradgradcheck"):
        gradgradcheck(lambda v: v.tanh(), x)


# ----- every op of the table, first and second order, on hypothesis-drawn shapes and values -----------
TABLE = sorted(name for name in OP_KINDS if name in engine.PRIMITIVES or name in COMPOSITES)


def test_every_primitive_with_a_domain_is_drawn_and_the_rest_are_gradients_of_others():
    undrawn = {name for name, p in engine.PRIMITIVES.items() if name not in TABLE}
    assert undrawn == {"index_add", "cross_entropy_grad"}
    assert {"tanh", "sigmoid", "broadcast_to", "sum_to", "T", "getitem", "cross_entropy"} <= set(TABLE)


def _one_op_programs(op):
    # a few statements of that op (and the rescaling and positivity it needs), nothing else
    return programs(max_ops=2, max_inputs=2, ops=(op,))


@pytest.mark.parametrize("op", TABLE)
@settings(max_examples=25)
@given(data=st.data())
def test_every_op_first_and_second_derivatives(op, data):
    program = data.draw(_one_op_programs(op))
    assume(op in program.ops)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert gradcheck(program, *program.inputs, **tight)
        assert gradgradcheck(program, *program.inputs, atol=1e-5, rtol=1e-5)


def test_internal_gradient_ops_are_in_the_recorded_second_order_graphs():
    x = Value(np.array([[0.2, 1.0, -0.5], [0.1, 0.3, 0.9]]))
    (g,) = grad(cross_entropy(x[[0, 1, 1]], [0, 2, 1]), x, create_graph=True)
    ops = {node.op for node in engine.toposort(g)}
    assert {"cross_entropy_grad", "index_add"} <= ops


def third_order(f, x):
    """gradgradcheck of the gradient of f: checks f's third derivatives."""
    u = np.random.default_rng(1).standard_normal(np.shape(f(Value(x)).data))
    return gradgradcheck(lambda v: grad(f(v), v, u, create_graph=True)[0], x, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "f",
    [
        lambda v: v.exp(),
        lambda v: (v * v + 0.5).log(),
        lambda v: (v * v + 0.5) ** -1.5,
        lambda v: v.tanh() * v.sigmoid(),
        lambda v: softmax(v, axis=-1),
        lambda v: log_softmax(v, axis=0),
        lambda v: cross_entropy(v, [1, 0, 2], reduction="mean"),
        lambda v: cross_entropy(v, [2, 2, 0], reduction="none"),
    ],
    ids=["exp", "log", "pow", "tanh*sigmoid", "softmax", "log_softmax", "cross_entropy", "ce none"],
)
@given(x=arrays((3, 3), -2.0, 2.0))
@settings(max_examples=6)
def test_third_derivatives(f, x):
    assert third_order(f, x)


@given(x=shapes(min_dims=1, max_dims=2).flatmap(positive_arrays))
@settings(max_examples=15)
def test_second_derivatives_of_the_fused_cross_entropy_equal_the_composed_ones(x):
    x2 = x.reshape(-1, x.shape[-1])
    targets = np.arange(len(x2)) % x2.shape[1]
    fused = lambda v: cross_entropy(v, targets)  # noqa: E731
    composed = lambda v: -(log_softmax(v)[np.arange(len(targets)), targets]).mean()  # noqa: E731
    direction = np.random.default_rng(0).standard_normal(x2.shape)
    hvps = []
    for f in (fused, composed):
        v = Value(x2)
        (g,) = grad(f(v), v, create_graph=True)
        hvps.append(grad((g * direction).sum(), v)[0].data)
    np.testing.assert_allclose(hvps[0], hvps[1], rtol=1e-12, atol=1e-14)


# ----- stability, memory, threads, anomaly mode --------------------------------------------------
def test_second_derivative_of_cross_entropy_is_finite_for_logits_of_magnitude_1e4():
    x = Value(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]]))
    (g,) = grad(cross_entropy(x, [1, 1]), x, create_graph=True)
    (h,) = grad((g * g).sum(), x)
    assert np.all(np.isfinite(g.data)) and np.all(np.isfinite(h.data))


def test_higher_order_graphs_are_freed_by_reference_counting_alone():
    gc.disable()
    try:
        x = Value(np.array([0.5, 1.5]))
        y = (x.exp() * x.tanh()).sum()
        (g,) = grad(y, x, create_graph=True)
        (h,) = grad(g.sum(), x, create_graph=True)
        probes = [weakref.ref(v) for v in (y, g, h, *engine.toposort(h))]
        del y, g, h
        assert all(p() is None or p() is x for p in probes)
    finally:
        gc.enable()


def test_a_second_derivative_through_a_long_chain_uses_no_recursion():
    x = Value(0.999)
    y = x
    for _ in range(20_000):
        y = y * x * 1.00001
    (g,) = grad(y, x, create_graph=True)
    (h,) = grad(g, x)
    n = 20_000  # y = x^(n+1) c^n, so y'' = (n+1) n x^(n-1) c^n
    assert h.item() == pytest.approx((n + 1) * n * 0.999 ** (n - 1) * 1.00001**n, rel=1e-9)


def test_eight_threads_compute_the_same_second_derivatives():
    def hessian_diagonal(k):
        x = Value(np.linspace(-1.0, 1.0, 5) + k)
        (g,) = grad((x.sigmoid() * x * x).sum(), x, create_graph=True)
        return grad(g.sum(), x)[0].data

    expected = [hessian_diagonal(k) for k in range(8)]
    got: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda k=k: got.__setitem__(k, hessian_diagonal(k))) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(got[k], expected[k]) for k in range(8))


def test_anomaly_mode_checks_the_recorded_backward_ops():
    x = Value(np.array([0.0, 1.0]))
    with detect_anomaly():
        (g,) = grad((x**1.5).sum(), x, create_graph=True)  # 1.5 x^0.5: finite, recorded
        assert np.all(np.isfinite(g.data))
        with pytest.raises(FloatingPointError, match=r"backward of op '\*\*0.5'"):
            grad(g.sum(), x)  # 0.75 x^-0.5: inf at 0


def test_no_grad_around_grad_gives_constant_results():
    x = Value(2.0)
    y = x * x * x
    with no_grad():
        (g,) = grad(y, x, create_graph=True)
    assert g.item() == 12.0 and not g.requires_grad


@given(x=shapes().flatmap(arrays))
@settings(max_examples=20)
def test_first_order_grad_equals_backward_bit_for_bit(x):
    a = Value(x)
    f = functools.partial(lambda v: ((v * 1.5).tanh() * v).sum())
    (g,) = grad(f(a), a)
    f(a).backward()
    np.testing.assert_array_equal(g.data, a.grad)


def test_tanh_and_sigmoid_saturate_without_overflow_at_1e4():
    x = Value(np.array([-1e4, 1e4]))
    (x.tanh() + x.sigmoid()).sum().backward()
    np.testing.assert_array_equal(x.tanh().data, [-1.0, 1.0])
    np.testing.assert_array_equal(x.sigmoid().data, [0.0, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
