"""Summaries of results frames (one row per repetition, as :func:`evalkit.learn.run_experiment` returns them):
mean ± std per configuration and task, averages over tasks, the best row, late vs. early fusion, mean confusion
matrices. Plain pandas in and out; nothing here runs an experiment or renders HTML."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..learn.metrics import mean_confusion
from ..learn.registry import classifier_name
from .figure_style import class_name

#: Columns that identify a configuration in a results frame.
CONFIG_COLUMNS = ["task", "embedding", "classifier", "fusion", "train_fraction"]
CLASSIFIER_NAMES = {"svm": "SVM", "d128": "D128", "d512": "D512", "cnn": "CNN", "cnn-han": "CNN (Han)"}


def summarize(results: pd.DataFrame, by=None) -> pd.DataFrame:
    """Mean and standard deviation of the accuracy per configuration.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`evalkit.learn.run_experiment` (several configurations may be concatenated).
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
    table["accuracy"] = [spread_text(m, s, n) for m, s, n in zip(table["mean"], table["std"], table["repetitions"])]
    return table


def mean_confusion_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Mean file-wise confusion matrix (percent of each true class) of one configuration's repetitions,
    labelled with the class names (rows: true class, columns: predicted class)."""
    classes = results["classes"].iloc[0]
    matrix = mean_confusion(results["confusion"])
    return pd.DataFrame(matrix, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))


# ------------------------------------------------------------------------------------------------
# Collecting a profile's runs


def row_name(label: str, classifier: str, fusion: str = "late", with_fusion: bool = False) -> str:
    """Row label of a table: ``musicnn-msd · SVM`` (``· early`` with ``with_fusion``); ``baseline CNN``."""
    if label == "baseline":
        return "baseline CNN"
    name = f"{label} · {CLASSIFIER_NAMES.get(classifier_name(classifier), classifier)}"
    return f"{name} · {fusion}" if with_fusion else name


def cell_stats(results: pd.DataFrame, by=("row",)) -> pd.DataFrame:
    """Mean, std and count of the accuracy per ``by`` × task (long format)."""
    by = list(by) + ["task"]
    grouped = results.groupby(by, sort=False)["accuracy"]
    return grouped.agg(mean="mean", std=lambda a: float(np.std(a)), n="count").reset_index()


def table_means(results: pd.DataFrame, tasks=None) -> pd.DataFrame:
    """Rows × tasks of mean accuracies plus ``Avg`` (mean over tasks), in the rows' first-seen order."""
    stats = cell_stats(results)
    tasks = list(tasks) if tasks is not None else list(dict.fromkeys(results["task"]))
    means = stats.pivot(index="row", columns="task", values="mean")
    means = means.reindex(index=list(dict.fromkeys(results["row"])), columns=tasks)
    means["Avg"] = means[tasks].mean(axis=1)
    return means


def best_row(results: pd.DataFrame, early: bool = False) -> tuple[str, float]:
    """The embedding row with the best average over tasks and that average (early-fusion rows only with ``early``);
    ``("–", nan)`` for no results."""
    if results.empty:
        return "–", float("nan")
    part = results[(results["kind"] == "embedding") & ((results["fusion"] == "early") if early else True)]
    means = table_means(part)
    return means["Avg"].idxmax(), float(means["Avg"].max())


def baseline_average(results: pd.DataFrame) -> float:
    """The baseline's average over tasks (nan without a baseline)."""
    base = results[results["kind"] == "baseline"] if not results.empty else results
    return float(table_means(base)["Avg"].iloc[0]) if not base.empty else float("nan")


def best_configuration(results: pd.DataFrame) -> pd.Series:
    """The embedding row (not the baseline) with the best average over tasks: ``label``, ``classifier``,
    ``fusion``, ``row`` and ``avg``."""
    emb = results[results["kind"] == "embedding"]
    means = table_means(emb)
    best = means["Avg"].idxmax()
    first = emb[emb["row"] == best].iloc[0]
    return pd.Series({"label": first["label"], "classifier": first["classifier"], "fusion": first["fusion"],
                      "row": best, "avg": float(means.loc[best, "Avg"])})


