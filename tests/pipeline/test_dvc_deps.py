"""Every DVC stage depends on every rnnsearch module its entry point imports (transitively).

A stage whose deps miss a module it runs is reported "up to date" by `dvc repro` after that
module changes, over stale results. The imports are read with `ast` from the stage's entry module
(`python -m rnnsearch.<entry>` in its cmd), following `import` / `from ... import` statements
anywhere in a module (function-level imports included) through the rnnsearch package, and string
constants naming an rnnsearch module (a child process started with `-m rnnsearch.<module>`).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "rnnsearch"
# stage -> the modules its entry imports only for a job the stage's cmd never asks for:
# `python -m rnnsearch.translate` without `input=` is the test-split stage; the text shell
# (`input=`) and all it alone imports are not part of it (test_the_translate_stage_never_...).
NOT_RUN_BY_STAGE = {"translate": frozenset({"rnnsearch.inference.shell"})}


def module_file(module: str) -> Path | None:
    """src/rnnsearch/a/b.py or src/rnnsearch/a/b/__init__.py for `rnnsearch.a.b`."""
    base = SRC.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _without_lazy_attributes(tree: ast.Module) -> ast.Module:
    """The module without a module-level `__getattr__` (PEP 562): the package's lazy
    `from rnnsearch import Translator` runs only when a user asks for it, never in a stage."""
    tree.body = [n for n in tree.body
                 if not (isinstance(n, ast.FunctionDef) and n.name == "__getattr__")]
    return tree


def _imported(path: Path, module: str) -> set[str]:
    """rnnsearch modules named by the import statements of one file (absolute or relative)."""
    is_pkg = path.name == "__init__.py"
    package = module if is_pkg else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(_without_lazy_attributes(ast.parse(path.read_text(encoding="utf-8")))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb level - 1 packages from this one
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from pkg import submodule`
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                re.fullmatch(rf"{PACKAGE}(\.\w+)+", node.value):
            found.add(node.value)  # a module run in a child process: [python, "-m", "rnnsearch.x"]
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(m)}


def transitive_imports(entry: str, skip: frozenset[str] = frozenset()) -> set[Path]:
    """Files of `entry` and of every rnnsearch module it imports, with their packages; the
    modules in `skip` are not followed (nor what only they import)."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in skip:
            continue
        parts = module.split(".")
        parents = {".".join(parts[:k]) for k in range(1, len(parts))}  # packages run first
        for m in {module, *parents} - seen:
            seen.add(m)
            todo.extend(_imported(module_file(m), m))
    return {module_file(m) for m in seen}


def _stages(repo_root: Path) -> dict[str, dict]:
    """dvc.yaml's stages, `foreach` ones by their `do` template, with `${...}` left unresolved."""
    spec = yaml.safe_load((repo_root / "dvc.yaml").read_text())
    return {name: stage.get("do", stage) for name, stage in spec["stages"].items()}


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def test_package_init_runs_no_code() -> None:
    """rnnsearch/__init__.py is left out of the deps below, so it must stay a version string
    (and the lazy `__getattr__` behind `from rnnsearch import Translator`)."""
    tree = ast.parse((SRC / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    body = _without_lazy_attributes(tree).body
    assert all(isinstance(n, ast.Assign | ast.Expr | ast.ImportFrom) and
               not (isinstance(n, ast.ImportFrom) and n.module != "__future__")
               for n in body)


def test_import_walk_finds_known_edges() -> None:
    """The walker itself: translate uses search and batching; models are reached via packages."""
    files = {p.relative_to(SRC).as_posix() for p in transitive_imports("rnnsearch.translate")}
    assert {"rnnsearch/translate.py", "rnnsearch/decoding/search.py",
            "rnnsearch/data/batching.py", "rnnsearch/data/vocab.py", "rnnsearch/models/__init__.py",
            "rnnsearch/models/decoder.py"} <= files
    assert "rnnsearch/train.py" not in files


def test_module_run_as_child_process_counts_as_imported(tmp_path: Path) -> None:
    launcher = tmp_path / "launcher.py"
    launcher.write_text('import sys\nCMD = [sys.executable, "-m", "rnnsearch.train"]\n')
    assert _imported(launcher, "rnnsearch.launcher") == {"rnnsearch.train"}


STAGES = ["prepare", "train", "translate", "evaluate", "report"]


def _needed(repo_root: Path, stage: str) -> tuple[list[str], list[str]]:
    """(the src files a stage runs, its deps) from dvc.yaml; the package __init__ left out."""
    spec = _stages(repo_root)[stage]
    entry = re.search(r"python -m (rnnsearch\.\w+)", spec["cmd"])
    assert entry, f"dvc.yaml stage {stage}: no `python -m rnnsearch.<entry>` in its cmd"
    init = SRC / PACKAGE / "__init__.py"
    files = transitive_imports(entry.group(1), NOT_RUN_BY_STAGE.get(stage, frozenset()))
    return sorted(p.relative_to(repo_root).as_posix() for p in files if p != init), spec["deps"]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_deps_cover_its_imports(repo_root: Path, stage: str) -> None:
    needed, deps = _needed(repo_root, stage)
    missing = [p for p in needed if not _covered(p, deps)]
    assert not missing, f"dvc.yaml stage {stage} imports but does not depend on {missing}"


@pytest.mark.parametrize("stage", STAGES)
def test_stage_deps_list_no_module_it_does_not_import(repo_root: Path, stage: str) -> None:
    """A source dep the stage never runs reruns it for nothing (a file or a whole folder)."""
    needed, deps = _needed(repo_root, stage)
    unused = [d for d in deps if d.startswith("src/")
              and not any(p == d or p.startswith(d.rstrip("/") + "/") for p in needed)]
    assert not unused, f"dvc.yaml stage {stage} depends on {unused} but never imports them"


def test_the_translate_stage_never_loads_the_text_shell(tmp_path: Path) -> None:
    """`NOT_RUN_BY_STAGE` holds: the stage's cmd has no `input=`, and the translate entry
    without it runs the test-split stage with nothing of inference/ imported."""
    assert "input=" not in _stages(SRC.parent)["translate"]["cmd"]
    code = ("import sys\nfrom omegaconf import OmegaConf\nimport rnnsearch.translate as t\n"
            "t.translate_stage.run = lambda cfg, settings: {'beam': settings.beam_size}\n"
            "cfg = OmegaConf.create({'decode': {'beam_size': 3}, 'keep_freed_memory': False})\n"
            "print(t.run(cfg), "
            "sorted(m for m in sys.modules if m.startswith('rnnsearch.inference')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert proc.stdout.split() == ["{'beam':", "3}", "[]"]
