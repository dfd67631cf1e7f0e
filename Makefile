# Two commands do everything (see README): `make repro` and `make test`.
# Both create .venv and install the project on first use; nothing needs to be installed by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PATH := $(abspath $(BIN)):$(PATH)
export WANDB_MODE ?= offline

.PHONY: install repro repro-wmt14 test lint bench gpu-check preflight mutation

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

# Mutation score (docs/mutation.md): a periodic check, not part of `make test`. PERCENT=25 tests
# a seeded quarter of each module's mutants (at least 30); without it, all of them (hours).
mutation: install
	python -m pip install --quiet -c constraints.txt -e ".[dev,mutation]"
	benchmarks/mutation.sh $(PERCENT)

bench: install  ## speed figures (JSON lines) at demo size on this machine
	python benchmarks/train_step.py --size demo
	python benchmarks/decode.py --size demo

# The GPU check (benchmarks/README.md): the gpu tests, paper-size speed and memory, beam-12 decoding
# of newstest2014, as JSON lines, in <= 8 min on one H100/H200. No `install` prerequisite: a CUDA
# machine brings its own CUDA build of torch (the venv's pinned build may be CPU-only), so the
# venv's python is used only when it exists. SMOKE=1: the same script at tiny sizes on the CPU.
GPU_PYTHON ?= $(if $(wildcard $(STAMP)),$(BIN)/python,$(PYTHON))
gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py $(if $(SMOKE),--smoke)

# The paper's setting (README "WMT'14 at paper scale"). SCALE: conf/scale/<SCALE>.yaml; TRAINER:
# conf/trainer/<TRAINER>.yaml (cpu: the CPU even beside a GPU); WMT14_ARGS: extra Hydra overrides
# for the download step, e.g. WMT14_ARGS="data.wmt14.local_dir=/path/to/archives" for archives
# obtained elsewhere. `make repro-wmt14 SCALE=tiny TRAINER=cpu WMT14_ARGS=...` is the same recipe
# on a CPU in minutes (tests/pipeline/test_repro_wmt14.py). A second run downloads, unpacks and
# reruns nothing (dvc exp run skips every unchanged stage).
SCALE   ?= paper
TRAINER ?= gpu
WMT14_ARGS ?=

# The preflight of the paper-scale run (benchmarks/preflight.py), <= 3 min on the device training
# will use: the gpu tests, 20 paper-size updates per model, a beam-10 decode, and the projected wall
# time of the four models from the measured updates/s. A failure exits non-zero. TRAINER=cpu: its
# smoke form (tiny sizes, seconds). PREFLIGHT_ARGS: e.g. --two-processes, --budget-s 300.
PREFLIGHT_ARGS ?=
preflight:
	$(GPU_PYTHON) benchmarks/preflight.py --trainer $(TRAINER) $(PREFLIGHT_ARGS)

repro-wmt14: install  ## the paper's setting: download WMT'14, then the pipeline at paper scale (GPU)
	python -m rnnsearch.wmt14 data=wmt14_lium $(WMT14_ARGS)
	$(MAKE) preflight TRAINER=$(TRAINER)
	dvc exp run -S conf/pipeline.yaml:corpus=wmt14_lium -S conf/pipeline.yaml:scale=$(SCALE) \
	  -S "conf/pipeline.yaml:train_overrides='trainer=$(TRAINER) trainer.max_time=05:00:00:00'"
