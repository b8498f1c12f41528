"""The micrograd lecture's neuron, unchanged but for the import.

Its backward pass by hand, one node at a time, then by backward().
"""

from tinygrad_iris import Value

# inputs x1, x2; weights w1, w2; the bias b makes n = 0.8814, tanh(n) = 0.7071
x1 = Value(2.0, label="x1")
x2 = Value(0.0, label="x2")
w1 = Value(-3.0, label="w1")
w2 = Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
x1w1 = x1 * w1; x1w1.label = "x1*w1"  # noqa: E702 (the lecture's style)
x2w2 = x2 * w2; x2w2.label = "x2*w2"  # noqa: E702
x1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = "x1*w1 + x2*w2"  # noqa: E702
n = x1w1x2w2 + b; n.label = "n"  # noqa: E702
o = n.tanh(); o.label = "o"  # noqa: E702

# backpropagation by hand, one node at a time, outputs first
o.grad = 1.0
for node in (o, n, x1w1x2w2, x2w2, x1w1):
    node._backward()  # adds node.grad x local derivative to its inputs' .grad
manual = {v.label: v.grad for v in (x1, w1, x2, w2, b)}

# the same in one call, on fresh gradients
for v in (o, n, x1w1x2w2, x2w2, x1w1, x1, w1, x2, w2, b):
    v.grad = 0.0
o.backward()
for v in (x1, w1, x2, w2, b):
    by_hand = manual[v.label]
    print(f"{v.label:>2}: by hand {by_hand: .4f}   backward() {v.grad: .4f}")
print(o)
