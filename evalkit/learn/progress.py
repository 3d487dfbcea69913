"""One progress bar weighted by cost: each piece of work advances it by its estimated seconds.

Counting configurations, a bar that has done a hundred SVM fits in a minute promises an hour for a hundred CNN
trainings that take days; weighted by the estimate of :mod:`evalkit.learn.workload` (seconds of audio embedded,
classifier fits, CNN epochs, each at this machine's unit cost), its share done is a share of the time. Its ETA is the
estimate of the work left, scaled stage by stage by how fast that stage's estimated work has gone so far (its actual
seconds / its estimated seconds done), drawn, while little of the stage is done, towards the pace of all the work
so far (itself drawn towards 1 at the start): the calibrated estimate at the start, corrected by the machine's real
pace as work finishes. Stage by stage because the stages come in bursts (the first configurations of a task mostly
embed, the CNNs train later) and a micro-benchmark misjudges them apart; towards the overall pace because a
micro-benchmark that misjudges one stage on a machine tends to misjudge the others the same way (demo builds on a
2-core Xeon, 2026-12-08: the stages' estimates 1.1–1.7× high; with a stage not yet begun taken at the calibration's
word the ETA was 1.37–1.57× the time left from 10 % to 75 % of the work, with the overall pace 1.15–1.26).
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

from .workload import duration

#: Share of all the estimated work that each stage's pace counts as done at the overall pace (and the overall pace as
#: done at the calibrated pace, 1): the pace of a stage with only a few seconds done is mostly that of all the work
#: so far, one with much done mostly its own.
PRIOR_SHARE = 0.05


class CostBar:
    """A tqdm bar over estimated seconds with an ETA from the estimate and the pace so far.

    Parameters
    ----------
    total : float
        Estimated seconds of all the work (the sum of its pieces' estimates).
    desc : str
    disable : bool
    on_progress : callable, optional
        Called after every piece with ``(done, total, elapsed, eta)`` (estimated seconds done and in all, wall-clock
        seconds since the start, the ETA in seconds): e.g. a benchmark's record of the ETA against the truth.
    """

    def __init__(self, total: float, *, desc: str = "", disable: bool = False, on_progress=None):
        self.total, self.done, self.on_progress = float(total), 0.0, on_progress
        self.started = time.perf_counter()
        self.estimated: dict[str, float] = {}  # estimated seconds done, per stage
        self.actual: dict[str, float] = {}  # actual seconds they took, per stage
        self.left: dict[str, float] = {}  # estimated seconds left, per stage (when told)
        self.bar = tqdm(total=max(self.total, 1e-9), desc=desc, disable=disable, file=sys.stderr,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, {postfix}")
        self._show("")

    def plan(self, stages: dict) -> None:
        """The estimated seconds of all the work per stage (their sum is :attr:`total`)."""
        self.left = {stage: float(seconds) for stage, seconds in stages.items()}

    def eta(self) -> float:
        """Seconds left: each stage's estimated work left times that stage's pace so far, drawn towards the pace of
        all the stages so far while little of the stage is done, which is drawn towards the calibrated pace (1)
        while little of all the work is done (:data:`PRIOR_SHARE`); without stages, the overall pace."""
        if self.done <= 0:
            return max(0.0, self.total)
        if not self.left:
            return max(0.0, self.total - self.done) * (time.perf_counter() - self.started) / self.done
        prior = PRIOR_SHARE * self.total  # as if that much of each stage had gone at the overall pace
        overall = (sum(self.actual.values()) + prior) / (sum(self.estimated.values()) + prior)

        def pace(stage):
            return (self.actual.get(stage, 0.0) + prior * overall) / (self.estimated.get(stage, 0.0) + prior)

        return sum(left * pace(stage) for stage, left in self.left.items()
                   if left > 1e-6 * self.total)  # not rounding's crumbs

    def _show(self, what: str) -> None:
        self.bar.set_postfix_str(f"ETA {duration(self.eta())}" + (f" · {what}" if what else ""), refresh=True)

    def start(self, what: str) -> None:
        """Say what is being computed now."""
        self._show(what)

    def advance(self, seconds: float, what: str = "", *, estimated: dict | None = None,
                actual: dict | None = None) -> None:
        """One piece of work is finished; it was estimated at ``seconds`` (per stage: ``estimated``, which took
        ``actual`` seconds per stage)."""
        self.done += float(seconds)
        for stage, value in (estimated or {}).items():
            self.estimated[stage] = self.estimated.get(stage, 0.0) + float(value)
            self.left[stage] = self.left.get(stage, 0.0) - float(value)
        for stage, value in (actual or {}).items():
            self.actual[stage] = self.actual.get(stage, 0.0) + float(value)
        self.bar.update(float(seconds))
        self._show(what)
        if self.on_progress is not None:
            self.on_progress(self.done, self.total, time.perf_counter() - self.started, self.eta())

    def close(self) -> None:
        self.bar.close()
