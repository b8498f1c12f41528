"""A first Value: the README's example, runnable as it is."""

import numpy as np

from tinygrad_iris import Value, cross_entropy

# a scalar, micrograd style
a = Value(-3.0)
b = Value(2.0)
c = (a * b + b**3).relu() + a / b
c.backward()
print(f"c = {c.data:.4f}, dc/da = {a.grad:.4f}, dc/db = {b.grad:.4f}")

# arrays with broadcasting: a linear layer and softmax cross-entropy
W = Value(np.array([[0.5, -1.0, 0.2], [1.5, 0.3, -0.7]]), name="W")
bias = Value(np.zeros(3), name="bias")
x = np.array([[0.04, 0.42], [1.00, 0.54]])
loss = cross_entropy(x @ W + bias, targets=[0, 2])
loss.backward()
print(f"loss = {loss.data:.4f}")
print("dloss/dbias =", np.round(bias.grad, 4))
