"""softmax, log-softmax and the cross-entropy losses: stability, agreement, bad input."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_iris import SOFTMAX_DENOMINATOR, Value, cross_entropy, log_softmax, nll_loss, softmax, stack
from tinygrad_iris.testing import arrays


def test_softmax_denominator_is_its_own_named_node():
    p = softmax(Value([1.0, 2.0, 3.0]))
    _, denominator = p._parents
    assert denominator.name == SOFTMAX_DENOMINATOR and denominator.op == "sum"
    np.testing.assert_allclose(denominator.data, np.exp([-2.0, -1.0, 0.0]).sum())


def test_softmax_matches_its_definition():
    x = np.array([[0.3, -1.2, 2.0], [1.0, 1.0, 1.0]])
    expected = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax(Value(x)).data, expected, rtol=1e-15)
    np.testing.assert_allclose(log_softmax(Value(x)).data, np.log(expected), rtol=1e-14)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_stable_for_huge_logits(scale):
    x0 = np.array([[1.0, -0.5, 0.25], [0.0, 1.0, -1.0]]) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings leak
        for fn in (lambda v: softmax(v), lambda v: log_softmax(v), lambda v: cross_entropy(v, [0, 2])):
            x = Value(x0)
            out = fn(x)
            out.backward(np.ones(out.shape))
            assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))
        np.testing.assert_allclose(softmax(Value(x0)).data.sum(axis=1), 1.0)
        # the exact values: the largest logit wins outright
        assert cross_entropy(Value(x0), [0, 2], reduction="none").data[0] == pytest.approx(
            0.0 if scale > 0 else 1.5 * 1e4, abs=1e-9
        )


@given(
    case=hnp.array_shapes(min_dims=2, max_dims=2, max_side=6).flatmap(
        lambda s: st.tuples(
            arrays(s, -30, 30), st.lists(st.integers(0, s[1] - 1), min_size=s[0], max_size=s[0])
        )
    ),
    reduction=st.sampled_from(["mean", "sum", "none"]),
)
def test_fused_cross_entropy_equals_composed(case, reduction):
    x0, t = case
    fused_x, composed_x = Value(x0), Value(x0)
    fused = cross_entropy(fused_x, t, reduction=reduction)
    composed = nll_loss(log_softmax(composed_x), t, reduction=reduction)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12, atol=1e-12)
    upstream = np.linspace(0.5, 1.5, np.size(fused.data)).reshape(fused.shape)
    fused.backward(upstream)
    composed.backward(upstream)
    np.testing.assert_allclose(fused_x.grad, composed_x.grad, rtol=1e-10, atol=1e-12)


def test_cross_entropy_by_hand():
    # one row, logits (0, ln 3): softmax = (1/4, 3/4); CE for class 0 = ln 4, gradient = p - onehot
    x = Value([0.0, np.log(3.0)])
    loss = cross_entropy(x, 0)
    assert loss.data == pytest.approx(np.log(4.0), rel=1e-15)
    loss.backward()
    np.testing.assert_allclose(x.grad, [0.25 - 1.0, 0.75], rtol=1e-14)


def test_mean_reduction_divides_by_rows():
    x = Value(np.zeros((4, 2)))
    loss = cross_entropy(x, [0, 1, 0, 1])
    assert loss.data == pytest.approx(np.log(2.0))
    loss.backward()
    np.testing.assert_allclose(x.grad, np.tile([[-0.125, 0.125], [0.125, -0.125]], (2, 1)))


def test_float32_stays_float32():
    x = Value(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    loss = cross_entropy(x, [1]) + softmax(x).sum() + log_softmax(x).mean()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "targets, error, message",
    [
        ([0, 3], ValueError, "target 3 at position 1 is out of range for 3 classes"),
        ([-1, 0], ValueError, "target -1 at position 0"),
        ([0.5, 1], ValueError, "0.5 at position 0 is not an integer"),
        ([0, 1, 2], ValueError, "expected 2 target"),
        (["a", "b"], TypeError, "integer class indices"),
        ([True, False], TypeError, "dtype bool"),
        (None, TypeError, "NoneType"),
    ],
)
def test_bad_targets(targets, error, message):
    x = Value(np.zeros((2, 3)))
    for fn in (cross_entropy, lambda x, t: nll_loss(log_softmax(x), t)):
        with pytest.raises(error, match=message):
            fn(x, targets)


def test_integral_float_targets_are_accepted():
    x = Value(np.zeros((2, 3)))
    assert cross_entropy(x, np.array([0.0, 2.0])).data == pytest.approx(np.log(3.0))


def test_unknown_reduction():
    with pytest.raises(ValueError, match="'avg'"):
        cross_entropy(Value(np.zeros((1, 2))), [0], reduction="avg")


def test_logits_must_be_a_value_of_rank_1_or_2():
    with pytest.raises(TypeError, match="Value"):
        cross_entropy(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match=r"\(2, 2, 2\)"):
        cross_entropy(Value(np.zeros((2, 2, 2))), [0, 1])


def test_stack_builds_a_vector_from_scalars():
    a, b, c = Value(1.0), Value(2.0), Value(3.0)
    v = stack([a, b, c])
    assert v.shape == (3,)
    (v * np.array([1.0, 10.0, 100.0])).sum().backward()
    assert (a.grad, b.grad, c.grad) == (1.0, 10.0, 100.0)
    with pytest.raises(ValueError, match="stack"):
        stack([Value([1.0]), Value([1.0, 2.0])])
    with pytest.raises(TypeError, match="list"):
        stack([])


def test_targets_are_kept_by_value_and_checked_before_any_cast():
    x = Value(np.zeros((2, 3)))
    targets = np.array([0, 1])
    loss = cross_entropy(x, targets)
    targets[:] = 2  # reusing the array before backward() must not move the gradient
    loss.backward()
    np.testing.assert_allclose(x.grad, [[-1 / 3, 1 / 6, 1 / 6], [1 / 6, -1 / 3, 1 / 6]])
    with pytest.raises(ValueError, match=r"1e\+30 at position 1 is out of range"):
        cross_entropy(x, np.array([0.0, 1e30]))  # would wrap around if cast to int first
    with pytest.raises(ValueError, match="at position 1 is out of range"):
        cross_entropy(x, np.array([0, 2**64 - 1], dtype=np.uint64))  # negative as a signed int
