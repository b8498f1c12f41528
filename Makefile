# The project's front door. Every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
comma := ,

.PHONY: test demo bench fuzz fuzz-io docs lint dot browser clean

$(VENV)/.installed-%: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(subst -,$(comma),$*)]"
	@touch $@

# Graphviz's `dot` program renders the computation graph (the Python package only writes DOT).
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "Graphviz 'dot' is missing: install it with 'sudo apt-get install graphviz', 'brew install graphviz' or 'conda install graphviz'"; \
	  fi; }

# Debian's Chromium runs the browser tests of the step-by-step page (tests/test_backprop_browser.py),
# driven by Playwright; Playwright's own browser download is not used.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing (the browser tests need /usr/bin/chromium): install it with 'sudo apt-get install chromium'"; \
	  fi; }

# KaTeX, which typesets the docs' math while the site builds, from the npm registry (package-lock.json).
KATEX := node_modules/.package-lock.json
$(KATEX): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing (the docs' math needs Node.js): install it with 'sudo apt-get install nodejs npm'"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

# The suite across the cores (pytest-xdist; JOBS=0 runs it in one process), a test file per worker at a
# time so a file's shared fixture (the docs site, the benchmark run) is built once. Each worker loads the
# derandomized "ci" profile and every project module in tests/conftest.py: every run draws the same examples.
JOBS ?= auto
test: $(VENV)/.installed-test dot browser $(KATEX)
	$(PY) -m pytest -q -n $(JOBS) --dist loadscope

lint: $(VENV)/.installed-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

demo: $(VENV)/.installed-plot dot
	$(PY) -m tinygrad_iris demo

# The documentation site, built into site/; every figure and generated number comes from docs/hooks.py.
docs: $(VENV)/.installed-docs dot $(KATEX)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) node_modules site out .pytest_cache .mypy_cache .ruff_cache .hypothesis

# A long random session of the program fuzzer (docs/reliability.md): at most FUZZ_EXAMPLES programs
# or FUZZ_SECONDS seconds. A failure is shrunk, printed as a script and saved in .hypothesis/examples,
# so the next `make fuzz` tries it first.
FUZZ_EXAMPLES ?= 20000
FUZZ_SECONDS ?= 600
fuzz: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  $(PY) -m pytest -q -s -p no:cacheprovider tests/test_fuzz.py::test_random_programs

# Timing against the hand-written NumPy floor and the peers (docs/performance.md explains the table).
bench: $(VENV)/.installed-bench dot
	$(PY) -m benchmarks --json out/bench.json --plot out/bench_scaling.png

# A long random session of the parameter-file, iris-CSV and CLI fuzzers (docs/files-and-cli.md):
# FUZZ_IO_EXAMPLES per test (ten times as many for the fast CSV tests); about 15 minutes at 1000.
.PHONY: fuzz-io
FUZZ_IO_EXAMPLES ?= 1000
fuzz-io: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_IO_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
	  --hypothesis-show-statistics tests/test_files.py tests/test_iris_fuzz.py tests/test_cli_hostile.py
