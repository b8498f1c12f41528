"""The figure registry: every figure has one entry, and an entry is all a new figure needs."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from test_cli import run

from tinygrad_iris import cli, figures
from tinygrad_iris.files import format_from_name

HOOKS = Path(__file__).resolve().parent.parent / "docs" / "hooks.py"


def test_each_figure_is_written_in_a_format_it_can_take():
    assert list(figures.FIGURES) == [
        "curve", "graph", "backprop", "training", "hidden_surfaces", "raw_outputs", "decision_regions",
    ]  # fmt: skip
    for name, figure in figures.FIGURES.items():
        assert figure.name == name
        assert format_from_name(figure.file) in figure.formats, name
        assert format_from_name(figure.docs_file) in figure.formats, name
    assert len({figure.file for figure in figures.FIGURES.values()}) == len(figures.FIGURES)


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="figure 'curve' is registered twice"):
        figures.figure("curve", "again.png", "again.png", ("png",))(lambda inputs, format: b"")


@pytest.fixture
def a_new_figure(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str]]:
    """One more entry in a copy of the registry, a text file; returns what it was asked to draw."""
    monkeypatch.setattr(figures, "FIGURES", dict(figures.FIGURES))
    monkeypatch.setattr(cli, "FIGURES", figures.FIGURES)
    asked: list[tuple[float, str]] = []

    @figures.figure("note", file="note.txt", docs_file="note.txt", formats=("txt",))
    def note(inputs: figures.Inputs, format: str) -> bytes:
        asked.append((inputs.b3, format))
        return f"b3 is {inputs.b3:g}\n".encode()

    return asked


def test_a_new_entry_is_written_by_the_demo(capsys, tmp_path, monkeypatch, a_new_figure):
    monkeypatch.setattr(cli, "DEFAULT_EPOCHS", 3)  # the training is not under test
    status, out, err = run(capsys, "demo", "--out", str(tmp_path))
    assert status == 0 and err == ""
    assert (tmp_path / "note.txt").read_text() == "b3 is -2\n" and a_new_figure == [(-2.0, "txt")]
    assert f"  {tmp_path / 'note.txt'}\n" in out and f"wrote 9 files to {tmp_path}/" in out


def test_a_new_entry_is_on_the_docs_site(a_new_figure):
    hooks = runpy.run_path(str(HOOKS))  # the module docs/hooks.py, as mkdocs loads it
    assert "figures/note.txt" in hooks["FIGURES"]
    assert hooks["FIGURES"]["figures/note.txt"]() == b"b3 is -2\n"
    for figure in figures.FIGURES.values():
        assert f"figures/{figure.docs_file}" in hooks["FIGURES"]


def test_the_inputs_train_once_and_only_when_asked(monkeypatch):
    calls = []
    real_train = figures.train

    def counted(*args, **kwargs):
        calls.append(args)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(figures, "train", counted)
    inputs = figures.Inputs(b3=0.5)
    figures.FIGURES["graph"].render(inputs, "dot")
    assert calls == []  # the graph needs no training
    trained = inputs.trained
    assert inputs.trained is trained and len(calls) == 1
    assert trained.accuracy >= 0.95 and trained.history.loss[-1] < 0.1  # FACTS: 95.3%, about 0.09
