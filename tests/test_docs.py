"""The documentation site builds with --strict, and the examples its pages include still run."""

from __future__ import annotations

import csv
import html
import math
import os
import re
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from article_reference import (
    ROWS,
    hand_curvature,
    hand_curvature_terms,
    hand_gradient,
    hand_newton,
    hand_probabilities,
    hand_total,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def build_site(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of the mkdocs.yml in ``project`` into ``site``."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's site, built once for this module's tests."""
    folder = tmp_path_factory.mktemp("docs") / "site"
    result = build_site(ROOT, folder)
    assert result.returncode == 0, result.stderr
    return folder


def test_mkdocs_build_strict_succeeds_with_generated_figures_and_numbers(site: Path):
    figure = ET.fromstring((site / "figures" / "first-graph.svg").read_bytes())
    texts = [element.text for element in figure.iter("{http://www.w3.org/2000/svg}text")]
    assert "a" in texts and "c" in texts
    index = (site / "index.html").read_text()
    assert "dc/da = 2.5000, dc/db = 9.7500" in index  # printed by examples/first_value.py at build time
    assert "generated:" not in index
    checking = (site / "gradient-checking" / "index.html").read_text()
    assert "finite differences give 2.56169" in checking
    api = (site / "api" / "index.html").read_text()
    names = ("engine.Value", "gradcheck.gradcheck", "testing.broadcastable_shapes", "render.draw_graph")
    steps = ("steps.record_backward", "backprop_page.BackpropPage")
    for name in (*names, "article_graph.article_graph", *steps):
        assert f'id="tinygrad_iris.{name}"' in api


def test_every_snippet_the_hooks_define_is_placed_on_a_page():
    """No dead snippets: each name in docs/hooks.py's SNIPPETS is in some page's placeholder."""
    hooks = runpy.run_path(str(ROOT / "docs" / "hooks.py"))  # as mkdocs loads it
    placed = {name for page in (ROOT / "docs").glob("*.md")
              for name in hooks["PLACEHOLDER"].findall(page.read_text())}
    assert set(hooks["SNIPPETS"]) - placed == set()


def test_an_unknown_generated_snippet_fails_the_build(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# x\n\n<!-- generated: no_such_snippet -->\n")
    # the project's settings up to its navigation, and its hooks
    config = (ROOT / "mkdocs.yml").read_text().split("\nnav:")[0]
    config += "\nhooks:\n  - " + str(ROOT / "docs" / "hooks.py") + "\n"
    (tmp_path / "mkdocs.yml").write_text(config)
    result = build_site(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "no_such_snippet" in result.stderr


def pages(site: Path) -> dict[str, str]:
    """Every HTML page of the site but the figures, by its path."""
    return {
        str(path.relative_to(site)): path.read_text()
        for path in sorted(site.glob("**/*.html"))
        if "figures" not in path.parts and path.name != "404.html"
    }


def test_math_is_typeset_while_the_site_builds(site: Path):
    walkthrough = (site / "walkthrough" / "index.html").read_text()
    tex = re.findall(r'<annotation encoding="application/x-tex">(.*?)</annotation>', walkthrough, re.DOTALL)
    assert any(r"\mathrm{CE} = -\log p_\mathrm{true}" in formula for formula in tex)
    assert any(r"\partial\,\mathrm{raw}_\mathrm{Setosa}" in formula for formula in tex)  # d CE / d raw
    assert r"2\varepsilon" in (site / "gradient-checking" / "index.html").read_text()  # central differences
    for name, page in pages(site).items():
        assert 'class="arithmatex"' not in page, name  # no formula left for a script to typeset
    assert (site / "assets" / "katex" / "katex.min.css").stat().st_size > 10_000
    assert (site / "assets" / "katex" / "fonts" / "KaTeX_Main-Regular.woff2").stat().st_size > 10_000


def test_the_site_loads_nothing_from_elsewhere(site: Path):
    for name, page in pages(site).items():
        assert "fonts.googleapis" not in page and "fonts.gstatic" not in page, name
        external = re.findall(r'<(?:script|img|iframe)[^>]* src="(https?:)?//', page)
        external += re.findall(r'<link[^>]* href="(https?:)?//[^"]*"[^>]*rel="stylesheet"', page)
        external += re.findall(r'<link[^>]* rel="stylesheet"[^>]* href="(https?:)?//', page)
        assert external == [], name


def test_a_tex_error_fails_the_build_naming_the_page(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# x\n\n$$\n\\frac{1}{\n$$\n")
    config = (ROOT / "mkdocs.yml").read_text()
    config = re.sub(r"\nnav:\n(  - .*\n)+", "\n", config)  # the project's settings but its pages
    config = config.replace("  - docs/hooks.py", "  - " + str(ROOT / "docs" / "hooks.py"))
    (tmp_path / "mkdocs.yml").write_text(config)
    result = build_site(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "index.md: KaTeX could not typeset a formula" in result.stderr


def test_every_public_name_on_the_api_page_has_a_docstring():
    import griffe

    modules = re.findall(r"^::: (\S+)", (ROOT / "docs" / "api.md").read_text(), re.MULTILINE)
    bare = []

    def walk(obj: griffe.Object) -> None:
        for name, member in obj.members.items():
            if name.startswith("_") or member.is_alias:
                continue
            if not member.docstring:
                bare.append(member.path)
            if member.is_class:
                walk(member)

    package = griffe.load("tinygrad_iris", search_paths=[str(ROOT)])  # once: each load parses it all
    for module in modules:
        walk(package[module.removeprefix("tinygrad_iris.")])
    assert len(modules) >= 10 and bare == []


def test_first_graph_example_writes_the_drawing(tmp_path: Path):
    out = tmp_path / "graph.svg"
    subprocess.run([sys.executable, str(EXAMPLES / "first_graph.py"), str(out)], check=True, timeout=60)
    assert b"<svg" in out.read_bytes()


def test_gradcheck_example_catches_the_bug(capsys: pytest.CaptureFixture[str]):
    runpy.run_path(str(EXAMPLES / "gradcheck_catches_a_bug.py"))
    printed = capsys.readouterr().out
    assert "gradcheck: input 0 of shape (2, 2)" in printed
    assert "finite differences give" in printed


def test_property_test_example_passes():
    module = runpy.run_path(str(EXAMPLES / "gradient_property_test.py"))
    module["test_softplus_first_and_second_derivatives"]()
    module["test_softplus_of_a_broadcast_product"]()


# ----- the walk-through and training pages: numbers derived by hand here, not by the code under test ----
def tables(page: str) -> list[list[list[str]]]:
    """Every table of an HTML page, as rows of cell texts (markup stripped)."""
    found = []
    for table in re.findall(r"<table>(.*?)</table>", page, re.DOTALL):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)
        cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL) for row in rows]
        found.append([[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in row] for row in cells])
    return found


def hand_descent(steps: int) -> list[float]:
    """b3 before each step of gradient descent with learning rate 1 from -2."""
    b3s = [-2.0]
    for _ in range(steps - 1):
        b3s.append(b3s[-1] - hand_gradient(b3s[-1]))
    return b3s


def figure_texts(site: Path, name: str) -> list[str]:
    svg = ET.fromstring((site / "figures" / name).read_bytes())
    return [element.text or "" for element in svg.iter("{http://www.w3.org/2000/svg}text")]


def test_walkthrough_shows_the_network_table_curve_descent_and_graph(site: Path):
    page = (site / "walkthrough" / "index.html").read_text()
    assert "generated:" not in page
    parameters, forward, descent, path, terms = tables(page)

    facts = {"b1": 1.6, "b2": 0.7, "b3": -2, "b4": 0, "b5": 1, "w_petal_upper": -2.5, "w_sepal_bottom": 0.4}
    cells = " ".join(" ".join(row) for row in parameters)
    for name, value in facts.items():
        assert f"{name} = {value:g}" in cells

    for row, (petal, sepal, species) in zip(forward[1:], ROWS):
        p = hand_probabilities(petal, sepal, -2.0)[species]
        assert row[:2] + row[3:] == [f"{petal:.2f}", f"{sepal:.2f}", f"{p:.2f}", f"{-math.log(p):.2f}"]
    assert forward[4][-1] == f"{hand_total(-2.0):.2f}" == "2.67"  # FACTS

    expected = [[str(k), f"{b3:.4f}", f"{hand_total(b3):.4f}", f"{hand_gradient(b3):.4f}"]
                for k, b3 in enumerate(hand_descent(10))]  # fmt: skip
    assert descent[1:] == expected
    assert expected[0][3] == "-0.7732" and expected[1][1] == "-1.2268" and expected[2][1] == "-0.6623"
    b3_limit = hand_descent(200)[-1]
    assert f"at b3 = {b3_limit:.5f} (total cross entropy {hand_total(b3_limit):.4f})" in page
    assert f"{b3_limit:.5f}" == "-0.03165"  # FACTS
    assert 'src="../figures/b3-curve.png"' in page
    assert (site / "figures" / "b3-curve.png").read_bytes().startswith(b"\x89PNG")

    gradient = f"{hand_gradient(-2.0):.4f}"
    for row, (petal, sepal, species) in zip(terms[1:], ROWS):
        p_setosa, setosa = hand_probabilities(petal, sepal, -2.0)[0], int(species == 0)
        term = f"{p_setosa - setosa:.4f}"
        assert row[1:] == [f"{p_setosa:.4f}", str(setosa), term, term]  # the last: raw Setosa's grad
    assert terms[4][-2:] == [gradient, gradient] and terms[5][-1] == gradient == "-0.7732"
    assert f"the gradient is {gradient}" in page

    # row 1's path, node by node, from the step record: cross entropy 1 -> log -1 -> p(Setosa) ... raw Setosa
    p_setosa = hand_probabilities(*ROWS[0][:2], -2.0)[0]
    assert [row[0] for row in path[1:]] == [
        "cross entropy (−x)", "log", "p(Setosa) ([0])", "softmax (÷)", "exp", "−", "stack", "raw Setosa (+)",
    ]  # fmt: skip
    grads = [row[-1] for row in path[1:]]
    assert grads[:3] == ["1", "-1", f"{-1 / p_setosa:.4g}"] and grads[2] == "-6.628"  # FACTS
    assert grads[-1] == f"{p_setosa - 1:.4g}" == "-0.8491" and path[3][1] == f"{p_setosa:.4g}"
    assert path[3][2:4] == ["d/da a.log() = 1/a", f"{1 / p_setosa:.4g}"]

    # the step-by-step page where the static graph was, and a link to the static graph
    assert '<iframe class="backprop-page" src="../figures/backprop.html"' in page
    assert 'href="../figures/backprop.html"' in page and 'href="../figures/article-graph.svg"' in page
    steps_page = (site / "figures" / "backprop.html").read_text()
    assert steps_page.startswith("<!DOCTYPE html>") and steps_page.count('"text": "') == 92
    texts = figure_texts(site, "article-graph.svg")
    assert "b3" in texts and texts.count("softmax denominator") == 3
    assert any(text.endswith(f"= {gradient}") for text in texts)  # the caption sums the gradient


def test_the_curvature_page_shows_the_rows_terms_and_newtons_steps(site: Path):
    page = (site / "curvature" / "index.html").read_text()
    assert "generated:" not in page
    at_start, at_minimum, newton = tables(page)
    minimum = hand_newton(-2.0, 8)[-1]
    for table, b3 in ((at_start, -2.0), (at_minimum, minimum)):
        terms = hand_curvature_terms(b3)
        for row, (petal, sepal, _), term in zip(table[1:4], ROWS, terms):
            p_setosa = hand_probabilities(petal, sepal, b3)[0]
            assert row[1:] == [f"{p_setosa:.5f}", f"{term:.5f}", f"{term:.5f}"]  # the last by grad() twice
        assert table[4][2] == table[5][3] == f"{hand_curvature(b3):.5f}"
    assert at_start[4][2] == "0.20114" and at_minimum[4][2] == "0.58933"  # FACTS
    assert [row[1] for row in newton[1:]] == [f"{b3:.6f}" for b3 in hand_newton(-2.0, 5)]
    assert [row[1] for row in newton[1:]] == ["-2.000000", "1.844161", "-0.307668", "-0.018753", "-0.031630",
                                              "-0.031653"]  # fmt: skip
    assert [row[2] for row in newton[1:]] == [f"{hand_total(b3):.6f}" for b3 in hand_newton(-2.0, 5)]
    text = " ".join(page.split())
    assert f"to {hand_newton(-2.0, 1)[-1]:.4f}, far past the minimum" in text
    assert f"the gradient {hand_gradient(-2.0):.4f} and the curvature {hand_curvature(-2.0):.4f}" in text
    mean_curvature = -hand_gradient(-2.0) / (minimum + 2.0)
    assert f"average</em> curvature on the way, {mean_curvature:.4f}," in text
    assert 'src="../figures/b3-curve.png"' in page
    code = html.unescape(re.sub(r"<[^>]+>", "", page))  # the function as article.py has it, markup stripped
    assert "(curvature,) = grad(gradient, net.b3)" in code and "def b3_derivatives(" in code


def iris_inputs() -> tuple[list[tuple[float, float]], list[int]]:
    """(petal, sepal) of the 150 flowers min-max scaled exactly, and their species: read from the CSV."""
    with (ROOT / "tinygrad_iris" / "data" / "iris.csv").open() as file:
        rows = list(csv.DictReader(file))
    petal = [float(row["petal_width"]) for row in rows]
    sepal = [float(row["sepal_width"]) for row in rows]
    scaled = [[(x - min(column)) / (max(column) - min(column)) for x in column] for column in (petal, sepal)]
    labels = [("Setosa", "Versicolor", "Virginica").index(row["species"]) for row in rows]
    return list(zip(*scaled)), labels


def hand_probabilities_on(
    inputs: list[tuple[float, float]], labels: list[int], b3: float
) -> tuple[float, int]:
    """(mean cross entropy, flowers right) of the articles' network with this b3, by hand."""
    probabilities = [hand_probabilities(petal, sepal, b3) for petal, sepal in inputs]
    right = sum(p.index(max(p)) == label for p, label in zip(probabilities, labels))
    return sum(-math.log(p[label]) for p, label in zip(probabilities, labels)) / len(labels), right


def test_training_page_shows_the_numbers_and_the_figures(site: Path):
    page = (site / "training" / "index.html").read_text()
    assert "generated:" not in page
    numbers, wrong = tables(page)
    inputs, labels = iris_inputs()
    probabilities = [hand_probabilities(petal, sepal, 0.0) for petal, sepal in inputs]
    correct = sum(p.index(max(p)) == label for p, label in zip(probabilities, labels))
    mean_ce = sum(-math.log(p[label]) for p, label in zip(probabilities, labels)) / len(labels)
    assert correct == 143  # FACTS: the articles' network with b3 = 0
    assert numbers[1][2:] == [f"{mean_ce:.4f}", f"{correct / 150:.1%} ({correct} of 150)"]

    trained = numbers[2]
    assert trained[:2] == [
        "the articles' values (b3 = -2), then 1000 epochs",
        "full batch, Adam, learning rate 0.05",
    ]
    assert 0 < float(trained[2]) < 0.1  # FACTS: about 0.09
    assert trained[3] == "95.3% (143 of 150)"  # FACTS

    # the flowers the trained network gets wrong are the ones the b3 = 0 baseline gets wrong, by hand
    baseline_wrong = [i for i, p in enumerate(probabilities) if p.index(max(p)) != labels[i]]
    assert [int(row[0]) - 1 for row in wrong[1:]] == baseline_wrong
    assert [row[3] for row in wrong[1:]] == [f"{probabilities[i][labels[i]]:.2f}" for i in baseline_wrong]
    twins = {row[0]: row[5] for row in wrong[1:]}
    assert twins["69"] == "120 (Virginica)" and inputs[68] == inputs[119]  # FACTS: the same two widths
    start = hand_probabilities_on(inputs, labels, -2.0)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert f"mean cross entropy {start[0]:.4f}, {start[1]} of 150" in text
    for name in ("training", "hidden-surfaces", "raw-outputs", "decision-regions"):
        assert f'src="../figures/{name}.png"' in page
        assert (site / "figures" / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_every_registered_figure_is_on_the_site(site: Path):
    from tinygrad_iris.figures import FIGURES

    for figure in FIGURES.values():
        assert (site / "figures" / figure.docs_file).stat().st_size > 1000, figure.name


def test_the_cli_page_lists_every_subcommand_with_its_line(site: Path):
    done = subprocess.run([sys.executable, "-m", "tinygrad_iris", "--help"], capture_output=True, text=True)
    listed = re.findall(r"^    (\S+)", done.stdout.split("positional arguments:")[1], re.MULTILINE)
    assert {"table", "optimize-b3", "train", "demo"} <= set(listed)
    page = html.unescape(re.sub(r"<[^>]+>", "", (site / "files-and-cli" / "index.html").read_text()))
    for name in listed:
        assert re.search(rf"^tinygrad-iris {re.escape(name)}: \S", page, re.MULTILINE), name


def test_the_how_to_shows_the_real_entries():
    """docs/files-and-cli.md's worked examples are the code as it is, not a copy that drifted."""
    page = (ROOT / "docs" / "files-and-cli.md").read_text()
    section = page.split("## Adding a figure or a command")[1].split("\n## ")[0]
    figure, command = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert figure in (ROOT / "tinygrad_iris" / "figures.py").read_text()
    assert command in (ROOT / "tinygrad_iris" / "cli.py").read_text()
