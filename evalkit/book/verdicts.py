"""How a claim is judged, the same way for every claim (the claims themselves are in :mod:`evalkit.book.claims`).

Each claim compares configurations A and B that the profile names before any result exists (its ``claims`` roles)
through the difference D = A − B of their balanced accuracies (points), and states its :class:`Rule`, derived from the
authors' sentence: ``greater`` (D > 0), ``equivalent`` (|D| < margin) or ``non-inferior`` (D > −margin).

- On a profile's results the difference is **paired**: A and B are trained and tested on the same splits, so each
  (task, repetition) gives one difference. The primary interval answers "on these tasks, over resampled splits"
  (Nadeau & Bengio's corrected resampled t, :func:`~evalkit.book.intervals.resampled_t_interval`); beside it stand
  the interval for "on tasks like these" (t over task means) and the number of tasks on which A is ahead. Each claim
  gets the p-value of its rule's nearest boundary, and Holm's procedure over all claims with an interval keeps the
  family-wise rate of a wrong *holds* or *does not hold* at :data:`~evalkit.book.intervals.FAMILY_ERROR`; a claim
  whose test is not rejected is *inconclusive*. A design with one repetition per task has no interval and gets
  *no verdict*.
- The published tables give one mean per cell and no spread: the rule is applied to the difference of the published
  means, with the per-task sign count, and the page says that this is no test.
- A claim a profile cannot test (a missing table or role, a pair that differs in more than the claim's factor) is
  *not testable*, with the reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .intervals import (LEVEL, Interval, file_bootstrap_interval, holm, random_task_interval, resampled_t_interval,
                        task_signs, two_sided_p)
from .reference import PAPER_TASKS, load_paper_tables, variant_name

VERDICTS = ("holds", "does not hold", "inconclusive", "no verdict", "not testable")


@dataclass(frozen=True)
class Rule:
    """What a claim requires of the difference D = A − B (points): ``kind`` is ``"greater"`` (D > margin),
    ``"equivalent"`` (|D| < margin) or ``"non-inferior"`` (D > −margin); ``why`` says where the margin comes from."""

    kind: str
    margin: float = 0.0
    why: str = ""

    @property
    def region(self) -> tuple[float, float]:
        """The open interval of D in which the claim holds."""
        m = float(self.margin)
        return {"greater": (m, math.inf), "equivalent": (-m, m), "non-inferior": (-m, math.inf)}[self.kind]

    def text(self, difference: str) -> str:
        """The rule in words, e.g. ``"|A − B| < 2 points (equivalence)"``."""
        m = f"{self.margin:g}"
        return {"greater": f"{difference} > {m} points",
                "equivalent": f"|{difference}| < {m} points (equivalence)",
                "non-inferior": f"{difference} > −{m} points (non-inferiority)"}[self.kind]

    def satisfied(self, value: float) -> bool:
        value = round(float(value), 6)  # 64.4 − 62.4 is exactly 2.0 points
        low, high = self.region
        return low < value < high

    def p_value(self, interval: Interval) -> float:
        """The two-sided p-value of the boundary of :attr:`region` nearest to the estimate: below it, the
        ``1 − p`` interval lies wholly inside or wholly outside the region."""
        if not interval.exists:
            return math.nan
        distance = min(abs(interval.estimate - b) for b in self.region if math.isfinite(b))
        return two_sided_p(distance=distance, interval=interval)


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
                   "frames_per_file", "test_train_ratio", "fit_seconds", "predictions"]


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
        # n_test / n_train of each run: Nadeau & Bengio's correction for overlapping training sets
        part["test_train_ratio"] = (part["n_test_files"] / part["n_train_files"]
                                    if {"n_test_files", "n_train_files"} <= set(part.columns) else np.nan)
        part["fit_seconds"] = part["fit_seconds"] if "fit_seconds" in part else np.nan
        part["predictions"] = part["predictions"] if "predictions" in part else None
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
    """One side of the comparison: its long frame, whether it is the published one, the training domain of each
    embedding variant (None: handcrafted, not pre-trained), the configurations named for the claims' roles
    (``{"embedding": variant, "classifier": name}``) and, for a profile, what each embedding is
    (:func:`descriptor`, to find confounded pairs; None on the published side) and what extracting it cost
    (``{variant: ExtractionCost}``, :func:`evalkit.embed.costs.extraction_cost`; a variant not in it: not measured)."""

    long: pd.DataFrame
    published: bool
    domains: dict
    roles: dict
    descriptors: dict | None = None
    costs: dict | None = None

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

    def judge(self, rule: Rule, differences: pd.DataFrame, evidence: str, value: float | None = None, *,
              compared: tuple | None = None) -> Finding:
        """:func:`judge_published` or :func:`judge_profile`, by side; ``compared``: the rows of A and B, whose
        stored per-file predictions give the test-file check (:func:`~evalkit.book.intervals.file_bootstrap_interval`)."""
        if self.published:
            return judge_published(rule, differences, evidence, value)
        finding = judge_profile(rule, differences, evidence)
        runs = prediction_runs(*compared) if compared is not None else []
        if runs and finding.verdict != "not testable":
            check = file_bootstrap_interval(runs)
            finding.evidence += (f"; test files alone move it within [{check.low:+.1f}, {check.high:+.1f}] (class-stratified "
                                 "paired bootstrap over the stored per-file predictions, models fixed)")
        return finding


def prediction_runs(a: pd.DataFrame, b: pd.DataFrame) -> list[dict]:
    """The per-file predictions of A and B on the test files they share, one dict per (task, repetition) (see
    :func:`~evalkit.book.intervals.file_bootstrap_interval`); empty when the rows carry none."""
    if "predictions" not in a or "predictions" not in b:
        return []
    runs = []
    b_runs = {(r.task, r.repetition): r.predictions for r in b.itertuples()}
    for r in a.itertuples():
        other = b_runs.get((r.task, r.repetition))
        if not isinstance(r.predictions, list) or not isinstance(other, list):
            continue
        theirs = {p["file"]: p["predicted"] for p in other}
        shared = [p for p in r.predictions if p["file"] in theirs]
        if shared:
            runs.append({"task": r.task, "labels": [p["label"] for p in shared],
                         "a": [p["predicted"] for p in shared], "b": [theirs[p["file"]] for p in shared]})
    return runs


def descriptor(extractor) -> dict:
    """What an embedding is, beyond its training content: network, sample rate, window, hop, dimension and the
    extractor's parameters (``model``, ``layer``, ``content``, ``embedding_size`` ...)."""
    return {"network": extractor.name, "sample rate": getattr(extractor, "sample_rate", None),
            "window": getattr(extractor, "window", None), "hop": getattr(extractor, "hop", None),
            "dim": getattr(extractor, "dim", None), **extractor.params()}


