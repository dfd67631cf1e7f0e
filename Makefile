# Two commands do everything (see README): `make repro` and `make test`.
# Both create .venv and install the project on first use; nothing needs to be installed by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PATH := $(abspath $(BIN)):$(PATH)
export WANDB_MODE ?= offline

.PHONY: install repro test lint bench clean-artifacts

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# constraints.txt pins torch to the CPU-sized build (an unpinned torch pulls several GB of CUDA)
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

repro: install  ## the whole pipeline on the embedded corpus: prepare, train x4, translate, evaluate, report
	dvc repro

test: install   ## the test suite (what CI runs)
	python -m pytest -m "not slow and not gpu" -q

lint: install
	ruff check src tests benchmarks

bench: install  ## speed figures (JSON lines) at demo size on this machine
	python benchmarks/train_step.py --size demo
	python benchmarks/decode.py --size demo
