"""Differential fuzzing: random programs over every op of the library, each checked five ways
(`check_program`: gradients, repeated backward, float32, second derivatives, compiled equals eager).

`make test` runs a fixed derandomized budget; `make fuzz` a long random session bounded by
FUZZ_EXAMPLES and FUZZ_SECONDS (see docs/reliability.md).
"""

import os
import time
from collections import Counter

import numpy as np
import pytest
from hypothesis import Phase, given, note, settings

from tinygrad_iris import Value, engine
from tinygrad_iris.testing import OP_KINDS, Program, check_program, programs

FUZZING = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
# `make test` is a gate, not a soak: 400 programs take about 10 s. Every planted bug below is caught within
# its first 250 programs (transpose-as-reshape, the latest, at the 222nd); `make fuzz` runs the long sessions.
PROGRAMS_IN_CI = 400
FUZZ_CHUNK = 250  # a fuzz session is many short random runs, so it can stop on time between them
REPRODUCE = "Reproduce with this script:\n"


def _fuzz(budget: int, tally: Counter[str]) -> None:
    """Check ``budget`` random programs in one hypothesis run, counting them and their ops."""

    @settings(max_examples=budget)
    @given(program=programs())
    def check(program: Program) -> None:
        note(REPRODUCE + repr(program))
        tally.update(program.ops)
        tally["programs"] += 1
        tally["statements"] += program.source.count("\n") - 2
        program.check()

    check()


def test_random_programs():
    start, tally = time.monotonic(), Counter[str]()
    if FUZZING:  # runs of FUZZ_CHUNK random programs, until FUZZ_EXAMPLES or FUZZ_SECONDS is reached
        budget, seconds = settings.default.max_examples, float(os.environ.get("FUZZ_SECONDS", "inf"))
        reported = start
        while tally["programs"] < budget and time.monotonic() - start < seconds:
            _fuzz(min(FUZZ_CHUNK, budget - tally["programs"]), tally)
            if time.monotonic() - reported > 60:
                reported = time.monotonic()
                print(f"\n{tally['programs']} programs in {reported - start:.0f} s", end="", flush=True)
    else:
        _fuzz(PROGRAMS_IN_CI, tally)
    ran, statements = tally.pop("programs"), tally.pop("statements")
    print(
        f"\nfuzzed {ran} random programs ({statements} statements) in {time.monotonic() - start:.0f} s; "
        f"programs per op: {', '.join(f'{op} {n}' for op, n in sorted(tally.items()))}"
    )
    assert ran >= (1 if FUZZING else PROGRAMS_IN_CI)


def test_programs_cover_every_op():
    seen: set[str] = set()

    @settings(max_examples=300, derandomize=True, database=None)
    @given(program=programs())
    def collect(program: Program) -> None:
        seen.update(program.ops)

    collect()
    assert set(OP_KINDS) - seen == set()


# ----- the checks can fail: each catches a planted bug, and prints a script that reproduces it -------
def _old_max_vjp(g, out, a, axis=None, keepdims=False):  # before the fuzzer found it: an int tie count
    x = engine._data(a)
    kept = engine._keepdims_shape(np.shape(x), axis)
    mask = x == np.reshape(engine._data(out), kept)
    return (mask * (engine.RESHAPE.apply(g, shape=kept) / mask.sum(axis=axis, keepdims=True)),)


