"""How a claim is judged, the same way on the published tables and on a profile's own (the claims themselves are in
:mod:`evalkit.book.claims`).

Each claim compares two configurations A and B (e.g. the best pre-trained embedding and the CNN baseline) through
the difference of their balanced accuracies, and states its rule: a :class:`Rule` on that difference with a margin.

- On a profile's results the difference is **paired**: A and B are trained and tested on the same splits (the same
  repetition seed), so each (task, repetition) gives one difference. The estimate is the mean over tasks of the
  mean over repetitions; its 95 % interval comes from a two-stage bootstrap (tasks, then repetitions within each
  task; :data:`BOOTSTRAP_RESAMPLES`, seeded). The verdict is *holds* when the whole interval satisfies the rule,
  *does not hold* when the whole interval violates it, and *inconclusive* otherwise.
- The published tables give one mean per cell and no spread, so their verdict applies the rule to the difference of
  the published averages, without an interval: the page says so.
- A claim a profile cannot test (a table it does not define, no baseline, embeddings with the same training
  domain, only handcrafted features) is *not testable on this profile*, with the reason.

The best configuration is chosen among **pre-trained** embeddings: handcrafted features (MFCC) are the reference,
never "the best pre-trained embedding".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .reference import PAPER_TASKS, load_paper_tables, variant_name

#: Bootstrap resamples of the profile's intervals, and the seed that makes them reproducible.
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED = 2000, 0
VERDICTS = ("holds", "does not hold", "inconclusive", "not testable")


@dataclass(frozen=True)
class Rule:
    """What a claim requires of the difference D = A − B (in points): ``kind`` is ``"at least"`` (D ≥ −margin),
    ``"above"`` (D > margin), ``"below"`` (D < margin) or ``"within"`` (|D| < margin)."""

    kind: str
    margin: float = 0.0

    def text(self, difference: str) -> str:
        """The rule in words, e.g. ``"A − B ≥ −2 points"``."""
        m = f"{self.margin:g}"
        return {"at least": f"{difference} ≥ −{m} points", "above": f"{difference} > {m} points",
                "below": f"{difference} < {m} points", "within": f"|{difference}| < {m} points"}[self.kind]

    def satisfied(self, value: float) -> bool:
        value = round(float(value), 6)  # 64.4 − 62.4 is exactly 2.0 points
        return {"at least": value >= -self.margin, "above": value > self.margin, "below": value < self.margin,
                "within": abs(value) < self.margin}[self.kind]

    def judge(self, low: float, high: float) -> str:
        """The verdict of an interval: every value satisfies the rule, none does, or some do."""
        if self.kind == "within":
            inside = [self.satisfied(low), self.satisfied(high)]
            outside = round(low, 6) >= self.margin or round(high, 6) <= -self.margin
            return "holds" if all(inside) else "does not hold" if outside else "inconclusive"
        ends = [self.satisfied(low), self.satisfied(high)]
        return "holds" if all(ends) else "does not hold" if not any(ends) else "inconclusive"


def paired_interval(differences: pd.DataFrame, *, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """Mean over tasks of the mean over repetitions of paired differences, and its 95 % bootstrap interval.

    Parameters
    ----------
    differences : DataFrame with ``task``, ``repetition`` and ``difference`` (points), one row per pair

    Returns
    -------
    estimate, low, high : float
        ``low == high == estimate`` when there is a single difference (no spread to resample).
    """
    groups = [g["difference"].to_numpy(dtype=float) for _, g in differences.groupby("task", sort=True)]
    estimate = float(np.mean([g.mean() for g in groups]))
    if sum(len(g) for g in groups) < 2:
        return estimate, estimate, estimate
    rng = np.random.default_rng(seed)
    n_tasks = len(groups)
    # inner[t, i, j]: the mean of a resample of task t's repetitions, for position j of bootstrap sample i
    inner = np.stack([g[rng.integers(0, len(g), (resamples, n_tasks, len(g)))].mean(axis=2) for g in groups])
    chosen = rng.integers(0, n_tasks, (resamples, n_tasks))  # the tasks of each bootstrap sample
    stats = inner[chosen, np.arange(resamples)[:, None], np.arange(n_tasks)[None, :]].mean(axis=1)
    low, high = np.percentile(stats, [2.5, 97.5])
    return estimate, float(low), float(high)


# ------------------------------------------------------------------------------------------------
# The two sides as one long frame: table, row, variant, classifier, fusion, kind, task, repetition, accuracy


def published_long() -> pd.DataFrame:
    """The published Tables I–V, one row per cell (repetition 0), with each row's printed average in ``avg``."""
    paper = load_paper_tables()
    long = paper.rename(columns={"Avg": "avg"}).melt(
        id_vars=["table", "row", "embedding", "content", "emb_size", "classifier", "fusion", "train_pct", "avg"],
        value_vars=PAPER_TASKS, var_name="task", value_name="accuracy")
    long["variant"] = [variant_name(r) for _, r in long.iterrows()]
    long["kind"] = np.where(long["embedding"] == "baseline", "baseline",
                            np.where(long["embedding"] == "best-late-fusion", "summary", "embedding"))
    long["repetition"] = 0
    return long[["table", "row", "variant", "classifier", "fusion", "kind", "task", "repetition", "accuracy", "avg"]]


