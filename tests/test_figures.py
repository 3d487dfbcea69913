"""The book's figures (evalkit.book.figures) on small synthetic results whose statistics are known: bar heights and
error bars, heatmap annotations, learning-curve lines and bands, colours, axis labels with units, sizes, and no
global side effects."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.book import figures

plt = figures._plt()
import matplotlib  # noqa: E402  (after figures chose the backend)
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

TASKS = ["A", "B"]
SERIES = ["emb1", "emb2", "baseline"]
FRACTIONS = [0.1, 0.5]
#: accuracy[series][task][fraction] = values over 3 repetitions; population and sample std differ, and the
#: average group's per-repetition statistics differ from pooling all rows.
VALUES = {
    "emb1": {"A": {0.1: [50, 60, 70], 0.5: [80, 82, 90]}, "B": {0.1: [40, 40, 46], 0.5: [60, 70, 65]}},
    "emb2": {"A": {0.1: [30, 33, 45], 0.5: [55, 65, 75]}, "B": {0.1: [90, 70, 80], 0.5: [92, 88, 96]}},
    "baseline": {"A": {0.1: [20, 25, 33], 0.5: [70, 72, 71]}, "B": {0.1: [35, 50, 41], 0.5: [75, 85, 95]}},
}
CHANCE = {"A": 50.0, "B": 33.3}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def runs():
    rows = [{"task": t, "label": s, "train_fraction": f, "repetition": r, "accuracy": float(v),
             "row": f"{s} · SVM"}
            for s in SERIES for t in TASKS for f in FRACTIONS for r, v in enumerate(VALUES[s][t][f])]
    return pd.DataFrame(rows)


def _bar_centres(ax):
    """{(series, x position rounded): (height, centre)} of every bar, from the labelled containers."""
    out = {}
    for container in ax.containers:
        for patch in container.patches:
            centre = patch.get_x() + patch.get_width() / 2
            out[(container.get_label(), int(round(centre)))] = (patch.get_height(), centre, patch)
    return out


def _error_bar(ax, centre):
    """(low, high) of the error bar drawn at x = centre."""
    hits = []
    for line in ax.lines:
        x = np.asarray(line.get_xdata(), dtype=float)
        y = np.asarray(line.get_ydata(), dtype=float)
        if x.size and np.all(np.isfinite(x[np.isfinite(x)])) and np.isclose(np.nanmedian(x), centre):
            hits.append((np.nanmin(y), np.nanmax(y)))
    assert len(hits) == 1, f"expected one error bar at x={centre}, found {len(hits)}"
    return hits[0]


def _check_size(fig, max_height=figures.PANEL_HEIGHT):
    width, height = fig.get_size_inches()
    assert width <= figures.PAGE_WIDTH + 1e-9
    assert height <= max_height + 1e-9


# ------------------------------------------------------------------------------------------------
# accuracy_bars


def test_accuracy_bars_by_task_heights_and_population_std(runs):
    part = runs[runs["train_fraction"] == 0.5]
    fig = figures.accuracy_bars(part, by="task", chance=CHANCE, title="(b) each task")
    ax = fig.axes[0]
    bars = _bar_centres(ax)
    assert [c.get_label() for c in ax.containers] == SERIES
    assert len(bars) == len(SERIES) * (len(TASKS) + 1)
    for s in SERIES:
        for i, t in enumerate(TASKS):
            values = np.array(VALUES[s][t][0.5], dtype=float)
            height, centre, _ = bars[(s, i)]
            assert height == pytest.approx(values.mean())
            low, high = _error_bar(ax, centre)
            assert high - height == pytest.approx(np.std(values))  # population std (ddof=0) ...
            assert height - low == pytest.approx(np.std(values))
            assert not np.isclose(high - height, np.std(values, ddof=1))  # ... not the sample std


def test_accuracy_bars_average_group_is_per_repetition_statistics(runs):
    part = runs[runs["train_fraction"] == 0.1]
    fig = figures.accuracy_bars(part, by="task")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == TASKS + ["average"]
    bars = _bar_centres(ax)
    for s in SERIES:
        per_repetition = np.mean([VALUES[s][t][0.1] for t in TASKS], axis=0)  # mean over tasks, per repetition
        height, centre, _ = bars[(s, len(TASKS))]
        assert height == pytest.approx(per_repetition.mean())
        low, high = _error_bar(ax, centre)
        assert high - low == pytest.approx(2 * np.std(per_repetition))
        pooled = np.concatenate([VALUES[s][t][0.1] for t in TASKS])
        assert not np.isclose(high - low, 2 * np.std(pooled))


def test_accuracy_bars_no_average_without_flag(runs):
    fig = figures.accuracy_bars(runs[runs["train_fraction"] == 0.1], by="task", average=False)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == TASKS


def test_accuracy_bars_colours_chance_labels_and_size(runs):
    fig = figures.accuracy_bars(runs[runs["train_fraction"] == 0.5], by="task", chance=CHANCE, title="t")
    ax = fig.axes[0]
    _check_size(fig)
    assert fig.get_size_inches()[0] == pytest.approx(figures.PAGE_WIDTH)
    assert ax.get_ylabel() == "balanced file-wise accuracy (%)"
    colours = {c.get_label(): to_hex(c.patches[0].get_facecolor()) for c in ax.containers}
    assert colours["baseline"] == to_hex(figures.BASELINE_COLOR)
    colorblind = {to_hex(c) for c in figures._sns().color_palette("colorblind")}
    assert colours["emb1"] in colorblind and colours["emb2"] in colorblind
    assert len(set(colours.values())) == len(SERIES)
    # chance: dashed black segments at the given levels, in the legend
    chance = [c for c in ax.collections if c.get_label() == "chance"]
    assert len(chance) == 1
    levels = sorted(round(float(seg[0][1]), 1) for seg in chance[0].get_segments())
    assert levels == sorted(CHANCE.values())
    assert to_hex(chance[0].get_color()[0]) == "#000000"
    assert chance[0].get_linestyle()[0][1] is not None  # dashed, not solid
    legend = ax.get_legend()
    assert {t.get_text() for t in legend.texts} == set(SERIES) | {"chance"}
    assert all(t.get_fontsize() >= 9 for t in legend.texts)


def test_accuracy_bars_by_embedding(runs):
    part = runs[runs["train_fraction"] == 0.5]
    fig = figures.accuracy_bars(part, by="embedding")
    ax = fig.axes[0]
    assert [c.get_label() for c in ax.containers] == TASKS
    assert [t.get_text() for t in ax.get_xticklabels()] == SERIES
    bars = _bar_centres(ax)
    for i, s in enumerate(SERIES):
        for t in TASKS:
            height, centre, _ = bars[(t, i)]
            assert height == pytest.approx(np.mean(VALUES[s][t][0.5]))
            low, high = _error_bar(ax, centre)
            assert (high - low) / 2 == pytest.approx(np.std(VALUES[s][t][0.5]))
    with pytest.raises(ValueError):
        figures.accuracy_bars(part, by="classifier")


def test_accuracy_bars_into_given_axes(runs):
    fig, axes = plt.subplots(1, 2)
    out = figures.accuracy_bars(runs[runs["train_fraction"] == 0.5], by="task", ax=axes[1])
    assert out is fig
    assert len(axes[1].containers) == len(SERIES) and not axes[0].containers


# ------------------------------------------------------------------------------------------------
# confusion matrices


CONFUSION = pd.DataFrame([[66.667, 33.333, 0.0], [12.4, 75.5, 12.1], [0.0, 49.6, 50.4]],
                         index=["low", "mid", "high"], columns=["low", "mid", "high"])


def test_confusion_heatmap_annotations_colourbar_and_labels():
    fig = figures.confusion_heatmap(CONFUSION, title="SVM")
    heat, bar = fig.axes[0], fig.axes[1]
    texts = [t.get_text() for t in heat.texts]
    assert texts == [f"{v:.0f}" for v in CONFUSION.to_numpy().ravel()]
    assert texts[:3] == ["67", "33", "0"] and texts[-1] == "50"
    mesh = heat.collections[0]
    assert mesh.colorbar is not None and mesh.get_clim() == (0, 100)
    assert bar.get_ylabel() == "% of the true class"
    assert heat.get_xlabel() == "predicted" and heat.get_ylabel() == "true"
    assert [t.get_text() for t in heat.get_xticklabels()] == list(CONFUSION.columns)
    assert [t.get_text() for t in heat.get_yticklabels()] == list(CONFUSION.index)
    _check_size(fig)


def test_confusion_heatmap_digits():
    fig = figures.confusion_heatmap(CONFUSION, digits=1)
    assert fig.axes[0].texts[0].get_text() == "66.7"


def test_confusion_grid_one_shared_colourbar():
    frames = {"one": CONFUSION, "two": CONFUSION * 0 + 100 / 3, "three": CONFUSION, "four": CONFUSION}
    fig = figures.confusion_grid(frames, ncols=3, cmap="Oranges")
    heatmaps = [ax for ax in fig.axes if ax.get_title() in frames]
    assert [ax.get_title() for ax in heatmaps] == list(frames)
    colourbars = [ax for ax in fig.axes if ax.get_ylabel() == "% of the true class"]
    assert len(colourbars) == 1
    for ax in heatmaps:
        assert len(ax.texts) == 9
        assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
        assert ax.collections[0].get_clim() == (0, 100)
    assert heatmaps[1].texts[0].get_text() == "33"
    assert fig.get_size_inches()[0] <= figures.PAGE_WIDTH


# ------------------------------------------------------------------------------------------------
# learning and training curves


def _panel(fig, title):
    return next(ax for ax in fig.axes if ax.get_title() == title)


def test_learning_curves_lines_are_per_fraction_means(runs):
    fig = figures.learning_curves(runs, title="curves")
    for t in TASKS:
        ax = _panel(fig, t)
        lines = {line.get_label(): line for line in ax.lines}
        assert set(lines) == set(SERIES)
        for s in SERIES:
            x = np.asarray(lines[s].get_xdata(), dtype=float)
            y = np.asarray(lines[s].get_ydata(), dtype=float)
            np.testing.assert_allclose(x, [100 * f for f in FRACTIONS])
            np.testing.assert_allclose(y, [np.mean(VALUES[s][t][f]) for f in FRACTIONS])
    average = _panel(fig, "average over tasks")
    for line in average.lines:
        s = line.get_label()
        expected = [np.mean(np.mean([VALUES[s][t][f] for t in TASKS], axis=0)) for f in FRACTIONS]
        np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), expected)


def test_learning_curves_band_is_population_std(runs):
    fig = figures.learning_curves(runs[runs["label"] == "emb1"])
    ax = _panel(fig, "A")
    band = ax.collections[0].get_paths()[0].vertices
    for f in FRACTIONS:
        values = np.array(VALUES["emb1"]["A"][f], dtype=float)
        ys = band[np.isclose(band[:, 0], 100 * f), 1]
        assert ys.min() == pytest.approx(values.mean() - np.std(values))
        assert ys.max() == pytest.approx(values.mean() + np.std(values))


def test_learning_curves_baseline_dashed_grey_and_labels(runs):
    fig = figures.learning_curves(runs)
    ax = _panel(fig, "A")
    lines = {line.get_label(): line for line in ax.lines}
    assert lines["baseline"].get_linestyle() == "--"
    assert to_hex(lines["baseline"].get_color()) == to_hex(figures.BASELINE_COLOR)
    for s in ("emb1", "emb2"):
        assert lines[s].get_linestyle() == "-"
        assert to_hex(lines[s].get_color()) != to_hex(figures.BASELINE_COLOR)
    assert "accuracy (%)" in ax.get_ylabel()
    assert any(a.get_xlabel() == "training data (%)" for a in fig.axes)
    assert fig.get_size_inches()[0] == pytest.approx(figures.PAGE_WIDTH)
    legends = fig.legends + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == 1
    assert [t.get_text() for t in legends[0].texts] == SERIES
    assert all(t.get_fontsize() >= 9 for t in legends[0].texts)


def test_learning_curves_single_panel_fits(runs):
    fig = figures.learning_curves(runs[runs["task"] == "A"])
    assert [ax.get_title() for ax in fig.axes] == ["A"]
    _check_size(fig)


def _history(epochs, offset=0.0):
    e = np.arange(epochs)
    return {"loss": list(np.exp(-e / 3) + offset), "val_loss": list(np.exp(-e / 4) + 0.1 + offset),
            "accuracy": list(1 - 0.5 * np.exp(-e / 3)), "val_accuracy": list(0.8 - 0.4 * np.exp(-e / 3))}


def test_training_curves_lines_units_and_percent():
    fig = figures.training_curves({"CNN on A": [_history(6), _history(6, 0.1)], "CNN on B": [_history(4)],
                                   "empty": []}, ncols=3)
    loss_axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in loss_axes] == ["CNN on A", "CNN on B"]
    first = loss_axes[0]
    assert first.get_xlabel() == "epoch"
    assert "loss" in first.get_ylabel()
    assert len(first.lines) == 4  # training and validation loss of two runs
    twins = [ax for ax in fig.axes if ax.get_ylabel() == "frame accuracy (%)"]
    assert twins
    accuracy_lines = [line for ax in fig.axes if ax not in loss_axes for line in ax.lines]
    assert max(np.nanmax(np.asarray(line.get_ydata(), dtype=float)) for line in accuracy_lines) == pytest.approx(
        100 * max(_history(6)["accuracy"]))
    assert any(np.asarray(line.get_xdata())[0] == 1 for line in first.lines)  # epochs count from 1
    assert {t.get_text() for t in fig.legends[0].texts} == {"training loss", "validation loss", "training accuracy",
                                                          "validation accuracy"}
    assert fig.get_size_inches()[0] <= figures.PAGE_WIDTH


def test_training_curves_without_histories():
    fig = figures.training_curves({"x": [None, {}]})
    assert "no training histories" in fig.axes[0].texts[0].get_text()


# ------------------------------------------------------------------------------------------------
# scatter plots and spectrograms


def test_projection_scatter_points_classes_and_legend():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 1, size=(10, 6)) for c in range(3)])
    labels = np.repeat(["low", "mid", "high"], 10)
    fig = figures.projection_scatter(X, labels, classes=["low", "mid", "high"], title="PCA")
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 30
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.texts] == ["low", "mid", "high"]
    assert all(t.get_fontsize() >= 9 for t in legend.texts)
    assert ax.get_xlabel().startswith("principal component 1") and "% of variance" in ax.get_xlabel()
    _check_size(fig)
    with pytest.raises(ValueError):
        figures.projection_scatter(X, labels, method="umap")


def test_spectrogram_axes_in_seconds_and_hz():
    sr = 8000
    audio = np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    fig = figures.spectrogram(audio, sr, title="tone")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (s)"
    assert "Hz" in ax.get_ylabel()
    assert ax.get_xlim() == pytest.approx((0, 1.0))
    assert ax.images[0].colorbar is not None
    _check_size(fig)
    fig = figures.spectrogram(audio, sr, mel=False)
    assert fig.axes[0].get_ylim()[1] == pytest.approx(sr / 2)


def test_reproduction_scatter_points_and_diagonal():
    frame = pd.DataFrame({"table": ["I", "I", "II"], "published": [50.0, 80.0, 90.0], "mean": [55.0, 78.0, 91.0],
                          "std": [2.0, 1.0, 0.5]})
    fig = figures.reproduction_scatter(frame, title="reproduced vs. published")
    ax = fig.axes[0]
    points = np.concatenate([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])
    assert sorted(map(tuple, np.round(points, 6))) == sorted(zip(frame["published"], frame["mean"]))
    assert ax.get_xlabel() == "published accuracy (%)" and "(%)" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().texts][1:] == ["Table I", "Table II"]
    _check_size(fig)


# ------------------------------------------------------------------------------------------------
# palette and side effects


def test_palette_is_colour_blind_safe_and_keeps_grey_for_the_baseline():
    base = [to_hex(c) for c in figures._sns().color_palette("colorblind")]
    colours = [to_hex(c) for c in figures.palette(9)]
    assert set(colours) <= set(base)
    assert base[7] not in colours  # the palette's grey is the baseline's
    green, vermillion = base[2], base[3]
    for a, b in zip(colours, colours[1:]):
        assert {a, b} != {green, vermillion}
    assigned = figures._colors(["x", "baseline", "y"])
    assert assigned["baseline"] == figures.BASELINE_COLOR and assigned["x"] != assigned["y"]


def test_figures_leave_global_state_alone(runs):
    before = dict(matplotlib.rcParams)
    filters = list(warnings.filters)
    figures.accuracy_bars(runs, by="task", chance=CHANCE)
    figures.learning_curves(runs)
    figures.confusion_grid({"a": CONFUSION})
    assert dict(matplotlib.rcParams) == before
    assert list(warnings.filters) == filters


def test_notebook_display_defaults_sets_display_without_warning_filters():
    filters = list(warnings.filters)
    with matplotlib.rc_context(), pd.option_context("display.precision", 6, "display.max_colwidth", 50):
        figures.notebook_display_defaults(dpi=123)
        assert matplotlib.rcParams["figure.dpi"] == 123
        assert matplotlib.rcParams["legend.fontsize"] >= 9
        assert pd.get_option("display.precision") == 1
    assert list(warnings.filters) == filters
    assert not hasattr(figures, "setup_notebook")


def test_class_folders_read_as_words_in_confusion_matrices_and_projections():
    assert [figures.class_name(c) for c in ("_ninst01", "_ninst02", "_ninst05", "electric_engine", "low")] == [
        "1 player", "2 players", "5 players", "electric engine", "low"]
    classes = ["_ninst01", "_ninst02"]
    frame = pd.DataFrame([[90.0, 10.0], [20.0, 80.0]], index=classes, columns=classes)
    fig = figures.confusion_heatmap(frame)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1 player", "2 players"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1 player", "2 players"]
    fig = figures.projection_scatter(np.random.default_rng(0).standard_normal((8, 4)), np.repeat(classes, 4),
                                     method="pca", classes=classes)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["1 player", "2 players"]
    matplotlib.pyplot.close("all")
