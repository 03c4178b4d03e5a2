# Two entry points: `make demo` (the whole pipeline on synthesised demo data) and `make test`;
# `make lint` (ruff) and `make typecheck` (mypy), configured in pyproject.toml, check the code.
# Each installs into a local virtual environment first; a second run reuses it.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install demo test test-fast lint typecheck bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: the CPU build; a bare range would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	touch $(INSTALLED)

install: $(INSTALLED)

demo: install
	PATH="$(abspath $(VENV))/bin:$$PATH" dvc repro

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

lint: install
	$(PY) -m ruff check

typecheck: install
	$(PY) -m mypy

# Performance benchmarks (not part of `make test`): each prints its ratio against a baseline or a limit.
# Demo data and shards go to data/bench (reused on the next run). The GPU one: benchmarks/gpu_train.py.
BENCHMARKS := bench_dynamic bench_shard bench_scaling bench_loader
bench: install
	@for bench in $(BENCHMARKS); do $(PY) benchmarks/$$bench.py || exit 1; done
	@$(PY) benchmarks/gpu_train.py --device cpu --steps 2 --warmup 1 --width 16 --batch-size 4 --workers 1 | tail -2

clean:
	rm -rf data manifests dvc.lock .pytest_cache
