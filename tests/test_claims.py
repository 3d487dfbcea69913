"""The paper's claims (evalkit.book.claims): each check on hand-made long frames of table means where it should hold
and where it should not, at the margins (on par = within PAR_MARGIN points), "not computed" when a table is
missing, and the verdicts on the published tables (computed here from data/reference/paper_tables.csv)."""
from __future__ import annotations

import pandas as pd
import pytest

from evalkit.book import claims
from evalkit.book.claims import CLAIMS, PAR_MARGIN, check_claims
from evalkit.book.reference import load_paper_tables

CHECKS = {claim_id: check for claim_id, _, check in CLAIMS}
COLUMNS = ["table", "row", "variant", "classifier", "fusion", "kind", "task", "mean"]


def long_frame(*rows) -> pd.DataFrame:
    """Rows ``(table, row, variant, classifier, fusion, kind, [mean per task])`` in the long format the checks read
    (tasks T1, T2, ...)."""
    out = []
    for table, row, variant, classifier, fusion, kind, means in rows:
        for i, mean in enumerate(means, start=1):
            out.append(dict(zip(COLUMNS, (table, row, variant, classifier, fusion, kind, f"T{i}", float(mean)))))
    return pd.DataFrame(out, columns=COLUMNS)


def emb(table, row, variant, classifier, means, fusion="late"):
    return (table, row, variant, classifier, fusion, "embedding", means)


def base(table, means):
    return (table, "baseline CNN", "baseline", "cnn", "late", "baseline", means)


def holds(claim_id, long):
    result = CHECKS[claim_id](long)
    assert result is not None, f"{claim_id}: not computed"
    evidence, verdict = result
    assert isinstance(evidence, str) and evidence
    return bool(verdict)


# ------------------------------------------------------------------------------------------------
# Each claim, holding and not holding


def test_every_claim_is_tested_here():
    assert set(CHECKS) == {"on par with 80 % data", "better with 10 % data", "robust to less data",
                           "late beats early fusion", "a linear SVM suffices", "training content matters little",
                           "a larger embedding gains little"}
    assert PAR_MARGIN == 2.0  # the margins below are written for it


@pytest.mark.parametrize("embedding, expected", [
    ([90, 70], True),        # 80.0 vs. the baseline's 80.0
    ([79, 77], True),        # 78.0: exactly PAR_MARGIN below, still on par
    ([78.9, 76.9], False),   # 77.9: more than PAR_MARGIN below
    ([95, 95], True),        # better
])
def test_on_par_with_80_percent(embedding, expected):
    long = long_frame(base("I", [85, 75]), emb("I", "e · SVM", "e", "svm", embedding),
                      emb("I", "w · SVM", "w", "svm", [10, 10]))
    assert holds("on par with 80 % data", long) is expected


def test_on_par_with_80_percent_takes_the_best_embedding_and_ignores_other_tables():
    long = long_frame(base("I", [80, 80]), emb("I", "weak · SVM", "weak", "svm", [50, 50]),
                      emb("I", "strong · D128", "strong", "d128", [79, 79]),
                      emb("II", "strong · D128", "strong", "d128", [10, 10]))
    evidence, verdict = CHECKS["on par with 80 % data"](long)
    assert verdict and "strong · D128 79.0" in evidence and "baseline 80.0" in evidence


@pytest.mark.parametrize("embedding, expected", [([82, 79], True), ([80, 80], False), ([70, 80], False)])
def test_better_with_10_percent_is_strict(embedding, expected):
    long = long_frame(base("II", [70, 90]), emb("II", "e · SVM", "e", "svm", embedding))
    assert holds("better with 10 % data", long) is expected


@pytest.mark.parametrize("emb_10, expected", [
    ([85, 85], True),    # the embedding loses 5, the baseline 10
    ([80, 80], False),   # both lose 10: not fewer
    ([70, 70], False),   # the embedding loses 20
])
def test_robust_to_less_data(emb_10, expected):
    long = long_frame(base("I", [90, 90]), emb("I", "e · SVM", "e", "svm", [90, 90]),
                      emb("I", "f · SVM", "f", "svm", [60, 60]),
                      base("II", [80, 80]), emb("II", "e · SVM", "e", "svm", emb_10),
                      emb("II", "f · SVM", "f", "svm", [60, 60]))  # f loses nothing, but it is not the best at 80 %
    assert holds("robust to less data", long) is expected


