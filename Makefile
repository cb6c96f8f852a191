# Maquette: `make demo` and `make test` do all the set-up on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench system-deps venv clean

demo: system-deps $(STAMP)
	$(BIN)/maquette demo -o out/demo.mp4

test: system-deps $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check engine tests tools

bench: system-deps $(STAMP)
	$(BIN)/python tools/bench_render.py

system-deps:
	@bash tools/system_deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) out .pytest_cache build *.egg-info  # build/: setuptools never prunes it