def confounds(a: dict, b: dict, *, factor: set) -> list[str]:
    """The properties other than ``factor`` in which two :func:`descriptor` dicts differ, e.g.
    ``["layer (penultimate vs. max_pool)"]``."""
    # a parameter one extractor lacks says nothing more once the networks differ, which is named already
    return [f"{key} ({a[key]} vs. {b[key]})" for key in a if key in b and key not in factor and a[key] != b[key]]


def family_verdicts(findings: list[Finding], rules: list[Rule]) -> list[Finding]:
    """Settle the verdicts of a profile's findings together: Holm's procedure over the p-values of those with an
    interval (family-wise error :data:`~evalkit.book.intervals.FAMILY_ERROR`); a rejected one *holds* or *does not
    hold* by where its estimate lies, the others are *inconclusive*. Findings with a final verdict are kept."""
    pending = [f.verdict == "pending" for f in findings]
    rejected = holm([f.p if waiting else math.nan for f, waiting in zip(findings, pending)])
    settled = []
    for finding, rule, waiting, reject in zip(findings, rules, pending, rejected):
        if waiting:
            verdict = ("holds" if rule.satisfied(finding.estimate) else "does not hold") if reject else "inconclusive"
            finding = Finding(verdict, finding.evidence, finding.estimate, finding.low, finding.high, finding.p)
        settled.append(finding)
    return settled


