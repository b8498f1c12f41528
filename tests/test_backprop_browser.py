"""The step-by-step page in a real browser: Debian's Chromium, driven by Playwright.

`make test` installs Chromium when it is missing (the Makefile's ``browser`` target), as it installs
Graphviz; without it these tests fail, they are never skipped. Every test also checks that the page
logged no console error and requested nothing but its own file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from article_reference import ROWS, hand_gradient, hand_probabilities
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tinygrad_iris import Value, record_backward
from tinygrad_iris.backprop_page import BackpropPage, article_page

VISIBLE = ".view:not([hidden])"


@pytest.fixture(scope="session")
def article_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return article_page().write(tmp_path_factory.mktemp("page") / "backprop.html")


class Opened:
    """A page opened from a file, with what it logged and what it asked the network for."""

    def __init__(self, browser: Browser, path: Path):
        self.url = path.as_uri()
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(self.url)

    def click(self, name: str, times: int = 1) -> None:
        button = self.page.get_by_role("button", name=name, exact=True)
        for _ in range(times):
            button.click()

    def grad(self, name: str) -> str:
        return self.page.locator(f'{VISIBLE} g.node[data-name="{name}"]').get_attribute("data-grad") or ""

    def state(self) -> dict[str, Any]:
        """Everything a step changes: each drawn node's data-grad and classes, the words, the buttons."""
        return self.page.evaluate(
            """() => ({
                nodes: Array.from(document.querySelectorAll('g.node'))
                    .map(g => [g.dataset.grad, g.getAttribute('class')]),
                edges: Array.from(document.querySelectorAll('g.edge.flow')).length,
                status: document.getElementById('status').textContent,
                watch: document.getElementById('watch').textContent,
                previous: document.getElementById('previous').disabled,
                next: document.getElementById('next').disabled,
            })"""
        )

    def close(self) -> None:
        self.context.close()
        assert self.errors == []
        assert set(self.requests) == {self.url}


@pytest.fixture
def opened(browser: Browser, article_file: Path) -> Iterator[Opened]:
    page = Opened(browser, article_file)
    yield page
    page.close()


def test_clicking_through_every_step_b3_gathers_its_three_paths(opened: Opened):
    assert opened.page.get_by_role("button", name="Previous step").is_disabled()
    assert opened.grad("b3") == "" and opened.grad("total cross entropy") == "1"
    seen = [opened.grad("b3")]
    steps = 0
    while not opened.page.get_by_role("button", name="Next step").is_disabled():
        opened.click("Next step")
        steps += 1
        if opened.grad("b3") != seen[-1]:
            seen.append(opened.grad("b3"))
    terms = [hand_probabilities(petal, sepal, -2.0)[0] - (species == 0) for petal, sepal, species in ROWS]
    assert steps == 92
    assert seen == ["", f"{terms[0]:.4g}", f"{terms[0] + terms[1]:.4g}", f"{hand_gradient(-2.0):.4g}"]
    assert seen[-1] == "-0.7732"
    assert opened.page.get_by_role("status").text_content().startswith("Step 92 of 92: ")
    assert opened.page.locator("#watch div").first.text_content() == (
        "b3's gradient: -0.8491 (row 1) +0.03512 (row 2) +0.0408 (row 3) = -0.7732"
    )
    # every node that takes a gradient shows one now, and each its line on the drawing
    for node in opened.page.locator(f"{VISIBLE} g.node:has(text.grad)").all():
        grad = node.get_attribute("data-grad")
        assert grad and node.locator("text.grad").text_content() == f"grad {grad}"


def test_the_live_region_says_what_each_step_does(opened: Opened):
    status = opened.page.get_by_role("status")
    assert "Press “Next step”" in status.text_content()
    opened.click("Next step", 11)
    assert status.text_content() == (
        "Step 11 of 92: raw Setosa: upstream -0.8491 × local 1 (d/da (a + b) = 1) → adds -0.8491 to +; "
        "and × local 1 (d/db (a + b) = 1) → adds -0.8491 to b3"
    )
    current = opened.page.locator(f"{VISIBLE} g.node.current")
    assert current.count() == 1 and current.get_attribute("data-name") == "raw Setosa"
    reached = opened.page.locator(f"{VISIBLE} g.node.reached").all()
    assert {node.get_attribute("data-name") for node in reached} == {"b3", "+"}
    assert opened.page.locator(f"{VISIBLE} g.edge.flow").count() == 2
    opened.click("Next step", 10)  # the relu of row 1's upper node has now had its three parts
    assert "Gradients meet at relu: 0.08491 (from ×) +0.9518 (from ×) -0.9956 (from ×) = 0.04111" in (
        opened.page.locator("#watch").text_content()
    )


