"""Figures of the book, drawn with seaborn: accuracy bars with error bars, confusion-matrix heatmaps, learning
curves, training curves of the CNNs, reproduced vs. published numbers; 2-D projections of embeddings and spectrograms come from
:mod:`evalkit.book.audio_figures` and are available here too.

Every function takes the tidy results of :mod:`evalkit.book.summary` (one row per repetition) or plain arrays,
draws into a new figure (or the given axes) and returns the figure.

Conventions of every figure:

* colours from seaborn's colour-blind-safe ``"colorblind"`` palette, ordered so that its green and its
  vermillion are never neighbours and without its grey, which is reserved for the baseline CNN
  (:data:`BASELINE_COLOR`, dashed in line plots); chance levels are dashed black lines labelled "chance";
* mean ± the *population* standard deviation (``ddof=0``) over repetitions; averages over tasks are taken per
  repetition first, then mean ± std over repetitions;
* axes labelled with their units, legends at 9 pt, full-width figures :data:`PAGE_WIDTH` wide and single panels
  at most 3.2 in tall;
* no global state is changed: styles are applied with ``seaborn.axes_style`` / ``matplotlib.rc_context`` inside
  each function. :func:`notebook_display_defaults` is the one explicit call that sets up a notebook.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .audio_figures import projection_scatter, spectrogram  # the notebooks' one figures module
from .figure_style import (ACCURACY_LABEL, BASELINE_COLOR, CHANCE_COLOR, CONFUSION_LABEL, LEGEND_FONTSIZE,
                           PAGE_WIDTH, PANEL_HEIGHT, _RC, _bottom_of_columns, _colors, _figure_legend, _grid,
                           _is_baseline, _legend, _new_axes, _panel_height, _plt, _population_sd, _sns, _style,
                           class_name, notebook_display_defaults, palette)

# Accuracy bars


def _bar_frame(results: pd.DataFrame, by: str, series_column: str, average: bool):
    """The rows seaborn aggregates: ``group`` (x), ``bar`` (hue) and ``accuracy``; the average group holds one
    row per series × repetition with the mean over tasks, so that seaborn's mean ± std over those rows is the
    mean ± std over repetitions of the per-repetition averages."""
    tasks = list(dict.fromkeys(results["task"]))
    series = list(dict.fromkeys(results[series_column]))
    rows = pd.DataFrame({"task": results["task"].astype(str).to_numpy(),
                         "series": results[series_column].astype(str).to_numpy(),
                         "accuracy": results["accuracy"].astype(float).to_numpy()})
    if by == "embedding":
        frame = rows.rename(columns={"series": "group", "task": "bar"})
        return frame, [str(s) for s in series], [str(t) for t in tasks]
    if by != "task":
        raise ValueError(f"by must be 'embedding' or 'task', not {by!r}")
    frame = rows.rename(columns={"task": "group", "series": "bar"})
    groups = [str(t) for t in tasks]
    if average and len(tasks) > 1:
        per_repetition = (results.groupby([series_column, "repetition"], sort=False)["accuracy"].mean()
                          .reset_index())
        frame = pd.concat([frame, pd.DataFrame({"group": "average",
                                                "bar": per_repetition[series_column].astype(str).to_numpy(),
                                                "accuracy": per_repetition["accuracy"].astype(float).to_numpy()})],
                          ignore_index=True)
        groups.append("average")
    return frame, groups, [str(s) for s in series]


def accuracy_bars(results: pd.DataFrame, by: str = "embedding", *, series_column: str = "label", ax=None,
                  title: str | None = None, average: bool = True, chance: dict | None = None):
    """Grouped bars of the balanced file-wise accuracy (mean ± population std over repetitions).

    Parameters
    ----------
    results : DataFrame
        One row per repetition with ``task``, ``accuracy`` (percent), ``repetition`` and ``series_column``
        (default ``label``: the embedding, or ``baseline``).
    by : {"embedding", "task"}
        ``"embedding"``: one group of bars per embedding, one bar per task (figure a).
        ``"task"``: one group per task, one bar per embedding (the baseline in grey), plus an ``average`` group
        (figure b).
    average : bool
        With ``by="task"``, add the group of averages over tasks (per repetition, then mean ± std).
    chance : dict, optional
        ``{task: chance level in percent}`` drawn as short dashed black lines labelled "chance" (``by="task"``).

    The bars of each series are ``ax.containers`` labelled with the series (``by="task"``) or task name.
    """
    sns = _sns()
    frame, groups, bars = _bar_frame(results, by, series_column, average)
    colors = _colors(bars) if by == "task" else dict(zip(bars, palette(len(bars))))
    show_chance = bool(chance) and by == "task"
    with _style("whitegrid"):
        fig, ax = _new_axes((PAGE_WIDTH, PANEL_HEIGHT), ax)
        sns.barplot(data=frame, x="group", y="accuracy", hue="bar", order=groups, hue_order=bars, palette=colors,
                    saturation=1.0, estimator="mean", errorbar=_population_sd, capsize=0.25, width=0.82, gap=0.08,
                    err_kws={"color": "#222222", "linewidth": 0.9}, ax=ax)
        for container, bar in zip(ax.containers, bars):
            container.set_label(bar)
        legend = ax.get_legend()
        handles = list(legend.legend_handles) if legend is not None else []
        labels = [t.get_text() for t in legend.texts] if legend is not None else []
        if legend is not None:
            legend.remove()
        if show_chance:
            keys = {str(k): v for k, v in chance.items()}
            at = [(i, float(keys[g])) for i, g in enumerate(groups)
                  if keys.get(g) is not None and np.isfinite(float(keys[g]))]
            if at:
                x, level = np.array(at).T
                line = ax.hlines(level, x - 0.45, x + 0.45, colors=CHANCE_COLOR, linestyles="dashed", linewidth=1.1,
                                 zorder=4, label="chance")
                handles.append(line)
                labels.append("chance")
        slot = fig.get_figwidth() * ax.get_position().width / len(groups)  # inches per group
        rotate = max(len(g) for g in groups) * 0.55 * _RC["xtick.labelsize"] / 72 > 0.95 * slot
        ax.set_xticks(range(len(groups)), groups, rotation=20 if rotate else 0, ha="right" if rotate else "center",
                      rotation_mode="anchor" if rotate else "default")
        ax.set_xlabel("")
        ax.set_ylabel(ACCURACY_LABEL)
        ax.set_ylim(0, 105)
        ax.grid(axis="x", visible=False)
        ax.set_axisbelow(True)
        legend = _legend(ax, handles, labels, fig.get_figwidth() * ax.get_position().width * 1.1,
                         loc="lower center", bbox_to_anchor=(0.5, 1.0), borderaxespad=0.2)
        if title:
            fig.draw_without_rendering()
            height = legend.get_window_extent().height * 72 / fig.dpi  # points
            ax.set_title(title, pad=height + 4, fontsize=11)
        if fig.get_layout_engine() is None:
            fig.tight_layout()
    return fig


__all__ = ["ACCURACY_LABEL", "BASELINE_COLOR", "CHANCE_COLOR", "CONFUSION_LABEL", "LEGEND_FONTSIZE", "PAGE_WIDTH",
           "PANEL_HEIGHT", "accuracy_bars", "class_name", "confusion_grid", "confusion_heatmap", "learning_curves",
           "notebook_display_defaults", "palette", "projection_scatter", "reproduction_scatter", "spectrogram",
           "training_curves"]

# ------------------------------------------------------------------------------------------------
# Confusion matrices


def _heatmap(frame: pd.DataFrame, ax, *, cmap: str, digits: int, cbar: bool, title: str | None):
    sns = _sns()
    n = max(frame.shape)
    values = frame.astype(float)
    values.index = [class_name(c) for c in frame.index]  # "1 player", not the folder name "_ninst01"
    values.columns = [class_name(c) for c in frame.columns]
    sns.heatmap(values, ax=ax, cmap=cmap, vmin=0, vmax=100, annot=True, fmt=f".{digits}f",
                annot_kws={"fontsize": 8 if n <= 4 else 7.5 if n <= 6 else 6.5}, cbar=cbar, square=True,
                linewidths=0.5, linecolor="white", cbar_kws={"label": CONFUSION_LABEL} if cbar else None)
    labels_x = list(values.columns)
    rotate = max(map(len, labels_x)) > 4
    ax.set_xticks(np.arange(len(labels_x)) + 0.5, labels_x, rotation=35 if rotate else 0,
                  ha="right" if rotate else "center", rotation_mode="anchor", fontsize=8)
    ax.set_yticks(np.arange(len(values.index)) + 0.5, list(values.index), rotation=0, fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel("predicted", fontsize=9)
    ax.set_ylabel("true", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)


def confusion_heatmap(frame: pd.DataFrame, *, ax=None, title: str | None = None, cmap: str = "Blues",
                      digits: int = 0):
    """Heatmap of a confusion matrix in percent of each true class (rows: true, columns: predicted), every
    cell annotated with its percentage, the axes with the class names and a colour bar from 0 to 100 %."""
    n = len(frame)
    with _style("white"):
        height = min(PANEL_HEIGHT, 0.42 * n + 1.5)
        fig, ax = _new_axes((height + 1.3, height), ax)
        _heatmap(frame, ax, cmap=cmap, digits=digits, cbar=True, title=title)
    return fig


def confusion_grid(frames: dict, *, ncols: int = 3, suptitle: str | None = None, cmap: str = "Blues"):
    """Several confusion heatmaps side by side, ``{title: frame}``, with one shared colour bar."""
    plt = _plt()
    n = len(frames)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    biggest = max(len(f) for f in frames.values())
    width = min(PAGE_WIDTH, ncols * max(2.6, 0.5 * biggest + 1.6) + 0.9)
    row = min(PANEL_HEIGHT, (width - 0.9) / ncols * 0.95)
    with _style("white"):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, row * nrows + (0.3 if suptitle else 0)),
                                 squeeze=False, layout="constrained")
        used = list(axes.flat)[:n]
        for ax, (title, frame) in zip(used, frames.items()):
            _heatmap(frame, ax, cmap=cmap, digits=0, cbar=False, title=title)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.colorbar(used[0].collections[0], ax=used, label=CONFUSION_LABEL, shrink=0.85, aspect=25, pad=0.02)
        if suptitle:
            fig.suptitle(suptitle, fontsize=11)
    return fig


# ------------------------------------------------------------------------------------------------
# Line plots


def _curve_frame(results: pd.DataFrame, series_column: str) -> tuple[pd.DataFrame, list, list]:
    """Tidy rows of the learning curves: ``panel`` (a task, or ``average`` with one row per series × fraction ×
    repetition holding the mean over tasks), ``series``, ``percent`` (training data) and ``accuracy``."""
    tasks = list(dict.fromkeys(results["task"]))
    panels = [str(t) for t in tasks]
    frame = pd.DataFrame({"panel": results["task"].astype(str).to_numpy(),
                          "series": results[series_column].astype(str).to_numpy(),
                          "percent": 100 * results["train_fraction"].astype(float).to_numpy(),
                          "accuracy": results["accuracy"].astype(float).to_numpy()})
    if len(tasks) > 1:
        per_repetition = (results.groupby([series_column, "train_fraction", "repetition"], sort=False)["accuracy"]
                          .mean().reset_index())
        frame = pd.concat([frame, pd.DataFrame({
            "panel": "average", "series": per_repetition[series_column].astype(str).to_numpy(),
            "percent": 100 * per_repetition["train_fraction"].astype(float).to_numpy(),
            "accuracy": per_repetition["accuracy"].astype(float).to_numpy()})], ignore_index=True)
        panels.append("average")
    return frame, panels, [str(s) for s in dict.fromkeys(results[series_column])]


def learning_curves(results: pd.DataFrame, *, series_column: str = "label", title: str | None = None, ncols: int = 3):
    """Accuracy over the training share: one panel per task and one of the average over tasks (per repetition,
    then mean ± std), one line per embedding (the baseline grey and dashed) with a band of ± one population
    standard deviation over repetitions.

    Each line is labelled with its series name (``Line2D.get_label()``)."""
    sns = _sns()
    frame, panels, series = _curve_frame(results, series_column)
    colors = _colors(series)
    fractions = sorted(set(frame["percent"]))
    with _style("whitegrid"):
        fig, axes = _grid(len(panels), ncols, _panel_height(min(ncols, len(panels))), sharey=True)
        bottom = _bottom_of_columns(axes, len(panels))
        handles = {}
        for ax, panel in zip(axes.flat, panels):
            part = frame[frame["panel"] == panel]
            for name in series:
                rows = part[part["series"] == name]
                if rows.empty:
                    continue
                baseline = _is_baseline(name)
                sns.lineplot(data=rows, x="percent", y="accuracy", estimator="mean", errorbar=_population_sd,
                             color=colors[name], linestyle="--" if baseline else "-", marker="s" if baseline else "o",
                             markersize=4, markeredgewidth=0, linewidth=1.6, err_kws={"alpha": 0.18, "linewidth": 0},
                             label=name, legend=False, ax=ax)
            for line in ax.lines:
                handles.setdefault(line.get_label(), line)
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            ax.set_xscale("log")
            ax.set_xticks(fractions, [f"{f:g}" for f in fractions])
            ax.minorticks_off()
            ax.set_xlim(min(fractions) / 1.25, max(fractions) * 1.25)
            ax.set_ylim(0, 102)
            ax.set_title("average over tasks" if panel == "average" and len(panels) > 1 else panel)
            ax.set_xlabel("training data (%)" if ax in bottom else "")
            ax.set_ylabel("")
        for ax in axes[:, 0]:
            ax.set_ylabel("balanced file-wise\naccuracy (%)")
        if title:
            fig.suptitle(title)
        labels = [s for s in series if s in handles]
        _figure_legend(fig, axes, [handles[s] for s in labels], labels, len(panels))
    return fig


def _history_frame(runs) -> pd.DataFrame:
    """Long rows of Keras-style histories: ``run``, ``epoch``, ``quantity`` (loss / accuracy), ``split``
    (training / validation) and ``value`` (accuracy in percent)."""
    rows = []
    for run, history in enumerate(runs):
        for key, quantity, split, scale in (("loss", "loss", "training", 1), ("val_loss", "loss", "validation", 1),
                                             ("accuracy", "accuracy", "training", 100),
                                             ("val_accuracy", "accuracy", "validation", 100)):
            values = history.get(key)
            if values is None:
                continue
            for epoch, value in enumerate(np.asarray(values, dtype=float).ravel(), start=1):
                rows.append((run, epoch, quantity, split, scale * float(value)))
    return pd.DataFrame(rows, columns=["run", "epoch", "quantity", "split", "value"])


def training_curves(histories: dict, *, title: str | None = None, ncols: int = 3):
    """Loss and accuracy per epoch of networks: ``{panel title: [history, ...]}`` with Keras-style histories
    (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``), one thin line per repetition. Each panel shows
    the loss (left axis, blue) and the frame accuracy (right axis, orange) on training (solid) and validation
    (dashed) frames."""
    plt, sns = _plt(), _sns()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    panels = [(k, [h for h in v if h]) for k, v in histories.items()]
    panels = [(k, v) for k, v in panels if v]
    if not panels:
        with _style("white"):
            fig, ax = plt.subplots(figsize=(5, 2))
            ax.text(0.5, 0.5, "no training histories stored", ha="center", va="center")
            ax.axis("off")
        return fig
    loss_color, accuracy_color = palette(2)
    dashes = {"training": "", "validation": (4, 2)}
    with _style("whitegrid"):
        fig, axes = _grid(len(panels), ncols, _panel_height(min(ncols, len(panels))))
        bottom = _bottom_of_columns(axes, len(panels))
        nrows, ncols_used = axes.shape
        right_edge = {axes[r, min(ncols_used, len(panels) - r * ncols_used) - 1] for r in range(nrows)}
        for ax, (name, runs) in zip(axes.flat, panels):
            long = _history_frame(runs)
            kw = {"units": "run", "estimator": None, "style": "split", "style_order": list(dashes), "dashes": dashes,
                  "legend": False, "linewidth": 1.2, "alpha": 0.9 if len(runs) == 1 else 0.6}
            right = ax.twinx()
            loss = long[long["quantity"] == "loss"]
            accuracy = long[long["quantity"] == "accuracy"]
            if not loss.empty:
                sns.lineplot(data=loss, x="epoch", y="value", color=loss_color, ax=ax, **kw)
            if not accuracy.empty:
                sns.lineplot(data=accuracy, x="epoch", y="value", color=accuracy_color, ax=right, **kw)
            ax.set_title(str(name))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch" if ax in bottom else "")
            first, last = ax in axes[:, 0], ax in right_edge
            ax.set_ylabel("loss (cross-entropy)" if first else "", color=loss_color)
            ax.set_ylim(bottom=0)
            right.set_ylabel("frame accuracy (%)" if last else "", color=accuracy_color)
            right.set_ylim(0, 102)
            right.grid(False)
        # the legend names only the curves drawn (a network trained on mixed-up patches stores no training accuracy)
        drawn = {(split, quantity) for _, runs in panels
                 for split, quantity in _history_frame(runs)[["split", "quantity"]].itertuples(index=False)}
        handles = [Line2D([], [], color=color, linestyle="--" if split == "validation" else "-",
                          label=f"{split} {quantity}")
                   for split, quantity, color in (("training", "loss", loss_color), ("validation", "loss", loss_color),
                                                  ("training", "accuracy", accuracy_color),
                                                  ("validation", "accuracy", accuracy_color))
                   if (split, quantity) in drawn]
        if title:
            fig.suptitle(title)
        _figure_legend(fig, axes, handles, [h.get_label() for h in handles], len(panels))
    return fig


def reproduction_scatter(frame: pd.DataFrame, *, title: str | None = None, ax=None):
    """Reproduced (mean ± std) against published accuracy, one point per table × row × task, with the
    diagonal; from :func:`evalkit.book.reference.reproduction_frame`."""
    sns = _sns()
    tables = [f"Table {t}" for t in dict.fromkeys(frame["table"])]
    data = pd.DataFrame({"published": frame["published"].astype(float).to_numpy(),
                         "mean": frame["mean"].astype(float).to_numpy(),
                         "std": frame["std"].astype(float).fillna(0).to_numpy(),
                         "table": [f"Table {t}" for t in frame["table"]]})
    colors = dict(zip(tables, palette(len(tables))))
    with _style("whitegrid"):
        fig, ax = _new_axes((4.6, PANEL_HEIGHT), ax)
        ax.plot([0, 100], [0, 100], color="#888888", linewidth=0.9, linestyle="--", zorder=1, label="y = x")
        for table in tables:
            part = data[data["table"] == table]
            ax.errorbar(part["published"], part["mean"], yerr=part["std"], fmt="none", ecolor=colors[table],
                        elinewidth=0.8, capsize=2, zorder=2)
        sns.scatterplot(data=data, x="published", y="mean", hue="table", hue_order=tables, palette=colors,
                        style="table", style_order=tables, s=28, edgecolor="white", linewidth=0.4, zorder=3, ax=ax)
        ax.set_xlim(0, 102)
        ax.set_ylim(0, 102)
        ax.set_aspect("equal")
        ax.set_xlabel("published accuracy (%)")
        ax.set_ylabel("this profile: accuracy (%)")
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title=None,
                        fontsize=LEGEND_FONTSIZE)
        if title:
            ax.set_title(title)
    return fig


