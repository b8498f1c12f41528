"""A user-defined primitive, differentiated twice.

softplus'(x) = sigmoid(x) = s, and softplus''(x) = s (1 - s).
"""

import numpy as np

from tinygrad_iris import Primitive, Value, grad, gradgradcheck, sigmoid

softplus = Primitive(
    "softplus",
    forward=lambda a: np.logaddexp(0, a),
    # d/da log(1 + e^a) = sigmoid(a), itself differentiable
    vjp=lambda g, out, a: (g * sigmoid(a),),
    derivatives=("sigmoid(a)",),
)

x = Value(0.5)
(first,) = grad(softplus(x), x, create_graph=True)
(second,) = grad(first, x)
print(f"softplus'(0.5)  = {first.item():.6f}")
print(f"softplus''(0.5) = {second.item():.6f}")
print("gradgradcheck:", gradgradcheck(softplus, np.array([-1.0, 0.0, 2.0])))
