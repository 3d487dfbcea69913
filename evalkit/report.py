"""Tidy summaries of experiment results: mean ± std tables and mean confusion matrices."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import mean_confusion

#: Columns that identify a configuration in a results frame.
CONFIG_COLUMNS = ["task", "embedding", "classifier", "fusion", "train_fraction"]


def summarize(results: pd.DataFrame, by=None) -> pd.DataFrame:
    """Mean and standard deviation of the accuracy per configuration.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`evalkit.experiments.run_experiment` (several configurations may be concatenated).
    by : list of str, optional
        Grouping columns; default :data:`CONFIG_COLUMNS`.

    Returns
    -------
    DataFrame with the grouping columns, ``mean``, ``std`` (percent), ``repetitions`` and ``accuracy``
    (``"mean ± std"`` text).
    """
    by = CONFIG_COLUMNS if by is None else list(by)
    grouped = results.groupby(by, sort=False)["accuracy"]
    table = grouped.agg(mean="mean", std=lambda a: float(np.std(a)), repetitions="count").reset_index()
    table["accuracy"] = [f"{m:.1f} ± {s:.1f}" for m, s in zip(table["mean"], table["std"])]
    return table


def mean_confusion_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Mean file-wise confusion matrix (percent of each true class) of one configuration's repetitions,
    labelled with the class names (rows: true class, columns: predicted class)."""
    classes = results["classes"].iloc[0]
    matrix = mean_confusion(results["confusion"])
    return pd.DataFrame(matrix, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))
