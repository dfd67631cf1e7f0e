"""Mutation testing helpers for benchmarks/mutation.sh (docs/mutation.md): mutmut 3.8.

    python benchmarks/mutation.py generate            # mutants/ from src/, as `mutmut run` does
    python benchmarks/mutation.py sample 25 --seed 0  # the names of 25% of each module's mutants
                                                      # (at least 30; 100: all of them)
    python benchmarks/mutation.py report              # the score per module, as JSON lines

`sample` picks the same mutants for the same source, percentage and seed (per module, sorted
names, numpy's seeded choice), so a rerun after new tests retests the same set. `report` reads
the results mutmut keeps beside each mutated module (`mutants/src/**/*.py.meta`), leaves out the
mutants listed in benchmarks/mutation_equivalent.txt (they cannot change behaviour) and counts a
timeout as killed. Run from the repository root, with mutmut installed (`pip install -e
".[mutation]"`); `generate` uses mutmut's own steps, so it is tied to the version pinned there.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

MUTANTS = Path("mutants")
EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")
KILLED, TIMEOUT = {1, 3}, {24, -24, 36, 152, 255}  # mutmut's exit codes (mutmut.stats)
STATUS = {0: "survived", 33: "no_tests", 5: "no_tests", 34: "skipped", None: "not_checked"}
# config_checks.py: only its range check is in scope; register_configs stores the schemas in Hydra's
# ConfigStore, and a mutant there breaks every compose (not a check a user's value meets).
ONLY_FUNCTIONS = {"rnnsearch.config_checks": ("rnnsearch.config_checks.x_check_ranges",)}


def generate() -> None:
    """Copy src/ into mutants/ and write the mutants of `only_mutate` (pyproject [tool.mutmut])."""
    from mutmut.__main__ import create_mutants
    from mutmut.mutation.trampoline import set_mutant_under_test
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

    set_mutant_under_test("mutant_generation")
    MUTANTS.mkdir(exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    create_mutants(1)


def results(functions: bool = False) -> dict[str, dict[str, int | None]]:
    """{module (or function): {mutant name: mutmut exit code (None: not run yet)}}."""
    by_module: dict[str, dict[str, int | None]] = {}
    for meta in sorted(MUTANTS.glob("src/**/*.py.meta")):
        for name, code in json.loads(meta.read_text("utf-8"))["exit_code_by_key"].items():
            module = meta.relative_to(MUTANTS / "src").with_suffix("").with_suffix("")
            key = name.rpartition("__mutmut_")[0] if functions else ".".join(module.parts)
            by_module.setdefault(key, {})[name] = code
    return by_module


def sample(percent: float, seed: int, least: int = 30) -> list[str]:
    """`percent` of each module's mutants, at least `least` (all of a smaller module), the same
    ones for the same seed."""
    rng = np.random.default_rng(seed)
    names = []
    for module, codes in results().items():
        scope = ONLY_FUNCTIONS.get(module)
        ordered = sorted(n for n in codes if not scope or n.rpartition("__mutmut_")[0] in scope)
        k = max(least, math.ceil(len(ordered) * percent / 100))
        names += sorted(rng.choice(ordered, size=min(k, len(ordered)), replace=False).tolist())
    return names


def equivalent() -> dict[str, str]:
    """{mutant name: why it cannot change behaviour} from mutation_equivalent.txt."""
    out = {}
    for line in EQUIVALENT.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("#")
            out[name.strip()] = reason.strip()
    return out


def _count(codes: dict[str, int | None], skip: dict[str, str]) -> Counter:
    """Killed (a timeout counts), survived, no_tests, equivalent, ... of the mutants run."""
    count = Counter(("equivalent" if name in skip else "killed" if code in KILLED | TIMEOUT
                     else STATUS.get(code, "suspicious"))
                    for name, code in codes.items() if code is not None)
    count["tried"] = sum(count.values())
    return count


def report(functions: bool = False) -> list[dict]:
    """Per module, all together, then (with `functions`) per function: killed, survived,
    no_tests, equivalent and score = killed / (tried - equivalent), over the mutants run."""
    skip, total = equivalent(), Counter()
    rows = []
    for module, codes in results().items():
        count = _count(codes, skip)
        if count["tried"]:
            rows.append({"module": module, **count})
            total.update(count)
    rows.append({"module": "all", **total})
    if functions:
        rows += [{"function": function, **count}
                 for function, codes in results(functions=True).items()
                 if (count := _count(codes, skip))["tried"]]
    for row in rows:
        counted = row["tried"] - row.get("equivalent", 0)
        row["score"] = round(row.get("killed", 0) / counted, 3) if counted else None
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("generate")
    pick = sub.add_parser("sample")
    pick.add_argument("percent", type=float)
    pick.add_argument("--seed", type=int, default=0)
    show = sub.add_parser("report")
    show.add_argument("--functions", action="store_true", help="also one line per function")
    args = parser.parse_args()
    if args.command == "generate":
        generate()
    elif args.command == "sample":
        print("\n".join(sample(args.percent, args.seed)))
    else:
        for row in report(args.functions):
            print(json.dumps(row))


if __name__ == "__main__":
    main()
