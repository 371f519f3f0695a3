# citewise: every target sets itself up; `make chat` and `make test` are all a new machine needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
PYTEST_ARGS ?=
# llama.cpp's CPU features: fixed, not -march=native (x86_64: AVX2, FMA, F16C; no AVX-512, no AMX)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF $(if $(filter x86_64,$(shell uname -m)),-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON)

.PHONY: setup lock browser chat ui test test-fast lint format eval bench bench-smoke docs clean

setup: $(STAMP)

# every package at the exact version in requirements.lock, so a new machine gets what CI tested
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -c requirements.lock pip
	@# the CPU build of torch lies on this machine's disk; install it before anything needs torch
	$(PY) -m pip install -q -c requirements.lock torch
	@echo "installing citewise and its dependencies (llama-cpp-python compiles once, ~4 min)..."
	@# a portable llama.cpp build, the same on every machine of the architecture: a native build on a CPU
	@# with AMX/AVX-512 (Sapphire Rapids here) crashed in its first decode; not from pip's cache,
	@# which may hold a native build of the same version
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -q --no-cache-dir -c requirements.lock llama-cpp-python
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

# re-resolve pyproject.toml's ranges in a fresh venv and pin the result (then run make test and commit)
lock:
	@bash scripts/lock.sh

browser:
	@bash scripts/install-browser.sh

chat: setup
	$(VENV)/bin/citewise ingest corpus
	$(VENV)/bin/citewise ui $(UI_ARGS)

ui: chat

lint: setup
	$(VENV)/bin/ruff check citewise tests bench examples
	$(VENV)/bin/ruff format --check citewise tests bench examples
	$(VENV)/bin/mypy citewise

format: setup
	$(VENV)/bin/ruff format citewise tests bench examples
	$(VENV)/bin/ruff check --fix citewise tests bench examples

test: setup browser lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser" $(PYTEST_ARGS)

# benchmark: ours vs plain LlamaIndex in one run; writes bench/results.json and bench/RESULTS.md (~17 min quiet)
bench: setup
	$(PY) -m bench.run

# the same harness at reduced sizes (also run by `make test` as tests/test_bench_smoke.py)
bench-smoke: setup
	$(PY) -m bench.run --smoke --out $${TMPDIR:-/tmp}/citewise-bench-smoke

# the seed suite, extractive mode: table on the terminal, reports in eval-report/ (EVAL_ARGS: more flags)
eval: setup
	$(VENV)/bin/citewise eval --json eval-report/eval.json --html eval-report/eval.html $(EVAL_ARGS)

# the documentation site from docs/ and the docstrings, built strictly (a broken link fails) into site/
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
