"""A new primitive, and hypothesis property tests of its first and second derivatives.

Run: python -m pytest examples/gradient_property_test.py
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_iris import Primitive, gradcheck, gradgradcheck, sigmoid
from tinygrad_iris.testing import arrays, broadcastable_shapes, shapes

# softplus: log(1 + e^x)     d/dx = 1 / (1 + e^-x), the logistic sigmoid
# The VJP is written with `sigmoid`, which works on data and on Values alike, so the
# engine can differentiate it again: d^2/dx^2 softplus = sigmoid (1 - sigmoid).
softplus = Primitive(
    "softplus",
    forward=lambda a: np.logaddexp(0, a),
    vjp=lambda g, out, a: (g * sigmoid(a),),
    derivatives=("sigmoid(a)",),
)


@given(shapes().flatmap(arrays))
def test_softplus_first_and_second_derivatives(x: np.ndarray) -> None:
    assert gradcheck(softplus, x)
    assert gradgradcheck(softplus, x)


@given(broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1]))))
def test_softplus_of_a_broadcast_product(pair: tuple[np.ndarray, np.ndarray]) -> None:
    assert gradcheck(lambda a, b: softplus(a * b), *pair)
    assert gradgradcheck(lambda a, b: softplus(a * b), *pair)
