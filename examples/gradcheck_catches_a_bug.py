"""gradcheck on a primitive whose derivative is wrong (x instead of 2x for x**2): it says where."""

from typing import Any

import numpy as np

from tinygrad_iris import GradcheckError, Value, gradcheck, record


# square: x^2     d/dx = 2x, but this VJP forgets the 2
def _wrong_square_vjp(g: Any, out: Value) -> tuple[Any]:
    return (g * out._parents[0].data,)


def square(x: Value) -> Value:
    return record(x.data**2, (x,), _wrong_square_vjp, "square")


try:
    gradcheck(square, np.array([[0.5, -1.0], [2.0, 1.5]]))
except GradcheckError as error:
    print(error)
