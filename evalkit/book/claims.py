"""The paper's findings as the authors wrote them, each with the rule that follows from its sentence, judged the
same way on the published tables and on a profile's own (see :mod:`evalkit.book.verdicts` for how).

Which configuration plays which role ("OpenL3 + SVM" of the sentences) is named by the profile before any result
exists (its ``claims`` key: ``{embedding: label, classifier: name}``), never chosen as the best after looking. A
claim about all configurations (late vs. early fusion) averages over all of them; a claim about one factor (training
content, size) is not testable on a pair that differs in more than that factor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from .intervals import LEVEL, max_t_intervals
from .verdicts import (Finding, Rule, Side, confounds, family_verdicts, not_testable, pairs, profile_long,
                       published_long)

#: "Comparable" as equivalence: |A − B| below this many points of balanced accuracy (averaged over tasks), set before
#: any result. One test file moves a demo task's balanced accuracy by 100 / (classes × 8 test files per class): 2.5
#: points with 5 classes, 4.2 with 3, and the average over six tasks by a sixth of that.
PAR_MARGIN = 2.0
PAR_WHY = ("2 points of balanced accuracy averaged over tasks, about one test file in each of three to five of six "
           "tasks (one file moves a demo task's balanced accuracy by 2.5–4.2 points)")
#: Training domains and sizes of the paper's embeddings (the published side).
PAPER_DOMAINS = {"openl3 (music, 512)": "music", "openl3 (env, 512)": "environmental sound",
                 "openl3 (music, 6144)": "music", "vggish (128)": "general sound (AudioSet)",
                 "kumar (1024)": "general sound (AudioSet)"}
PAPER_SIZES = {"openl3 (music, 512)": 512, "openl3 (env, 512)": 512, "openl3 (music, 6144)": 6144}
#: The configuration the authors' sentences name ("OpenL3 ... with a linear SVM") in the published tables.
PAPER_ROLES = {"embedding": "openl3 (music, 512)", "classifier": "svm"}
#: Properties a pair may differ in for the training-content and the size claim (see :func:`~.verdicts.descriptor`).
CONTENT_FACTOR = {"content", "model"}
SIZE_FACTOR = {"embedding_size", "dim"}


@dataclass(frozen=True)
class Claim:
    """A finding of the paper: the authors' sentence, where it stands, the rule derived from it, what D = A − B is,
    and the check that finds A and B on one side."""

    id: str
    quote: str
    source: str
    rule: Rule
    difference: str
    check: Callable[[Side, Rule], Finding]

    def rule_text(self) -> str:
        return self.rule.text(self.difference) + (f"; margin: {self.rule.why}" if self.rule.why else "")


# ------------------------------------------------------------------------------------------------ selections


def _role(side: Side, table: str, *, classifier: str | None = None) -> tuple[pd.DataFrame | None, str]:
    """The late-fusion rows of the profile's named embedding (with ``classifier``, default the named one)."""
    embedding, named = side.roles.get("embedding"), side.roles.get("classifier")
    if not embedding or not named:
        return None, "the profile names no configuration for the sentence's “OpenL3 + SVM” (its claims key)"
    rows = side.rows(table, fusion="late", variant=embedding, classifier=classifier or named)
    if rows.empty:
        return None, f"Table {table} has no row of {embedding} with {classifier or named}"
    return rows, ""


def _without_task(differences: pd.DataFrame, number: int) -> pd.DataFrame:
    """The differences without the paper's task ``number`` (T<n>, or its demo stand-in D<n>)."""
    return differences[~differences["task"].isin([f"T{number}", f"D{number}"])]


