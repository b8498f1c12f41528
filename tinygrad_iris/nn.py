"""Layers in PyTorch's names: `Module` (parameters, zero_grad, state_dict) and `Linear`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .arguments import is_integer
from .engine import Value
from .files import load_arrays, printable, save_arrays

__all__ = ["Linear", "Module"]


class Module:
    """Base class: a Module's parameters are the Values (and sub-Modules' Values) among its attributes.

    Attributes are walked in the order they were assigned, so `parameters()` has a fixed order;
    lists and tuples of Values or Modules are walked too.
    """

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; ``module(x)`` calls it. Subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(dotted attribute name, parameter) for every trainable Value, each listed once."""
        found: list[tuple[str, Value]] = []
        seen: set[int] = set()
        pending: list[tuple[str, object]] = [("", self)]
        while pending:
            name, item = pending.pop()
            if isinstance(item, Value):
                if item.requires_grad and id(item) not in seen:
                    seen.add(id(item))
                    found.append((name, item))
                continue
            if isinstance(item, Module):
                children = list(vars(item).items())
            elif isinstance(item, (list, tuple)):
                children = [(str(i), child) for i, child in enumerate(item)]
            else:
                continue
            prefix = f"{name}." if name else ""
            pending.extend((prefix + key, child) for key, child in reversed(children))
        return found

    def parameters(self) -> list[Value]:
        """Every parameter, in the order of `named_parameters`, each once."""
        return [parameter for _, parameter in self.named_parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's ``.grad`` to zeros, as before the next ``backward()``."""
        for parameter in self.parameters():
            parameter.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's data, by name (scalars as 0-d arrays)."""
        return {name: np.array(p.data) for name, p in self.named_parameters()}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write `state_dict()` to an ``.npz`` archive at ``path``, atomically and without pickle."""
        return save_arrays(path, self.state_dict())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read parameters written by `save`; a bad file changes nothing.

        OSError if ``path`` cannot be read; ValueError naming the file and the offending entry
        if it is not an archive of exactly this module's names, shapes and finite floats.
        """
        state = load_arrays(path)
        try:
            self.load_state_dict(state)
        except ValueError as err:
            raise ValueError(f"cannot load {os.fspath(path)}: {err}") from None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy ``state`` into the parameters, after checking every name, shape and value.

        A ValueError (naming the offending entry) leaves the module exactly as it was.
        """
        named = dict(self.named_parameters())
        missing = sorted(named.keys() - state.keys())
        unexpected = sorted(state.keys() - named.keys())
        if missing or unexpected:
            raise ValueError(
                f"load_state_dict: missing {', '.join(missing) or 'nothing'}; "
                f"unexpected {', '.join(printable(str(name)) for name in unexpected) or 'nothing'}"
            )
        checked = {}
        for name, parameter in named.items():
            array = np.asarray(state[name])
            if array.dtype.kind != "f":
                raise ValueError(f"load_state_dict: {name} has dtype {array.dtype}, expected floating point")
            if array.shape != parameter.shape:
                raise ValueError(
                    f"load_state_dict: {name} has shape {array.shape}, expected {parameter.shape}"
                )
            with np.errstate(over="ignore"):  # a finite float128 can overflow: caught just below
                converted = array.astype(parameter.dtype)
            if not np.all(np.isfinite(converted)):
                raise ValueError(
                    f"load_state_dict: {name} holds NaN or infinity (or a value beyond {parameter.dtype})"
                )
            checked[name] = converted
        for name, parameter in named.items():
            value = checked[name]
            parameter.data = value if value.ndim else type(parameter.data)(value)


class Linear(Module):
    """y = x @ weight + bias; weight (in_features, out_features), bias (out_features,).

    Initialised as PyTorch does: uniform on [-1/sqrt(in_features), 1/sqrt(in_features)].
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, rng: np.random.Generator | None = None
    ):
        for label, size in (("in_features", in_features), ("out_features", out_features)):
            if not is_integer(size):
                raise TypeError(f"Linear: {label} must be an integer, got {type(size).__name__}")
            if size < 1:
                raise ValueError(f"Linear: {label} must be at least 1, got {size}")
        rng = np.random.default_rng() if rng is None else rng
        bound = 1.0 / np.sqrt(in_features)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Value(rng.uniform(-bound, bound, (in_features, out_features)), name="weight")
        """The weight, shape (in_features, out_features): y = x @ weight + bias."""
        self.bias = Value(rng.uniform(-bound, bound, out_features), name="bias") if bias else None
        """The bias, shape (out_features,), or None."""

    def forward(self, x: Any) -> Value:
        """``x @ weight + bias`` for a batch of rows ``x`` of shape (..., in_features)."""
        y = x @ self.weight
        return y if self.bias is None else y + self.bias

    def __repr__(self) -> str:
        sizes = f"in_features={self.in_features}, out_features={self.out_features}"
        return f"Linear({sizes}, bias={self.bias is not None})"
