"""Arguments checked in one place: the numbers the library accepts, and the command line's readers.

A bool is not a number here, though Python counts True as 1: ``IrisNetwork(b3=True)`` or
``SGD(params, lr=True)`` is a mistake to report, not a 1.0 to use. The library's checks raise
TypeError for a wrong kind and ValueError for a wrong value, naming the argument. The command
line's readers turn text into a value or raise `argparse.ArgumentTypeError`, which argparse
prefixes with the option's name (``--b3: 'nan' is not a finite number``).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from .files import format_from_name, suffixes

__all__ = [
    "MAX_B3",
    "MAX_COUNT",
    "MAX_LR",
    "b3_text",
    "count",
    "count_text",
    "finite",
    "is_integer",
    "learning_rate_text",
    "number",
    "number_in",
    "number_text",
    "output_path_text",
    "seed_text",
]


# ----- Python values (the library) ------------------------------------------------------------------
def number(name: str, value: object) -> float:
    """``value`` as a float; TypeError unless it is an int or float (NumPy's too), bools excluded."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def finite(name: str, value: object) -> float:
    """`number`, and a ValueError if it is NaN or infinite."""
    result = number(name, value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def number_in(name: str, value: object, low: float, high: float = math.inf, high_open: bool = False) -> float:
    """`number` in [low, high] (or [low, high)), else a ValueError naming the interval."""
    result = number(name, value)
    if not math.isfinite(result) or not (low <= result < high if high_open else low <= result <= high):
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}{bracket}, got {value!r}")
    return result


def is_integer(value: object) -> TypeGuard[int | np.integer[Any]]:
    """An int or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def count(name: str, value: object) -> int:
    """A number of steps or epochs: a non-negative integer, else a ValueError."""
    if not is_integer(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


# ----- text (the command line) --------------------------------------------------------------------------
MAX_COUNT = 1_000_000  # steps or epochs: beyond this a typo is likelier than a wish
MAX_B3 = 100.0  # |b3| beyond this underflows a probability to 0 and the cross-entropy to inf
MAX_LR = 100.0


def number_text(text: str) -> float:
    """A finite number written as text."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def b3_text(text: str) -> float:
    value = number_text(text)
    if abs(value) > MAX_B3:
        raise argparse.ArgumentTypeError(f"{text} is outside [-{MAX_B3:g}, {MAX_B3:g}]")
    return value


def learning_rate_text(text: str) -> float:
    value = number_text(text)
    if not 0 < value <= MAX_LR:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0 and at most {MAX_LR:g}")
    return value


def _whole_number_text(largest: int, largest_text: str) -> Callable[[str], int]:
    """A reader of whole numbers in [0, largest]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 0 <= value <= largest:
            raise argparse.ArgumentTypeError(f"{text} must be between 0 and {largest_text}")
        return value

    return parse


count_text = _whole_number_text(MAX_COUNT, f"{MAX_COUNT:,}")
seed_text = _whole_number_text(2**63 - 1, "2**63 - 1")


def output_path_text(formats: Sequence[str]) -> Callable[[str], Path]:
    """A reader of output file names whose extension is one of ``formats``."""

    def parse(text: str) -> Path:
        if format_from_name(text) not in formats:
            raise argparse.ArgumentTypeError(f"{text!r} must end in {suffixes(formats)}")
        return Path(text)

    return parse
