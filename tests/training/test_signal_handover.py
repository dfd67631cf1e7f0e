"""Which handlers a stop signal is passed on to, and the exit status after them.

`PreemptionCheckpoint` checkpoints, then passes the signal to the handler installed before it:
only on the rank that received it, never to Lightning's own (which broadcasts over
torch.distributed, a collective the other ranks are not in), and the process then exits
128 + signum as logged, also after submitit's requeue handler has called `sys.exit(-1)`; when
submitit refuses to requeue (its `max_num_timeout` is used up), with status 1 and one line.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning.pytorch.trainer.connectors.signal_connector import _HandlersCompose, _SignalConnector
from submitit import SlurmJob
from submitit.core.job_environment import SignalHandler

from rnnsearch.cli import job_failure
from rnnsearch.training.checkpointing import PreemptionCheckpoint, handed_on


class _Saver:
    def __init__(self) -> None:
        self.dirpath = Path("model")
        self.saved_at: list[int] = []

    def save(self, trainer: SimpleNamespace) -> None:
        self.saved_at.append(trainer.global_step)


def _trainer(any_rank_signalled: bool) -> SimpleNamespace:
    """A trainer whose ranks agree that some rank was (or was not) signalled."""
    strategy = SimpleNamespace(reduce_boolean_decision=lambda own, all: any_rank_signalled)
    return SimpleNamespace(strategy=strategy, global_step=7)


class _Broadcaster:
    """Lightning's signal connector, whose SIGTERM notifier must not run: it would broadcast."""

    def __init__(self) -> None:
        self.trainer = SimpleNamespace(local_rank=1, received_sigterm=False,
                                       strategy=SimpleNamespace(launcher=self))
        self.killed: list[int] = []

    def kill(self, signum: int) -> None:
        self.killed.append(signum)


@pytest.fixture
def installed() -> Iterator[list[tuple[str, int]]]:
    """SIGUSR2 -> a submitit-like requeue handler; SIGTERM -> Lightning's composed handler around
    a launcher handler. Yields the calls they receive."""
    calls: list[tuple[str, int]] = []

    def requeue(signum: int, frame: object) -> None:
        calls.append(("requeue", signum))
        raise SystemExit(-1)  # what submitit's checkpoint_and_try_requeue ends with

    def launcher(signum: int, frame: object) -> None:
        calls.append(("launcher", signum))

    lightning = _Broadcaster()
    connector = _SignalConnector(lightning.trainer)
    saved = {s: signal.getsignal(s) for s in (signal.SIGUSR2, signal.SIGTERM)}
    signal.signal(signal.SIGUSR2, requeue)
    signal.signal(signal.SIGTERM, _HandlersCompose([connector._sigterm_notifier_fn, launcher]))
    try:
        yield calls
        assert lightning.killed == []  # Lightning's notifier never ran
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _stop(received: int | None, any_rank_signalled: bool) -> tuple[int, list[int]]:
    saver = _Saver()
    callback = PreemptionCheckpoint(saver)
    callback.on_train_start(None, None)
    if received is not None:
        callback._on_signal(received, None)
    with pytest.raises(SystemExit) as stopped:
        callback._stop_if_signalled(_trainer(any_rank_signalled))
    return stopped.value.code, saver.saved_at


def test_usr2_exits_140_after_the_requeue_handler(installed: list[tuple[str, int]]) -> None:
    code, saved_at = _stop(signal.SIGUSR2, any_rank_signalled=True)
    assert installed == [("requeue", signal.SIGUSR2)]
    assert code == 128 + signal.SIGUSR2 == 140
    assert saved_at == [7]


def test_sigterm_reaches_the_launcher_but_not_lightning(installed: list[tuple[str, int]]) -> None:
    code, saved_at = _stop(signal.SIGTERM, any_rank_signalled=True)
    assert installed == [("launcher", signal.SIGTERM)]
    assert code == 128 + signal.SIGTERM and saved_at == [7]


def test_a_rank_that_was_not_signalled_hands_nothing_on(installed: list[tuple[str, int]]) -> None:
    code, saved_at = _stop(None, any_rank_signalled=True)  # another rank got SIGTERM
    assert installed == []
    assert code == 128 + signal.SIGTERM and saved_at == [7]


@pytest.fixture
def exhausted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SIGUSR2 -> submitit's own requeue handler in the state of a job whose
    `max_num_timeout` requeues are used up: no time-out left to count (countdown 0), and the job
    timed out again (a 0-minute limit counts as reached at once). Task 0 of SLURM job 4242,
    whose submitit folder is tmp_path."""
    for name, value in (("SUBMITIT_EXECUTOR", "slurm"), ("SUBMITIT_FOLDER", str(tmp_path)),
                        ("SLURM_JOB_ID", "4242"), ("SLURM_PROCID", "0")):
        monkeypatch.setenv(name, value)
    job = SimpleNamespace(_timeout_min=0, _timeout_countdown=0, function=None)
    handler = SignalHandler(SimpleNamespace(global_rank=0),
                            SimpleNamespace(submitted_pickle=tmp_path / "job.pkl"), job)
    saved = signal.signal(signal.SIGUSR2, handler.checkpoint_and_try_requeue)
    try:
        yield
    finally:
        signal.signal(signal.SIGUSR2, saved)


@pytest.mark.usefixtures("exhausted")
def test_an_exhausted_requeue_ends_with_one_line_and_status_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    code, saved_at = _stop(signal.SIGUSR2, any_rank_signalled=True)
    assert code == 1 and saved_at == [7]
    line = ("job not requeued: the time limit was reached again after "
            f"hydra.launcher.max_num_timeout requeues; the last checkpoint is "
            f"{Path('model', 'last.ckpt')} (update 7): submit it again with the same "
            "hydra.sweep.dir to resume from it")
    assert capsys.readouterr().err.splitlines() == [line]  # no traceback
    assert caplog.records[-1].getMessage() == line  # and the job log ends with it
    # the launcher side reads the job's end from its result file, and says it in one line
    job = SlurmJob(folder=tmp_path, job_id="4242")
    assert job.paths.result_pickle.is_file()  # else it would wait for SLURM's accounting
    assert job_failure(job.exception()) == f"a SLURM job ended: {line}"


def test_an_error_in_the_handed_on_handler_that_is_not_submitits_is_raised(
        installed: list[tuple[str, int]]) -> None:
    def broken(signum: int, frame: object) -> None:
        raise OSError("disk gone")

    signal.signal(signal.SIGUSR2, broken)
    callback = PreemptionCheckpoint(_Saver())
    callback.on_train_start(None, None)
    callback._on_signal(signal.SIGUSR2, None)
    with pytest.raises(OSError, match="disk gone"):
        callback._stop_if_signalled(_trainer(any_rank_signalled=True))


def test_handed_on_unwraps_lightning_and_skips_defaults() -> None:
    def mine(signum: int, frame: object) -> None: ...
    connector = _SignalConnector(SimpleNamespace())
    composed = _HandlersCompose([connector._sigterm_notifier_fn,
                                 _HandlersCompose([connector._slurm_sigusr_handler_fn, mine])])
    assert handed_on(composed) == [mine]
    assert handed_on(signal.default_int_handler) == []
    assert handed_on(signal.SIG_DFL) == [] and handed_on(None) == []
