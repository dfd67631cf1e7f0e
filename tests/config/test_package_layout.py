"""The package layout keeps its concerns apart (one subpackage per concern).

- Lightning is imported only under `rnnsearch/training/` (the Lightning shell).
- No module imports an entry point (`python -m rnnsearch.<stage>`): stage logic lives in the
  subpackages, and entry points are thin Hydra wrappers that other code never needs.
- The subpackages are layers (`SUBPACKAGES`, lowest first): a subpackage imports only those
  listed before it, never one above (the test-set stage in `evaluation/` does not reach up
  into `inference/`; the `translate` entry chooses between them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "src" / "rnnsearch"
# lowest first: models (pure torch) and data know nothing of each other; corpora builds raw
# corpora with data's tools; decoding searches with models over data's ids; evaluation runs the
# test-set stages; inference serves translations of any text; training fits and records.
SUBPACKAGES = ("models", "data", "corpora", "decoding", "evaluation", "inference", "training")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path) -> set[str]:
    """Absolute names imported anywhere in the module (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_entry_point(path: Path) -> bool:
    return 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")


MODULES = _modules()
ENTRY_POINTS = {name for name, path in MODULES.items() if _is_entry_point(path)}


def test_entry_points_are_the_top_level_stage_modules() -> None:
    assert {"rnnsearch.prepare", "rnnsearch.train", "rnnsearch.translate", "rnnsearch.evaluate",
            "rnnsearch.report", "rnnsearch.experiment"} <= ENTRY_POINTS
    nested = [name for name in ENTRY_POINTS if name.count(".") > 1]
    assert not nested, f"entry points must be `python -m rnnsearch.<stage>`: {nested}"
    for sub in SUBPACKAGES:
        assert f"rnnsearch.{sub}" in MODULES, f"missing subpackage rnnsearch/{sub}/"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_an_entry_point(module: str) -> None:
    imported = _imports(MODULES[module]) & ENTRY_POINTS
    assert not imported, f"{module} imports entry point(s) {sorted(imported)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_lightning_is_imported_only_in_training(module: str) -> None:
    lightning = {n for n in _imports(MODULES[module]) if n.split(".")[0] in
                 ("lightning", "pytorch_lightning")}
    if not module.startswith("rnnsearch.training"):
        assert not lightning, f"{module} imports {sorted(lightning)} outside rnnsearch/training/"


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    """The AST walk finds a function-level Lightning import and an entry-point import."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import lightning as L\n    from rnnsearch import train\n")
    assert {"lightning", "rnnsearch.train"} <= _imports(bad)


def _torch_loads(path: Path) -> list[ast.Call]:
    """The `torch.load(...)` calls of one file."""
    return [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load" and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "torch"]


def test_every_torch_load_is_weights_only() -> None:
    """No checkpoint read runs pickled code: each call passes the literal weights_only=True."""
    files = [*PKG.rglob("*.py"), *(PKG.parents[1] / "benchmarks").rglob("*.py")]
    calls = [(path, call) for path in files for call in _torch_loads(path)]
    assert len(calls) >= 3  # checkpoint.py, the resume reader, the checkpoint IO plugin
    for path, call in calls:
        flags = [k.value for k in call.keywords if k.arg == "weights_only"]
        assert len(flags) == 1 and isinstance(flags[0], ast.Constant) and flags[0].value is True, \
            f"{path}:{call.lineno}: torch.load without weights_only=True"


def _internal_edges(path: Path) -> set[str]:
    """The rnnsearch modules a module imports (the longest module name each import names)."""
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES
                     else node.module for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                edges.add(name)
    return edges


def test_the_import_graph_is_a_hierarchy() -> None:
    """No import cycle between modules: a walk from any entry (say `training.fit.run`) down
    through its callees enters each file once and never comes back to one it left."""
    import graphlib

    graph = {name: _internal_edges(path) - {name} for name, path in MODULES.items()}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")
    assert set(order) == set(MODULES)
    reached, stack = set(), ["rnnsearch.training.fit"]
    while stack:  # the files a walk from fit.run can enter
        name = stack.pop()
        if name not in reached:
            reached.add(name)
            stack.extend(graph[name])
    assert {"rnnsearch.models.seq2seq", "rnnsearch.training.checkpointing"} <= reached
    assert not any(n.startswith("rnnsearch.evaluation.") and n != "rnnsearch.evaluation.bleu"
                   for n in reached), "training reaches evaluation/ beyond BLEU"


def _layer(module: str) -> int | None:
    """The index in `SUBPACKAGES` of a module's subpackage (None: a top-level module)."""
    parts = module.split(".")
    return SUBPACKAGES.index(parts[1]) if len(parts) > 2 or (
        len(parts) == 2 and parts[1] in SUBPACKAGES) else None


def _upward(module: str, path: Path) -> list[str]:
    """The rnnsearch modules in a higher subpackage than `module`'s that it imports."""
    own = _layer(module)
    if own is None:
        return []
    return sorted(name for name in _internal_edges(path)
                  if (layer := _layer(name)) is not None and layer > own)


def test_every_subpackage_is_a_layer() -> None:
    found = {name.split(".")[1] for name, path in MODULES.items()
             if path.name == "__init__.py" and name.count(".") == 1}
    assert found == set(SUBPACKAGES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_subpackage_imports_one_above_it(module: str) -> None:
    upward = _upward(module, MODULES[module])
    assert not upward, (f"{module} ({SUBPACKAGES[_layer(module)]}/) imports {upward}, "
                        f"above it in {SUBPACKAGES}")


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    """A function-level import of inference/ from evaluation/ (the test-set stage's old
    dispatch of `input=` to the shell) is an upward import."""
    bad = tmp_path / "stage.py"
    bad.write_text("def run(cfg):\n    from rnnsearch.inference.shell import run_text\n")
    assert _upward("rnnsearch.evaluation.stage", bad) == ["rnnsearch.inference.shell"]
    assert _upward("rnnsearch.translate", bad) == []  # a top-level entry may dispatch
