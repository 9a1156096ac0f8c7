# snapshot_runner: the README's commands. Every target installs first if needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The reference torch: the CPU wheel on these machines. Always pinned: an
# unpinned torch pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
PYTEST := $(PY) -m pytest

.PHONY: install test snapshot snapshot-update bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)" numpy
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]" "$(TORCH_SPEC)"
	@touch $(STAMP)

# Everything: unit tests, bad-input tests, determinism checks and the golden check.
test: install
	$(PYTEST) -n 2 -q

# Golden check only.
snapshot: install
	$(PYTEST) -n 2 -q tests/test_goldens.py

# Rewrite goldens: new ones written, changed ones rewritten, deleted cases' removed.
snapshot-update: install
	$(PYTEST) -q tests/test_goldens.py --snapshot-update

# Capture speed: the tool vs a bare recording loop, and `make snapshot` -n 2 vs serial.
bench: install
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .pytest_cache
