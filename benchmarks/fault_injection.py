"""Fault injection: `kill -9` a `dvc repro` at random moments; reruns must end as if never killed.

1. Copies the repository (tracked and untracked-but-not-ignored files, i.e. the working tree) twice,
   selects `--scale` in each copy's conf/pipeline.yaml, and makes each a fresh git repository.
2. Runs `dvc repro` once, uninterrupted, in the first copy and records when each stage started.
3. In the second copy, for each of `--kills` planned moments (spread evenly over the stage kinds
   prepare, train, translate, evaluate, report, in pipeline order): starts `dvc repro`, waits until
   a stage of that kind starts, waits a random fraction of that stage's uninterrupted duration and
   sends SIGKILL to the whole process group (DVC and the stage command). If that stage kind had
   already run (e.g. the report, once all is done), the kill goes to a forced rerun of it
   (`dvc repro --force --single-item <stage>`). Then a last `dvc repro` must finish, and one
   more must run no stage at all.
4. Compares the final reports (reports/metrics/*.json, every bleu_by_length.csv, results.md,
   significance.json and the training curves) with the uninterrupted run: run times and
   checkpoint hashes are dropped (so is reports/runs/, which holds only those), and numbers must
   agree to the digit the report prints (0.01).

Training progress is observed with a probe loaded only in the killed copy (a `sitecustomize`
that records the global step after each update; it does not change any computation). For each
model training when killed: `updates_wasted` = updates reached when killed - the update the
rerun resumed from (its "resuming from" log line), which must not exceed the updates since the
newest last.ckpt at the kill (`updates_wasted_within_bound`).

Prints one JSON line; exits 1 unless every kill was survived. Example (seeded kill moments):

    python benchmarks/fault_injection.py --kills 10 --scale tiny --seed 0
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
KINDS = ("prepare", "train", "translate", "evaluate", "report")
RUNNING = re.compile(r"Running stage '([^']+)'")
RESUMING = re.compile(r"resuming from \S*/models/([^/\s]+)/last\.ckpt \(update (\d+)\)")
DROPPED_KEYS = {"seconds", "hours", "sha256"}  # run times and file hashes (timing in ckpt state)
TOLERANCE = 0.01  # reports print BLEU etc. to 2 decimals

PROBE = '''\
"""Fault-injection probe: write the global step after each update to $FAULT_PROBE_DIR/<exp>."""
import importlib.abc, importlib.util, os, sys


def _patch(module):
    base = module.PROBED_CLASS.on_train_batch_end
    out = os.environ["FAULT_PROBE_DIR"]

    def on_train_batch_end(self, trainer, *args):
        base(self, trainer, *args)
        with open(os.path.join(out, self.curves_csv.stem), "w") as fh:
            fh.write(str(trainer.global_step))

    module.PROBED_CLASS.on_train_batch_end = on_train_batch_end


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "PROBED_MODULE":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("FAULT_PROBE_DIR"):
    sys.meta_path.insert(0, _Finder())
'''


def probe_source() -> str:
    """The probe, aimed at `TrainingRecord` where it lives (a move fails here, not silently)."""
    from rnnsearch.training.record import TrainingRecord

    assert callable(TrainingRecord.on_train_batch_end)
    return (PROBE.replace("PROBED_MODULE", TrainingRecord.__module__)
            .replace("PROBED_CLASS", TrainingRecord.__name__))


def copy_working_tree(root: Path, dst: Path) -> None:
    """Copy `root`'s working tree (tracked + untracked, not ignored) into `dst`, without the
    committed outputs (reports/, dvc.lock), so a pipeline run there starts from nothing."""
    listed = subprocess.run(["git", "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                            cwd=root, capture_output=True, check=True).stdout.split(b"\0")
    for name in sorted({n.decode() for n in listed if n}):
        src = root / name
        if src.is_file() and not name.startswith(("reports/", "dvc.lock")):
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)


def copy_repo(dst: Path, scale: str) -> None:
    """The working tree (tracked + untracked, not ignored) as a fresh git repo at `scale`."""
    copy_working_tree(REPO, dst)
    pipeline = dst / "conf" / "pipeline.yaml"
    text, n = re.subn(r"(?m)^scale: *\w+", f"scale: {scale}", pipeline.read_text())
    if n != 1:
        raise SystemExit(f"{pipeline}: no `scale:` line to set to {scale}")
    # W&B is off in both copies: its service process is not what this benchmark measures
    text = re.sub(r'(?m)^train_overrides: *"[^"\n]*"', 'train_overrides: "logger=none"', text)
    pipeline.write_text(text)
    git = ["git", "-c", "user.name=fault-injection", "-c", "user.email=fault@injection"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fault injection copy"]):
        subprocess.run([*git, *cmd], cwd=dst, check=True, capture_output=True)


class Repro:
    """One `dvc repro` in its own process group; output lines collected with their times."""

    def __init__(self, cwd: Path, env: dict[str, str], extra: tuple[str, ...] = ()) -> None:
        self.t0, self.wall_start = time.monotonic(), time.time()
        self.proc = subprocess.Popen(["dvc", "repro", *extra], cwd=cwd, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic() - self.t0, line.rstrip("\n")))

    def stages(self) -> list[tuple[float, str]]:
        """(seconds since start, stage) for every stage this run started, in order."""
        return [(t, m.group(1)) for t, line in list(self.lines) if (m := RUNNING.search(line))]

    def wait_for_kind(self, kind: str, timeout: float = 900.0) -> str | None:
        """The first stage of `kind` to start (None if the run ended without one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, stage in self.stages():
                if stage.split("@")[0] == kind:
                    return stage
            if self.proc.poll() is not None:
                self._reader.join(5)
                return next((s for _, s in self.stages() if s.split("@")[0] == kind), None)
            time.sleep(0.02)
        return None

    def sleep_while_running(self, seconds: float) -> None:
        """Wait `seconds`, or less if the run ends first."""
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> bool:
        """SIGKILL to DVC and the stage command it runs; False if the run had ended already."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.wait() == -signal.SIGKILL

    def wait(self) -> int:
        code = self.proc.wait()
        self._reader.join(10)
        return code

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


def stage_durations(repro: Repro, total: float) -> dict[str, float]:
    """Seconds each stage's command ran: from its start to DVC's next lock-file update."""
    starts = repro.stages()
    bounds = [t for t, _ in starts[1:]] + [total]
    locks = [t for t, line in repro.lines if line.startswith("Updating lock file")]
    return {stage: min([x for x in locks if t < x <= end] or [end]) - t
            for (t, stage), end in zip(starts, bounds, strict=True)}


def ckpt_step(path: Path) -> int | None:
    """global_step of a checkpoint (None if absent or unreadable)."""
    if not path.is_file():
        return None
    import torch  # only needed here; keeps --help fast

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
    except Exception:  # noqa: BLE001 -- an unreadable file counts as no checkpoint
        return None


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, float | int) and isinstance(b, float | int):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= TOLERANCE + 1e-9
    return a == b


def diff_json(a: Any, b: Any, where: str) -> list[str]:
    """Differences between two JSON values, ignoring DROPPED_KEYS; numbers to TOLERANCE."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - DROPPED_KEYS
        return [d for k in sorted(keys) for d in diff_json(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in diff_json(x, y, f"{where}[{i}]")]
    return [] if _close(a, b) else [f"{where}: {a!r} vs {b!r}"]


def _cell(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def diff_csv(a: str, b: str, where: str) -> list[str]:
    rows_a = [[_cell(c) for c in r] for r in csv.reader(io.StringIO(a))]
    rows_b = [[_cell(c) for c in r] for r in csv.reader(io.StringIO(b))]
    return diff_json(rows_a, rows_b, where)


def normalise_results(text: str) -> str:
    """results.md without run times: `seconds = x` and every Hours / Seconds table column."""
    text = re.sub(r"seconds = [0-9.]+", "seconds = -", text)
    out, timed = [], set()
    for line in text.splitlines():
        if not line.startswith("|"):
            timed = set()
            out.append(line)
            continue
        cells = line.split("|")
        if not timed and not set(line) <= set("|-: "):
            timed = {i for i, c in enumerate(cells) if c.strip().lower() in ("hours", "seconds")}
            timed = timed or {-1}
        out.append("|".join("-" if i in timed else c for i, c in enumerate(cells)))
    return "\n".join(out)


def compare_reports(want: Path, got: Path) -> list[str]:
    """Differences between two reports/ directories (empty: identical as printed)."""
    diffs: list[str] = []
    names = sorted({p.relative_to(want).as_posix() for p in want.rglob("*")
                    if p.suffix in (".json", ".csv", ".md") and "runs" not in p.parts
                    and p.name != "prepared_stats.json"})  # runs/: timings and hashes only
    if not names:
        return [f"{want}: no reports to compare"]
    for name in names:
        a, b = want / name, got / name
        if not b.is_file():
            diffs.append(f"{name}: missing after the kills")
            continue
        if name.endswith(".json"):
            diffs += diff_json(json.loads(a.read_text()), json.loads(b.read_text()), name)
        elif name.endswith(".csv"):
            diffs += diff_csv(a.read_text(), b.read_text(), name)
        elif normalise_results(a.read_text()) != normalise_results(b.read_text()):
            diffs.append(f"{name}: differs (run times excluded)")
    return diffs


def plan(kills: int, rng: random.Random) -> list[tuple[str, float]]:
    """(stage kind, fraction of its duration) per kill, spread evenly over KINDS in order."""
    return [(KINDS[i * len(KINDS) // kills], rng.uniform(0.05, 0.95)) for i in range(kills)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--scale", default="tiny", help="conf/scale/<scale>.yaml")
    parser.add_argument("--seed", type=int, default=0, help="makes the kill moments reproducible")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the two copies go (default: a new temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the copies afterwards")
    args = parser.parse_args()
    if args.kills < 1:
        parser.error("--kills must be >= 1")
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="fault_injection-", dir=args.workdir))
    clean, killed, probe = work / "uninterrupted", work / "killed", work / "probe"
    for d in (clean, killed, probe / "steps"):
        d.mkdir(parents=True)
    (probe / "sitecustomize.py").write_text(probe_source())
    copy_repo(clean, args.scale)
    copy_repo(killed, args.scale)
    bin_dir = str(Path(sys.executable).parent)
    base_env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}

    t0 = time.monotonic()
    first = Repro(clean, {**base_env, "PYTHONPATH": str(clean / "src")})
    if first.wait() != 0:
        print(first.text[-3000:], file=sys.stderr)
        raise SystemExit("the uninterrupted dvc repro failed; see its output above")
    t_clean = time.monotonic() - t0
    durations = stage_durations(first, t_clean)

    env = {**base_env, "PYTHONPATH": f"{probe}{os.pathsep}{killed / 'src'}",
           "FAULT_PROBE_DIR": str(probe / "steps")}
    log: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []  # per-model records of training kills, until resumed
    t1 = time.monotonic()
    order = [s for _, s in first.stages()]
    models = killed / "artifacts" / "models"
    for kind, frac in plan(args.kills, rng):
        entry: dict[str, Any] = {"planned": kind, "killed": False}
        for extra in ((), ("--force", "--single-item", [s for s in order
                                                        if s.split("@")[0] == kind][-1])):
            # 2nd try only if the 1st missed (`kind` had already run): that stage, forced
            for old in (probe / "steps").iterdir():  # steps of this run's processes only
                old.unlink()
            run = Repro(killed, env, extra)
            stage = run.wait_for_kind(kind)
            if stage is None:  # the run ended before reaching `kind`: nothing to kill
                run.wait()
                pending = _settle(pending, run, killed)
                continue
            run.sleep_while_running(frac * durations.get(stage, 1.0) / (2 if extra else 1))
            current = run.stages()[-1][1] if run.stages() else stage
            entry = {"planned": kind, "fraction": round(frac, 3), "stage": current,
                     "forced": bool(extra), "killed": run.proc.poll() is None}
            if entry["killed"]:
                break
            run.wait()
            pending = _settle(pending, run, killed)
        if not entry["killed"]:
            log.append(entry)
            continue
        # the models training right now (each writes its step to the probe after every update)
        running = {f.name: ckpt_step(models / f.name / "last.ckpt")
                   for f in (probe / "steps").iterdir()} if kind == "train" else {}
        entry["killed"] = run.kill()
        pending = _settle(pending, run, killed)
        if entry["killed"] and running:
            entry["models"] = {}
            for exp, ckpt in running.items():
                text = (probe / "steps" / exp).read_text().strip()
                at_kill = int(text) if text.isdigit() else ckpt or 0  # no update yet: at ckpt
                record = {"experiment": exp, "ckpt_step": ckpt, "step_at_kill": at_kill,
                          "bound": at_kill - (ckpt or 0)}
                entry["models"][exp] = record
                pending.append(record)
        log.append(entry)
    final = Repro(killed, env)
    final_code = final.wait()
    pending = _settle(pending, final, killed)
    noop = Repro(killed, env)
    noop_code = noop.wait()
    t_killed = time.monotonic() - t1

    diffs = compare_reports(clean / "reports", killed / "reports") if final_code == 0 else [
        f"final dvc repro failed (exit {final_code}): {final.text[-500:]}"]
    done = [e for e in log if e["killed"]]
    records = [r for e in done for r in e.get("models", {}).values()]
    wasted = sum(r.get("wasted", 0) for r in records)
    bound_ok = not pending and all(r["wasted"] <= r["bound"] for r in records)
    noop_ok = noop_code == 0 and not noop.stages()
    survived = len(done) if (not diffs and final_code == 0) else 0
    result = {
        "benchmark": "fault_injection", "scale": args.scale, "seed": args.seed,
        "kills": len(done), "kills_survived": survived, "updates_wasted": wasted,
        "updates_wasted_within_bound": bound_ok, "second_repro_noop": noop_ok,
        "kills_by_stage": {k: sum(e["stage"].split("@")[0] == k for e in done) for k in KINDS},
        "seconds_uninterrupted": round(t_clean, 1), "seconds_with_kills": round(t_killed, 1),
        "stage_seconds": {k: round(v, 1) for k, v in durations.items()},
        "differences": diffs[:10], "kill_log": log,
    }
    print(json.dumps(result))
    if args.keep:
        print(f"copies kept in {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    ok = done and survived == len(done) and bound_ok and noop_ok
    return 0 if ok else 1


def _settle(pending: list[dict[str, Any]], run: Repro, copy: Path) -> list[dict[str, Any]]:
    """Fill in `resumed_from` and `wasted` of killed models that `run` (now ended) restarted.

    A model's restart is read from its training output: the stage's own output (one model per
    stage) or, when a stage trains several models, `artifacts/logs/train/<exp>.log`, rewritten by
    each run (only a log newer than `run`'s start counts). A model that `run` did not restart
    stays pending.
    """
    still = []
    for record in pending:
        exp = record["experiment"]
        texts = [run.text]
        log_file = copy / "artifacts" / "logs" / "train" / f"{exp}.log"
        if log_file.is_file() and log_file.stat().st_mtime >= run.wall_start:
            texts.append(log_file.read_text(errors="replace"))
        found = [int(m.group(2)) for text in texts for m in RESUMING.finditer(text)
                 if m.group(1) == exp]
        started = found or any("Trainable params" in t for t in texts[1:])
        if not started:
            still.append(record)
            continue
        record["resumed_from"] = found[-1] if found else None
        record["wasted"] = max(record["step_at_kill"] - (found[-1] if found else 0), 0)
    return still


if __name__ == "__main__":
    sys.exit(main())
