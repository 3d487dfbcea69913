"""The paper's seven claims as checks on Tables I–V, judged the same way on the published tables and on a profile's
own (see :mod:`evalkit.book.verdicts` for how: paired differences, a bootstrap interval, holds / does not hold /
inconclusive / not testable).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from .verdicts import (Finding, Rule, Side, average_text, judge, not_testable, pairs, profile_long, published_long)

#: How close (percentage points) counts as "on par".
PAR_MARGIN = 2.0
#: Below this difference (points), training content "matters little".
CONTENT_MARGIN = 5.0
#: Training domains of the paper's embeddings (the published side of the training-content claim).
PAPER_DOMAINS = {"openl3 (music, 512)": "music", "openl3 (env, 512)": "environmental sound",
                 "openl3 (music, 6144)": "music", "vggish (128)": "general sound (AudioSet)",
                 "kumar (1024)": "general sound (AudioSet)"}


@dataclass(frozen=True)
class Claim:
    """A finding of the paper: its statement, the rule it is judged by, and the check that finds A and B."""

    id: str
    statement: str
    rule: Rule
    difference: str
    check: Callable[[Side, Rule], Finding]

    def rule_text(self) -> str:
        return self.rule.text(self.difference)


def _best_vs_baseline(table: str):
    """The check of a claim that the best pre-trained embedding of ``table`` compares with its baseline CNN."""

    def check(side: Side, rule: Rule) -> Finding:
        rows = side.rows(table)
        if rows.empty:
            return not_testable(f"the profile has no Table {table}")
        base = rows[rows["kind"] == "baseline"]
        emb = side.best(side.pretrained(rows))
        if base.empty:
            return not_testable(f"Table {table} has no baseline CNN")
        if emb is None:
            return not_testable(f"Table {table} has no pre-trained embedding (MFCC is the handcrafted reference)")
        evidence = f"best pre-trained embedding {average_text(side, emb)} vs. baseline {side.average(base).iloc[0]:.1f}"
        return judge(side, rule, pairs(emb, base), evidence,
                     side.average(emb).iloc[0] - side.average(base).iloc[0])
    return check


def _robust(side: Side, rule: Rule) -> Finding:
    first, second = side.rows("I"), side.rows("II")
    if first.empty or second.empty:
        return not_testable("the claim needs Tables I and II (80 % and 10 % training data)")
    base80, base10 = first[first["kind"] == "baseline"], second[second["kind"] == "baseline"]
    emb80 = side.best(side.pretrained(first))
    if base80.empty or base10.empty or emb80 is None:
        return not_testable("Tables I and II need a pre-trained embedding and the baseline CNN")
    key = emb80.iloc[0]
    emb10 = second[(second["variant"] == key["variant"]) & (second["classifier"] == key["classifier"])
                   & (second["fusion"] == key["fusion"])]
    if emb10.empty:
        return not_testable(f"Table II has no row for {key['row']}")
    drop_emb, drop_base = pairs(emb80, emb10), pairs(base80, base10)
    both = drop_emb.merge(drop_base, on=["task", "repetition"], suffixes=("_emb", "_base"))
    differences = both.assign(difference=both["difference_emb"] - both["difference_base"])
    published = ((side.average(emb80).iloc[0] - side.average(emb10).iloc[0])
                 - (side.average(base80).iloc[0] - side.average(base10).iloc[0]))
    evidence = (f"{key['row']} loses {side.average(emb80).iloc[0] - side.average(emb10).iloc[0]:.1f} points, the "
                f"baseline {side.average(base80).iloc[0] - side.average(base10).iloc[0]:.1f}")
    return judge(side, rule, differences, evidence, published)


def _several_frames(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs whose training files have more than one frame each on average. With one frame per file,
    late fusion (averaging the frames' scores) and early fusion (pooling the frames) classify the same vector:
    such runs cannot tell the two apart. Rows that do not say (the published tables) are kept."""
    if "frames_per_file" not in frame:
        return frame
    return frame[~(frame["frames_per_file"] <= 1)]


def _late_vs_early(side: Side, rule: Rule) -> Finding:
    candidates = side.pretrained(side.rows("III", fusion="early"))
    if candidates.empty:
        return not_testable("the profile has no early-fusion rows of a pre-trained embedding (Table III)")
    early = side.best(_several_frames(candidates))
    if early is None:
        return not_testable("every pre-trained embedding of Table III gives one frame per file, where late and early "
                            "fusion are the same classifier")
    key = early.iloc[0]
    for table in ("III", "I"):  # the same configuration with late fusion, on the same splits
        late = side.rows(table, fusion="late")
        late = late[(late["variant"] == key["variant"]) & (late["classifier"] == key["classifier"])
                    & late["task"].isin(early["task"])]
        if not late.empty:
            break
    else:
        return not_testable(f"no late-fusion row of {key['variant']} with {key['classifier']} (Tables III or I)")
    evidence = (f"{key['variant']} · {key['classifier']}: late fusion {side.average(late).iloc[0]:.1f} vs. early "
                f"fusion {side.average(early).iloc[0]:.1f}")
    left_out = sorted(set(candidates[candidates["row"] == key["row"]]["task"]) - set(early["task"]))
    if left_out:
        evidence += f" (without {', '.join(left_out)}: one frame per file there)"
    return judge(side, rule, pairs(late, early), evidence, side.average(late).iloc[0] - side.average(early).iloc[0])


