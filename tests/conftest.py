"""Hypothesis profiles: "ci" (the default) is derandomized with a fixed budget; "fuzz" is long and random.

Every process of the suite (each pytest-xdist worker too) loads the profile here, and imports every
module of the project first: hypothesis mixes the constants of the project modules loaded so far into
what it draws, so without this the "same" derandomized examples would depend on which tests a process
happened to run before (tests/test_determinism.py).
"""

import importlib
import os
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=40,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    deadline=None,
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    database=DirectoryBasedExampleDatabase(os.path.join(os.path.dirname(__file__), "../.hypothesis/fuzz")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def project_modules() -> list[str]:
    """Every module of the package and of the benchmarks, but the ``__main__`` entry points."""
    names = []
    for package in ("tinygrad_iris", "benchmarks"):
        path = importlib.import_module(package).__path__
        names += [package] + [m.name for m in pkgutil.walk_packages(path, package + ".")]
    return [name for name in names if not name.endswith(".__main__")]


for _module in project_modules():
    importlib.import_module(_module)


CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own download is not used


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per process: Playwright's sync API allows only one."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()
