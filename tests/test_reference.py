"""The published reference (evalkit.book.reference): which paper task a task stands for, which published row faces
a profile's row (the paper profile: the same experiment; a demo-like profile: orientation only), the reproduction
frame's tolerance, and the published confusion matrices against Table I."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from evalkit.book.profiles import load_profile, validate
from evalkit.book.reference import (compares_directly, load_paper_tables, orientation_rows, paper_column,
                                    paper_confusion_frame, published_row, published_rows, reproduction_frame)

PAPER_TASKS = [f"T{i}" for i in range(1, 7)]


@pytest.fixture(scope="module")
def paper_profile():
    """The paper profile with stand-in tasks (its real tasks need the paper's data sets on disk)."""
    profile = load_profile("paper")
    profile._tasks.update({t: SimpleNamespace(id=t, name=f"paper task {t}") for t in profile.tasks})
    assert compares_directly(profile)
    return profile


@pytest.fixture(scope="module")
def demo_like():
    """A profile on demo tasks D1, D2 (nothing is generated: the tables only ask for the tasks' ids)."""
    return validate({
        "name": "demo-like", "tasks": ["D1", "D2"],
        "embeddings": {"small": "mfcc", "big": "mfcc(n_mfcc=40)", "first": "mfcc", "second": "mfcc(n_mfcc=20)"},
        "classifiers": ["svm", "d128", "d512"],
        "baseline": {"default": {"embedding": "spectrogram(kind=linear)", "classifier": "cnn(epochs=3)"}},
        "tables": {"I": {"embeddings": ["small", "big"], "baseline": True},
                   "III": {"embeddings": ["small", "big"], "fusion": ["late", "early"]},
                   "IV": {"embeddings": ["first", "second"], "baseline": True},
                   "V": {"embeddings": ["first", "second"], "baseline": True}},
    })


def results_frame(rows, tasks, *, train_fraction=0.8) -> pd.DataFrame:
    """``[(label, classifier, fusion, accuracy)]`` on every task, one repetition each, tagged like a collected table."""
    out = []
    with_fusion = len({fusion for _, _, fusion, _ in rows}) > 1
    for label, classifier, fusion, accuracy in rows:
        name = "baseline CNN" if label == "baseline" else f"{label} · {classifier.upper()}"
        name = f"{name} · {fusion}" if with_fusion and label != "baseline" else name
        for task in tasks:
            out.append({"task": task, "row": name, "label": label, "classifier": classifier,
                        "classifier_name": classifier, "fusion": fusion, "train_fraction": train_fraction,
                        "repetition": 0, "accuracy": float(accuracy),
                        "kind": "baseline" if label == "baseline" else "embedding"})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------------------
# paper_column


@pytest.mark.parametrize("task, column", [
    ("D1", "T1"), ("D6", "T6"), ("d2", "T2"), ("T3", "T3"), ("t4", "T4"),
    ("D7", None), ("T0", None), ("mytask", None), ("/data/my/D1", None), ("DD", None),
])
def test_paper_column(task, column):
    assert paper_column(task) == column


# ------------------------------------------------------------------------------------------------
# published_row: the paper profile


def test_openl3_music_512_svm_late_80_is_table_i_osvm(paper_profile):
    row = published_row(paper_profile, "I", "openl3", "svm", "late", 0.8)
    assert (row["table"], row["row"], row["T1"], row["Avg"]) == ("I", "OSVM", 84.5, 91.3)


@pytest.mark.parametrize("table_id, label, classifier, fusion, fraction, expected", [
    ("I", "openl3", "d128", "late", 0.8, ("I", "OD128")),
    ("I", "kumar", "d512", "late", 0.8, ("I", "KD512")),
    ("I", "vggish", "svm(C=1)", "late", 0.8, ("I", "VSvm")),   # a classifier spec: matched by its name
    ("II", "openl3", "svm", "late", 0.1, ("II", "OSVM")),
    ("III", "openl3", "svm", "early", 0.8, ("III", "OSVMEF")),
    ("IV", "openl3", "svm", "late", 0.8, ("IV", "OSVM")),        # the same table's row, not Table I's
    ("V", "openl3", "svm", "late", 0.8, ("V", "OSVM")),
    ("IV", "openl3-env", "d128", "late", 0.8, ("IV", "OEnvD128")),
    ("V", "openl3-6144", "d512", "late", 0.8, ("V", "O6144D512")),
    ("III", "openl3", "svm", "late", 0.8, ("I", "OSVM")),        # no late OSVM in Table III: another table's
    ("I", "openl3-env", "svm", "late", 0.8, ("IV", "OEnvSVM")),  # openl3 env only in Table IV
    ("II", "baseline", "cnn(epochs=100)", "late", 0.1, ("II", "Basel.")),
    ("V", "baseline", "cnn(epochs=100)", "late", 0.8, ("V", "Basel.")),
    ("III", "baseline", "cnn(epochs=100)", "late", 0.8, ("I", "Basel.")),
])
def test_published_row_matches(paper_profile, table_id, label, classifier, fusion, fraction, expected):
    row = published_row(paper_profile, table_id, label, classifier, fusion, fraction)
    assert row is not None and (row["table"], row["row"]) == expected


def test_the_same_tables_row_is_preferred(paper_profile):
    # Tables I and V print the baseline's T5 differently (99.1 / 99.12): each table gets its own
    assert published_row(paper_profile, "I", "baseline", "cnn", "late", 0.8)["T5"] == 99.1
    assert published_row(paper_profile, "V", "baseline", "cnn", "late", 0.8)["T5"] == 99.12


@pytest.mark.parametrize("label, classifier, fusion, fraction", [
    ("vggish-raw", "svm", "late", 0.8),   # no paper row for raw VGGish
    ("openl3", "svm", "late", 0.4),       # no published table at 40 %
    ("openl3-6144", "svm", "late", 0.1),  # 6144 values only at 80 %
    ("kumar", "cnn", "late", 0.8),        # no such classifier in the paper
])
def test_published_row_without_counterpart(paper_profile, label, classifier, fusion, fraction):
    assert published_row(paper_profile, "I", label, classifier, fusion, fraction) is None


def test_published_rows_of_the_paper_profile_are_direct(paper_profile):
    results = results_frame([("baseline", "cnn", "late", 90), ("openl3", "svm", "late", 85),
                             ("vggish-raw", "svm", "late", 50)], PAPER_TASKS)
    rows, direct = published_rows(paper_profile, "I", results)
    assert direct is True
    assert {k: v["row"] for k, v in rows.items()} == {"baseline CNN": "Basel.", "openl3 · SVM": "OSVM"}


def test_published_row_is_none_on_other_data(demo_like):
    assert not compares_directly(demo_like)
    assert published_row(demo_like, "I", "small", "svm", "late", 0.8) is None


# ------------------------------------------------------------------------------------------------
# orientation_rows: a demo-like profile


def _faced(rows: dict) -> dict:
    return {k: (v["table"], v["row"]) for k, v in rows.items()}


@pytest.mark.parametrize("best", ["small", "big"])
def test_the_best_embedding_faces_the_papers_best_with_the_same_classifier(demo_like, best):
    other = "big" if best == "small" else "small"
    results = results_frame([("baseline", "cnn", "late", 80)]
                            + [(best, c, "late", 70 + i) for i, c in enumerate(["svm", "d128", "d512"])]
                            + [(other, c, "late", 60 + i) for i, c in enumerate(["svm", "d128", "d512"])],
                            ["D1", "D2"])
    rows, direct = published_rows(demo_like, "I", results)
    assert direct is False
    assert _faced(rows) == {"baseline CNN": ("I", "Basel."), f"{best} · SVM": ("I", "OSVM"),
                            f"{best} · D128": ("I", "OD128"), f"{best} · D512": ("I", "OD512")}


def test_the_best_embedding_is_the_one_with_the_best_row(demo_like):
    # small has the best single row (its SVM); big the better mean over its rows
    results = results_frame([("small", "svm", "late", 90), ("small", "d128", "late", 50),
                             ("big", "svm", "late", 80), ("big", "d128", "late", 80)], ["D1", "D2"])
    assert _faced(orientation_rows(demo_like, "I", results)) == {"small · SVM": ("I", "OSVM"),
                                                                  "small · D128": ("I", "OD128")}


def test_table_iii_early_rows_face_the_papers_early_fusion_rows(demo_like):
    results = results_frame([("small", "svm", "late", 60), ("small", "svm", "early", 55),
                             ("big", "svm", "late", 80), ("big", "svm", "early", 75),
                             ("big", "d128", "early", 70)], ["D1", "D2"])
    # the paper's Table III prints early fusion only (and the best late fusion), so late rows face nothing
    assert _faced(orientation_rows(demo_like, "III", results)) == {"big · SVM · early": ("III", "OSVMEF"),
                                                                    "big · D128 · early": ("III", "OD128EF")}


def test_tables_iv_and_v_pair_first_and_second_embedding_with_the_papers_variants(demo_like):
    rows = [("baseline", "cnn", "late", 90)] + [(label, c, "late", 70) for label in ("first", "second")
                                                 for c in ("svm", "d128", "d512")]
    results = results_frame(rows, ["D1", "D2"])
    # Table IV: OpenL3 music (SVM only in the paper) vs. environmental; Table V: 512 (SVM only) vs. 6144 values
    assert _faced(orientation_rows(demo_like, "IV", results)) == {
        "baseline CNN": ("IV", "Basel."), "first · SVM": ("IV", "OSVM"),
        "second · SVM": ("IV", "OEnvSVM"), "second · D128": ("IV", "OEnvD128"), "second · D512": ("IV", "OEnvD512")}
    assert _faced(orientation_rows(demo_like, "V", results)) == {
        "baseline CNN": ("V", "Basel."), "first · SVM": ("V", "OSVM"),
        "second · SVM": ("V", "O6144SVM"), "second · D128": ("V", "O6144D128"), "second · D512": ("V", "O6144D512")}


def test_no_orientation_without_a_stand_in_task(demo_like):
    results = results_frame([("baseline", "cnn", "late", 90), ("small", "svm", "late", 80)], ["mytask"])
    assert orientation_rows(demo_like, "I", results) == {}
    assert orientation_rows(demo_like, "I", results.iloc[:0]) == {}


# ------------------------------------------------------------------------------------------------
# reproduction_frame


def test_reproduction_frame_tolerance_is_max_of_two_std_and_three_points():
    profile = SimpleNamespace(task_ids=["T1", "T2"], paper_rows={"o": {"embedding": "openl3", "content": "music",
                                                                       "emb_size": 512}})
    # published OSVM (Table I): T1 84.5, T2 97.0
    rows = []
    for task, accuracies in {"T1": [87.5], "T2": [93.0, 95.0]}.items():  # T1: +3.0, one run; T2: -3.0 ± 1.0
        for repetition, accuracy in enumerate(accuracies):
            rows.append({"task": task, "row": "o · SVM", "label": "o", "classifier": "svm", "classifier_name": "svm",
                         "fusion": "late", "train_fraction": 0.8, "repetition": repetition, "accuracy": accuracy,
                         "kind": "embedding"})
    numbers = reproduction_frame(profile, {"I": pd.DataFrame(rows)}).set_index("task")
    assert list(numbers.index) == ["T1", "T2"]
    assert numbers.loc["T1", "published"] == 84.5 and numbers.loc["T1", "difference"] == pytest.approx(3.0)
    assert numbers.loc["T1", "within"]                      # 3.0 ≤ max(0, 3): on the edge, within
    assert numbers.loc["T2", "std"] == pytest.approx(1.0)   # population std of 93 and 95
    assert numbers.loc["T2", "within"]                      # |-3.0| ≤ max(2.0, 3)
    assert numbers["comparable"].all()
    rows[0]["accuracy"] = 87.6                              # 3.1 > 3: outside
    numbers = reproduction_frame(profile, {"I": pd.DataFrame(rows)}).set_index("task")
    assert not numbers.loc["T1", "within"]


# ------------------------------------------------------------------------------------------------
# The published confusion matrices


def test_the_published_t1_confusion_matrix_reproduces_table_i():
    frame = paper_confusion_frame("T1")
    paper = load_paper_tables()
    osvm_t1 = float(paper[(paper["table"] == "I") & (paper["row"] == "OSVM")]["T1"].iloc[0])
    assert osvm_t1 == 84.5
    assert frame.shape == (5, 5) and list(frame.index) == list(frame.columns)
    assert np.diag(frame.to_numpy()).mean() == pytest.approx(osvm_t1, abs=1e-9)
    assert np.allclose(frame.sum(axis=1), 100.0)  # percent of each true class


@pytest.mark.parametrize("task", PAPER_TASKS)
def test_every_published_confusion_matrix_matches_table_i_to_the_printed_decimal(task):
    paper = load_paper_tables()
    printed = float(paper[(paper["table"] == "I") & (paper["row"] == "OSVM")][task].iloc[0])
    assert np.diag(paper_confusion_frame(task).to_numpy()).mean() == pytest.approx(printed, abs=0.05)
