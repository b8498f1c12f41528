"""Training the iris network on the whole data set: full batch, mean cross-entropy, Adam or SGD."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .arguments import count
from .compiled import compile
from .engine import Value, no_grad
from .iris import IrisData
from .network import IrisNetwork
from .ops import cross_entropy
from .optim import SGD, Adam, Optimizer

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_LR",
    "OPTIMIZERS",
    "Trained",
    "TrainingHistory",
    "accuracy",
    "evaluate",
    "train",
]

OPTIMIZERS = ("adam", "sgd")
"""The optimizers `train` knows: Adam, and SGD with momentum 0.9."""
DEFAULT_EPOCHS = 1000
"""How many full-batch epochs `train` runs by default."""
DEFAULT_LR = MappingProxyType({"adam": 0.05, "sgd": 0.5})
"""The default learning rate of each optimizer."""


@dataclass
class TrainingHistory:
    """Mean cross-entropy and accuracy of each epoch, measured before that epoch's update."""

    loss: list[float] = field(default_factory=list)
    """The mean cross entropy of each epoch, before its update."""
    accuracy: list[float] = field(default_factory=list)
    """The accuracy of each epoch, before its update."""


def accuracy(net: IrisNetwork, X: Any, labels: Any) -> float:
    """Fraction of rows whose largest raw output is the true species."""
    return float(np.mean(net.predict(X) == np.asarray(labels)))


def _make_optimizer(name: str, params: list[Value], lr: float | None) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    rate = DEFAULT_LR[name] if lr is None else lr
    return Adam(params, lr=rate) if name == "adam" else SGD(params, lr=rate, momentum=0.9)


def train(
    net: IrisNetwork,
    X: Any,
    labels: Any,
    epochs: int = DEFAULT_EPOCHS,
    optimizer: str = "adam",
    lr: float | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
    compiled: bool = True,
) -> TrainingHistory:
    """Full-batch training of all 15 parameters on mean cross-entropy.

    ``optimizer`` is "adam" or "sgd" (momentum 0.9); ``lr`` defaults to `DEFAULT_LR`.
    ``on_epoch(epoch, loss, accuracy)`` is called after each epoch (for progress bars).
    ``compiled``: the forward and backward pass run through `tinygrad_iris.compile` (traced in
    the first epoch, replayed after), with the eager engine's results bit for bit; False runs
    every epoch eagerly.
    """
    epochs = count("train: epochs", epochs)
    targets = np.asarray(labels)
    step = _make_optimizer(optimizer, net.parameters(), lr)
    history = TrainingHistory()

    def loss_and_logits() -> tuple[Value, Value]:
        logits = net(X)
        return cross_entropy(logits, targets), logits

    epoch_pass = compile(loss_and_logits) if compiled else loss_and_logits
    for epoch in range(epochs):
        loss, logits = epoch_pass()
        step.zero_grad()
        loss.backward()
        step.step()
        history.loss.append(loss.item())
        history.accuracy.append(float(np.mean(np.argmax(logits.data, axis=1) == targets)))
        if on_epoch is not None:
            on_epoch(epoch, history.loss[-1], history.accuracy[-1])
    return history


def evaluate(net: IrisNetwork, X: Any, labels: Any) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the network on the rows of X."""
    with no_grad():
        return cross_entropy(net(X), labels).item(), accuracy(net, X, labels)


@dataclass(frozen=True)
class Trained:
    """A trained network, the data it learned from, its history, and its final mean CE and accuracy."""

    net: IrisNetwork
    """The trained network."""
    data: IrisData
    """The flowers it learned from."""
    history: TrainingHistory
    """The loss and accuracy of every epoch."""
    loss: float
    """The final mean cross entropy over the flowers."""
    accuracy: float
    """The fraction of the flowers it classifies right."""

    @classmethod
    def measure(cls, net: IrisNetwork, data: IrisData, history: TrainingHistory) -> Trained:
        """`evaluate` ``net`` on all of ``data``, after `train` gave ``history``."""
        loss, share = evaluate(net, data.X, data.labels)
        return cls(net, data, history, loss, share)
