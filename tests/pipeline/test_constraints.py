"""constraints.txt pins every package that rnnsearch[dev] pulls in, at the installed version."""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(repo_root: Path) -> dict[str, str]:
    lines = (repo_root / "constraints.txt").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))
    return {_norm(k): v for k, v in pins.items()}


def _requirement_closure() -> set[str]:
    """Installed distributions reachable from rnnsearch[dev] (markers evaluated here)."""
    seen: set[str] = set()
    todo = [("rnnsearch", {"dev"})]
    while todo:
        name, extras = todo.pop()
        for spec in md.distribution(name).requires or []:
            req = Requirement(spec)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker and not any(req.marker.evaluate(env) for env in envs):
                continue
            key = _norm(req.name)
            if key not in seen:
                seen.add(key)
                todo.append((req.name, set(req.extras)))
    return seen


def test_torch_pin_has_no_platform_build_tag(repo_root: Path) -> None:
    pins = _pins(repo_root)
    assert pins["torch"] == "2.13.0"
    assert not [k for k in pins if k.startswith(("nvidia-", "triton"))]
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.]*", v) for v in pins.values())  # no +local


def test_every_dependency_is_pinned_at_its_installed_version(repo_root: Path) -> None:
    try:
        md.distribution("rnnsearch")
    except md.PackageNotFoundError:
        pytest.skip("rnnsearch is not installed (pip install -e .)")
    pins = _pins(repo_root)
    closure = _requirement_closure()
    unpinned = sorted(closure - set(pins))
    assert not unpinned, f"constraints.txt misses {unpinned}"
    drift = {k: (pins[k], md.version(k)) for k in closure
             if md.version(k).split("+")[0] != pins[k]}
    assert not drift, f"installed versions differ from constraints.txt: {drift}"
