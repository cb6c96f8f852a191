# Maquette: `make demo` and `make test` do all the set-up on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# npm packages the tests use (Khronos glTF-Validator), kept inside the venv folder
NODE_PREFIX := $(VENV)/node
NODE_STAMP := $(NODE_PREFIX)/.installed
GLTF_VALIDATOR := gltf-validator@2.0.0-dev.3.10

.PHONY: demo test lint bench system-deps venv clean

demo: system-deps $(STAMP)
	$(BIN)/maquette demo -o out/demo.mp4

test: system-deps $(STAMP) $(NODE_STAMP)
	MAQUETTE_NODE_MODULES=$(abspath $(NODE_PREFIX))/node_modules $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check engine tests tools

bench: system-deps $(STAMP)
	$(BIN)/python tools/bench_render.py

system-deps:
	@bash tools/system_deps.sh

venv: $(STAMP)

$(NODE_STAMP):
	npm install --silent --no-save --no-audit --no-fund --prefix $(NODE_PREFIX) $(GLTF_VALIDATOR)
	@touch $(NODE_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'  # ray: tests/test_workers.py runs a real local cluster
	$(BIN)/python -m compileall -q engine  # as a wheel install does: no per-run compile (0.2 CPU s)
	@touch $(STAMP)

clean:
	rm -rf $(VENV) out .pytest_cache build *.egg-info  # build/: setuptools never prunes it
