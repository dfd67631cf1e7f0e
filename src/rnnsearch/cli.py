"""Running an entry point: an expected user error is one line on stderr, not a traceback.

Expected user errors are bad data (`DataError`), a missing file or stage output
(`FileNotFoundError`), a bad config value (`ValueError`), a full disk (`OutputWriteError`) and
Hydra/OmegaConf composition errors (a typo in an override or a missing config), a job that
sbatch refuses (naming the `hydra.launcher.*` keys to change) and a SLURM job that ended with
a one-line error of its own. Each prints
`<entry>: error: <message>` and exits 1. Anything else is a bug and keeps its traceback, and
`RNNSEARCH_TRACEBACK=1` (or Hydra's own `HYDRA_FULL_ERROR=1`) shows the traceback of any error.

In a multi-process (DDP) run, every log line says which rank wrote it (`RankLabel`, installed by
conf/hydra/job_logging/ranked.yaml): the tasks of a SLURM job share one job log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from rnnsearch.config_checks import check_config
from rnnsearch.io_utils import OutputWriteError

USER_ERRORS = (ValueError, FileNotFoundError, OutputWriteError, HydraException,
               OmegaConfBaseException)
# What sbatch's rejection of a job says -> the `hydra.launcher.*` keys that set it
# (conf/hydra/launcher/slurm.yaml); a message matching none names all of them.
SBATCH_REJECTS = {
    "gres": ("gpus_per_node",),
    "partition": ("partition",),
    "time limit": ("timeout_min",),
    "memory": ("mem_gb",),
    "node configuration": ("nodes", "tasks_per_node", "cpus_per_task", "gpus_per_node", "mem_gb"),
}
LAUNCHER_KEYS = ("partition", "nodes", "tasks_per_node", "cpus_per_task", "gpus_per_node",
                 "mem_gb", "timeout_min")


def sbatch_rejection(err: BaseException) -> str | None:
    """One line for a job that sbatch refused (submitit's `FailedJobError`), naming the
    `hydra.launcher.*` keys to change; None for any other error."""
    if not _submitit_failure(err) or "failed during processing" in str(err):  # ran, failed
        return None
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    reason = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")
    keys = next((k for text, k in SBATCH_REJECTS.items() if text in reason.lower()), LAUNCHER_KEYS)
    return (f"SLURM refused the job ({reason}); check "
            + ", ".join(f"hydra.launcher.{key}" for key in keys))


def _submitit_failure(err: BaseException) -> bool:
    return type(err).__name__ == "FailedJobError" and type(err).__module__.startswith("submitit")


def job_failure(err: BaseException) -> str | None:
    """One line for a SLURM job that ended with a one-line error report of its own (submitit's
    `FailedJobError` carrying it; e.g. a requeue refused after `max_num_timeout`,
    `checkpointing.report_to_launcher`); None for any other error, a job's traceback included."""
    marker = "failed during processing with trace:"
    if not _submitit_failure(err) or marker not in str(err):
        return None
    report = str(err).split(marker, 1)[1].split("-" * 22)[1]  # between submitit's rules
    lines = [line.strip() for line in report.splitlines() if line.strip()]
    return f"a SLURM job ended: {lines[0]}" if len(lines) == 1 else None


def one_line(err: BaseException) -> str:
    """The error's first line, plus that of its explicit cause (`raise ... from`: Hydra wraps
    the real reason that way), and the config key an OmegaConf error names on a later line.

    Hydra's "Could not override 'model.hiden_dim'." becomes "Could not override
    'model.hiden_dim': Key 'hiden_dim' not in 'ModelConfig'"; a choice key's bad value in a
    YAML file gives "In 'experiment/x': ValidationError raised while composing config: Invalid
    value 'cosin', expected one of [none, cosine] (key: optim.lr_decay)".
    """
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(err).__name__
    if first.endswith(":") and len(lines) > 1:  # Hydra puts the reason on the next line
        first = f"{first} {lines[1]}"
    cause = err.__cause__
    if cause is not None and str(cause).strip():
        reason = str(cause).strip().splitlines()[0]
        if reason not in first:
            first = f"{first.rstrip('.')}: {reason}"
    keys = [getattr(e, "full_key", None) for e in (err, cause, err.__context__)
            if isinstance(e, OmegaConfBaseException)]
    key = next((k for k in keys if k), None)
    if key and key not in first:
        first = f"{first} (key: {key})"
    return first


def process_rank() -> tuple[int, int]:
    """(rank, world size) of this process: torch.distributed's once its process group exists,
    before that what the launcher set (SLURM: SLURM_PROCID of SLURM_NTASKS; Lightning's DDP and
    torchrun: RANK or LOCAL_RANK of WORLD_SIZE); (0, 1) in a one-process run."""
    dist = sys.modules.get("torch.distributed")  # imported by whoever trains, not by logging
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    env = os.environ
    if int(env.get("SLURM_NTASKS", "1")) > 1:
        return int(env.get("SLURM_PROCID", "0")), int(env["SLURM_NTASKS"])
    return int(env.get("RANK") or env.get("LOCAL_RANK") or 0), int(env.get("WORLD_SIZE", "1"))


class RankLabel(logging.Filter):
    """Gives each log record `rank`: "[rank r]" in a run of several processes, else ""."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        rank, world = process_rank()
        record.rank = f"[rank {rank}]" if world > 1 else ""
        return True


# Asked for before `run_entry` sets HYDRA_FULL_ERROR for its own use.
TRACEBACK_WANTED = any(os.environ.get(v) == "1"
                       for v in ("RNNSEARCH_TRACEBACK", "HYDRA_FULL_ERROR"))


@contextlib.contextmanager
def user_errors_exit(prog: str, cfg: Any = None, trains: bool = False) -> Iterator[None]:
    """Turn an expected user error raised inside into one line on stderr and exit status 1.

    Used inside the Hydra task function (so Hydra never reports the job's failure itself), with
    the composed `cfg`, which is checked first (`config_checks.check_config`, with the training
    rules when the entry `trains`), before the entry reads, writes or moves anything; and around
    it (composition errors: a typo in an override or a choice key's value, a missing config).
    """
    try:
        if cfg is not None:
            check_config(cfg, trains)
        yield
    except USER_ERRORS as err:
        if TRACEBACK_WANTED:
            raise
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except Exception as err:
        message = sbatch_rejection(err) or job_failure(err)
        if message is None or TRACEBACK_WANTED:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


# Ours: a corpus whose own scale applies when the command line names none (an explicit scale=
# wins). Hydra's defaults list cannot express it: a data option cannot override the scale group,
# which comes after it so that the scale's values win over the corpus's.
CORPUS_DEFAULT_SCALE = {"parallel_text": "real"}  # conf/scale/real.yaml: the real-corpus CPU preset


def with_corpus_scale(argv: list[str]) -> list[str]:
    """`argv` with `scale=<preset>` after `data=<corpus>` when that corpus has a preset and no
    scale is given (see CORPUS_DEFAULT_SCALE); otherwise `argv` unchanged."""
    if any(arg.lstrip("+~").startswith("scale=") or arg.lstrip("~") == "scale" for arg in argv):
        return list(argv)
    for k, arg in enumerate(argv):
        preset = CORPUS_DEFAULT_SCALE.get(arg.removeprefix("data=")) if arg.startswith(
            "data=") else None
        if preset is not None:
            return [*argv[:k + 1], f"scale={preset}", *argv[k + 1:]]
    return list(argv)


def run_entry(main: Callable[[], Any], prog: str) -> None:
    """Call a `@hydra.main` function with composition errors reported in one line (and a
    corpus's own scale when none is given: `with_corpus_scale`)."""
    sys.argv[1:] = with_corpus_scale(sys.argv[1:])
    saved = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises instead of printing its own report
    try:
        with user_errors_exit(prog):
            main()
    finally:
        if saved is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved
