"""`make repro-wmt14` itself, at SCALE=tiny on the CPU, in a copy of this repository.

Fake LIUM archives in the published layout (non-ASCII text, Moses entities, an invalid UTF-8
byte in crawl.fr, pairs of over 50 tokens) are given through WMT14_ARGS (`local_dir` and the
published size and MD5 they need). The first run must reach reports/results.md; the second must
download, unpack, write and rerun nothing. The download step alone is also run over HTTP (a 404
first mirror, then a local server), exactly as the Makefile spells it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest
from tests.conftest import REPO_ROOT
from tests.data.lium_archives import BITEXTS, DEVTEST, hard_members, pin_overrides, write_archives

RECIPE = ["make", "repro-wmt14", "SCALE=tiny", "TRAINER=cpu"]
GIT = ["git", "-c", "user.name=rnnsearch-test", "-c", "user.email=test@rnnsearch.invalid"]


def _fault_injection() -> ModuleType:
    """benchmarks/fault_injection.py, for its working-tree copy (one copy routine for both)."""
    spec = importlib.util.spec_from_file_location(
        "fault_injection", REPO_ROOT / "benchmarks" / "fault_injection.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy_repository(dst: Path) -> None:
    """The working tree (tracked and untracked-but-not-ignored files) as a fresh git repo, with
    the installed .venv linked in and older than its install stamp (so `make install` is done)."""
    venv = (REPO_ROOT / ".venv").resolve()
    stamp = venv / ".installed-stamp"
    if not stamp.is_file() or shutil.which("make") is None:
        pytest.skip("needs make and a .venv installed by it (.venv/.installed-stamp)")
    _fault_injection().copy_working_tree(REPO_ROOT, dst)
    (dst / ".venv").symlink_to(venv)
    before = stamp.stat().st_mtime - 1
    for name in ("pyproject.toml", "constraints.txt"):
        os.utime(dst / name, (before, before))
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run([*GIT, *cmd], cwd=dst, check=True, capture_output=True)


def _env(repo: Path) -> dict[str, str]:
    """This copy's sources first (the venv's editable install points at the original), and its
    venv's `python` on the PATH, as `make` puts it there for the recipe's own lines."""
    path = os.pathsep.join([str(repo / ".venv" / "bin"), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "PYTHONPATH": str(repo / "src"), "OMP_NUM_THREADS": "1",
            "GIT_AUTHOR_NAME": "rnnsearch-test", "GIT_AUTHOR_EMAIL": "test@rnnsearch.invalid",
            "GIT_COMMITTER_NAME": "rnnsearch-test", "GIT_COMMITTER_EMAIL": "test@rnnsearch.invalid"}


def _run(cmd: list[str] | str, repo: Path, timeout: float = 900) -> tuple[int, str, float]:
    """(exit code, stdout + stderr, seconds) of a command run in the copy."""
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=repo, env=_env(repo), shell=isinstance(cmd, str), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return done.returncode, done.stdout, time.monotonic() - start


def _download_step(repo: Path, wmt14_args: list[str]) -> tuple[int, str, float]:
    """The recipe's download line alone, as `make -n` prints it with these WMT14_ARGS."""
    args = f"WMT14_ARGS={' '.join(wmt14_args)}"
    code, plan, _ = _run([*RECIPE, "-n", args], repo)
    assert code == 0, plan
    line = next(x for x in plan.splitlines() if x.startswith("python -m rnnsearch.wmt14 "))
    return _run(line, repo)


def _stats(root: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, mtime, size) of every file under `root`, except Hydra's own per-run logs."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(root.rglob("*"))
            if p.is_file() and "hydra" not in p.relative_to(root).parts[:1]}


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """(repository copy, directory of the fake archives, their size/MD5 overrides)."""
    root = tmp_path_factory.mktemp("repro_wmt14")
    repo, archives = root / "repo", root / "archives"
    _copy_repository(repo)
    blobs = write_archives(archives, *hard_members())
    return repo, archives, pin_overrides(blobs)


@pytest.fixture(scope="module")
def two_runs(copy: tuple[Path, Path, list[str]]) -> dict[str, object]:
    """`make repro-wmt14 ...` twice; the raw corpus and reports as they were after the first."""
    repo, archives, pins = copy
    command = [*RECIPE, f"WMT14_ARGS={' '.join([f'data.wmt14.local_dir={archives}', *pins])}"]
    first = _run(command, repo)
    assert first[0] == 0, first[1][-6000:]
    after_first = {d: _stats(repo / d) for d in ("data/wmt14_lium", "reports", "artifacts")}
    second = _run(command, repo)
    assert second[0] == 0, second[1][-6000:]
    return {"repo": repo, "first": first, "second": second, "after_first": after_first}


