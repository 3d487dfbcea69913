"""Intervals of a paired difference between two configurations, each answering one stated question, and the
family-wise correction the claims share (used by :mod:`evalkit.book.verdicts`).

The input is one paired difference D (points of balanced accuracy, A − B) per task and repetition: A and B were
trained and tested on the same split. Two estimands are offered:

- **on these tasks, over resampled splits** (:func:`resampled_t_interval`, the primary one): the mean over the
  profile's tasks of the expected difference over random training/test splits. Repetitions share most of their
  training files, so their differences are correlated; Nadeau & Bengio's corrected resampled t (2003) widens the
  variance by ``1/R + n_test/n_train`` instead of ``1/R``.
- **on tasks like these** (:func:`random_task_interval`): the tasks are a sample of tasks; a t interval over the task
  means, with T − 1 degrees of freedom.

:func:`task_signs` counts the tasks on which A is ahead, and :func:`holm` shares a family-wise error rate between
the claims.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..config import ParameterError, check_number

#: Confidence of every interval, and the family-wise error rate the claims' verdicts share (Holm).
LEVEL, FAMILY_ERROR = 0.95, 0.05


@dataclass(frozen=True)
class Interval:
    """A difference's estimate with a two-sided interval: ``low``/``high``/``se`` are NaN and ``df`` is 0 when the
    design leaves no degrees of freedom (one repetition per task, or one task)."""

    estimate: float
    low: float = math.nan
    high: float = math.nan
    se: float = math.nan
    df: int = 0

    @property
    def exists(self) -> bool:
        return self.df > 0 and math.isfinite(self.se)


def _check_level(level: float) -> float:
    return check_number("interval", "level", level, low=0, high=1, low_open=True, high_open=True)


def _task_groups(differences: pd.DataFrame) -> list[pd.DataFrame]:
    if not {"task", "difference"} <= set(differences.columns):
        raise ParameterError("differences: expected columns task, repetition and difference")
    return [group for _, group in differences.groupby("task", sort=True)]


def resampled_t_interval(differences: pd.DataFrame, *, level: float = LEVEL) -> Interval:
    """The mean over tasks of the mean paired difference, with Nadeau & Bengio's corrected resampled t interval.

    It answers: *on these tasks, what is the expected difference over random splits of their data?* The variance of
    a task's mean over R repetitions is taken as ``(1/R + n_test/n_train) s²`` (``s²`` pooled over tasks, the ratio
    from the task's actual split sizes), with ``df = Σ (R_t − 1)`` = T(R − 1).

    Parameters
    ----------
    differences : DataFrame
        ``task``, ``repetition``, ``difference`` (points) and ``test_train_ratio`` (n_test / n_train of that run;
        missing: 0, the uncorrected t).
    level : float
        Two-sided confidence, in (0, 1).

    Returns
    -------
    Interval
        Without bounds (``df == 0``) when no task has two repetitions.
    """
    level = _check_level(level)
    groups = _task_groups(differences)
    if not groups:
        return Interval(math.nan)
    means = np.array([g["difference"].mean() for g in groups])
    estimate = float(means.mean())
    df = int(sum(len(g) - 1 for g in groups))
    if df < 1:
        return Interval(estimate)
    pooled = sum(float(((g["difference"] - g["difference"].mean()) ** 2).sum()) for g in groups) / df
    ratio = [float(g["test_train_ratio"].mean()) if "test_train_ratio" in g and g["test_train_ratio"].notna().any()
             else 0.0 for g in groups]
    variance = sum((1 / len(g) + r) * pooled for g, r in zip(groups, ratio)) / len(groups) ** 2
    return _t_interval(estimate, math.sqrt(variance), df, level)


def random_task_interval(differences: pd.DataFrame, *, level: float = LEVEL) -> Interval:
    """The mean of the task means with a t interval over tasks (df = T − 1).

    It answers: *on tasks like these (the tasks a random sample of such tasks), what is the expected difference?*
    Repetitions only sharpen each task's mean; the spread between tasks sets the width.
    """
    level = _check_level(level)
    means = np.array([g["difference"].mean() for g in _task_groups(differences)])
    if len(means) == 0:
        return Interval(math.nan)
    if len(means) < 2:
        return Interval(float(means.mean()))
    return _t_interval(float(means.mean()), float(means.std(ddof=1) / math.sqrt(len(means))), len(means) - 1, level)


def _t_interval(estimate: float, se: float, df: int, level: float) -> Interval:
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return Interval(estimate, estimate - half, estimate + half, se, df)


def task_signs(differences: pd.DataFrame) -> tuple[int, int]:
    """``(ahead, tasks)``: on how many tasks the mean difference is above zero, of how many."""
    means = [g["difference"].mean() for g in _task_groups(differences)]
    return int(sum(m > 0 for m in means)), len(means)


def two_sided_p(*, distance: float, interval: Interval) -> float:
    """The smallest error rate α at which the (1 − α) interval of ``interval`` stays on one side of a boundary that
    lies ``distance`` points from its estimate: the two-sided t test's p-value for that boundary."""
    if not interval.exists:
        return math.nan
    if interval.se == 0:
        return 0.0 if distance > 0 else 1.0
    return float(2 * stats.t.sf(abs(distance) / interval.se, interval.df))


