import csv
from pathlib import Path

import numpy as np
import pytest

from evalkit.config import ParameterError
from evalkit.learn.fusion import frame_table, late_fusion, pool_embeddings
from evalkit.learn.metrics import balanced_file_accuracy, confusion_matrix_percent, mean_confusion

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference"


def test_balanced_accuracy_hand_computed():
    # class a: 3 of 4 right; class b: 1 of 1 right -> (75 + 100) / 2, whereas plain accuracy is 80 %
    y_true = ["a", "a", "a", "a", "b"]
    y_pred = ["a", "a", "a", "b", "b"]
    assert balanced_file_accuracy(y_true, y_pred, ["a", "b"]) == pytest.approx(87.5)
    # a majority-class guess scores chance level whatever the class sizes
    assert balanced_file_accuracy(["a"] * 9 + ["b"], ["a"] * 10, ["a", "b"]) == pytest.approx(50.0)


def test_confusion_matrix_rows_are_percent_of_true_class():
    m = confusion_matrix_percent(["a", "a", "b", "b", "b", "b"], ["a", "b", "b", "b", "b", "a"], ["a", "b"])
    np.testing.assert_allclose(m, [[50, 50], [25, 75]])
    # a class without test files has a NaN row and is left out of the accuracy
    m = confusion_matrix_percent(["a"], ["b"], ["a", "b", "c"])
    assert np.isnan(m[1]).all() and m[0, 1] == 100
    with pytest.raises(ParameterError, match="not among the classes.*'z'"):
        confusion_matrix_percent(["a"], ["z"], ["a", "b"])
    with pytest.raises(ValueError, match="not among the classes.*'x'"):
        balanced_file_accuracy(["x"], ["a"], ["a", "b"])
    assert np.isnan(confusion_matrix_percent([], [], ["a", "b"])).all()  # no files: no row
    np.testing.assert_array_equal(confusion_matrix_percent(["a", "a"], ["a", "a"], ["a"]), [[100.0]])


@pytest.mark.filterwarnings("ignore:A single label was found")  # scikit-learn's, on test sets of one class
def test_metric_is_scikit_learns_balanced_accuracy_and_confusion_matrix():
    """On random labellings (with classes missing from the test files) the matrix is scikit-learn's row-normalised
    confusion matrix and the accuracy its balanced accuracy, in percent."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    rng = np.random.default_rng(0)
    for _ in range(200):
        k, n = int(rng.integers(2, 7)), int(rng.integers(1, 40))
        classes = [f"c{i}" for i in range(k)]
        y_true = [classes[i] for i in rng.integers(0, k, n)]
        y_pred = [y if rng.random() < 0.6 else str(rng.choice(sorted(set(y_true)))) for y in y_true]
        matrix = confusion_matrix_percent(y_true, y_pred, classes)
        present = [i for i, c in enumerate(classes) if c in y_true]
        expected = 100 * confusion_matrix(y_true, y_pred, labels=classes, normalize="true")
        np.testing.assert_allclose(matrix[present], expected[present], rtol=1e-12)
        assert np.isnan(np.delete(matrix, present, axis=0)).all()
        assert balanced_file_accuracy(y_true, y_pred, classes) == pytest.approx(
            100 * balanced_accuracy_score(y_true, y_pred), rel=1e-12)


def test_metric_reproduces_published_table_from_published_confusions():
    """Files rebuilt from the published T1 confusion matrix (40 files per class) give Table I's 84.5 %."""
    rows = [r for r in csv.DictReader(open(REFERENCE / "paper_confusion_openl3_svm_late.csv")) if r["task"] == "T1"]
    y_true, y_pred = [], []
    for r in rows:
        n = round(float(r["percent"]) / 100 * 40)
        y_true += [r["true"]] * n
        y_pred += [r["predicted"]] * n
    classes = sorted({r["true"] for r in rows})
    table = [r for r in csv.DictReader(open(REFERENCE / "paper_tables.csv")) if r["table"] == "I" and r["row"] == "OSVM"][0]
    assert balanced_file_accuracy(y_true, y_pred, classes) == pytest.approx(float(table["T1"]), abs=0.05)
    np.testing.assert_allclose(np.diag(confusion_matrix_percent(y_true, y_pred, classes)), [87.5, 77.5, 75.0, 87.5, 95.0])


def test_mean_confusion_ignores_missing_rows():
    a = np.array([[100.0, 0.0], [np.nan, np.nan]])
    b = np.array([[50.0, 50.0], [0.0, 100.0]])
    np.testing.assert_allclose(mean_confusion([a, b]), [[75, 25], [0, 100]])


def test_late_fusion_averages_frame_scores_per_file():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    file_index = np.array([0, 0, 1, 1])
    fused = late_fusion(scores, file_index)
    np.testing.assert_allclose(fused, [[0.55, 0.45], [0.45, 0.55]])
    assert fused.argmax(axis=1).tolist() == [0, 1]
    with pytest.raises(ValueError, match="no frames"):
        late_fusion(scores, file_index, n_files=3)


def test_frame_table_and_early_pooling():
    embs = [np.ones((3, 4)), np.zeros((1, 4)) + np.arange(4)]
    frames, index = frame_table(embs)
    assert frames.shape == (4, 4) and index.tolist() == [0, 0, 0, 1]
    assert pool_embeddings(embs).shape == (2, 4)
    pooled = pool_embeddings(embs, "mean+std")
    assert pooled.shape == (2, 8) and np.allclose(pooled[:, 4:], 0)
    with pytest.raises(ValueError, match="pooling"):
        pool_embeddings(embs, "max")