def _intersection(side: Side, rule: Rule, named: str, others: dict) -> Finding:
    """A claim that A beats each of ``others`` (``{label: paired differences}``), tested as an intersection-union
    test: it holds when every comparison holds (p: the largest); it does not hold when one fails (p: the smallest of
    the failing ones, times their number, Bonferroni)."""
    findings = {label: side.judge(rule, d, f"A = {named}, B = {label}") for label, d in others.items()}
    closest = min(findings, key=lambda label: findings[label].estimate)
    parts = "; ".join(f"vs. {label}: {f.estimate:+.1f}" + ("" if math.isnan(f.low) else f" [{f.low:+.1f}, {f.high:+.1f}]")
                      for label, f in findings.items())
    first = findings[closest]
    evidence = (f"{named} against each of {len(others)} other configuration(s) ({parts}); the closest: "
                f"{first.evidence}")
    if side.published or first.verdict in ("no verdict", "not testable"):
        verdict = first.verdict if not side.published else (
            "holds" if all(f.verdict == "holds" for f in findings.values()) else "does not hold")
        return Finding(verdict, evidence, first.estimate, first.low, first.high)
    failing = [f.p for f in findings.values() if not rule.satisfied(f.estimate)]
    p = min(1.0, min(failing) * len(failing)) if failing else max(f.p for f in findings.values())
    return Finding("pending", f"{evidence}; p = {p:.2g} for all comparisons together", first.estimate, first.low,
                   first.high, p)


# ------------------------------------------------------------------------------------------------ the checks


def _vs_baseline(table: str):
    """The check of a claim comparing the named configuration of ``table`` with its baseline CNN."""

    def check(side: Side, rule: Rule) -> Finding:
        emb, reason = _role(side, table)
        if emb is None:
            return not_testable(reason)
        base = side.rows(table, kind="baseline")
        if base.empty:
            return not_testable(f"Table {table} has no baseline CNN")
        evidence = (f"A = {emb['row'].iloc[0]} {side.average(emb).iloc[0]:.1f}, B = baseline CNN "
                    f"{side.average(base).iloc[0]:.1f}")
        finding = side.judge(rule, pairs(emb, base), evidence,
                             side.average(emb).iloc[0] - side.average(base).iloc[0], compared=(emb, base))
        if not side.published:
            finding.evidence += _best_of(side.pretrained(side.rows(table, fusion="late")), base)
        return finding
    return check


def _best_of(candidates: pd.DataFrame, base: pd.DataFrame) -> str:
    """The secondary line of a claim against the baseline: the configuration that looks best, chosen after looking,
    with a simultaneous (max-t) interval over all candidates so that the choice does not shrink it."""
    differences = {row: pairs(part, base) for row, part in candidates.groupby("row", sort=False)}
    if len(differences) < 2:
        return ""
    intervals = max_t_intervals(differences)
    best = max(intervals, key=lambda row: intervals[row].estimate)
    found = intervals[best]
    if not found.exists:
        return ""
    return (f". Secondary, chosen after looking: the best of {len(intervals)} pre-trained configurations, {best}, "
            f"{found.estimate:+.1f} points, simultaneous {100 * LEVEL:.0f} % interval [{found.low:+.1f}, {found.high:+.1f}] "
            "(max-t over all of them; no verdict)")


def _other_embeddings(side: Side, rule: Rule) -> Finding:
    emb, reason = _role(side, "I")
    if emb is None:
        return not_testable(reason)
    rows = side.pretrained(side.rows("I", fusion="late", classifier=side.roles["classifier"]))
    others = {variant: pairs(emb, part) for variant, part in rows.groupby("variant", sort=False)
              if variant != side.roles["embedding"]}
    if not others:
        return not_testable("Table I has no other pre-trained embedding with the named classifier")
    return _intersection(side, rule, emb["row"].iloc[0], others)


def _svm_best(side: Side, rule: Rule) -> Finding:
    svm, reason = _role(side, "I", classifier="svm")
    if svm is None:
        return not_testable(reason)
    rows = side.rows("I", fusion="late", variant=side.roles["embedding"])
    others = {classifier: pairs(svm, part) for classifier, part in rows.groupby("classifier", sort=False)
              if classifier != "svm"}
    if not others:
        return not_testable(f"Table I has {side.roles['embedding']} with the SVM only")
    return _intersection(side, rule, svm["row"].iloc[0], others)