def test_previous_undoes_exactly_one_step_and_reset_goes_back_to_the_start(opened: Opened):
    start = opened.state()
    opened.click("Next step")
    first = opened.state()
    opened.click("Next step", 39)
    at_40 = opened.state()
    opened.click("Next step")
    assert opened.state() != at_40
    opened.click("Previous step")
    assert opened.state() == at_40
    opened.page.keyboard.press("ArrowRight")
    opened.page.keyboard.press("ArrowLeft")
    assert opened.state() == at_40
    opened.click("Previous step", 39)
    assert opened.state() == first
    opened.click("Previous step")
    assert opened.state() == start and start["previous"] and not start["next"]
    opened.page.keyboard.press("ArrowRight")
    assert opened.state() == first
    opened.click("Next step", 5)
    opened.click("Reset")
    assert opened.state() == start


def test_play_reaches_the_end(opened: Opened):
    opened.page.get_by_label("Speed").select_option(label="fastest")
    opened.click("Play")
    assert opened.page.get_by_role("button", name="Pause").get_attribute("aria-pressed") == "true"
    expect(opened.page.get_by_role("button", name="Next step")).to_be_disabled(timeout=30_000)
    assert opened.page.get_by_role("button", name="Play").get_attribute("aria-pressed") == "false"
    assert opened.grad("b3") == "-0.7732"
    assert opened.page.locator("#counter").text_content() == "step 92 of 92"


def text_height(opened: Opened, selector: str) -> float:
    box = opened.page.locator(selector).first.bounding_box()
    assert box is not None
    return box["height"]


def test_one_row_alone_is_legible_and_the_view_follows_the_current_node(opened: Opened):
    everything = opened.page.locator(f"{VISIBLE} g.node").count()
    opened.page.get_by_label("Show").select_option(label="row 1: Setosa (petal 0.04, sepal 0.42)")
    assert opened.page.locator(f"{VISIBLE} g.node").count() < everything / 2
    viewport = opened.page.locator("#stage").bounding_box()
    assert viewport is not None
    for step in range(1, 12):  # row 1's path from its cross entropy down to b3
        opened.click("Next step")
        current = f"{VISIBLE} g.node.current"
        if step <= 2:  # the total and its first sum: drawn only in "all rows"
            assert opened.page.locator(current).count() == 0
            continue
        box = opened.page.locator(current).bounding_box()
        assert box is not None
        assert viewport["x"] <= box["x"] and box["x"] + box["width"] <= viewport["x"] + viewport["width"]
        assert viewport["y"] <= box["y"] and box["y"] + box["height"] <= viewport["y"] + viewport["height"]
        assert text_height(opened, f"{current} text") >= 9  # 10-point labels at no less than 9 pixels
    b3 = opened.page.locator(f'{VISIBLE} g.node[data-name="b3"]')
    assert b3.get_attribute("data-grad") == "-0.8491" and "reached" in (b3.get_attribute("class") or "")
    assert text_height(opened, f'{VISIBLE} g.node[data-name="b3"] text') >= 9
    # the other rows' views got the same step
    opened.page.get_by_label("Show").select_option(label="all rows")
    assert opened.grad("b3") == "-0.8491"


def view_box(opened: Opened) -> list[float]:
    return [float(x) for x in opened.page.locator(f"{VISIBLE} svg").get_attribute("viewBox").split()]


