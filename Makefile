# PockNet developer entry points. `make run` and `make test` are the two commands a
# newcomer needs (README); both set the project up first, idempotently.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# Where the shared structure datasets live; `make data` links them into data/01_raw.
DATASETS ?= ../shared/datasets
# torch goes in first, pinned: with no NVIDIA GPU this is the CPU build (a bare
# `torch` requirement would pull gigabytes of CUDA wheels).
TORCH_SPEC ?= torch==2.13.0

export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export PATH := $(BIN):$(PATH)

.PHONY: setup data run test bench clean-data

setup: $(VENV)/.installed data

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if nvidia-smi -L >/dev/null 2>&1; then \
		echo "NVIDIA GPU visible: installing $(TORCH_SPEC) (CUDA build)"; \
	else \
		echo "no NVIDIA GPU visible: installing $(TORCH_SPEC) (CPU build)"; \
	fi
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

data:
	@mkdir -p data/01_raw
	@if [ -d "$(DATASETS)" ]; then \
		for d in "$(DATASETS)"/*/; do ln -sfn "$$(realpath "$$d")" "data/01_raw/$$(basename "$$d")"; done; \
		echo "linked datasets from $(DATASETS) into data/01_raw"; \
	else \
		echo "no $(DATASETS): put datasets into data/01_raw yourself (see data/01_raw/README.md)"; \
	fi

run: setup
	dvc repro

test: setup
	POCKNET_DATASETS="$(abspath $(DATASETS))" python -m pytest -q

bench: setup
	POCKNET_DATASETS="$(abspath $(DATASETS))" python benchmarks/featurize.py

clean-data:
	rm -rf data/02_features