@pytest.mark.parametrize("late, expected", [([80, 90], True), ([80, 80], False), ([70, 70], False)])
def test_late_beats_early_fusion(late, expected):
    long = long_frame(emb("III", "e · SVM · late", "e", "svm", late, fusion="late"),
                      emb("III", "e · SVM · early", "e", "svm", [80, 80], fusion="early"),
                      emb("III", "f · SVM · early", "f", "svm", [60, 60], fusion="early"))
    assert holds("late beats early fusion", long) is expected


def test_late_fusion_falls_back_on_table_i_when_table_iii_has_only_early_fusion():
    long = long_frame(emb("I", "e · SVM", "e", "svm", [90, 90]),
                      emb("III", "e · SVM · early", "e", "svm", [80, 80], fusion="early"))
    evidence, verdict = CHECKS["late beats early fusion"](long)
    assert verdict and "90.0" in evidence and "80.0" in evidence


@pytest.mark.parametrize("svm, expected", [
    ([90, 90], True),      # better than the dense networks
    ([85, 87], True),      # 86.0: exactly PAR_MARGIN below the best dense network (88.0)
    ([85.9, 85.9], False),  # 85.9: more than PAR_MARGIN below
])
def test_a_linear_svm_suffices(svm, expected):
    long = long_frame(emb("I", "e · SVM", "e", "svm", svm), emb("I", "e · D128", "e", "d128", [88, 88]),
                      emb("I", "e · D512", "e", "d512", [80, 80]),
                      emb("I", "w · SVM", "w", "svm", [40, 40]), emb("I", "w · D128", "w", "d128", [30, 30]))
    assert holds("a linear SVM suffices", long) is expected


def test_a_linear_svm_is_judged_on_the_best_embedding_only():
    # the other embedding's dense network beats its SVM by far; on the best embedding the SVM is on par
    long = long_frame(emb("I", "e · SVM", "e", "svm", [89, 89]), emb("I", "e · D128", "e", "d128", [90, 90]),
                      emb("I", "w · SVM", "w", "svm", [40, 40]), emb("I", "w · D128", "w", "d128", [70, 70]))
    evidence, verdict = CHECKS["a linear SVM suffices"](long)
    assert verdict and evidence.startswith("e:")


@pytest.mark.parametrize("second, expected", [
    ([85.5, 85.5], True),   # 4.5 points apart
    ([94.9, 94.9], True),   # 4.9 points, in the other direction
    ([85, 85], False),      # exactly 5 points: not "less than 5"
    ([70, 70], False),
])
def test_training_content_matters_little(second, expected):
    long = long_frame(base("IV", [99, 99]), emb("IV", "m · SVM", "music", "svm", [90, 90]),
                      emb("IV", "m · D128", "music", "d128", [80, 80]), emb("IV", "e · SVM", "env", "svm", second))
    assert holds("training content matters little", long) is expected


@pytest.mark.parametrize("large, expected", [
    ([91.9, 91.9], True),   # gains 1.9 < PAR_MARGIN
    ([92, 92], False),      # gains exactly PAR_MARGIN: not less
    ([80, 80], True),       # loses: gains nothing
    ([95, 95], False),
])
def test_a_larger_embedding_gains_little(large, expected):
    long = long_frame(base("V", [99, 99]), emb("V", "small · SVM", "small", "svm", [90, 90]),
                      emb("V", "small · D128", "small", "d128", [85, 85]),
                      emb("V", "large · SVM", "large", "svm", large))
    assert holds("a larger embedding gains little", long) is expected


# At exactly the margin the verdict must not depend on how a decimal is stored as a float (64.4 − 2.0 is
# 62.400000000000006): one-decimal numbers, as the paper prints them, exactly at the margin get the verdict of the
# margin's wording ("within 2 points": on par; "less than 5 points": not).


@pytest.mark.parametrize("baseline, embedding", [(64.9, 62.9), (64.4, 62.4)])
def test_on_par_with_80_percent_exactly_at_the_margin(baseline, embedding):
    long = long_frame(base("I", [baseline]), emb("I", "e · SVM", "e", "svm", [embedding]))
    assert holds("on par with 80 % data", long)


def test_a_linear_svm_exactly_at_the_margin():
    long = long_frame(emb("I", "e · SVM", "e", "svm", [62.4]), emb("I", "e · D128", "e", "d128", [64.4]))
    assert holds("a linear SVM suffices", long)


