"""MkDocs hooks: every figure and generated number in these docs is produced by the project's code
while the site builds, so the pages cannot drift from the code.

- ``FIGURES`` maps a file path inside the site to a function returning that file's bytes; pages
  link to the path like any other file (``![graph](figures/first-graph.svg)``).
- ``SNIPPETS`` maps a name to a function returning Markdown; a page writes
  ``<!-- generated: name -->`` where that text goes. An unknown name fails the build.
"""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

import tinygrad_iris as ti

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PLACEHOLDER = re.compile(r"<!-- generated: ([\w-]+) -->")


def _example(name: str) -> dict[str, Any]:
    """Run examples/<name>.py as a module (not as __main__) and return its globals."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


def first_graph_svg() -> bytes:
    return ti.render_bytes(_example("first_graph")["first_graph"](), "svg")


def example_output(name: str) -> str:
    """What examples/<name>.py prints when run, as a fenced text block."""
    printed = io.StringIO()
    argv = sys.argv
    try:
        sys.argv = [f"{name}.py"]
        with contextlib.redirect_stdout(printed):
            runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    finally:
        sys.argv = argv
    return f"```text\n{printed.getvalue().rstrip()}\n```"


FIGURES: dict[str, Callable[[], bytes]] = {
    "figures/first-graph.svg": first_graph_svg,
}
SNIPPETS: dict[str, Callable[[], str]] = {
    "first_value_output": lambda: example_output("first_value"),
    "gradcheck_bug_output": lambda: example_output("gradcheck_catches_a_bug"),
}


def on_files(files: Files, config: Any) -> Files:
    for path, make in FIGURES.items():
        files.append(File.generated(config, path, content=make()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in SNIPPETS:
            raise PluginError(f"{page.file.src_uri}: no generated snippet named {name!r} in docs/hooks.py")
        return SNIPPETS[name]()

    return PLACEHOLDER.sub(fill, markdown)