def fusion_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """Late vs early fusion per embedding × classifier: average accuracy over tasks of each and the difference."""
    means = cell_stats(results, by=("label", "classifier_name", "fusion")).groupby(
        ["label", "classifier_name", "fusion"], sort=False)["mean"].mean().unstack("fusion")
    for column in ("late", "early"):
        if column not in means:
            means[column] = np.nan
    out = means[["late", "early"]].copy()
    out["late − early"] = out["late"] - out["early"]
    out.index = [f"{label} · {CLASSIFIER_NAMES.get(c, c)}" for label, c in out.index]
    out.index.name = "configuration"
    return out.round(1)


def best_of(results: pd.DataFrame, fusion: str, name: str) -> pd.DataFrame:
    """One summary row: the best mean per task (and average) among ``results``' rows with ``fusion``."""
    part = results[(results["fusion"] == fusion) & (results["kind"] == "embedding")]
    if part.empty:
        return pd.DataFrame()
    means = table_means(part)
    row = means.drop(columns="Avg").max(axis=0)
    row["Avg"] = row.mean()
    return pd.DataFrame([row], index=[name])


def spread_text(mean: float, std: float, n: int) -> str:
    """``"mean ± std"`` over ``n`` repetitions, one decimal; ``"mean (1 run)"`` when one run has no spread."""
    return f"{mean:.1f} ± {std:.1f}" if n > 1 else f"{mean:.1f} (1 run)"


def averages(results: pd.DataFrame, by: str = "row") -> pd.DataFrame:
    """Average over tasks per repetition, then mean and std over repetitions, per ``by``."""
    per_rep = results.groupby([by, "repetition"], sort=False)["accuracy"].mean()
    out = per_rep.groupby(level=0, sort=False).agg(mean="mean", std=lambda a: float(np.std(a)), n="count")
    out["average over tasks"] = [spread_text(m, s, n) for m, s, n in zip(out["mean"], out["std"], out["n"])]
    return out


def largest_confusions(frames: dict) -> pd.DataFrame:
    """The largest off-diagonal cell of each confusion matrix: ``{title: frame}`` → one row per matrix."""
    rows = []
    for title, frame in frames.items():
        values = frame.to_numpy(dtype=float).copy()
        np.fill_diagonal(values, -1)
        i, j = np.unravel_index(np.nanargmax(values), values.shape)
        perfect = not values[i, j] > 0
        rows.append({"task": title, "true class": "–" if perfect else class_name(frame.index[i]),
                     "predicted as": "– (no confusion)" if perfect else class_name(frame.columns[j]),
                     "percent of the class": 0.0 if perfect else round(float(values[i, j]), 1),
                     "lowest recall": f"{class_name(frame.index[int(np.nanargmin(np.diag(frame.to_numpy(dtype=float))))])} "
                                      f"({np.nanmin(np.diag(frame.to_numpy(dtype=float))):.1f} %)"})
    return pd.DataFrame(rows).set_index("task")


def curve_table(results: pd.DataFrame) -> pd.DataFrame:
    """Average over tasks (mean ± std over repetitions) per series × training share."""
    per_rep = results.groupby(["label", "train_fraction", "repetition"], sort=False)["accuracy"].mean()
    stats = per_rep.groupby(level=[0, 1], sort=False).agg(["mean", lambda a: float(np.std(a)), "count"])
    stats.columns = ["mean", "std", "n"]
    text = pd.Series([spread_text(m, s, n) for m, s, n in zip(stats["mean"], stats["std"], stats["n"])],
                     index=stats.index)
    table = text.unstack(1)
    table.columns = [f"{100 * c:g} %" for c in table.columns]
    table.index.name = "embedding"
    return table