def test_training_content_exactly_five_points_apart():
    long = long_frame(emb("IV", "m · SVM", "music", "svm", [64.1]), emb("IV", "e · SVM", "env", "svm", [59.1]))
    assert not holds("training content matters little", long)  # 5.0 points: not "less than 5"


def test_a_larger_embedding_gaining_exactly_the_margin():
    long = long_frame(emb("V", "s · SVM", "small", "svm", [30.3]), emb("V", "l · SVM", "large", "svm", [32.3]))
    assert not holds("a larger embedding gains little", long)  # gains 2.0: not "less than 2"


@pytest.mark.parametrize("claim_id, table", [("training content matters little", "IV"),
                                             ("a larger embedding gains little", "V")])
def test_pair_claims_need_exactly_two_embeddings(claim_id, table):
    one = long_frame(emb(table, "a · SVM", "a", "svm", [90, 90]))
    three = long_frame(emb(table, "a · SVM", "a", "svm", [90, 90]), emb(table, "b · SVM", "b", "svm", [90, 90]),
                       emb(table, "c · SVM", "c", "svm", [90, 90]))
    assert CHECKS[claim_id](one) is None and CHECKS[claim_id](three) is None


# ------------------------------------------------------------------------------------------------
# Missing tables


NEEDS = {"on par with 80 % data": {"I"}, "better with 10 % data": {"II"}, "robust to less data": {"I", "II"},
         "late beats early fusion": {"III"}, "a linear SVM suffices": {"I"},
         "training content matters little": {"IV"}, "a larger embedding gains little": {"V"}}

FULL = long_frame(
    base("I", [90, 90]), emb("I", "e · SVM", "e", "svm", [90, 90]), emb("I", "e · D128", "e", "d128", [89, 89]),
    base("II", [70, 70]), emb("II", "e · SVM", "e", "svm", [80, 80]), emb("II", "e · D128", "e", "d128", [79, 79]),
    emb("III", "e · SVM · late", "e", "svm", [90, 90]),
    emb("III", "e · SVM · early", "e", "svm", [85, 85], "early"),
    base("IV", [90, 90]), emb("IV", "a · SVM", "a", "svm", [90, 90]), emb("IV", "b · SVM", "b", "svm", [88, 88]),
    base("V", [90, 90]), emb("V", "a · SVM", "a", "svm", [90, 90]), emb("V", "c · SVM", "c", "svm", [91, 91]),
)


@pytest.mark.parametrize("missing", ["I", "II", "III", "IV", "V"])
def test_a_missing_table_leaves_exactly_the_claims_that_need_it_not_computed(missing):
    long = FULL[FULL["table"] != missing]
    for claim_id, check in CHECKS.items():
        result = check(long)
        if missing in NEEDS[claim_id]:
            assert result is None, f"{claim_id} computed without Table {missing}"
        else:
            assert result is not None and bool(result[1]), f"{claim_id} should hold on the full frame"


def test_every_claim_holds_on_the_full_frame():
    assert all(bool(check(FULL)[1]) for check in CHECKS.values())


def results_frame(table_rows: dict, train_fraction: float) -> pd.DataFrame:
    """``{row: (label, classifier, [accuracy per task])}`` as a results frame, two repetitions per cell (±1)."""
    rows = []
    for row, (label, classifier, accuracies) in table_rows.items():
        for i, accuracy in enumerate(accuracies, start=1):
            for repetition, delta in enumerate((-1.0, 1.0)):
                rows.append({"task": f"D{i}", "row": row, "label": label, "classifier": classifier,
                             "classifier_name": classifier, "fusion": "late", "train_fraction": train_fraction,
                             "repetition": repetition, "accuracy": accuracy + delta,
                             "kind": "baseline" if label == "baseline" else "embedding"})
    return pd.DataFrame(rows)


