"""The derandomized profile draws the same examples in every process, whatever it imported before.

hypothesis mixes constants from the project modules loaded so far into its draws; tests/conftest.py
imports them all up front, so a pytest-xdist worker, a serial run and a single test file agree.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DRAW = """
import sys
sys.path[:0] = [{tests!r}, {root!r}]
{imports}
import hashlib, conftest
from hypothesis import given
from tinygrad_iris.testing import programs
drawn = []
given(program=programs())(lambda program: drawn.append(repr(program)))()
print(hashlib.sha256("".join(drawn).encode()).hexdigest())
"""


def draws_after(imports: str) -> str:
    code = DRAW.format(tests=str(ROOT / "tests"), root=str(ROOT), imports=imports)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_ci_profile_draws_the_same_programs_whatever_was_imported_first():
    # without conftest's imports these two differ: plots and the benchmark report bring their constants
    assert draws_after("") == draws_after("import tinygrad_iris.plots, benchmarks.report")
