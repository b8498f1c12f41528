"""gradcheck and gradgradcheck on a primitive whose derivative is wrong: they say where.

``square`` forgets the 2 of d/dx x^2 = 2x: wrong at first order, which gradcheck
catches. ``frozen_square`` gets 2x right but takes x as a constant (its raw data): right
at first order, wrong at second (d^2/dx^2 x^2 = 2, not 0), which only gradgradcheck
catches.
"""

import numpy as np

from tinygrad_iris import GradcheckError, Primitive, Value, gradcheck, gradgradcheck


def raw(x):
    """The data under a Value: to the engine, a constant."""
    return x.data if isinstance(x, Value) else x


square = Primitive(
    "square", lambda a: a * a, lambda g, out, a: (g * a,), derivatives=("2a",)
)
frozen_square = Primitive(
    "square", lambda a: a * a, lambda g, out, a: (g * 2 * raw(a),), derivatives=("2a",)
)

x = np.array([[0.5, -1.0], [2.0, 1.5]])
for check, op in [
    (gradcheck, square),
    (gradcheck, frozen_square),
    (gradgradcheck, frozen_square),
]:
    try:
        check(op, x)
        print(f"{check.__name__}: passes")
    except GradcheckError as error:
        print(error)