def test_check_claims_on_a_profile_with_tables_i_and_ii_only():
    tables = {
        "I": results_frame({"baseline CNN": ("baseline", "cnn", [90, 80]), "e · SVM": ("e", "svm", [88, 80]),
                            "e · D128": ("e", "d128", [90, 82])}, 0.8),
        "II": results_frame({"baseline CNN": ("baseline", "cnn", [60, 50]), "e · SVM": ("e", "svm", [80, 70]),
                             "e · D128": ("e", "d128", [74, 74])}, 0.1),
        "III": pd.DataFrame(), "IV": None,
    }
    out = check_claims(tables).set_index("claim")
    assert list(out.index) == list(CHECKS)
    here = out["holds here"].to_dict()
    assert here == {"on par with 80 % data": "yes",          # 86.0 vs. 85.0
                    "better with 10 % data": "yes",          # 75.0 vs. 55.0
                    "robust to less data": "yes",            # e · D128 loses 12, the baseline 30
                    "late beats early fusion": "not computed",
                    "a linear SVM suffices": "yes",          # 84.0 vs. 86.0: on par
                    "training content matters little": "not computed",
                    "a larger embedding gains little": "not computed"}
    assert out.loc["better with 10 % data", "this profile"] == "best embedding e · SVM 75.0 vs. baseline 55.0"
    assert out.loc["late beats early fusion", "this profile"] == "–"


def test_check_claims_without_tables_computes_only_the_paper():
    out = check_claims({})
    assert set(out["holds here"]) == {"not computed"} and set(out["this profile"]) == {"–"}
    assert "not computed" not in set(out["holds in the paper"])


# ------------------------------------------------------------------------------------------------
# The published tables


def _published_verdicts() -> dict:
    """The paper's verdicts read off the CSV with plain pandas (printed averages)."""
    paper = load_paper_tables()

    def table(t):
        return paper[paper["table"] == t]

    def embeddings(t):
        part = table(t)
        return part[~part["embedding"].isin(["baseline", "best-late-fusion"])]

    def baseline(t):
        return float(table(t).loc[table(t)["embedding"] == "baseline", "Avg"].iloc[0])

    best_80 = embeddings("I").loc[embeddings("I")["Avg"].idxmax()]
    best_10 = float(table("II").set_index("row").loc[best_80["row"], "Avg"])
    openl3 = embeddings("I")[(embeddings("I")["embedding"] == best_80["embedding"])]
    svm = float(openl3.loc[openl3["classifier"] == "svm", "Avg"].iloc[0])
    dense = float(openl3.loc[openl3["classifier"] != "svm", "Avg"].max())
    iv, v = embeddings("IV"), embeddings("V")
    music, env = iv.loc[iv["content"] == "music", "Avg"].max(), iv.loc[iv["content"] == "env", "Avg"].max()
    small, large = v.loc[v["emb_size"] == 512, "Avg"].max(), v.loc[v["emb_size"] == 6144, "Avg"].max()
    best_late = float(table("III").loc[table("III")["embedding"] == "best-late-fusion", "Avg"].iloc[0])
    best_early = float(embeddings("III").loc[embeddings("III")["fusion"] == "early", "Avg"].max())
    verdicts = {
        "on par with 80 % data": best_80["Avg"] >= baseline("I") - PAR_MARGIN,
        "better with 10 % data": embeddings("II")["Avg"].max() > baseline("II"),
        "robust to less data": best_80["Avg"] - best_10 < baseline("I") - baseline("II"),
        "late beats early fusion": best_late > best_early,
        "a linear SVM suffices": svm >= dense - PAR_MARGIN,
        "training content matters little": abs(music - env) < 5,
        "a larger embedding gains little": large - small < PAR_MARGIN,
    }
    return {k: "yes" if v else "no" for k, v in verdicts.items()}


def test_the_published_tables_give_the_papers_verdicts():
    out = check_claims({}).set_index("claim")
    assert out["holds in the paper"].to_dict() == _published_verdicts()
    assert set(_published_verdicts().values()) == {"yes"}  # the paper's findings all hold on its own numbers
    assert out.loc["on par with 80 % data", "paper"] == "best embedding OSVM 91.3 vs. baseline 91.2"
    assert out.loc["better with 10 % data", "paper"] == "best embedding OSVM 82.6 vs. baseline 73.6"
    assert out.loc["late beats early fusion", "paper"] == "best late fusion 91.9 vs. best early fusion 84.2"
    assert out.loc["a larger embedding gains little", "paper"].startswith("openl3 (music, 512) 91.3 vs. "
                                                                          "openl3 (music, 6144) 91.6")


def test_the_published_long_frame_uses_the_printed_averages():
    long = claims._long_means_paper()
    osvm = long[(long["table"] == "I") & (long["row"] == "OSVM")]
    assert sorted(osvm["task"]) == ["T1", "T2", "T3", "T4", "T5", "T6"] and set(osvm["avg"]) == {91.3}
    assert set(long.loc[long["row"] == "BestLF", "kind"]) == {"summary"}
