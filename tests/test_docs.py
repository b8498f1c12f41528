"""The documentation site builds with --strict, and the examples its pages include still run."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

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


def test_mkdocs_build_strict_succeeds_with_generated_figures_and_numbers(tmp_path: Path):
    site = tmp_path / "site"
    result = build_site(ROOT, site)
    assert result.returncode == 0, result.stderr
    figure = ET.fromstring((site / "figures" / "first-graph.svg").read_bytes())
    texts = [element.text for element in figure.iter("{http://www.w3.org/2000/svg}text")]
    assert "a" in texts and "c" in texts
    index = (site / "index.html").read_text()
    assert "dc/da = 2.5000, dc/db = 9.7500" in index  # printed by examples/first_value.py at build time
    assert "generated:" not in index
    checking = (site / "gradient-checking" / "index.html").read_text()
    assert "finite differences give 2.56169" in checking
    api = (site / "api" / "index.html").read_text()
    for name in ("engine.Value", "gradcheck.gradcheck", "testing.broadcastable_shapes", "render.draw_graph"):
        assert f'id="tinygrad_iris.{name}"' in api


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
    module["test_softplus_gradient"]()
    module["test_softplus_of_a_broadcast_product"]()
