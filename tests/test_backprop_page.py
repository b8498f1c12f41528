"""The step-by-step page as a file: self-contained, its steps the record's, and the `backprop` command.

What the page does in a browser is tests/test_backprop_browser.py's.
"""

from __future__ import annotations

import html
import json
import os
import re

import pytest
from test_cli import assert_one_line_error, run

from tinygrad_iris import Value, record_backward
from tinygrad_iris.backprop_page import BackpropPage, View, article_page
from tinygrad_iris.network import IrisNetwork


def page_data(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="backprop-data">(.*?)</script>', text, re.DOTALL)
    assert found
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def article() -> str:
    return article_page().html


def test_the_article_page_is_one_small_file_that_fetches_nothing(article):
    assert article.startswith("<!DOCTYPE html>") and len(article.encode()) < 1_000_000
    assert "default-src 'none'" in article  # the browser refuses any request the page might make
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|url\(|@import", article)
    # the only addresses are the SVG namespaces, which are names, not requests
    assert set(re.findall(r"https?://[^\s\"'<>]+", article)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}  # fmt: skip


def test_its_steps_are_the_records(article):
    net = IrisNetwork()
    total, _ = net.forward_rows()
    record = record_backward(total)
    data = page_data(article)
    assert len(data["steps"]) == len(record) == 92
    assert [step["text"] for step in data["steps"]] == [step.describe() for step in record]
    assert data["seed"] == "1" and data["watch"][0][1] == "b3"
    b3 = data["watch"][0][0]
    sums = [update[2] for step in data["steps"] for update in step["updates"] if update[0] == b3]
    assert sums == [
        "-0.8491 (row 1)",
        "-0.8491 (row 1) +0.03512 (row 2) = -0.814",
        "-0.8491 (row 1) +0.03512 (row 2) +0.0408 (row 3) = -0.7732",
    ]
    shown = [update[1] for step in data["steps"] for update in step["updates"] if update[0] == b3]
    assert shown == ["-0.8491", "-0.814", "-0.7732"]


def test_every_drawn_node_has_a_name_and_an_empty_grad_but_the_seeded_output(article):
    tag = r'<g class="node" data-node="(\d+)" data-name="([^"]*)" data-grad="([^"]*)">'
    groups = re.findall(tag, article)
    assert len(groups) == len(re.findall(r'class="node"', article)) > 116  # four views
    assert len({node for node, _, _ in groups}) == 116
    names = {html.unescape(name) for _, name, _ in groups}
    assert {"b3", "softmax denominator", "cross entropy", "total cross entropy", "relu", "×"} <= names
    assert {grad for _, name, grad in groups if name != "total cross entropy"} == {""}
    assert {grad for _, name, grad in groups if name == "total cross entropy"} == {"1"}
    options = re.findall(r'<option value="\d">([^<]*)</option>', article)
    assert options == [
        "all rows", "row 1: Setosa (petal 0.04, sepal 0.42)", "row 2: Virginica (petal 1.00, sepal 0.54)",
        "row 3: Versicolor (petal 0.50, sepal 0.37)",
    ]  # fmt: skip


def test_a_users_graph_and_the_notebook_display():
    a, b = Value(-3.0, name="a"), Value(2.0, name="b")
    record = record_backward((a * b + b**3).relu())
    page = BackpropPage(record)
    data = page_data(page.html)
    assert [step["text"] for step in data["steps"]] == [step.describe() for step in record]
    assert [name for _, name in data["watch"]] == ["a", "b"]
    assert data["steps"][-1]["updates"][0][2] == "-3 (from ×) +12 (from **3) = 9"
    assert '<label hidden>Show <select id="view">' in page.html  # one view: no menu
    inline = record._repr_html_()
    assert inline == page._repr_html_() and inline.startswith("<iframe srcdoc=")
    assert html.unescape(re.search(r'srcdoc="([^"]*)"', inline).group(1)) == page.html


def test_names_that_look_like_markup_stay_names():
    a, b = Value(2.0, name="</script><!--"), Value(3.0, name="grad 5 & <b>")
    page = BackpropPage(record_backward(a * b))
    data = page_data(page.html)
    assert page.html.count("</script>") == 2  # the data's and the script's own
    assert [name for _, name in data["watch"]] == ["</script><!--", "grad 5 & <b>"]
    assert 'data-name="grad 5 &amp; &lt;b&gt;"' in page.html
    assert 'data-name="&lt;/script&gt;&lt;!--"' in page.html
    assert data["steps"][0]["updates"][1][1] == "2"  # b's grad, d(ab)/db = a, on b's grad line
    assert 'font-weight="bold" font-size="10.00">grad 5 &amp; &lt;b&gt;</text>' in page.html  # its name, kept
    assert re.search(r'data-name="grad 5 &amp; &lt;b&gt;".*?<text class="grad"[^>]*>grad</text>', page.html,
                     re.DOTALL)


def test_a_page_refuses_what_it_cannot_draw():
    a = Value(1.0, name="a")
    record = record_backward(a * 2.0)
    with pytest.raises(TypeError, match="BackpropPage: expected a BackwardRecord, got Value"):
        BackpropPage(a)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="view 'other' draws a node that is not in the graph"):
        BackpropPage(record, views=[View("other", Value(2.0))])
    with pytest.raises(ValueError, match="watched a is not in the graph"):
        BackpropPage(record_backward(Value(3.0) * 2.0), watch=[a])


# ----- tinygrad-iris backprop --------------------------------------------------------------------------
def test_backprop_writes_backprop_html_by_default(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "backprop")
    assert status == 0 and err == ""
    assert out.startswith("wrote backprop.html (") and "at b3 = -2" in out and "works offline" in out
    assert os.listdir(tmp_path) == ["backprop.html"]
    assert len(page_data((tmp_path / "backprop.html").read_text())["steps"]) == 92


def test_backprop_at_another_b3_replaces_an_existing_file_whole(capsys, tmp_path):
    path = tmp_path / "steps.html"
    path.write_text("old")
    status, out, err = run(capsys, "backprop", "--b3", "-1e-1", "-o", str(path))
    assert status == 0 and err == "" and f"wrote {path}" in out
    text = path.read_text()
    assert "at b3 = -0.1: total cross entropy" in text and os.listdir(tmp_path) == ["steps.html"]


@pytest.mark.parametrize(
    ("argv", "status", "words"),
    [
        (["-o", "page.txt"], 2, "'page.txt' must end in .html"),
        (["--b3", "nan"], 2, "--b3: 'nan' is not a finite number"),
        (["--b3", "1000"], 2, "outside [-100, 100]"),
        (["--colour"], 2, "unrecognized arguments: --colour"),
        (["-o", "no/such/folder/page.html"], 1, "cannot write no/such/folder/page.html: no directory"),
        (["-o", "."], 2, "must end in .html"),
    ],
)
def test_backprop_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, status, words):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(*run(capsys, "backprop", *argv), status, words)
    assert os.listdir(tmp_path) == []


def test_backprop_into_a_folder_named_like_a_page_is_refused(capsys, tmp_path):
    (tmp_path / "page.html").mkdir()
    assert_one_line_error(*run(capsys, "backprop", "-o", str(tmp_path / "page.html")), 1, "it is a directory")
