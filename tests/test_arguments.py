"""The shared checks: a bool is not a number anywhere, NumPy numbers are, and the CLI's readers of text."""

import argparse
from pathlib import Path

import numpy as np
import pytest

from tinygrad_iris import Value, draw_graph
from tinygrad_iris.arguments import (
    b3_text,
    count,
    count_text,
    finite,
    learning_rate_text,
    number_in,
    number_text,
    output_path_text,
    seed_text,
)
from tinygrad_iris.article import optimize_b3
from tinygrad_iris.network import IrisNetwork
from tinygrad_iris.nn import Linear
from tinygrad_iris.optim import SGD, Adam
from tinygrad_iris.training import train


@pytest.mark.parametrize("flag", [True, np.bool_(False)])
def test_a_bool_is_refused_wherever_a_number_is_asked_for(flag):
    parameter = [Value(1.0)]
    cases = [
        (lambda: IrisNetwork(b3=flag), TypeError, "b3 must be a number, got bool"),
        (lambda: IrisNetwork().raw_outputs(flag, 0.5), TypeError, "petal must be a number, got bool"),
        (lambda: IrisNetwork().row_loss(0.1, 0.2, flag), TypeError, "species must be an integer index"),
        (lambda: SGD(parameter, lr=flag), TypeError, "lr must be a number, got bool"),
        (lambda: Adam(parameter, betas=(flag, 0.9)), TypeError, r"betas\[0\] must be a number, got bool"),
        (lambda: Linear(flag, 2), TypeError, "Linear: in_features must be an integer, got bool"),
        (lambda: optimize_b3(steps=flag), ValueError, "optimize_b3: steps must be a non-negative integer"),
        (
            lambda: train(IrisNetwork(), np.zeros((1, 2)), [0], epochs=flag),
            ValueError,
            "train: epochs must be",
        ),
        (lambda: draw_graph(Value(1.0), max_nodes=flag), ValueError, "max_nodes must be a positive integer"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words):
            call()


def test_numpy_numbers_are_numbers():
    assert IrisNetwork(b3=np.float32(1.5)).b3.data == 1.5
    assert len(optimize_b3(steps=np.int64(2)).steps) == 2
    assert Linear(np.int32(3), 2).weight.shape == (3, 2)
    assert finite("x", np.int8(-4)) == -4.0 and type(finite("x", np.int8(-4))) is float
    assert count("n", np.uint8(7)) == 7


def test_number_in_names_its_interval():
    assert number_in("eps", 0.0, 0.0) == 0.0
    with pytest.raises(ValueError, match=r"beta must be a finite number in \[0, 1\), got 1.0"):
        number_in("beta", 1.0, 0.0, 1.0, high_open=True)
    with pytest.raises(ValueError, match=r"lr must be a finite number in \[0, inf\], got nan"):
        number_in("lr", float("nan"), 0.0)


def reads(parse, text):
    try:
        return parse(text)
    except argparse.ArgumentTypeError as error:
        return f"error: {error}"


def test_the_command_lines_readers_of_text():
    assert reads(number_text, "-1e3") == -1000.0
    assert reads(number_text, "nan") == "error: 'nan' is not a finite number"
    assert reads(number_text, "1,5") == "error: '1,5' is not a number"
    assert (
        reads(b3_text, "100") == 100.0 and reads(b3_text, "-100.5") == "error: -100.5 is outside [-100, 100]"
    )
    assert reads(learning_rate_text, "0") == "error: 0 must be greater than 0 and at most 100"
    assert reads(count_text, "1000000") == 1_000_000
    assert reads(count_text, "1000001") == "error: 1000001 must be between 0 and 1,000,000"
    assert reads(count_text, "3.0") == "error: '3.0' is not a whole number"
    assert reads(seed_text, str(2**63)) == f"error: {2**63} must be between 0 and 2**63 - 1"
    image = output_path_text(("png", "svg", "pdf"))
    assert reads(image, "a/b.PNG") == Path("a/b.PNG")
    assert reads(image, "b.gif") == "error: 'b.gif' must end in .png, .svg or .pdf"