def test_the_recipe_runs_to_table1_on_lium_archives(two_runs: dict, copy: tuple) -> None:
    repo, archives, _ = copy
    _, output, seconds = two_runs["first"]
    assert "Running stage 'prepare'" in output and "Running stage 'report'" in output
    results = (repo / "reports" / "results.md").read_text(encoding="utf-8")
    assert "Corpus: `wmt14_lium`" in results and "Scale: `tiny`" in results
    for model in ("RNNencdec-30", "RNNencdec-50", "RNNsearch-30", "RNNsearch-50"):
        assert f"| {model} |" in results
    record = (repo / "data" / "wmt14_lium" / "corpus.json").read_text()
    for name in (BITEXTS, DEVTEST):  # the sha256 of each archive is recorded
        assert hashlib.sha256((archives / name).read_bytes()).hexdigest() in record
    print(f"first make repro-wmt14: {seconds:.0f} s")


def test_a_second_run_downloads_unpacks_and_reruns_nothing(two_runs: dict) -> None:
    repo = two_runs["repo"]
    _, output, seconds = two_runs["second"]
    assert "Running stage" not in output, output
    assert "Stage 'prepare' didn't change, skipping" in output
    assert "Stage 'report' didn't change, skipping" in output
    assert "is complete (data/wmt14_lium/corpus.json); nothing rewritten" in output
    for directory, before in two_runs["after_first"].items():
        assert _stats(repo / directory) == before, directory  # not one file rewritten
    code, status, _ = _run([str(repo / ".venv" / "bin" / "dvc"), "status"], repo)
    assert code == 0 and "Data and pipelines are up to date." in status, status
    assert seconds < 60, f"the second run took {seconds:.0f} s"
    print(f"second make repro-wmt14: {seconds:.0f} s")


def test_the_download_step_over_http_gives_the_same_corpus(copy: tuple, http_dir: tuple,
                                                           tmp_path: Path) -> None:
    repo, archives, pins = copy
    served, base = http_dir
    for name in (BITEXTS, DEVTEST):
        shutil.copy2(archives / name, served / name)
    where = [f"paths.data_dir={tmp_path}/data"]
    for key, name in (("bitexts", BITEXTS), ("devtest", DEVTEST)):
        where += [shlex.quote(f'data.wmt14.archives.{key}.url="{base}/gone/{name}"'),
                  shlex.quote(f'data.wmt14.archives.{key}.mirrors=["{base}/{name}"]')]
    code, output, _ = _download_step(repo, [*where, *pins])
    assert code == 0, output
    raw = tmp_path / "data" / "wmt14_lium"
    assert (raw / "downloads" / BITEXTS).read_bytes() == (archives / BITEXTS).read_bytes()
    local = repo / "data" / "wmt14_lium"  # the local_dir route (when the recipe ran first)
    for name in ("train.en.gz", "train.fr.gz", "dev.fr", "test.fr", "corpus.json"):
        if (local / name).is_file():
            assert (raw / name).read_bytes() == (local / name).read_bytes(), name
    before = _stats(raw)
    for name in (BITEXTS, DEVTEST):  # the mirror is gone: the rerun must not need it
        (served / name).unlink()
    code, output, _ = _download_step(repo, [*where, *pins])
    assert code == 0 and "nothing rewritten" in output, output
    assert _stats(raw) == before


def test_no_mirror_answering_is_one_line_showing_the_local_copy_route(copy: tuple,
                                                                     http_dir: tuple,
                                                                     tmp_path: Path) -> None:
    repo, _, pins = copy
    _, base = http_dir
    where = [f"paths.data_dir={tmp_path}/data"]
    for key, name in (("bitexts", BITEXTS), ("devtest", DEVTEST)):
        where += [shlex.quote(f'data.wmt14.archives.{key}.url="{base}/gone/{name}"'),
                  shlex.quote(f'data.wmt14.archives.{key}.mirrors=["{base}/old/{name}"]')]
    code, output, _ = _download_step(repo, [*where, *pins])
    errors = [line for line in output.splitlines() if line.startswith("rnnsearch.wmt14:")]
    assert code == 1 and len(errors) == 1 and "Traceback" not in output, output
    assert errors[0].startswith(f"rnnsearch.wmt14: error: {BITEXTS}: no mirror answered (")
    assert errors[0].endswith('with a copy obtained elsewhere: make repro-wmt14 '
                              'WMT14_ARGS="data.wmt14.local_dir=/path/to/archives"')
