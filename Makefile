# Two entry points: `make demo` (the whole pipeline on synthesised demo data) and `make test`;
# `make lint` (ruff) and `make typecheck` (mypy), configured in pyproject.toml, check the code.
# Each installs into a local virtual environment first; a second run reuses it.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The torch build, installed before anything that depends on torch (else pip pulls whatever build it finds).
# By default torch==2.13.0 comes from pip's configured index: on machines that configure a local CPU wheel
# (this project's CI machines) that is the CPU build; from the public PyPI on Linux it is the CUDA build
# (over 500 MB, plus about 28 CUDA packages), which also runs on a CPU. For the CPU build from the public
# index: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# The optional extras installed too: test (pytest, and SeaweedFS's S3 server for the storage tests), dashboard (bokeh:
# the Dask dashboard of the shard stage), s3 (s3fs: shards and manifests in an S3 bucket)
EXTRAS ?= test,dashboard,s3

.PHONY: install demo test test-fast lint typecheck bench publish clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $(INSTALLED)

install: $(INSTALLED)

demo: install
	PATH="$(abspath $(VENV))/bin:$$PATH" dvc repro
	@echo
	@cat results/results.md
	@echo
	@echo "Every run's numbers:  results/runs.csv (results/results.json: mean, std and n; dvc metrics show)"
	@echo "ROC and DET curves:   $$(ls models/*/seed-*/eval/*/roc.png models/*/seed-*/eval/*/det.png | tr '\n' ' ')"
	@echo "Dataset reports:      $$(ls reports/*/report.html | tr '\n' ' ')"

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
BENCHMARKS := bench_dynamic bench_shard bench_scaling bench_loader bench_mixed bench_storage bench_decoders
bench: install
	@for bench in $(BENCHMARKS); do $(PY) benchmarks/$$bench.py || exit 1; done
	@$(PY) benchmarks/gpu_train.py --device cpu --steps 2 --warmup 1 --width 16 --batch-size 4 --workers 1 | tail -2

# Copy the last measurements into the docs (benchmarks/publish.py): BENCH_LOG, a saved `make bench` output
# (make bench 2>&1 | tee bench.log); RUNS, a folder of evaluated runs (models after dvc exp run -S 'runs.seeds=[0,1,2]').
# Without either, the docs' generated blocks are rewritten from what is committed (benchmarks/last-run.txt,
# docs/demo-scores/); tests/test_docs.py fails when they differ.
publish: install
	$(PY) benchmarks/publish.py $(if $(BENCH_LOG),--bench $(BENCH_LOG)) $(if $(RUNS),--runs $(RUNS))

clean:
	rm -rf data manifests dvc.lock .pytest_cache
