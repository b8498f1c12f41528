"""Every op's gradient against central finite differences, on hypothesis-generated shapes and values."""

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_iris import cross_entropy, log_softmax, nll_loss, softmax, stack
from tinygrad_iris import gradcheck as default_gradcheck
from tinygrad_iris.testing import arrays, broadcastable_shapes, kink_free_arrays, positive_arrays, shapes

# Far tighter than gradcheck's defaults: central differences in float64 at eps 1e-6 are good to
# about 1e-9 here, so a gradient that is wrong by a factor of 1.0001 fails.
gradcheck = functools.partial(default_gradcheck, atol=1e-6, rtol=1e-6)

pairs = broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1])))
positive_divisor_pairs = broadcastable_shapes(2).flatmap(
    lambda s: st.tuples(arrays(s[0]), positive_arrays(s[1]))
)


@pytest.mark.parametrize(
    "op",
    [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: (a + b) * a - b],
    ids=["add", "sub", "mul", "mixed"],
)
@given(pair=pairs)
def test_broadcasting_binary_ops(op, pair):
    gradcheck(op, *pair)


@given(pair=positive_divisor_pairs)
def test_division_both_sides(pair):
    a, b = pair
    gradcheck(lambda x, y: x / y, a, b)
    gradcheck(lambda y: 1.5 / y, b)


@given(pair=pairs)
def test_operand_gradient_keeps_operand_shape(pair):
    from tinygrad_iris import Value

    a, b = Value(pair[0]), Value(pair[1])
    (a * b + a).sum().backward()
    assert np.shape(a.grad) == a.shape and np.shape(b.grad) == b.shape


@given(x=shapes().flatmap(positive_arrays), p=st.sampled_from([2, 3, -1, 0.5, -1.5, 1]))
def test_pow(x, p):
    gradcheck(lambda v: v**p, x)


@given(x=shapes().flatmap(arrays), p=st.sampled_from([2, 3]))
def test_integer_pow_of_any_sign(x, p):
    gradcheck(lambda v: v**p, x)


@given(x=shapes().flatmap(arrays))
def test_unary_ops(x):
    gradcheck(lambda v: -v, x)
    gradcheck(lambda v: v.exp(), x)
    gradcheck(lambda v: (v * 0.5).exp() * v, x)


@given(x=shapes().flatmap(positive_arrays))
def test_log(x):
    gradcheck(lambda v: v.log(), x)


@given(x=shapes().flatmap(kink_free_arrays))
def test_relu_away_from_kink(x):
    gradcheck(lambda v: v.relu(), x)


def reductions(draw_shape=shapes(min_dims=1)):
    """An array, plus an axis argument that is valid for it (None, an int, or a tuple)."""

    @st.composite
    def build(draw):
        shape = draw(draw_shape)
        ndim = len(shape)
        axis = draw(
            st.none()
            | st.integers(-ndim, ndim - 1)
            | st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
        )
        return draw(arrays(shape)), axis, draw(st.booleans())

    return build()


@given(case=reductions())
def test_sum_and_mean(case):
    x, axis, keepdims = case
    gradcheck(lambda v: v.sum(axis=axis, keepdims=keepdims), x)
    gradcheck(lambda v: v.mean(axis=axis, keepdims=keepdims), x)


@given(case=reductions())
def test_max(case):
    x, axis, keepdims = case
    # distinct values, so the arg-max is unique and finite differences are well defined
    x = x + np.arange(x.size).reshape(x.shape) * 1e-2
    gradcheck(lambda v: v.max(axis=axis, keepdims=keepdims), x)


def test_max_splits_gradient_between_ties():
    from tinygrad_iris import Value

    x = Value([1.0, 3.0, 3.0])
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])


matmul_shapes = st.sampled_from(
    [
        ((2, 3), (3, 4)),
        ((3,), (3, 2)),
        ((2, 3), (3,)),
        ((3,), (3,)),
        ((2, 2, 3), (3, 2)),
        ((1, 3, 2), (4, 2, 3)),
        ((3,), (2, 3, 4)),
        ((2, 4, 3), (3,)),
    ]
)


@given(case=matmul_shapes.flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1]))))
def test_matmul(case):
    a, b = case
    gradcheck(lambda x, y: x @ y, a, b)
    gradcheck(lambda x: x @ b, a)
    gradcheck(lambda y: a @ y, b)


@given(x=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4).flatmap(arrays))
def test_reshape_and_transpose(x):
    gradcheck(lambda v: v.reshape(-1) * np.arange(x.size), x)
    gradcheck(lambda v: v.reshape(x.shape[::-1]), x)
    gradcheck(lambda v: v.T * v.T, x)


@given(x=hnp.array_shapes(min_dims=2, max_dims=2, max_side=5).flatmap(arrays), data=st.data())
def test_indexing(x, data):
    rows, cols = x.shape
    i = data.draw(st.integers(-rows, rows - 1))
    r = data.draw(st.lists(st.integers(0, rows - 1), min_size=1, max_size=6))
    c = data.draw(st.lists(st.integers(0, cols - 1), min_size=len(r), max_size=len(r)))
    gradcheck(lambda v: v[i], x)
    gradcheck(lambda v: v[1:, ::2], x)
    gradcheck(lambda v: v[np.array(r), np.array(c)], x)  # repeats accumulate
    gradcheck(lambda v: v[r], x)
    gradcheck(lambda v: v[None, ..., -1], x)
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    gradcheck(lambda v: v[mask], x)
    gradcheck(lambda v: v[mask[:, 0]], x)


@given(
    xs=st.integers(1, 4).flatmap(
        lambda n: shapes().flatmap(lambda s: st.lists(arrays(s), min_size=n, max_size=n))
    ),
    data=st.data(),
)
def test_stack(xs, data):
    ndim = xs[0].ndim
    axis = data.draw(st.integers(-(ndim + 1), ndim))  # every position of the new axis
    gradcheck(lambda *vs: stack(list(vs), axis=axis), *xs)


@given(x=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4).flatmap(arrays), data=st.data())
def test_softmax_and_log_softmax(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    gradcheck(lambda v: softmax(v, axis=axis), x)
    gradcheck(lambda v: log_softmax(v, axis=axis), x)


logit_batches = hnp.array_shapes(min_dims=2, max_dims=2, max_side=5).flatmap(
    lambda s: st.tuples(arrays(s, -5, 5), st.lists(st.integers(0, s[1] - 1), min_size=s[0], max_size=s[0]))
)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(case=logit_batches)
def test_cross_entropy_and_nll(case, reduction):
    x, t = case
    gradcheck(lambda v: cross_entropy(v, t, reduction=reduction), x)
    gradcheck(lambda v: nll_loss(log_softmax(v), t, reduction=reduction), x)
