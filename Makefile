# The project's front door. Every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
comma := ,

.PHONY: test demo bench fuzz docs lint dot clean

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

test: $(VENV)/.installed-dev-plot dot
	$(PY) -m pytest -q

lint: $(VENV)/.installed-dev-plot
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

demo: $(VENV)/.installed-dev-plot dot
	$(PY) examples/first_value.py

clean:
	rm -rf $(VENV) site out .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Timing against the hand-written NumPy floor and the peers (docs/performance.md explains the table).
bench: $(VENV)/.installed-bench dot
	$(PY) -m benchmarks --json out/bench.json --plot out/bench_scaling.png
