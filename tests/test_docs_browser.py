"""The documentation site in a real browser: Debian's Chromium, driven by Playwright.

Every page, at a desktop width and at a phone's (390 px): nothing runs past the right edge (no code
block, table, formula, figure or signature wider than its box, the page no wider than the window),
the math is typeset in KaTeX's own fonts, each page links to the next, a figure enlarges in place,
and no page asks any other host for anything. `make test` installs Chromium (`make browser`); the
``browser`` fixture (tests/conftest.py) is shared with the step-by-step page's tests.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page
from test_docs import ROOT, build_site

WIDTHS = (1280, 390)
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const boxes = '.md-content pre, .md-content table, .md-content .katex-display, .md-content img,'
    + ' .md-content iframe, .md-content .doc-signature';
  const wide = [];
  for (const box of document.querySelectorAll(boxes)) {
    const right = box.getBoundingClientRect().right;
    if (box.scrollWidth > box.clientWidth + 1 || right > width + 1)
      wide.push(`${box.tagName}.${box.className} ${box.scrollWidth}px in ${box.clientWidth}px: `
        + (box.textContent || '').trim().slice(0, 50));
  }
  return {page: document.documentElement.scrollWidth, width, wide};
}"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the test's output stays the test's
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """The project's site, built and served on localhost: (base URL, every page's path)."""
    site = tmp_path_factory.mktemp("docs") / "site"
    result = build_site(ROOT, site)
    assert result.returncode == 0, result.stderr
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pages = sorted(
        "" if path.parent == site else path.parent.relative_to(site).as_posix() + "/"
        for path in site.glob("**/index.html")
        if "figures" not in path.parts
    )
    yield f"http://127.0.0.1:{server.server_port}/", pages
    server.shutdown()


class Visit:
    """One browser tab at one width, recording console errors and requests to other hosts."""

    def __init__(self, browser: Browser, base: str, width: int):
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.elsewhere: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "request",
            lambda request: request.url.startswith((base, "data:", "blob:", "about:"))
            or self.elsewhere.append(request.url),
        )

    def open(self, path: str) -> Page:
        self.page.goto(self.base + path, wait_until="load")
        self.page.evaluate("document.fonts.ready.then(() => true)")  # KaTeX's fonts, before measuring
        return self.page


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_runs_past_the_right_edge_or_asks_another_host(browser, served, width):
    base, pages = served
    assert len(pages) >= 10
    visit = Visit(browser, base, width)
    for path in pages:
        found = visit.open(path).evaluate(OVERFLOW)
        assert found["page"] <= found["width"] and found["wide"] == [], (path, width, found)
    assert visit.elsewhere == [] and visit.errors == []
    visit.context.close()


def test_math_is_typeset_in_katex_fonts(browser, served):
    base, _ = served
    page = Visit(browser, base, 1280).open("walkthrough/")
    assert page.locator(".katex-display").count() >= 4
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('20px KaTeX_Main') && document.fonts.check('20px KaTeX_Math')")
    line = page.locator(".md-content p").first.evaluate("p => parseFloat(getComputedStyle(p).lineHeight)")
    softmax = page.locator(".katex-display").first.bounding_box()
    assert softmax is not None and softmax["height"] > 1.5 * line  # a real fraction, over two lines


def test_each_page_links_to_the_previous_and_the_next(browser, served):
    base, _ = served
    page = Visit(browser, base, 1280).open("")
    assert page.locator(".md-footer__link--prev").count() == 0
    page.locator(".md-footer__link--next").click()
    page.wait_for_load_state("load")
    assert page.url == base + "coming-from-micrograd/"
    assert page.locator(".md-footer__link--prev").get_attribute("href") in ("..", "../")


def test_a_figure_enlarges_in_place(browser, served):
    base, _ = served
    page = Visit(browser, base, 1280).open("training/")
    figure = page.locator('a.glightbox img[src$="training.png"]')
    figure.click()
    inline = figure.bounding_box()
    assert inline is not None
    # once the opening animation is over, the figure is larger than on the page, and still on it
    page.wait_for_function(
        """(inline) => {
            const image = document.querySelector('.gslide.current .gslide-image img');
            return image !== null && image.getBoundingClientRect().width > inline;
        }""",
        arg=inline["width"],
        timeout=10_000,
    )
    assert page.url == base + "training/"
