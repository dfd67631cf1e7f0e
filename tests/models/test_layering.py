"""`rnnsearch.models` is the pure-PyTorch core: no Lightning, Hydra, W&B or file I/O."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "src" / "rnnsearch" / "models"
BANNED = ("lightning", "pytorch_lightning", "hydra", "omegaconf", "wandb", "dvc")
ALLOWED_ROOTS = {"__future__", "collections", "dataclasses", "math", "typing", "torch", "warnings"}


def test_importing_models_pulls_in_no_framework() -> None:
    code = (
        "import json, sys; import rnnsearch.models; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {BANNED!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_models_sources_import_only_torch_and_stdlib() -> None:
    for path in sorted(MODELS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                ok = name.split(".")[0] in ALLOWED_ROOTS or name.startswith("rnnsearch.models")
                assert ok, f"{path.name} imports {name}"
        assert "open(" not in path.read_text(), f"{path.name} does file I/O"
