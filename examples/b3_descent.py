"""The articles' backpropagation: gradient descent on the bias b3 alone, at rate 1.

Each step builds the total cross entropy of the three flowers at the current b3, calls
backward(), and moves b3 against its gradient, d(total CE)/d(b3) = sum over the rows of
(p_setosa - [species is Setosa]).

Run: python examples/b3_descent.py [steps]
"""

import sys

from tinygrad_iris.network import IrisNetwork


def descend(
    b3: float = -2.0, lr: float = 1.0, steps: int = 10
) -> list[tuple[int, float, float, float]]:
    """(step, b3 before the step, total cross entropy, gradient) for each step."""
    history = []
    for step in range(steps):
        net = IrisNetwork(b3=b3)
        total = net.total_cross_entropy()  # the three rows of the articles' table
        total.backward()
        history.append((step, b3, total.item(), float(net.b3.grad)))
        b3 -= lr * float(net.b3.grad)
    return history


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"{'step':>4} {'b3':>9} {'total CE':>9} {'gradient':>9}")
    for step, b3, total, gradient in descend(steps=steps):
        print(f"{step:4d} {b3:9.4f} {total:9.4f} {gradient:9.4f}")
