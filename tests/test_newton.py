"""The pink curve's curvature by grad() twice, and Newton's method on b3: against the hand formulas.

The reference is tests/article_reference.py (plain Python from the rounded inputs): per row the
curvature is p_setosa (1 - p_setosa), and a Newton step is b3 - gradient / curvature.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from article_reference import hand_curvature, hand_curvature_terms, hand_gradient, hand_newton, hand_total
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_iris import cli
from tinygrad_iris.article import NEWTON_STEPS, b3_derivatives, optimize_b3
from tinygrad_iris.network import ARTICLE_ROWS

MINIMUM = -0.031652958487831  # where the gradient is 0, to 15 digits (b3_minimum, FACTS -0.03165)


# ----- the reference itself ---------------------------------------------------------------------
@pytest.mark.parametrize("b3", [-2.0, MINIMUM, 1.5])
def test_the_hand_curvature_is_the_slope_of_the_hand_gradient(b3):
    h = 1e-5
    slope = (hand_gradient(b3 + h) - hand_gradient(b3 - h)) / (2 * h)
    assert hand_curvature(b3) == pytest.approx(slope, rel=1e-8)


def test_the_facts_curvature_numbers():
    assert round(hand_curvature(-2.0), 5) == 0.20114
    assert [round(term, 5) for term in hand_curvature_terms(-2.0)] == [0.12811, 0.03389, 0.03914]
    assert round(hand_curvature(MINIMUM), 5) == 0.58933
    assert abs(hand_gradient(MINIMUM)) < 1e-14


# ----- b3_derivatives: grad() twice -----------------------------------------------------------------
@given(b3=st.floats(-20, 20))
def test_b3_derivatives_match_the_hand_formulas(b3):
    total, gradient, curvature = b3_derivatives(b3)
    assert total == pytest.approx(hand_total(b3), rel=1e-12)
    assert gradient == pytest.approx(hand_gradient(b3), rel=1e-10, abs=1e-13)
    assert curvature == pytest.approx(hand_curvature(b3), rel=1e-10, abs=1e-15)


def test_each_rows_curvature_is_its_p_setosa_times_one_minus_it():
    for row, term in zip(ARTICLE_ROWS, hand_curvature_terms(-2.0)):
        assert b3_derivatives(-2.0, [row])[2] == pytest.approx(term, rel=1e-12)


# ----- Newton's method ----------------------------------------------------------------------------
def test_newton_from_minus_two_reproduces_the_facts():
    descent = optimize_b3(method="newton")
    assert descent.method == "newton" and len(descent.steps) == NEWTON_STEPS == 6
    path = hand_newton(-2.0, NEWTON_STEPS)
    for k, step in enumerate(descent.steps):
        assert step.step == k
        assert step.b3 == pytest.approx(path[k], abs=1e-12)
        assert step.total_cross_entropy == pytest.approx(hand_total(path[k]), rel=1e-12)
        assert step.gradient == pytest.approx(hand_gradient(path[k]), abs=1e-12)
        assert step.curvature == pytest.approx(hand_curvature(path[k]), rel=1e-10)
    assert descent.b3 == pytest.approx(path[-1], abs=1e-12)
    # FACTS, from the hand path (the code's path equals it above)
    assert [round(b3, 5) for b3 in path[:5]] == [-2.0, 1.84416, -0.30767, -0.01875, -0.03163]
    assert round(path[5], 6) == -0.031653
    totals = [hand_total(b3) for b3 in path[:6]]
    assert [round(t, 5) for t in totals[:4]] == [2.66594, 2.89878, 1.79655, 1.77475]
    assert [round(t, 6) for t in totals[4:]] == [1.774696, 1.774696]


def test_newton_overshoots_then_converges_quadratically():
    steps = optimize_b3(method="newton", steps=6).steps
    errors = [step.b3 - MINIMUM for step in steps]
    assert errors[0] < 0 < errors[1]  # the first step jumps past the minimum
    assert abs(errors[1]) > 0.9 * abs(errors[0])  # nearly as far on the other side
    for before, after in itertools.pairwise(errors[2:]):
        assert abs(after) < before**2  # the digits double
    assert abs(errors[5]) < 5e-6  # five digits after five steps


def test_gradient_descent_needs_about_three_times_the_steps():
    steps = optimize_b3(steps=40).steps
    first = next(step.step for step in steps if abs(step.b3 - MINIMUM) < 5e-6)
    assert 14 <= first <= 17  # FACTS: about 15


def test_the_parabola_of_the_first_newton_step_bottoms_out_where_the_step_lands():
    first, second = optimize_b3(method="newton", steps=2).steps
    assert float(first.parabola(np.array(first.b3))) == pytest.approx(hand_total(-2.0), rel=1e-12)
    h = 1e-4
    slope = (first.parabola(np.array(second.b3 + h)) - first.parabola(np.array(second.b3 - h))) / (2 * h)
    assert abs(slope) < 1e-9
    bend = first.parabola(np.array([-1.0, 0.0, 1.0])) @ np.array([1.0, -2.0, 1.0])
    assert bend == pytest.approx(hand_curvature(-2.0), rel=1e-9)
    assert float(first.parabola(np.array(second.b3))) < hand_total(MINIMUM) < second.total_cross_entropy


def test_gradient_descent_carries_the_curvature_too():
    b3 = -2.0
    for step in optimize_b3(steps=5).steps:
        assert step.b3 == pytest.approx(b3, abs=1e-12)
        assert step.curvature == pytest.approx(hand_curvature(b3), rel=1e-10)
        b3 -= hand_gradient(b3)


def test_a_damped_newton_step_is_a_fraction_of_the_full_one():
    after = optimize_b3(lr=0.5, steps=2, method="newton").steps[1]
    assert after.b3 == pytest.approx(-2.0 - 0.5 * hand_gradient(-2.0) / hand_curvature(-2.0), abs=1e-12)


def test_zero_steps_and_bad_methods():
    none = optimize_b3(steps=0, method="newton")
    assert none.steps == () and none.b3 == -2.0
    assert len(optimize_b3().steps) == 10
    with pytest.raises(ValueError, match="method must be one of gradient, newton, got 'adam'"):
        optimize_b3(method="adam")


@pytest.mark.parametrize(
    ("start", "lr", "method", "words"),
    [
        (100.0, 1.0, "newton", "Newton's method, step 0 from b3 = 100: the step needs a positive curvature"),
        (-3.0, 1.0, "newton", "outside [-100, 100]: it diverges"),
        (10.0, 1.0, "newton", "step 0 from b3 = 10 (gradient 2, curvature 0.0003477) goes to b3 = -5740.54"),
        (-2.0, 100.0, "gradient", "gradient descent, step 1 from b3 = 75.3201"),
    ],
)
def test_steps_that_cannot_be_taken_or_diverge_are_refused(start, lr, method, words):
    with pytest.raises(RuntimeError) as caught:
        optimize_b3(start, lr, steps=10, method=method)
    assert words in str(caught.value)


def test_newton_from_minus_three_goes_wrong_the_way_the_hand_formulas_say():
    b3 = -3.0 - hand_gradient(-3.0) / hand_curvature(-3.0)  # the first step lands far to the right
    assert b3 > 4
    assert abs(b3 - hand_gradient(b3) / hand_curvature(b3)) > 100  # and the second leaves the range
    with pytest.raises(RuntimeError, match=f"step 1 from b3 = {b3:g} "):
        optimize_b3(-3.0, method="newton")


# ----- the command line -----------------------------------------------------------------------------
def test_optimize_b3_newton_json(capsys):
    status = cli.main(["optimize-b3", "--method", "newton", "--json"])
    captured = capsys.readouterr()
    assert status == 0 and captured.err == ""
    document = json.loads(captured.out)
    assert list(document) == ["method", "steps", "b3"] and document["method"] == "newton"
    path = hand_newton(-2.0, 6)
    for k, step in enumerate(document["steps"]):
        assert list(step) == ["step", "b3", "total_cross_entropy", "gradient", "curvature"]
        assert step["step"] == k and step["b3"] == pytest.approx(path[k], abs=1e-12)
        assert step["total_cross_entropy"] == pytest.approx(hand_total(path[k]), rel=1e-12)
        assert step["gradient"] == pytest.approx(hand_gradient(path[k]), abs=1e-12)
        assert step["curvature"] == pytest.approx(hand_curvature(path[k]), rel=1e-10)
    assert len(document["steps"]) == 6 and round(document["b3"], 6) == -0.031653


def test_optimize_b3_newton_lines(capsys):
    assert cli.main(["optimize-b3", "--method", "newton", "--steps", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Newton's method on b3 from -2: b3 <- b3 - gradient / curvature"
    assert lines[2].split() == ["step", "b3", "total", "CE", "gradient", "curvature"]
    assert lines[3].split() == ["0", "-2.000000", "2.665939", "-0.7732", "0.20114"]
    assert lines[4].split()[:2] == ["1", "1.844161"] and lines[5].split()[:2] == ["2", "-0.307668"]
    assert lines[6] == "b3 after 3 steps: -0.018753"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--start", "100"], "needs a positive curvature"),
        (["--start", "-3"], "it diverges"),
    ],
)
def test_optimize_b3_newton_refusals_are_one_line(capsys, argv, words):
    status = cli.main(["optimize-b3", "--method", "newton", *argv])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert captured.err.startswith("tinygrad-iris: error: optimize_b3: Newton's method, step ")
    assert captured.err.count("\n") == 1 and words in captured.err and "Traceback" not in captured.err