MUTANTS = {
    # (a) gradcheck: repeated integer indices must add up, not overwrite each other
    "index-repeats-overwrite": (engine, "_is_basic_index", lambda index: True),
    # (a) gradcheck: the transpose's gradient reshaped instead of transposed
    "transpose-as-reshape": (
        engine.TRANSPOSE,
        "vjp",
        lambda g, out, a, axes=None: (engine.RESHAPE.apply(g, shape=engine._shape_of(a)),),
    ),
    # (b) zero_grad that forgets to clear: the second backward accumulates
    "zero-grad-noop": (Value, "zero_grad", lambda self: None),
    # (c) a float32 gradient silently upcast to float64
    "max-upcasts": (engine.MAX, "vjp", _old_max_vjp),
}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_a_planted_bug_is_caught_and_reported_as_a_runnable_script(mutant, monkeypatch):
    owner, name, replacement = MUTANTS[mutant]
    monkeypatch.setattr(owner, name, replacement)

    @settings(
        max_examples=PROGRAMS_IN_CI, derandomize=True, database=None, phases=[Phase.generate, Phase.shrink]
    )
    @given(program=programs(max_ops=8))
    def check(program: Program) -> None:
        note(REPRODUCE + repr(program))
        program.check()

    with pytest.raises(AssertionError) as caught:
        check()
    script = next(n for n in caught.value.__notes__ if n.startswith(REPRODUCE))[len(REPRODUCE) :]
    print(script)
    assert script.count("    v") <= 4, f"the shrunk program is not small:\n{script}"
    with pytest.raises(AssertionError):
        exec(script, {})
    monkeypatch.undo()
    exec(script, {})  # the same script passes on the real engine


def test_program_repr_is_the_program_that_runs():
    source = "def program(x0):\n    v0 = softmax(x0 * 2.0)\n    return v0\n"
    program = Program(source, (np.array([0.5, -1.0]),), seed=3, ops=frozenset({"*", "softmax"}))
    namespace: dict = {}
    exec(repr(program), namespace)  # runs check_program
    x = Value([1.0, 2.0])
    np.testing.assert_array_equal(namespace["program"](x).data, program(x).data)
    assert "np.array([0.5, -1.0])" in repr(program) and "seed=3" in repr(program)


# ----- bugs the fuzzer found, each pinned by the program it shrank to ---------------------------------
def test_pow_zero_has_zero_gradient_at_zero():
    # x ** 0 is 1 everywhere, so its gradient is 0; it was 0 * 0^-1 = nan, with a divide-by-zero warning
    check_program(lambda x: x**0, [np.array([0.0, 2.0])])
    check_program(lambda x: x**0, [np.array(0.0)])
    x = Value(0.0)
    (x**0).backward()
    assert x.grad == 0.0


def test_max_gradient_stays_float32():
    # the tie count was an int array, which turned max's float32 gradient into float64
    for shape, axis in [((3,), None), ((2, 3), 1), ((2, 3), (0, 1))]:
        x = Value(np.arange(6, dtype=np.float32)[: np.prod(shape)].reshape(shape))
        out = x.max(axis=axis)
        out.backward(np.ones(out.shape, dtype=np.float32))
        assert x.grad.dtype == np.float32
    s = Value(np.float32(2.0))
    s.max().backward()
    assert np.asarray(s.grad).dtype == np.float32


@pytest.mark.parametrize(
    "make", [lambda x: x.T, lambda x: x.reshape(()), lambda x: x.reshape(1, 1).reshape(())]
)
def test_scalar_transpose_and_reshape_stay_scalars(make):
    # .T of a scalar and reshape(()) gave a 0-d array, which backward() refused without gradient=
    for x in (Value(3.0), Value(np.float32(3.0))):
        y = make(x) * 2.0
        assert type(y.data) is not np.ndarray and y.dtype == x.dtype
        y.backward()
        assert x.grad == 2.0
    check_program(lambda x: make(x) * 2.0, [np.array(3.0)])



def test_gradient_keeps_the_operands_float_type_when_numpy_promotes():
    # found by check_program on a hand-written program with a float64 constant: a float32 Value
    # times a float64 array is float64 (NumPy's rule), but the float32 Value's gradient was too
    x = Value(np.array([1.0, 2.0], dtype=np.float32))
    s = Value(np.float32(3.0))
    ((x * np.array([0.5, 0.25]) + s) * 2.0).sum().backward()
    assert x.grad.dtype == np.float32 and np.asarray(s.grad).dtype == np.float32
    np.testing.assert_array_equal(x.grad, [1.0, 0.5])
    assert s.grad == 4.0