def test_pan_and_zoom(opened: Opened):
    fitted = view_box(opened)
    drawing = opened.page.locator(f"{VISIBLE} svg").bounding_box()
    assert drawing is not None
    middle = (drawing["x"] + drawing["width"] / 2, drawing["y"] + drawing["height"] / 2)
    opened.page.mouse.move(*middle)
    opened.page.mouse.wheel(0, -400)
    zoomed = view_box(opened)
    assert zoomed[2] < fitted[2] / 1.5  # in, around the pointer
    opened.page.mouse.down()
    opened.page.mouse.move(middle[0] + 200, middle[1] + 50)
    opened.page.mouse.up()
    panned = view_box(opened)
    assert panned[0] < zoomed[0] and panned[1] < zoomed[1] and panned[2:] == pytest.approx(zoomed[2:])
    opened.click("Zoom out")
    assert view_box(opened)[2] > panned[2]
    opened.click("Fit")
    assert view_box(opened) == fitted


def test_a_screenshot_is_not_blank(opened: Opened, tmp_path: Path):
    opened.page.get_by_label("Show").select_option(label="row 1: Setosa (petal 0.04, sepal 0.42)")
    opened.click("Next step", 11)
    png = opened.page.screenshot(path=str(tmp_path / "backprop-step-11.png"))
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert pixels.shape == (800, 1280, 3)
    assert np.mean(r + g + b < 600) > 0.03 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    # the current node's highlight (blue) and b3's path (pink) are both on screen
    assert np.sum((b > 180) & (r < 60)) > 200 and np.sum((r > 190) & (g < 60) & (b > 90)) > 200


def test_a_users_small_graph(browser: Browser, tmp_path: Path):
    a, b = Value(-3.0, name="a"), Value(2.0, name="b")
    path = BackpropPage(record_backward((a * b + b**3).relu())).write(tmp_path / "user.html")
    opened = Opened(browser, path)
    assert opened.page.locator("#view").is_hidden()  # one drawing: nothing to choose
    grads = [(opened.grad("a"), opened.grad("b"), opened.grad("relu"))]
    while not opened.page.get_by_role("button", name="Next step").is_disabled():
        opened.click("Next step")
        grads.append((opened.grad("a"), opened.grad("b"), opened.grad("relu")))
    # d/da relu(ab + b^3) = b = 2, d/db = a + 3b^2 = -3 + 12 = 9, reached through a*b first
    assert grads == [("", "", "1"), ("", "", "1"), ("", "", "1"), ("2", "-3", "1"), ("2", "9", "1")]
    assert opened.page.locator("#watch").text_content() == (
        "a's gradient: 2 (from ×)b's gradient: -3 (from ×) +12 (from **3) = 9"
    )
    opened.page.screenshot(path=str(tmp_path / "user.png"))
    opened.close()


def test_an_array_gradient_fills_its_nodes_lines(browser: Browser, tmp_path: Path):
    W = Value(np.array([[0.5, -1.0, 0.2], [1.5, 0.3, -0.7]]), name="W")
    x = np.array([[0.04, 0.42], [1.00, 0.54]])
    loss = ((x @ W).tanh() * 2.0).sum()
    opened = Opened(browser, BackpropPage(record_backward(loss)).write(tmp_path / "arrays.html"))
    opened.click("Next step", 4)
    node = opened.page.locator('g.node[data-name="W"]')
    lines = node.locator("text.grad, text.grad-more").all_text_contents()
    grad = node.get_attribute("data-grad")
    assert len(lines) == 2 and " ".join(lines) == f"grad {grad}"
    assert grad.startswith("(2, 3) [[") and grad.endswith("]]")
    for place in node.locator("text.grad, text.grad-more").all():  # inside the node's box
        box, outline = place.bounding_box(), node.locator("path").first.bounding_box()
        assert outline["x"] <= box["x"] and box["x"] + box["width"] <= outline["x"] + outline["width"]
    opened.close()


def test_the_notebook_display_works_in_its_frame(browser: Browser, tmp_path: Path):
    a, b = Value(-3.0, name="a"), Value(2.0, name="b")
    record = record_backward((a * b + b**3).relu())
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><html><body><p>a cell's output:</p>{record._repr_html_()}</body></html>")
    opened = Opened(browser, host)
    frame = opened.page.frame_locator("iframe")
    for _ in range(4):
        frame.get_by_role("button", name="Next step").click()
    assert frame.locator('g.node[data-name="b"]').get_attribute("data-grad") == "9"
    assert frame.get_by_role("button", name="Next step").is_disabled()
    opened.requests = [url for url in opened.requests if url != "about:srcdoc"]
    opened.close()