def _svm(side: Side, rule: Rule) -> Finding:
    rows = side.pretrained(side.rows("I"))
    if rows.empty:
        return not_testable("Table I has no pre-trained embedding")
    variant = side.best(rows).iloc[0]["variant"]
    mine = rows[rows["variant"] == variant]
    svm, dense = mine[mine["classifier"] == "svm"], mine[mine["classifier"].isin(["d128", "d512"])]
    if svm.empty or dense.empty:
        return not_testable(f"Table I needs {variant} with the SVM and with a dense network")
    best_dense = side.best(dense)
    evidence = f"{variant}: SVM {side.average(svm).iloc[0]:.1f} vs. best dense network {average_text(side, best_dense)}"
    return judge(side, rule, pairs(svm, best_dense), evidence,
                 side.average(svm).iloc[0] - side.average(best_dense).iloc[0])


def _two_variants(side: Side, table: str):
    rows = side.rows(table, kind="embedding")
    variants = list(dict.fromkeys(rows["variant"]))
    if rows.empty:
        return None, f"the profile has no Table {table}"
    if len(variants) != 2:
        return None, f"Table {table} compares {len(variants)} embeddings, not two"
    return [side.best(rows[rows["variant"] == v]) for v in variants], ""


def _content(side: Side, rule: Rule) -> Finding:
    best, reason = _two_variants(side, "IV")
    if best is None:
        return not_testable(reason)
    domains = [side.domains.get(b.iloc[0]["variant"]) for b in best]
    if None in domains:
        return not_testable("Table IV includes handcrafted features, which were not trained on any content")
    if domains[0] == domains[1]:
        return not_testable(f"both embeddings of Table IV were trained on {domains[0]}: the claim compares "
                            "different training content")
    a, b = best
    evidence = (f"{a.iloc[0]['variant']} ({domains[0]}) {side.average(a).iloc[0]:.1f} vs. {b.iloc[0]['variant']} "
                f"({domains[1]}) {side.average(b).iloc[0]:.1f}, best classifier each")
    return judge(side, rule, pairs(a, b), evidence, side.average(a).iloc[0] - side.average(b).iloc[0])


def _size(side: Side, rule: Rule) -> Finding:
    best, reason = _two_variants(side, "V")
    if best is None:
        return not_testable(reason)
    small, large = best
    evidence = (f"{small.iloc[0]['variant']} {side.average(small).iloc[0]:.1f} vs. larger {large.iloc[0]['variant']} "
                f"{side.average(large).iloc[0]:.1f}, best classifier each")
    return judge(side, rule, pairs(large, small), evidence, side.average(large).iloc[0] - side.average(small).iloc[0])


#: The paper's findings, in the order of its conclusions.
CLAIMS = [
    Claim("on par with 80 % data", "With 80 % training data, the best pre-trained embedding with a small classifier is "
          "on par with the CNN trained from scratch.", Rule("at least", PAR_MARGIN), "embedding − baseline",
          _best_vs_baseline("I")),
    Claim("better with 10 % data", "With 10 % training data, the best pre-trained embedding beats the CNN trained from "
          "scratch.", Rule("above"), "embedding − baseline", _best_vs_baseline("II")),
    Claim("robust to less data", "Going from 80 % to 10 % training data costs the best pre-trained embedding fewer "
          "points than the baseline.", Rule("below"), "embedding's loss − baseline's loss", _robust),
    Claim("late beats early fusion", "Late fusion (classify frames, average per file) beats early fusion (average the "
          "frames' embeddings, classify the file), for the best early-fusion configuration whose files have "
          "several frames.", Rule("above"),
          "late − early", _late_vs_early),
    Claim("a linear SVM suffices", "A linear SVM is enough: on the best pre-trained embedding it is on par with the best "
          "dense network.", Rule("at least", PAR_MARGIN), "SVM − dense network", _svm),
    Claim("training content matters little", "The content an embedding was trained on (OpenL3: music vs. environmental "
          "sound) changes the average little.", Rule("within", CONTENT_MARGIN), "first − second", _content),
    Claim("a larger embedding gains little", "A larger embedding (OpenL3: 6144 instead of 512 values) gains little.",
          Rule("below", PAR_MARGIN), "larger − smaller", _size),
]


def check_claims(tables: dict, domains: dict | None = None) -> pd.DataFrame:
    """Each claim of :data:`CLAIMS` judged on the published tables and on a profile's tables.

    Parameters
    ----------
    tables : dict
        ``{"I": results, ...}`` from :func:`evalkit.book.plan.collect_table` (missing tables make the claims that
        need them not testable).
    domains : dict, optional
        ``{embedding label: training domain}`` of the profile's embeddings (e.g. ``"music"``; None for handcrafted
        features). Default: every label is a pre-trained embedding of its own domain.

    Returns
    -------
    DataFrame with ``claim``, ``statement``, ``rule``, ``paper`` (evidence), ``holds in the paper``,
    ``this profile`` (evidence), ``holds here`` (one of :data:`~evalkit.book.verdicts.VERDICTS`), ``estimate``,
    ``low`` and ``high`` (the profile's difference and 95 % interval, points).
    """
    ours = profile_long(tables)
    if domains is None:
        domains = {label: label for label in ours["variant"].unique()}
    sides = (Side(published_long(), True, PAPER_DOMAINS), Side(ours, False, domains))
    rows = []
    for claim in CLAIMS:
        published, mine = (claim.check(side, claim.rule) for side in sides)
        rows.append({"claim": claim.id, "statement": claim.statement, "rule": claim.rule_text(),
                     "paper": published.evidence, "holds in the paper": published.verdict,
                     "this profile": mine.evidence, "holds here": mine.verdict,
                     "estimate": mine.estimate, "low": mine.low, "high": mine.high})
    return pd.DataFrame(rows)
