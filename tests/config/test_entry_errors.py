"""Expected user errors end an entry point with one line on stderr and a non-zero exit.

Bad data, a missing stage output and a config typo each print `rnnsearch.<entry>: error: ...`
naming the file or key, with no traceback; a bug keeps its traceback (`one_line` is only for
`cli.USER_ERRORS`), and `RNNSEARCH_TRACEBACK=1` brings the traceback back.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from rnnsearch.cli import one_line, run_entry

pytestmark = pytest.mark.timeout(600)  # an entry point's subprocess may take 300 s


def _run(module: str, *overrides: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", module, *overrides], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, "WANDB_MODE": "offline",
                                                    **(env or {})}, timeout=300)


def _assert_one_line(proc: subprocess.CompletedProcess, module: str, *needles: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{module}: error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def test_config_typo_is_one_line_naming_the_key(tmp_path: Path) -> None:
    proc = _run("rnnsearch.prepare", "model.hiden_dim=3", cwd=tmp_path)
    _assert_one_line(proc, "rnnsearch.prepare", "model.hiden_dim", "ModelConfig")


def test_missing_stage_output_is_one_line_naming_the_file(tmp_path: Path) -> None:
    proc = _run("rnnsearch.translate", "experiment=rnnsearch_50",
                f"data.prepared_dir={tmp_path / 'nowhere'}", cwd=tmp_path)
    _assert_one_line(proc, "rnnsearch.translate", str(tmp_path / "nowhere"), "rnnsearch.prepare")


def test_bad_data_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for split in ("train", "dev", "test"):  # train: 2 vs 1 lines (dev and test are read first)
        for lang, text in (("de", "ein Haus\nzwei\n" if split == "train" else "ein Haus\n"),
                           ("en", "a house\n")):
            (raw / f"{split}.{lang}.gz").write_bytes(gzip.compress(text.encode()))
    proc = _run("rnnsearch.prepare", "data=parallel_text", f"data.raw_dir={raw}",
                "data.src_lang=de", "data.tgt_lang=en", f"data.prepared_dir={tmp_path / 'p'}",
                f"paths.reports_dir={tmp_path / 'reports'}", cwd=tmp_path)
    _assert_one_line(proc, "rnnsearch.prepare", "train.de.gz")


def test_traceback_on_request(tmp_path: Path) -> None:
    proc = _run("rnnsearch.prepare", "model.hiden_dim=3", cwd=tmp_path,
                env={"RNNSEARCH_TRACEBACK": "1"})
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


def test_one_line_joins_hydra_message_and_cause() -> None:
    try:
        try:
            raise KeyError("Key 'hiden_dim' not in 'ModelConfig'\n    full_key: model.hiden_dim")
        except KeyError as cause:
            raise ConfigCompositionException(
                "Could not override 'model.hiden_dim'.\nTo append use +model.hiden_dim=3"
            ) from cause
    except ConfigCompositionException as err:
        line = one_line(err)
    assert "\n" not in line
    assert line.startswith("Could not override 'model.hiden_dim': ")
    assert "hiden_dim' not in 'ModelConfig'" in line


def test_a_bug_is_not_swallowed(capsys: pytest.CaptureFixture[str]) -> None:
    """Errors outside USER_ERRORS propagate with their traceback."""
    def main() -> None:
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        run_entry(main, "rnnsearch.x")
    assert capsys.readouterr().err == ""