#: Columns of :func:`profile_long`; ``frames_per_file`` is the mean number of embedding frames of a training file
#: (NaN when the results do not say).
PROFILE_COLUMNS = ["table", "row", "variant", "classifier", "fusion", "kind", "task", "repetition", "accuracy",
                   "frames_per_file"]


def profile_long(tables: dict) -> pd.DataFrame:
    """A profile's tables (``{"I": results, ...}``, one row per repetition) in the same long form, with each run's
    ``frames_per_file``."""
    frames = []
    for table_id, results in tables.items():
        if results is None or results.empty:
            continue
        part = results.rename(columns={"label": "variant"}).assign(table=table_id)
        part["classifier"] = np.where(part["kind"] == "baseline", "cnn", part["classifier_name"])
        part["frames_per_file"] = frames_per_file(part)
        frames.append(part[PROFILE_COLUMNS])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PROFILE_COLUMNS)


def frames_per_file(results: pd.DataFrame) -> pd.Series:
    """Mean number of embedding frames of a training file, per run (NaN when the results do not say)."""
    if {"n_train_frames", "n_train_files"} <= set(results.columns):
        return results["n_train_frames"] / results["n_train_files"]
    return pd.Series(np.nan, index=results.index)


def one_frame_embeddings(results: pd.DataFrame) -> list[str]:
    """Embeddings (labels) with one frame per training file in every run of ``results``: late and early fusion
    classify the same vector there, so their late- and early-fusion rows give the same results."""
    if results.empty:
        return []
    emb = results[results["kind"] == "embedding"]
    single = (frames_per_file(emb) <= 1).groupby(emb["label"], sort=False).all()
    return [label for label, one in single.items() if one]


@dataclass
class Side:
    """One side of the comparison: its long frame, whether it is the published one, and the training domain of
    each embedding variant (None: handcrafted, not pre-trained)."""

    long: pd.DataFrame
    published: bool
    domains: dict

    def rows(self, table: str, **filters) -> pd.DataFrame:
        part = self.long[self.long["table"] == table]
        for key, value in filters.items():
            part = part[part[key] == value]
        return part

    def pretrained(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of pre-trained embeddings (handcrafted features and the baseline left out)."""
        return frame[(frame["kind"] == "embedding") & frame["variant"].map(lambda v: self.domains.get(v) is not None)]

    def average(self, frame: pd.DataFrame) -> pd.Series:
        """Average over tasks per row: the printed average (published) or the mean of the task means."""
        if self.published and "avg" in frame:
            return frame.groupby("row", sort=False)["avg"].first()
        return frame.groupby(["row", "task"], sort=False)["accuracy"].mean().groupby(level=0, sort=False).mean()

    def best(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """The rows of the configuration with the best average (None when there is none)."""
        if frame.empty:
            return None
        return frame[frame["row"] == self.average(frame).idxmax()]


@dataclass
class Finding:
    """The outcome of one claim on one side."""

    verdict: str
    evidence: str
    estimate: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")


def pairs(a: pd.DataFrame, b: pd.DataFrame, sign: float = 1.0) -> pd.DataFrame:
    """Paired differences A − B per (task, repetition) present on both sides."""
    left = a.groupby(["task", "repetition"])["accuracy"].mean()
    right = b.groupby(["task", "repetition"])["accuracy"].mean()
    merged = pd.concat([left.rename("a"), right.rename("b")], axis=1, join="inner").reset_index()
    return merged.assign(difference=sign * (merged["a"] - merged["b"]))


def judge(side: Side, rule: Rule, differences: pd.DataFrame, evidence: str, published_difference=None) -> Finding:
    """Apply ``rule`` to paired ``differences`` (a profile) or to the published difference of averages."""
    if side.published:
        value = float(published_difference if published_difference is not None else differences["difference"].mean())
        return Finding("holds" if rule.satisfied(value) else "does not hold",
                       f"{evidence}; difference {value:+.1f} (published means, no interval)", value)
    if differences.empty:
        return Finding("not testable", f"{evidence}: no repetitions on the same splits to pair")
    estimate, low, high = paired_interval(differences)
    n = len(differences)
    spread = f"95 % interval [{low:+.1f}, {high:+.1f}]" if n > 1 else "one run: no interval"
    verdict = rule.judge(low, high) if n > 1 else "inconclusive"
    return Finding(verdict, f"{evidence}; difference {estimate:+.1f}, {spread} over {n} paired runs", estimate, low,
                   high)


def not_testable(reason: str) -> Finding:
    return Finding("not testable", reason)


def average_text(side: Side, rows: pd.DataFrame) -> str:
    """``"row 71.6"``: a configuration and its average over tasks."""
    return f"{rows['row'].iloc[0]} {side.average(rows).iloc[0]:.1f}"