@dataclass
class Finding:
    """The outcome of one claim on one side: ``p`` is the p-value of the rule's nearest boundary (NaN without an
    interval); ``verdict`` is final except for a profile's testable claims, which :func:`family_verdicts` settles."""

    verdict: str
    evidence: str
    estimate: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    p: float = float("nan")


def pairs(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Paired differences A − B per (task, repetition) present on both sides, with A's ``test_train_ratio``."""
    left = a.groupby(["task", "repetition"])["accuracy"].mean()
    right = b.groupby(["task", "repetition"])["accuracy"].mean()
    merged = pd.concat([left.rename("a"), right.rename("b")], axis=1, join="inner").reset_index()
    if "test_train_ratio" in a:
        ratio = a.groupby(["task", "repetition"])["test_train_ratio"].mean().rename("test_train_ratio")
        merged = merged.merge(ratio.reset_index(), on=["task", "repetition"], how="left")
    return merged.assign(difference=merged["a"] - merged["b"])


def _design(differences: pd.DataFrame) -> str:
    counts = differences.groupby("task").size()
    fewest, most = int(counts.min()), int(counts.max())  # numpy 2's integers compare to numpy.bool, not bool
    reps = f"{fewest}" if fewest == most else f"{fewest}–{most}"
    return f"{len(counts)} task{'s' * (len(counts) != 1)} × {reps} repetition{'s' * (most != 1)}"


def judge_profile(rule: Rule, differences: pd.DataFrame, evidence: str) -> Finding:
    """A profile's paired ``differences`` under ``rule``: the estimate, the primary interval (on these tasks, over
    resampled splits), the interval over tasks and the sign count in the evidence; the verdict waits for
    :func:`family_verdicts` (or is *no verdict* when the design leaves no interval)."""
    if differences.empty:
        return Finding("not testable", f"{evidence}: no repetitions on the same splits to pair")
    primary, over_tasks = resampled_t_interval(differences), random_task_interval(differences)
    ahead, tasks = task_signs(differences)
    text = f"{evidence}; difference {primary.estimate:+.1f} points ({_design(differences)})"
    if not primary.exists:
        return Finding("no verdict", f"{text}: one repetition per task leaves no spread between splits to judge by, "
                                     "so there is no interval and no verdict", primary.estimate)
    text += (f", {100 * LEVEL:.0f} % interval [{primary.low:+.1f}, {primary.high:+.1f}] on these tasks over resampled splits"
             f" (corrected resampled t, df {primary.df})")
    if over_tasks.exists:
        text += f", [{over_tasks.low:+.1f}, {over_tasks.high:+.1f}] for tasks like these (t over task means)"
    p = rule.p_value(primary)
    text += f"; A ahead on {ahead} of {tasks} task{'s' * (tasks != 1)}; p = {p:.2g} at the rule's nearest boundary"
    return Finding("pending", text, primary.estimate, primary.low, primary.high, p)


def judge_published(rule: Rule, differences: pd.DataFrame, evidence: str, value: float | None = None) -> Finding:
    """The published means under ``rule``: no spread, so no test; the per-task sign count beside it."""
    value = float(differences["difference"].mean() if value is None else value)
    ahead, tasks = task_signs(differences)
    return Finding("holds" if rule.satisfied(value) else "does not hold",
                   f"{evidence}; difference {value:+.1f} points, A ahead on {ahead} of {tasks} tasks "
                   "(published means, no interval)", value)


def not_testable(reason: str) -> Finding:
    return Finding("not testable", reason)