def holm(p_values, *, family_error: float = FAMILY_ERROR) -> list[bool]:
    """Holm's step-down procedure: which of ``p_values`` are rejected at family-wise error ``family_error``
    (NaN: not part of the family).

    Parameters
    ----------
    p_values : sequence of float
    family_error : float
        In (0, 1).

    Returns
    -------
    list of bool, in the order of ``p_values``.
    """
    family_error = check_number("holm", "family_error", family_error, low=0, high=1, low_open=True, high_open=True)
    p = np.asarray(list(p_values), dtype=float)
    tested = np.flatnonzero(np.isfinite(p))
    rejected = np.zeros(len(p), dtype=bool)
    for rank, index in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        if p[index] > family_error / (len(tested) - rank):
            break
        rejected[index] = True
    return rejected.tolist()


def file_bootstrap_interval(runs: list[dict], *, resamples: int = 1000, seed: int = 0,
                            level: float = LEVEL) -> Interval:
    """How much the test files alone move a paired difference: a class-stratified paired bootstrap over the stored
    per-file predictions, with the trained models held fixed.

    It answers: *if these models were tested on other files like these, how far could the difference move?* Each
    resample draws, within each class of each run, as many test files as it has (with replacement), the same files
    for A and B; the statistic is the mean over tasks of the mean over repetitions of the balanced-accuracy
    difference (points). It is a check of test-set noise, not an interval for the claim (training varies too).

    Parameters
    ----------
    runs : list of dict
        One per (task, repetition): ``task``, ``labels`` (true class of each test file), ``a`` and ``b`` (the
        predicted classes of A and B for the same files, in the same order).
    resamples : int
        Bootstrap resamples, ≥ 100.
    seed : int
        Seed of the resampling.
    """
    level = _check_level(level)
    resamples = check_number("file bootstrap", "resamples", resamples, low=100, whole=True)
    if not runs:
        return Interval(math.nan)
    rng = np.random.default_rng(seed)
    by_task: dict = {}
    for run in runs:
        labels = np.asarray(run["labels"])
        hits = {side: np.asarray(run[side]) == labels for side in ("a", "b")}
        recalls = []
        for label in np.unique(labels):
            index = np.flatnonzero(labels == label)
            drawn = index[rng.integers(0, len(index), (resamples, len(index)))]
            recalls.append(hits["a"][drawn].mean(axis=1) - hits["b"][drawn].mean(axis=1))
        observed = np.mean([hits["a"][labels == c].mean() - hits["b"][labels == c].mean() for c in np.unique(labels)])
        by_task.setdefault(run["task"], []).append((100 * observed, 100 * np.mean(recalls, axis=0)))
    estimate = float(np.mean([np.mean([o for o, _ in task]) for task in by_task.values()]))
    statistic = np.mean([np.mean([s for _, s in task], axis=0) for task in by_task.values()], axis=0)
    low, high = np.percentile(statistic, [50 - 50 * level, 50 + 50 * level])
    return Interval(estimate, float(low), float(high), float(statistic.std(ddof=1)), len(runs))


def max_t_intervals(candidates: dict, *, level: float = LEVEL, seed: int = 0, draws: int = 20000) -> dict:
    """Simultaneous intervals for several paired differences on the same splits (max-t), so that the one that
    looks best can be reported without the selection shrinking its interval.

    It answers: *for every candidate at once, on these tasks over resampled splits, what is its difference?* Each
    candidate keeps its corrected resampled t standard error (:func:`resampled_t_interval`); the common critical
    value is the ``level`` quantile of max |T| over the candidates, with T multivariate t (df of the design) whose
    correlation is that of the candidates' within-task residuals, simulated with ``seed``.

    Parameters
    ----------
    candidates : dict
        ``{label: paired differences}`` as for :func:`resampled_t_interval`, on the same tasks and repetitions.

    Returns
    -------
    dict
        ``{label: Interval}``; intervals without bounds when the design has no degrees of freedom.
    """
    level = _check_level(level)
    draws = check_number("max-t", "draws", draws, low=1000, whole=True)
    single = {label: resampled_t_interval(d, level=level) for label, d in candidates.items()}
    if not single or not all(i.exists for i in single.values()):
        return {label: Interval(i.estimate) for label, i in single.items()}
    residuals = pd.concat({label: d.set_index(["task", "repetition"])["difference"]
                           - d.groupby("task")["difference"].transform("mean").to_numpy()
                           for label, d in candidates.items()}, axis=1).dropna()
    with np.errstate(invalid="ignore", divide="ignore"):  # a candidate without spread correlates with nothing
        correlation = np.atleast_2d(np.nan_to_num(np.corrcoef(residuals.to_numpy().T), nan=0.0))
    np.fill_diagonal(correlation, 1.0)
    df = min(i.df for i in single.values())
    rng = np.random.default_rng(seed)
    normal = rng.multivariate_normal(np.zeros(len(single)), correlation, size=draws, method="eigh")
    largest = np.abs(normal / np.sqrt(rng.chisquare(df, size=(draws, 1)) / df)).max(axis=1)
    critical = float(np.quantile(largest, level))
    return {label: Interval(i.estimate, i.estimate - critical * i.se, i.estimate + critical * i.se, i.se, i.df)
            for label, i in single.items()}
