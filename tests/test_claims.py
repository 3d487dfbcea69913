"""The paper's claims (evalkit.book.claims, evalkit.book.verdicts): every claim on hand-made per-repetition tables where
it holds, does not hold, is inconclusive and is not testable; the rules at their margins; the paired bootstrap
interval; and all seven claims holding on the published tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.book.claims import CLAIMS, CONTENT_MARGIN, PAR_MARGIN, check_claims
from evalkit.book.verdicts import Rule, paired_interval

TASKS = ["D1", "D2", "D3"]


def rows(label, classifier, accuracies, *, fusion="late", kind="embedding", row=None, frames_per_file=3):
    """Results rows (one per task × repetition) of one configuration: ``accuracies[t][r]`` of task t, repetition r;
    ``frames_per_file``: one number, or one per task."""
    name = {"svm": "SVM", "d128": "D128", "d512": "D512"}.get(classifier, classifier.upper())
    row = row or ("baseline CNN" if kind == "baseline" else f"{label} · {name}" + (f" · {fusion}" if fusion == "early" else ""))
    frames = frames_per_file if isinstance(frames_per_file, list) else [frames_per_file] * len(accuracies)
    return [{"task": TASKS[t], "repetition": r, "accuracy": float(a), "label": label, "classifier": classifier,
             "classifier_name": classifier, "fusion": fusion, "kind": kind, "row": row,
             "n_train_files": 10, "n_train_frames": 10 * frames[t]}
            for t, per_task in enumerate(accuracies) for r, a in enumerate(per_task)]


def table(*configurations) -> pd.DataFrame:
    return pd.DataFrame([r for configuration in configurations for r in configuration])


def base(accuracies):
    return rows("baseline", "cnn", accuracies, kind="baseline")


def shifted(reference, shift, noise=0.0, seed=0):
    """``reference`` (tasks × repetitions) plus ``shift`` points, with optional per-run noise."""
    rng = np.random.default_rng(seed)
    ref = np.asarray(reference, dtype=float)
    return (ref + shift + noise * rng.standard_normal(ref.shape)).tolist()


REF = [[70, 72, 74], [60, 61, 62], [80, 82, 81]]  # 3 tasks × 3 repetitions
DOMAINS = {"emb": "music", "env": "environmental sound", "emb2": "music", "mfcc": None}


def verdict(claim_id, tables, domains=DOMAINS):
    result = check_claims(tables, domains).set_index("claim").loc[claim_id]
    assert result["this profile"], "every verdict comes with its evidence or reason"
    return result["holds here"]


# ------------------------------------------------------------------------------------------------
# Rules and intervals


@pytest.mark.parametrize("rule, low, high, expected", [
    (Rule("at least", 2.0), -1.0, 3.0, "holds"), (Rule("at least", 2.0), -2.0, 1.0, "holds"),
    (Rule("at least", 2.0), -3.0, 1.0, "inconclusive"), (Rule("at least", 2.0), -5.0, -2.5, "does not hold"),
    (Rule("above"), 0.5, 4.0, "holds"), (Rule("above"), -0.5, 4.0, "inconclusive"), (Rule("above"), -3, 0.0, "does not hold"),
    (Rule("below"), -4.0, -0.1, "holds"), (Rule("below"), -1.0, 1.0, "inconclusive"), (Rule("below"), 0.0, 2.0, "does not hold"),
    (Rule("within", 5.0), -4.9, 4.9, "holds"), (Rule("within", 5.0), 3.0, 6.0, "inconclusive"),
    (Rule("within", 5.0), 5.0, 9.0, "does not hold"), (Rule("within", 5.0), -9.0, -5.0, "does not hold"),
])
def test_rules_judge_intervals(rule, low, high, expected):
    assert rule.judge(low, high) == expected


def test_a_difference_of_exactly_the_margin_is_judged_by_the_wording_not_by_float_rounding():
    assert Rule("at least", 2.0).satisfied(62.4 - 64.4)  # 62.4 - 64.4 = -2.0000000000000057
    assert not Rule("within", 5.0).satisfied(64.1 - 59.1)  # 5.0: not "less than 5"
    assert not Rule("below", 2.0).satisfied(32.3 - 30.3)


def test_the_paired_bootstrap_interval_is_seeded_and_covers_the_estimate():
    differences = pd.DataFrame({"task": ["a"] * 3 + ["b"] * 3, "repetition": [0, 1, 2] * 2,
                                "difference": [1.0, 2.0, 3.0, 4.0, 5.0, 9.0]})
    estimate, low, high = paired_interval(differences)
    assert estimate == pytest.approx((2.0 + 6.0) / 2)
    assert low < estimate < high and low >= 1.0 and high <= 9.0
    assert paired_interval(differences) == (estimate, low, high)
    assert paired_interval(differences.iloc[:1]) == (1.0, 1.0, 1.0)


# ------------------------------------------------------------------------------------------------
# Each claim on hand-made tables


def test_every_claim_states_its_rule():
    claims = check_claims({})
    assert len(CLAIMS) == 7 and claims["rule"].str.contains("points").all()


@pytest.mark.parametrize("shift, noise, expected", [
    (5.0, 0.5, "holds"), (-1.0, 0.3, "holds"), (-6.0, 0.5, "does not hold"), (-2.0, 6.0, "inconclusive"),
])
def test_on_par_with_80_percent(shift, noise, expected):
    tables = {"I": table(base(REF), rows("emb", "svm", shifted(REF, shift, noise)))}
    assert verdict("on par with 80 % data", tables) == expected


def test_the_best_pre_trained_embedding_is_never_mfcc():
    tables = {"I": table(base(REF), rows("mfcc", "svm", shifted(REF, 10)), rows("emb", "svm", shifted(REF, -8)))}
    result = check_claims(tables, DOMAINS).set_index("claim").loc["on par with 80 % data"]
    assert result["holds here"] == "does not hold" and "emb · SVM" in result["this profile"]
    only_mfcc = {"I": table(base(REF), rows("mfcc", "svm", shifted(REF, 10)))}
    assert verdict("on par with 80 % data", only_mfcc) == "not testable"


@pytest.mark.parametrize("shift, noise, expected", [(4.0, 0.5, "holds"), (-4.0, 0.5, "does not hold"),
                                                    (0.5, 5.0, "inconclusive")])
def test_better_with_10_percent(shift, noise, expected):
    tables = {"II": table(base(REF), rows("emb", "svm", shifted(REF, shift, noise)))}
    assert verdict("better with 10 % data", tables) == expected


def test_better_with_10_percent_needs_a_baseline():
    assert verdict("better with 10 % data", {"II": table(rows("emb", "svm", REF))}) == "not testable"


@pytest.mark.parametrize("embedding_loss, expected", [(5.0, "holds"), (25.0, "does not hold")])
def test_robust_to_less_data(embedding_loss, expected):
    tables = {"I": table(base(REF), rows("emb", "svm", shifted(REF, 2))),
              "II": table(base(shifted(REF, -15, 0.5)), rows("emb", "svm", shifted(REF, 2 - embedding_loss, 0.5, 1)))}
    assert verdict("robust to less data", tables) == expected
    assert verdict("robust to less data", {"I": tables["I"]}) == "not testable"


def test_late_beats_early_compares_one_configuration_on_the_same_splits():
    late, early = rows("emb", "svm", shifted(REF, 3)), rows("emb", "svm", REF, fusion="early")
    assert verdict("late beats early fusion", {"III": table(late, early)}) == "holds"
    worse = rows("emb", "svm", shifted(REF, -3, 0.2))
    assert verdict("late beats early fusion", {"III": table(worse, early)}) == "does not hold"
    # the late-fusion counterpart may come from Table I
    assert verdict("late beats early fusion", {"I": table(late), "III": table(early)}) == "holds"
    assert verdict("late beats early fusion", {"I": table(late)}) == "not testable"


def test_late_beats_early_is_judged_where_files_have_several_frames():
    """With one frame per file, late and early fusion classify the same vector: the same numbers, never a verdict."""
    one_late = rows("env", "svm", shifted(REF, 10), frames_per_file=1)
    one_early = rows("env", "svm", shifted(REF, 10), fusion="early", frames_per_file=1)
    several_late, several_early = rows("emb", "svm", shifted(REF, 3)), rows("emb", "svm", REF, fusion="early")
    result = check_claims({"III": table(one_late, one_early, several_late, several_early)}, DOMAINS)
    found = result.set_index("claim").loc["late beats early fusion"]
    # the single-frame embedding has the better early-fusion average, but the claim is judged on the other one
    assert found["holds here"] == "holds" and found["this profile"].startswith("emb · svm")
    assert verdict("late beats early fusion", {"III": table(one_late, one_early)}) == "not testable"
    # a task where the chosen embedding gives one frame per file is left out, and the evidence says so
    mixed_late = rows("emb", "svm", shifted(REF, 3), frames_per_file=[3, 3, 1])
    mixed_early = rows("emb", "svm", shifted(REF, 0), fusion="early", frames_per_file=[3, 3, 1])
    evidence = check_claims({"III": table(mixed_late, mixed_early)}, DOMAINS).set_index("claim").loc[
        "late beats early fusion", "this profile"]
    assert "without D3: one frame per file there" in evidence and "over 6 paired runs" in evidence


@pytest.mark.parametrize("svm_shift, expected", [(-1.0, "holds"), (-6.0, "does not hold")])
def test_a_linear_svm_suffices(svm_shift, expected):
    tables = {"I": table(rows("emb", "d128", REF), rows("emb", "d512", shifted(REF, -1)),
                         rows("emb", "svm", shifted(REF, svm_shift, 0.3)))}
    assert verdict("a linear SVM suffices", tables) == expected
    assert verdict("a linear SVM suffices", {"I": table(rows("emb", "svm", REF))}) == "not testable"


def test_training_content_needs_two_different_training_domains():
    tables = {"IV": table(rows("emb", "svm", REF), rows("env", "svm", shifted(REF, -1, 0.3)))}
    assert verdict("training content matters little", tables) == "holds"
    far = {"IV": table(rows("emb", "svm", REF), rows("env", "svm", shifted(REF, -CONTENT_MARGIN - 4, 0.3)))}
    assert verdict("training content matters little", far) == "does not hold"
    same = {"IV": table(rows("emb", "svm", REF), rows("emb2", "svm", shifted(REF, -1)))}
    result = check_claims(same, DOMAINS).set_index("claim").loc["training content matters little"]
    assert result["holds here"] == "not testable" and "both embeddings of Table IV were trained on music" in result["this profile"]


@pytest.mark.parametrize("gain, expected", [(0.5, "holds"), (PAR_MARGIN + 4, "does not hold")])
def test_a_larger_embedding_gains_little(gain, expected):
    tables = {"V": table(rows("emb", "svm", REF), rows("emb2", "svm", shifted(REF, gain, 0.3)))}
    assert verdict("a larger embedding gains little", tables) == expected


def test_a_single_run_is_inconclusive_not_a_verdict():
    one = [[70], ]
    tables = {"I": pd.DataFrame(rows("baseline", "cnn", one, kind="baseline") + rows("emb", "svm", [[95]]))}
    tables["I"]["task"] = "D1"
    assert verdict("on par with 80 % data", tables) == "inconclusive"


def test_missing_tables_make_every_claim_not_testable():
    claims = check_claims({})
    assert (claims["holds here"] == "not testable").all()


# ------------------------------------------------------------------------------------------------
# The published tables


def test_all_seven_claims_hold_on_the_published_tables():
    claims = check_claims({})
    assert (claims["holds in the paper"] == "holds").all(), claims[["claim", "paper"]].to_string()
    assert claims["paper"].str.contains("published means, no interval").all()
    evidence = claims.set_index("claim")["paper"]
    assert "OSVM 91.3 vs. baseline 91.2" in evidence["on par with 80 % data"]
    assert "late fusion 91.3 vs. early fusion 84.2" in evidence["late beats early fusion"]
    assert "(music)" in evidence["training content matters little"]
    assert "(environmental sound)" in evidence["training content matters little"]
