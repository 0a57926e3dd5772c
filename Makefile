# nvrd and its firmware image. `make setup run` on a fresh machine starts the demo; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
export NVR_SHARED := $(SHARED)

.PHONY: help setup run test test-fast bench lint format clean

help:
	@echo "make setup   - create .venv with the pinned dependencies (requirements.txt)"
	@echo "make run     - start nvrd on the demo config (API on http://localhost:5000)"
	@echo "make test    - run the test suite"
	@echo "make bench   - run the benchmarks and print a table"
	@echo "make lint    - ruff"
	@echo "make image BOARD=rpi4|rpi5|rock5b - build the SD card image (see README)"

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) scripts/demo.py --port $${PORT:-5000}

test: setup
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) tests/bench/run.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check nvrd tests scripts

format: setup
	$(VENV)/bin/ruff format nvrd tests scripts

clean:
	rm -rf $(VENV) build demo .pytest_cache .ruff_cache

-include board/image.mk
