"""`tinygrad-iris graph`: the three rows' graph with b3's paths highlighted, to a file or to stdout."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from article_reference import hand_gradient
from test_cli import PNG_MAGIC, assert_one_line_error, run

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(data: bytes) -> list[str]:
    return [element.text or "" for element in ET.fromstring(data).iter(f"{SVG}text")]


def test_graph_writes_graph_svg_by_default(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "graph")
    assert status == 0 and err == ""
    assert out.startswith("wrote graph.svg (svg)")
    texts = svg_texts((tmp_path / "graph.svg").read_bytes())
    assert "b3" in texts and texts.count("softmax denominator") == 3
    assert any(f"= {hand_gradient(-2.0):.4f}" in text for text in texts)  # the caption's sum, -0.7732
    assert os.listdir(tmp_path) == ["graph.svg"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("argv", "magic"),
    [
        (["-o", "g.png"], PNG_MAGIC),
        (["-o", "g.PDF"], b"%PDF"),
        (["-o", "g.dot"], b"digraph computation_graph {"),
        (["-o", "g.gv"], b"digraph computation_graph {"),
        (["-o", "g.txt", "--format", "svg"], b"<?xml"),
        (["-o", "g.svg", "--format", "png"], PNG_MAGIC),
    ],
)
def test_the_format_follows_the_extension_unless_given(capsys, tmp_path, argv, magic):
    argv[1] = str(tmp_path / argv[1])
    status, out, err = run(capsys, "graph", *argv)
    assert status == 0 and err == "" and out.startswith(f"wrote {argv[1]}")
    assert (tmp_path / argv[1]).read_bytes().startswith(magic)


def test_dash_writes_dot_text_to_stdout_by_default(capsys):
    status, out, err = run(capsys, "graph", "--b3", "0.5", "-o", "-")
    assert status == 0 and err == ""
    assert out.startswith("digraph computation_graph {") and out.endswith("}\n")
    assert "at b3 = 0.5" in out and f"= {hand_gradient(0.5):.4g}" in out


def test_dash_writes_rendered_bytes_to_stdout_via_python_m(tmp_path):
    for format, magic in [("png", PNG_MAGIC), ("pdf", b"%PDF"), ("svg", b"<?xml")]:
        done = subprocess.run(
            [sys.executable, "-m", "tinygrad_iris", "graph", "-o", "-", "--format", format],
            capture_output=True,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 0 and done.stderr == b""
        assert done.stdout.startswith(magic)
    assert os.listdir(tmp_path) == []


def test_an_existing_file_is_replaced_whole(capsys, tmp_path):
    path = tmp_path / "graph.dot"
    path.write_text("old")
    assert run(capsys, "graph", "-o", str(path))[0] == 0
    assert path.read_text().startswith("digraph") and os.listdir(tmp_path) == ["graph.dot"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-o", "graph.jpeg"], "cannot tell the format of 'graph.jpeg'"),
        (["-o", "graph"], "pass --format"),
        (["--format", "gif"], "invalid choice: 'gif'"),
        (["--b3", "nan"], "--b3: 'nan' is not a finite number"),
        (["--b3=-1e9"], "outside [-100, 100]"),
    ],
)
def test_graph_usage_errors_exit_2_with_one_line(capsys, tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(*run(capsys, "graph", *argv), 2, "error:", words)
    assert os.listdir(tmp_path) == []


def test_graph_runtime_errors_exit_1_with_one_line(capsys, tmp_path):
    (tmp_path / "folder.svg").mkdir()
    cases = [
        (["-o", str(tmp_path / "no" / "graph.svg")], "cannot write", "no directory"),
        (["-o", str(tmp_path / "folder.svg")], "it is a directory"),
    ]
    for argv, *words in cases:
        assert_one_line_error(*run(capsys, "graph", *argv), 1, "tinygrad-iris: error:", *words)
    assert os.listdir(tmp_path) == ["folder.svg"]


@pytest.mark.parametrize(("command", "file"), [("graph", "graph.svg"), ("backprop", "backprop.html")])
def test_missing_dot_is_one_line_with_the_install_hint_and_touches_nothing(
    capsys, tmp_path, monkeypatch, command, file
):
    path = tmp_path / file
    path.write_text("the user's file")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert shutil.which("dot") is None
    status, out, err = run(capsys, command, "-o", str(path))
    assert_one_line_error(status, out, err, 1, "'dot' program was not found", "apt-get install graphviz")
    assert path.read_text() == "the user's file" and os.listdir(tmp_path) == [file]
    if command == "graph":
        status, out, err = run(capsys, "graph", "-o", "-")  # DOT text needs no Graphviz program
        assert status == 0 and out.startswith("digraph")


def test_demo_without_dot_writes_the_graph_as_dot_text(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    status, out, err = run(capsys, "demo", "--out", str(tmp_path / "out"))
    assert status == 0
    assert err.count("\n") == 2 and err.count("warning:") == 2 and "writing graph.dot instead" in err
    assert "backprop.html needs it and is not written" in err
    assert not (tmp_path / "out" / "backprop.html").exists() and "in a browser" not in out
    assert (tmp_path / "out" / "graph.dot").read_text().startswith("digraph")
    assert str(tmp_path / "out" / "graph.dot") in out
    assert not (tmp_path / "out" / "graph.svg").exists()


def test_graph_has_help(capsys):
    status, out, err = run(capsys, "graph", "--help")
    assert status == 0 and out.startswith("usage: tinygrad-iris graph") and err == ""
    assert "--format {svg,png,pdf,dot}" in out
