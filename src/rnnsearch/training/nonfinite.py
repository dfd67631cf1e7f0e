"""Non-finite losses and gradients (`optim.nonfinite: stop | shrink`), handled on the device.

An update that does not log must not wait for the device (a host read of a CUDA tensor stalls
the queue), so nothing here reads a tensor on the host during an update:
- `NonfiniteWatch.note` records with tensor operations which updates had a non-finite loss or
  gradient norm (the first one, what it was, how many, the last one);
- `shrink_nonfinite` applies GroundHog's rule (SGD_adadelta.py: a gradient whose norm is not
  finite becomes 0.1 p, unclipped) with `torch.where`, whatever the norm turns out to be.
The record is read on the host (one sync) only where the run syncs anyway (`check`): logging
steps, validation, checkpoint writes and the end of training. There a `stop` run raises, naming
the first non-finite update and the range of updates it was found in (the last clean check and
this one); fit.py adds the last good checkpoint, which is never a later one, since every
checkpoint write checks first. A `shrink` run logs one warning line per check that found any.
Not responsible for when the checks come (lit_module.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch

log = logging.getLogger(__name__)
NONFINITE = ("stop", "shrink")  # a non-finite gradient: stop the run | GroundHog's 0.1 p
SHRINK = 0.1  # GroundHog SGD_adadelta.py: a non-finite gradient is replaced by 0.1 * p
LOSS, GRADIENT = 1, 2  # what was found non-finite first: the loss, or (loss finite) the gradient
WHAT = {LOSS: "training loss", GRADIENT: "gradient norm"}


class NonfiniteWatch:
    """The device-side record of non-finite updates, and its host-side check.

    Args:
        rule: `stop` (the check raises) or `shrink` (the check logs a warning and goes on).
    """

    def __init__(self, rule: str) -> None:
        if rule not in NONFINITE:
            raise ValueError(f"optim.nonfinite must be one of {'|'.join(NONFINITE)}, got {rule!r}")
        self.rule = rule
        # (count, first step, what was non-finite at the first, last step): int64 on the device
        self._record: torch.Tensor | None = None
        self._clean_step = 0  # the last check found every update before this step finite

    def start(self, step: int) -> None:
        """Training (re)starts at `step`: nothing before it is this process's to report."""
        self._clean_step = step
        if self._record is not None:
            self._record.zero_()

    def note(self, step: int, grad_bad: torch.Tensor, loss_bad: torch.Tensor | None) -> None:
        """Record update `step` where its gradient norm (or loss, if given) was non-finite,
        without reading either on the host.

        Shapes: grad_bad, loss_bad: () bool, on the training device.
        """
        bad = grad_bad if loss_bad is None else loss_bad | grad_bad  # ()
        what_now = GRADIENT if loss_bad is None else torch.where(loss_bad, LOSS, GRADIENT)
        if self._record is None:
            self._record = torch.zeros(4, dtype=torch.int64, device=bad.device)  # (4,)
        count, first, what, last = self._record.unbind()
        is_first = bad & (count == 0)  # ()
        self._record = torch.stack([
            count + bad,
            torch.where(is_first, step, first),
            torch.where(is_first, what_now, what),
            torch.where(bad, step, last),
        ])  # (4,)

    def check(self, step: int) -> None:
        """Read the record (one device sync): `stop` raises, `shrink` warns and clears it.

        Args:
            step: the run's global step now (updates done).

        Raises:
            FloatingPointError: under `stop`, when an update since the last check was
                non-finite; names it and the range it was found in.
        """
        if self._record is None:
            self._clean_step = step
            return
        count, first, what, last = self._record.tolist()
        if count == 0:
            self._clean_step = step
            return
        if self.rule == "stop":
            raise FloatingPointError(
                f"non-finite {WHAT[what]} at step {first} (found at step {step}, checking "
                f"updates {self._clean_step}-{step - 1}); training stopped")
        log.warning("non-finite gradient norm at step %d (%d update(s) of steps %d-%d): "
                    "gradient replaced by %.1f * p (optim.nonfinite=shrink)",
                    first, count, first, last, SHRINK)
        self._record.zero_()
        self._clean_step = step


def shrink_nonfinite(params: Iterable[torch.nn.Parameter], bad: torch.Tensor) -> None:
    """GroundHog's rule on the device: every gradient becomes 0.1 p where `bad` is true.

    Parameters without a gradient (unused this update) are left without one.

    Shapes: bad: () bool.
    """
    for p in params:
        if p.grad is not None:
            p.grad.copy_(torch.where(bad, SHRINK * p.detach(), p.grad))
