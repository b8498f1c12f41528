"""A new primitive and the hypothesis property tests that check its gradient.

Run: python -m pytest examples/gradient_property_test.py
"""

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_iris import Value, gradcheck, record
from tinygrad_iris.testing import arrays, broadcastable_shapes, shapes


# softplus: log(1 + e^x)     d/dx = 1 / (1 + e^-x), the logistic sigmoid
def _softplus_vjp(g: Any, out: Value) -> tuple[Any]:
    x = out._parents[0].data
    return (g / (1 + np.exp(-x)),)


def softplus(x: Value) -> Value:
    return record(np.logaddexp(0, x.data), (x,), _softplus_vjp, "softplus")


@given(shapes().flatmap(arrays))
def test_softplus_gradient(x: np.ndarray) -> None:
    assert gradcheck(softplus, x)


@given(broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1]))))
def test_softplus_of_a_broadcast_product(pair: tuple[np.ndarray, np.ndarray]) -> None:
    assert gradcheck(lambda a, b: softplus(a * b), *pair)
