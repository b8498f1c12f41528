"""The walk-through's example scripts run as documented and print the articles' numbers."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from article_reference import ROWS, hand_gradient, hand_probabilities, hand_total

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *argv: str, cwd: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.splitlines()


def test_b3_descent_prints_the_articles_steps(tmp_path: Path):
    lines = run_example("b3_descent", "30", cwd=tmp_path)
    assert lines[0].split() == ["step", "b3", "total", "CE", "gradient"]
    b3 = -2.0
    for k, line in enumerate(lines[1:]):
        assert line.split() == [str(k), f"{b3:.4f}", f"{hand_total(b3):.4f}", f"{hand_gradient(b3):.4f}"]
        b3 -= hand_gradient(b3)
    assert len(lines) == 31
    assert lines[1].split()[1:] == ["-2.0000", "2.6659", "-0.7732"]  # FACTS
    assert lines[2].split()[1] == "-1.2268" and lines[3].split()[1] == "-0.6623"
    assert lines[-1].split()[1] == "-0.0317" and lines[-1].split()[2] == "1.7747"
    assert list(tmp_path.iterdir()) == []


def test_train_iris_reaches_the_articles_accuracy(tmp_path: Path):
    lines = run_example("train_iris", cwd=tmp_path)
    words = lines[0].split()
    assert lines[0].startswith("after 1000 epochs of Adam: mean cross entropy ")
    loss, accuracy = float(words[-3].rstrip(",")), float(words[-1].rstrip("%"))
    assert loss < 0.1 and accuracy >= 95.3  # FACTS: 95.3%, mean cross entropy about 0.09
    assert len(lines) == 1 + 15 and lines[9].split()[0] == "b3"


def test_draw_graph_prints_the_gradients_sum_and_writes_the_drawing(tmp_path: Path):
    lines = run_example("draw_graph", "three_rows.svg", cwd=tmp_path)
    for line, (petal, sepal, species) in zip(lines, ROWS):
        p_setosa = hand_probabilities(petal, sepal, -2.0)[0]
        assert f"p_setosa {p_setosa:.4f} - {int(species == 0)} = raw Setosa grad " in line
        assert line.endswith(f"{p_setosa - (species == 0):.4f}")
    assert lines[3] == f"b3.grad = {hand_gradient(-2.0):.4f}" == "b3.grad = -0.7732"
    assert lines[4] == "wrote three_rows.svg"
    svg = ET.fromstring((tmp_path / "three_rows.svg").read_bytes())
    texts = [element.text for element in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "b3" in texts and texts.count("softmax denominator") == 3


def test_softplus_example_prints_derivatives_derived_by_hand(tmp_path: Path):
    import math

    s = 1 / (1 + math.exp(-0.5))
    lines = run_example("softplus_second_derivative", cwd=tmp_path)
    assert lines == [
        f"softplus'(0.5)  = {s:.6f}",
        f"softplus''(0.5) = {s * (1 - s):.6f}",
        "gradgradcheck: True",
    ]


def test_micrograd_neuron_example_prints_the_lectures_gradients(tmp_path: Path):
    import math

    n = 2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432
    o = math.tanh(n)
    dn = 1 - o**2  # the lecture's 0.5
    expected = {"x1": -3.0 * dn, "w1": 2.0 * dn, "x2": 1.0 * dn, "w2": 0.0 * dn, "b": dn}
    lines = run_example("micrograd_neuron", cwd=tmp_path)
    for line, (name, grad) in zip(lines, expected.items()):
        assert line.split() == [f"{name}:", "by", "hand", f"{grad:.4f}", "backward()", f"{grad:.4f}"]
    assert lines[-1] == f"Value(data={o!r}, grad=1.0, name='o')"
