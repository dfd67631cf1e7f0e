#!/usr/bin/env bash
# Mutation score of the modules users touch most (docs/mutation.md): decoding/, inference/,
# data/batching.py, data/vocab.py and config.py's range check, against the tests that cover them
# (pyproject.toml [tool.mutmut]). A periodic check, not part of `make test`.
#
#   benchmarks/mutation.sh        # every mutant (hours on two cores)
#   benchmarks/mutation.sh 25     # a seeded 25% of each module's mutants (at least 30)
#   MUTMUT_MAX_CHILDREN=4 benchmarks/mutation.sh 25   # mutants tested in parallel (default 1)
#
# Needs mutmut (`pip install -e ".[mutation]"`, or `make mutation`). Work files: mutants/ (the
# test map of the last run is kept and reused while the tests are unchanged; delete it to start
# over). Ends with one JSON line per module, then per function: killed, survived, no_tests,
# equivalent (benchmarks/mutation_equivalent.txt), score.
set -euo pipefail
cd "$(dirname "$0")/.."
PERCENT="${1:-100}"
# The mutated copy first on the path, also for the tests that start `python -m rnnsearch.*`.
export PYTHONPATH="$PWD/mutants/src" OMP_NUM_THREADS=1 WANDB_MODE=offline
python benchmarks/mutation.py generate
mapfile -t names < <(python benchmarks/mutation.py sample "$PERCENT" --seed "${SEED:-0}")
python -m mutmut run --max-children "${MUTMUT_MAX_CHILDREN:-1}" "${names[@]}"
python benchmarks/mutation.py report --functions
