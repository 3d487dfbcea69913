"""The paper's metric: class-balanced file-wise accuracy, and file-wise confusion matrices.

The published confusion matrices show that the paper's "accuracy" is the mean over classes of
the share of each class's files classified correctly (mean per-class recall), so a majority-class
guess scores 1 / n_classes whatever the class sizes.
"""
from __future__ import annotations

import numpy as np


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
    """
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(y) for y in list(y_true) + list(y_pred)} - set(index))
    if unknown:
        raise ValueError(f"labels not among the classes {list(classes)}: {unknown}")
    counts = np.zeros((len(classes), len(classes)))
    for t, p in zip(y_true, y_pred):
        counts[index[t], index[p]] += 1
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, 100.0 * counts / totals, np.nan)


def balanced_file_accuracy(y_true, y_pred, classes=None) -> float:
    """Mean per-class recall over files, in percent (the paper's accuracy).

    Classes without test files are left out of the mean.
    """
    classes = sorted(set(y_true)) if classes is None else list(classes)
    matrix = confusion_matrix_percent(y_true, y_pred, classes)
    return float(np.nanmean(np.diag(matrix)))


def mean_confusion(matrices) -> np.ndarray:
    """Element-wise mean of per-repetition confusion matrices (percent), ignoring NaN rows."""
    return np.nanmean(np.stack([np.asarray(m, dtype=float) for m in matrices]), axis=0)


def mean_std(values) -> tuple[float, float]:
    """Mean and (population) standard deviation over repetitions."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std())
