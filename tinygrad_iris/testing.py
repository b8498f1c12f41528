"""Hypothesis strategies for property tests of gradients, for this project and its users.

    from hypothesis import given
    from tinygrad_iris import gradcheck
    from tinygrad_iris.testing import arrays, broadcastable_shapes

    @given(broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1]))))
    def test_mul(pair):
        gradcheck(lambda a, b: a * b, *pair)

Values are float64 and kept in ranges where central differences are accurate.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["arrays", "broadcastable_shapes", "kink_free_arrays", "positive_arrays", "shapes"]

Shape = tuple[int, ...]


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes, the scalar shape () included when ``min_dims`` is 0."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together (size-1 axes and rank expansion)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


def arrays(shape: Shape, min_value: float = -3.0, max_value: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` with finite elements in [min_value, max_value]."""
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.float64, shape, elements=elements)


def positive_arrays(shape: Shape, low: float = 0.2, high: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays in [low, high]: safe for log, division and fractional powers."""
    return arrays(shape, low, high)


def kink_free_arrays(shape: Shape, margin: float = 0.05, bound: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays whose elements keep |x| >= margin: away from ReLU's kink at 0."""
    magnitude = st.floats(margin, bound)
    element = st.tuples(st.sampled_from((-1.0, 1.0)), magnitude).map(lambda sm: sm[0] * sm[1])
    return hnp.arrays(np.float64, shape, elements=element)
