"""Train every weight and bias of the articles' network on Fisher's 150 flowers.

Full batch: each epoch is one forward pass over all 150 flowers, the mean cross entropy,
backward() and one Adam step on the 15 parameters, starting from the articles' values.

Run: python examples/train_iris.py [epochs]
"""

import sys

from tinygrad_iris import cross_entropy, no_grad
from tinygrad_iris.iris import load_iris
from tinygrad_iris.network import IrisNetwork
from tinygrad_iris.optim import Adam
from tinygrad_iris.training import accuracy


def train_iris(
    epochs: int = 1000, lr: float = 0.05
) -> tuple[IrisNetwork, float, float]:
    """The trained network, its mean cross entropy and accuracy on the 150 flowers."""
    data = load_iris()  # petal and sepal width scaled to [0, 1]; labels 0, 1, 2
    net = IrisNetwork()
    optimizer = Adam(net.parameters(), lr=lr)
    for _ in range(epochs):
        # net(X): the raw outputs, shape (150, 3)
        loss = cross_entropy(net(data.X), data.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with no_grad():
        loss = cross_entropy(net(data.X), data.labels)
    return net, loss.item(), accuracy(net, data.X, data.labels)


if __name__ == "__main__":
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    net, loss, correct = train_iris(epochs)
    print(f"after {epochs} epochs of Adam: mean cross entropy {loss:.4f}, "
          f"accuracy {correct:.1%}")
    for name, parameter in net.named_parameters():
        print(f"  {name:<20} {parameter.item():8.4f}")
