# snapshot_runner: the commands of README.md and docs/contributing.md. Every target installs first if needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The reference torch: the CPU wheel on these machines. Always pinned: an
# unpinned torch pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
PYTEST := $(PY) -m pytest

.PHONY: nightly install lint test test-example test-torch snapshot snapshot-update bench bench-workers bench-db bench-serve bench-envs bench-bounds gpu-capture snapshot-gpu clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)" numpy
	@# The distribution was called snapshot-runner before: two of them would register the pytest plugin twice.
	$(PY) -m pip uninstall --quiet --disable-pip-version-check -y snapshot-runner 2>/dev/null || true
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]" "$(TORCH_SPEC)"
	@touch $(STAMP)

# Lint: ruff (rules and formatting), mypy, the layout check (no import
# cycles, a torch-only worker side, no overlong module without a reason), and
# the docs site (mkdocs.yml; built into the ignored site/).
lint: install
	$(VENV)/bin/ruff check snapshot_runner scripts tests
	$(VENV)/bin/ruff format --check snapshot_runner scripts tests
	$(VENV)/bin/mypy
	$(PY) scripts/check_layout.py
	$(VENV)/bin/actionlint -shellcheck $(VENV)/bin/shellcheck
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# Everything: lint, unit tests, bad-input tests, determinism checks and the golden check.
# Not the multi_torch tests: they install another torch (`make test-torch`).
test: install lint
	$(PYTEST) -n 2 --dist loadgroup --durations=10 -q -m "not multi_torch"

# The example projects as users' projects: each its own .venv with the
# reference torch, its library from the registry and this tool installed
# non-editable (one wheel, rebuilt every time), then its golden check from its
# directory. examples/torchao (torchao's subclasses) and examples/tensordict.
TORCHAO_SPEC ?= torchao==0.18.0
TENSORDICT_SPEC ?= tensordict==0.15.3
EXAMPLES := torchao=$(TORCHAO_SPEC) tensordict=$(TENSORDICT_SPEC)
EXAMPLE_WHEELS := build/example-wheel
test-example: install
	@# setuptools keeps build/ between builds and would ship files deleted or renamed since.
	rm -rf build
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps -w $(EXAMPLE_WHEELS) .
	@set -e; for entry in $(EXAMPLES); do \
		dir=examples/$${entry%%=*}; py=$$dir/.venv/bin/python; \
		echo "== $$dir"; \
		test -x $$py || $(PYTHON) -m venv $$dir/.venv || python3 -m venv $$dir/.venv; \
		$$py -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)" numpy "$${entry#*=}"; \
		$$py -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps $(EXAMPLE_WHEELS)/*.whl; \
		$$py -m pip install --quiet --disable-pip-version-check $(EXAMPLE_WHEELS)/*.whl "$(TORCH_SPEC)"; \
		(cd $$dir && .venv/bin/python -m pytest -q -p no:cacheprovider); \
	done

# --torch end to end with a second real torch (2.14.1, ~5.5 GB): made in the env
# cache ($SNAPSHOT_RUNNER_ENVS or ~/.cache/snapshot-runner/envs) once, reused after.
test-torch: install
	$(PYTEST) -q -m multi_torch

# Golden check only.
snapshot: install
	$(PYTEST) -n 2 -q tests/test_goldens.py

# Rewrite goldens: new ones written, changed ones rewritten, deleted cases' removed.
snapshot-update: install
	$(PYTEST) -q tests/test_goldens.py --snapshot-update

# Record a run into the history and write reports/drift-<date>.md and .html
# (from the previous nightly on this device, or from the goldens on the first).
# By default under the newest torch on the package index (nothing recorded when the
# last nightly on this device ran that build). NIGHTLY_ARGS goes to `snapshot-runner nightly`, e.g.
# NIGHTLY_ARGS="--db URL -k two_tensor" or NIGHTLY_ARGS="--pre
# --index-url https://download.pytorch.org/whl/nightly/cpu --bisect --envs-max-size 30G".
nightly: install
	$(PY) -m snapshot_runner.cli nightly $(NIGHTLY_ARGS)

# Capture speed: the tool vs a bare recording loop, and `make snapshot` -n 2 vs serial.
bench: install
	$(PY) scripts/bench.py
	$(PY) scripts/bench_workers.py $(BENCH_WORKERS_ARGS)

# Parallel capture: each worker's start-up, forked from the template vs spawned; the
# whole suite at -j 1 and -j 2 (medians of 3), artifacts equal at -j 1/2/8/16, the
# memory of 8 forked workers vs 8 spawned. Torch only: on the GPU host, run
# `PYTHONPATH=. python3 scripts/bench_workers.py --jobs 1 8 16 --json reports/bench-workers.json`.
BENCH_WORKERS_JSON ?= reports/bench-workers.json
bench-workers: install
	$(PY) scripts/bench_workers.py --json $(BENCH_WORKERS_JSON) $(BENCH_WORKERS_ARGS)

# The history database at a year's scale (365 runs × 200 cases × 6 artifacts):
# drift, history and size against their targets. PostgreSQL: BENCH_DB_ARGS="--db URL".
bench-db: install
	$(PY) scripts/bench_db.py $(BENCH_DB_ARGS)

# `serve` over that history: p95 time per page type over real HTTP, target < 300 ms.
# PostgreSQL: BENCH_SERVE_ARGS="--db URL" (an empty database; it is filled first).
bench-serve: install
	$(PY) scripts/bench_serve.py $(BENCH_SERVE_ARGS)

# Making a --torch environment, uv vs pip, torch in the package cache or not (time, extra
# disk; BENCH_ENVS_ARGS="--runs N --torch V"); then what a warm env adds to a capture.
bench-envs: install
	$(PY) scripts/bench_env_make.py $(BENCH_ENVS_ARGS)
	$(PY) scripts/bench_envs.py

# Big artifacts against issue 19's bounds: drift html/json/junit of a 10 MB changed
# artifact (time, peak RSS), the worker's 100 MB output read against a bare pipe
# read, and capture of a 100 MB artifact (BENCH_BOUNDS_ARGS="--repeat N --only read").
bench-bounds: install
	$(PY) scripts/bench_bounds.py $(BENCH_BOUNDS_ARGS)

# GPU cases (cases/gpu/, Inductor + Triton). On the GPU machine, with its own
# torch and Triton (no venv, no syrupy): capture them to a JSON report ...
GPU_JSON ?= reports/gpu-capture.json
GPU_PYTHON ?= python3
gpu-capture:
	mkdir -p $(dir $(GPU_JSON))
	PYTHONPATH=. $(GPU_PYTHON) -m snapshot_runner.cli capture --cases-dir cases -k gpu. --json $(GPU_JSON)

# ... then here: write their goldens from that report into snapshots/cuda-torch<version>/,
# and record it as a history run (DB= a database URL; default db/history.sqlite).
snapshot-gpu: install
	$(PY) -m snapshot_runner.goldens.variants $(GPU_JSON)
	$(PY) -m snapshot_runner.cli record --from-json $(GPU_JSON) --label gpu-$$(date +%F) $(if $(DB),--db $(DB))

clean:
	rm -rf $(VENV) .pytest_cache
