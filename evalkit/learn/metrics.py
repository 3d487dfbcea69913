"""The paper's metric: class-balanced file-wise accuracy, and file-wise confusion matrices.

The published confusion matrices show that the paper's "accuracy" is the mean over classes of
the share of each class's files classified correctly (mean per-class recall), so a majority-class
guess scores 1 / n_classes whatever the class sizes.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix

from ..config import ParameterError
from .fusion import late_fusion


def confusion_matrix_percent(y_true, y_pred, classes) -> np.ndarray:
    """File-wise confusion matrix in percent of each true class.

    Parameters
    ----------
    y_true, y_pred : sequence of str, shape (n_files,)
    classes : sequence of str, shape (n_classes,)
        Row and column order.

    Returns
    -------
    np.ndarray, shape (n_classes, n_classes)
        ``[i, j]`` = percent of the files of class i predicted as class j; rows of classes absent
        from ``y_true`` are NaN.

    Raises
    ------
    ParameterError
        A label of ``y_true`` or ``y_pred`` is not among ``classes``.
    """
    classes = list(classes)
    unknown = sorted({str(y) for y in list(y_true) + list(y_pred)} - set(classes))
    if unknown:
        raise ParameterError(f"labels not among the classes {classes}: {unknown}")
    if len(y_true) == 0:  # scikit-learn rejects empty input; no files: every row is NaN
        counts = np.zeros((len(classes), len(classes)))
    elif len(classes) == 1:  # every file is of the one class (scikit-learn warns about a 1 x 1 matrix)
        counts = np.full((1, 1), float(len(y_true)))
    else:
        counts = confusion_matrix(y_true, y_pred, labels=classes).astype(float)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, 100.0 * counts / totals, np.nan)


def balanced_file_accuracy(y_true, y_pred, classes=None) -> float:
    """Mean per-class recall over files, in percent (the paper's accuracy).

    Classes without test files are left out of the mean. This is what ``100 *
    sklearn.metrics.balanced_accuracy_score(y_true, y_pred)`` computes, up to rounding: the mean of the diagonal of
    :func:`confusion_matrix_percent` is used instead, so that accuracies stay bit-identical to the results stored
    by earlier versions (scikit-learn divides before scaling to percent, which differs in the last bit in about
    half of all cases).
    """
    classes = sorted(set(y_true)) if classes is None else list(classes)
    matrix = confusion_matrix_percent(y_true, y_pred, classes)
    return float(np.nanmean(np.diag(matrix)))


def largest_class_share(y_pred) -> float:
    """Share (0 … 1) of the predictions that go to the most predicted class: about one per class for a classifier
    without bias on balanced classes, 1 for one that collapsed onto one class; NaN without predictions."""
    _, counts = np.unique(np.asarray(y_pred), return_counts=True)
    return float(counts.max() / counts.sum()) if len(counts) else float("nan")


def mean_confusion(matrices) -> np.ndarray:
    """Element-wise mean of per-repetition confusion matrices (percent), ignoring NaN rows."""
    return np.nanmean(np.stack([np.asarray(m, dtype=float) for m in matrices]), axis=0)


def file_balanced_accuracy(proba: np.ndarray, y: np.ndarray, files: np.ndarray) -> tuple[float, float]:
    """Balanced accuracy of file predictions (patch probabilities averaged per file) and the largest share of files
    given to one class.

    Parameters
    ----------
    proba : np.ndarray, shape (n_patches, n_classes)
    y : np.ndarray of int, shape (n_patches,)
        Class index of each patch (the same for all patches of a file).
    files : np.ndarray, shape (n_patches,)
        File id of each patch.

    Returns
    -------
    balanced_accuracy, largest_share : float, float
        Both in 0 … 1; the mean recall over the classes present, and the share of files predicted as the most
        predicted class.
    """
    ids, index = np.unique(files, return_inverse=True)
    predicted = np.argmax(late_fusion(proba, index, len(ids)), axis=1)
    truth = np.zeros(len(ids), dtype=int)
    truth[index] = y
    recalls = [np.mean(predicted[truth == c] == c) for c in np.unique(truth)]
    return float(np.mean(recalls)), largest_class_share(predicted)