def _several_frames(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs whose training files have more than one frame each on average. With one frame per file,
    late fusion (averaging the frames' scores) and early fusion (pooling the frames) classify the same vector:
    such runs cannot tell the two apart. Rows that do not say (the published tables) are kept."""
    if "frames_per_file" not in frame:
        return frame
    return frame[~(frame["frames_per_file"] <= 1)]


def _late_vs_early(side: Side, rule: Rule) -> Finding:
    early_rows = _several_frames(side.pretrained(side.rows("III", fusion="early")))
    if early_rows.empty:
        return not_testable("Table III has no early-fusion row of a pre-trained embedding with several frames per file "
                            "(with one frame, late and early fusion classify the same vector)")
    per_configuration = []
    for (variant, classifier), early in early_rows.groupby(["variant", "classifier"], sort=False):
        for table in ("III", "I"):  # the same configuration with late fusion, on the same splits
            late = side.rows(table, fusion="late", variant=variant, classifier=classifier)
            if not late.empty:
                per_configuration.append(_without_task(pairs(late, early), 6))
                break
    if not per_configuration:
        return not_testable("no early-fusion configuration of Table III has a late-fusion counterpart")
    cells = pd.concat(per_configuration)
    if cells.empty:
        return not_testable("Table III has no task other than task 6")
    n_cells = sum(d["task"].nunique() for d in per_configuration)
    ahead = sum(int((d.groupby("task")["difference"].mean() > 0).sum()) for d in per_configuration)
    columns = [c for c in ("difference", "test_train_ratio") if c in cells]
    mean = cells.groupby(["task", "repetition"], as_index=False)[columns].mean()
    evidence = (f"late − early averaged over all {len(per_configuration)} pre-trained embedding × classifier "
                f"configurations, tasks other than task 6; late ahead in {ahead} of {n_cells} configuration × task cells")
    return side.judge(rule, mean, evidence)


def _pair(side: Side, table: str, order: Callable[[str], float]) -> tuple[list | None, str]:
    """The two embeddings of ``table``, ordered by ``order`` (ascending), with the named classifier."""
    classifier = side.roles.get("classifier")
    if not classifier:
        return None, "the profile names no classifier for the claims (its claims key)"
    rows = side.rows(table, kind="embedding", fusion="late", classifier=classifier)
    variants = list(dict.fromkeys(rows["variant"]))
    if len(variants) != 2:
        return None, f"Table {table} compares {len(variants)} embeddings with {classifier}, not two"
    variants.sort(key=order)
    return [rows[rows["variant"] == v] for v in variants], ""


def _content(side: Side, rule: Rule) -> Finding:
    def domain(variant: str) -> str:
        return str(side.domains.get(variant) or "")
    found, reason = _pair(side, "IV", lambda v: 0 if domain(v).startswith("music") else 1)
    if found is None:
        return not_testable(reason)
    music, environmental = found
    names = [music["variant"].iloc[0], environmental["variant"].iloc[0]]
    if not (domain(names[0]).startswith("music") and "environment" in domain(names[1])):
        return not_testable(f"the claim compares music with environmental training content; Table IV's pair is "
                            f"{names[0]} ({domain(names[0]) or 'handcrafted'}) and {names[1]} "
                            f"({domain(names[1]) or 'handcrafted'})")
    if side.descriptors is not None:
        other = confounds(side.descriptors[names[0]], side.descriptors[names[1]], factor=CONTENT_FACTOR)
        if other:
            return not_testable(f"{names[0]} and {names[1]} differ in more than training content: {', '.join(other)}")
    evidence = (f"A = {music['row'].iloc[0]} (music) {side.average(music).iloc[0]:.1f}, B = {environmental['row'].iloc[0]}"
                f" ({domain(names[1])}) {side.average(environmental).iloc[0]:.1f}")
    return side.judge(rule, pairs(music, environmental), evidence,
                      side.average(music).iloc[0] - side.average(environmental).iloc[0], compared=(music, environmental))


def _size(side: Side, rule: Rule) -> Finding:
    def dim(variant: str) -> float:
        if side.descriptors is None:
            return PAPER_SIZES.get(variant, math.nan)
        return float(side.descriptors.get(variant, {}).get("dim") or math.nan)
    found, reason = _pair(side, "V", dim)
    if found is None:
        return not_testable(reason)
    small, large = found
    names = [small["variant"].iloc[0], large["variant"].iloc[0]]
    if not dim(names[1]) > dim(names[0]):
        return not_testable(f"{names[0]} and {names[1]} have the same number of values")
    large, small = (frame[~frame["task"].isin(["T1", "D1"])] for frame in (large, small))  # "apart from Task 1"
    cost = "the paper measures no cost" if side.published else _size_cost(side, names[1], names[0], large, small)
    if side.descriptors is not None:
        other = confounds(side.descriptors[names[0]], side.descriptors[names[1]], factor=SIZE_FACTOR)
        if other:
            return not_testable(f"{names[1]} is not more values of the same layer of {names[0]}: they differ in "
                                f"{', '.join(other)} (A = {names[1]}, B = {names[0]}; {cost})")
    differences = pairs(large, small)
    evidence = (f"A = {large['row'].iloc[0]} ({dim(names[1]):.0f} values), B = {small['row'].iloc[0]} "
                f"({dim(names[0]):.0f} values), tasks other than task 1; {cost}")
    return side.judge(rule, differences, evidence, compared=(large, small))


def _size_cost(side: Side, large: str, small: str, large_rows: pd.DataFrame, small_rows: pd.DataFrame) -> str:
    """The cost half of the size claim, beside its gain: the measured seconds of extraction per second of audio of
    the larger (A) and the smaller (B) embedding and their ratio, then the classifier's training seconds per run."""
    costs = side.costs or {}
    rates = [getattr(costs.get(name), "per_audio_second", math.nan) for name in (large, small)]
    texts = [costs[name].text() if name in costs else "not measured" for name in (large, small)]
    ratio = f", A/B = {rates[0] / rates[1]:.2f}" if all(math.isfinite(r) for r in rates) and rates[1] > 0 else ""
    fits = [rows["fit_seconds"].mean() if "fit_seconds" in rows else math.nan for rows in (large_rows, small_rows)]
    training = ("" if not all(math.isfinite(f) for f in fits) else
                f"; classifier training {fits[0]:.2f} s (A) vs. {fits[1]:.2f} s (B) per run")
    return (f"cost: extraction (wall-clock, as measured when the embeddings were cached) A {texts[0]}, B {texts[1]}"
            f"{ratio}{training}")


def extraction_costs(profile, labels) -> dict:
    """``{label: ExtractionCost}`` of the embeddings ``labels`` of ``profile`` over the files of its tasks, as their
    cache entries record it (:func:`evalkit.embed.costs.extraction_cost`; nothing is extracted here)."""
    from ..embed.costs import extraction_cost

    paths = [f.path for task in profile.tasks for f in profile.task(task).files()] if labels else []
    return {label: extraction_cost(paths, profile.extractor(label)) for label in labels}


#: The paper's findings, each with the authors' sentence and where it stands.
CLAIMS = [
    Claim("comparable to the baseline with 80 % data",
          "OpenL3 embeddings outperform all other embeddings, and obtain comparable results to the baseline model",
          "results site, §1 (SVM averages, Table I)", Rule("equivalent", PAR_MARGIN, PAR_WHY),
          "embedding − baseline", _vs_baseline("I")),
    Claim("better than the baseline with 10 % data",
          "Here OpenL3 combined with a linear SVM outperforms the other embeddings as well as the baseline.",
          "results site, §2, Table II (10 % training data); abstract", Rule("greater"), "embedding − baseline",
          _vs_baseline("II")),
    Claim("better than the other embeddings",
          "OpenL3 embeddings outperform all other embeddings", "results site, §1 (SVM averages, Table I)",
          Rule("greater"), "embedding − each other embedding", _other_embeddings),
    Claim("late beats early fusion", "Apart from task 6, late fusion performs best in all experiments.",
          "results site, §2, Table III", Rule("greater"), "late − early", _late_vs_early),
    Claim("best with a linear SVM",
          "On average, OpenL3 embeddings performed best with a linear SVM classifier", "abstract (Table I)",
          Rule("greater"), "SVM − each dense network", _svm_best),
    Claim("music beats environmental training",
          "Environmental embeddings perform constantly worse compared to the ones trained on music.",
          "results site, §2, Table IV", Rule("greater"), "music − environmental", _content),
    Claim("larger is better, at a cost",
          "Apart from Task 1, all tasks show better results with larger embeddings. However, larger embeddings are "
          "more computationally expensive.", "results site, §2, Table V", Rule("greater"), "larger − smaller", _size),
]


def check_claims(tables: dict, domains: dict | None = None, *, roles: dict | None = None,
                 descriptors: dict | None = None, costs: dict | None = None) -> pd.DataFrame:
    """Each claim of :data:`CLAIMS` judged on the published tables and on a profile's tables.

    Parameters
    ----------
    tables : dict
        ``{"I": results, ...}`` from :func:`evalkit.book.plan.collect_table` (missing tables make the claims that
        need them not testable).
    domains : dict, optional
        ``{embedding label: training domain}`` of the profile's embeddings (None for handcrafted features).
        Default: every label is a pre-trained embedding of its own domain.
    roles : dict, optional
        The profile's ``claims`` key, ``{"embedding": label, "classifier": name}``: the configuration that plays the
        sentences' "OpenL3 + SVM". Without it, the claims about that configuration are not testable.
    descriptors : dict, optional
        ``{embedding label: descriptor}`` (:func:`evalkit.book.verdicts.descriptor`) to find confounded pairs;
        without it, every pair is taken to differ in the claim's factor only.
    costs : dict, optional
        ``{embedding label: ExtractionCost}`` (:func:`extraction_costs`): the size claim's cost in seconds of
        extraction per second of audio; a label without one reads "not measured".

    Returns
    -------
    DataFrame with ``claim``, ``statement`` (the authors' sentence), ``source``, ``rule``, ``paper`` (evidence),
    ``holds in the paper``, ``this profile`` (evidence), ``holds here`` (one of
    :data:`~evalkit.book.verdicts.VERDICTS`, Holm-corrected over the claims), ``estimate``, ``low`` and ``high``
    (the profile's difference and its interval on these tasks over resampled splits, points) and ``p``.
    """
    ours = profile_long(tables)
    if domains is None:
        domains = {label: label for label in ours["variant"].unique()}
    published = Side(published_long(), True, PAPER_DOMAINS, PAPER_ROLES)
    mine = Side(ours, False, domains, dict(roles or {}), descriptors, costs)
    paper_findings = [claim.check(published, claim.rule) for claim in CLAIMS]
    our_findings = family_verdicts([claim.check(mine, claim.rule) for claim in CLAIMS], [c.rule for c in CLAIMS])
    return pd.DataFrame([{"claim": claim.id, "statement": claim.quote, "source": claim.source, "rule": claim.rule_text(),
                          "paper": theirs.evidence, "holds in the paper": theirs.verdict,
                          "this profile": ours_.evidence, "holds here": ours_.verdict, "estimate": ours_.estimate,
                          "low": ours_.low, "high": ours_.high, "p": ours_.p}
                         for claim, theirs, ours_ in zip(CLAIMS, paper_findings, our_findings)])
