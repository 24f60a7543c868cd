# PockNet developer entry points. `make run` and `make test` are the two commands a
# newcomer needs (README); both set the project up first, idempotently.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# Where the shared structure datasets live; `make data` links them into data/01_raw.
DATASETS ?= ../shared/datasets
# torch goes in first, pinned. Without an NVIDIA GPU the spec carries the `+cpu` local
# version, which only CPU builds have: whatever index pip uses, it can never resolve to a
# CUDA build (a bare `torch==X` pulls gigabytes of nvidia-* wheels on an ordinary box). It is
# tried against pip's configured indexes/find-links first (a local CPU wheel, as on CI), then
# against PyTorch's CPU index. With a GPU the plain version (CUDA build from PyPI) is used.
TORCH_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
HAS_NVIDIA_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(HAS_NVIDIA_GPU),yes)
TORCH_SPEC ?= torch==$(TORCH_VERSION)
else
TORCH_SPEC ?= torch==$(TORCH_VERSION)+cpu
endif
# Exact versions of every other dependency, so a clean clone computes the committed dvc.lock.
CONSTRAINTS ?= requirements/constraints.txt
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export PATH := $(BIN):$(PATH)

.PHONY: setup tools data run test test-fast bench clean-data print-torch-spec

setup: $(VENV)/.installed tools data

# mmseqs2 (Debian package) clusters the ~5 000 training chains by sequence and finds homologues
# of the test and external sets (h5_assembly.splits.cluster_method); Biopython would take hours.
tools:
	@command -v mmseqs >/dev/null 2>&1 || { \
		if command -v apt-get >/dev/null 2>&1; then \
			sudo_cmd=""; [ "$$(id -u)" -eq 0 ] || sudo_cmd="sudo"; \
			echo "setup: installing mmseqs2 (Debian package) for sequence clustering"; \
			$$sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo_cmd apt-get install -y -qq mmseqs2 >/dev/null; \
		fi; \
		command -v mmseqs >/dev/null 2>&1 || { echo "setup: mmseqs not found and could not be installed: install mmseqs2 (Debian/Ubuntu: apt-get install mmseqs2; conda: bioconda mmseqs2)" >&2; exit 1; }; }

$(VENV)/.installed: pyproject.toml Makefile $(CONSTRAINTS)
	@echo "setup: virtual environment $(VENV) ($(PYTHON))"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip
	@if [ "$(HAS_NVIDIA_GPU)" = yes ]; then echo "setup: NVIDIA GPU visible: $(TORCH_SPEC) (CUDA build)"; \
	else echo "setup: no NVIDIA GPU visible: $(TORCH_SPEC) (CPU-only build)"; fi
	@$(PIP) install "$(TORCH_SPEC)" 2>/dev/null || { \
		echo "setup: $(TORCH_SPEC) not on pip's indexes: trying $(TORCH_CPU_INDEX)"; \
		$(PIP) install --extra-index-url "$(TORCH_CPU_INDEX)" "$(TORCH_SPEC)"; }
	@echo "setup: pocknet (editable) with dev extras, versions from $(CONSTRAINTS)"
	@$(PIP) install -c $(CONSTRAINTS) -e '.[dev]'
	@$(BIN)/python -c "import torch, pocknet; print(f'setup: done: pocknet {pocknet.__version__}, torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}')"
	@touch $@

print-torch-spec:
	@echo "$(TORCH_SPEC)"

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

# The inner loop: everything but the slow end-to-end tests (those run in `make test` / CI).
test-fast: setup
	POCKNET_DATASETS="$(abspath $(DATASETS))" python -m pytest -q -m "not slow"

bench: setup
	POCKNET_DATASETS="$(abspath $(DATASETS))" python benchmarks/featurize.py

clean-data:
	rm -rf data/02_features

# Re-pin requirements/constraints.txt to what the venv holds (run after changing dependencies).
constraints: setup
	@{ sed -n '1,3p' $(CONSTRAINTS); $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E '^(torch|pocknet)=='; } > $(CONSTRAINTS).new
	@mv $(CONSTRAINTS).new $(CONSTRAINTS) && echo "wrote $(CONSTRAINTS)"
