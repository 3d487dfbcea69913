"""Figures of the book (matplotlib): accuracy bars with error bars, confusion-matrix heatmaps, learning
curves, training curves of the CNNs, 2-D projections of embeddings, and reproduced vs. published numbers.

Every function takes the tidy results of :mod:`evalkit.report` (one row per repetition) or plain arrays,
draws into a new figure (or the given axes) and returns the figure.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Colour of the baseline CNN in every figure.
BASELINE_COLOR = "#444444"
#: Width in inches of a figure that spans the book's text column (about 700 px at the notebooks' 100 dpi): wider
#: figures are scaled down in the page, and their text with them.
PAGE_WIDTH = 8.0


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline", "inline"):
        try:
            from IPython import get_ipython

            if get_ipython() is None:
                matplotlib.use("Agg")
        except ImportError:
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panel_height(ncols: int) -> float:
    """Height in inches of one row of ``ncols`` line-plot panels across the page (not taller than wide-ish)."""
    return min(0.8 * PAGE_WIDTH / ncols, 3.2)


def _colors(names) -> dict:
    plt = _plt()
    cmap = plt.get_cmap("tab10")
    out, i = {}, 0
    for name in names:
        if name in ("baseline", "baseline CNN"):
            out[name] = BASELINE_COLOR
        else:
            out[name] = cmap(i % 10)
            i += 1
    return out




def accuracy_bars(results: pd.DataFrame, by: str = "embedding", *, series_column: str = "label", ax=None,
                  title: str | None = None, average: bool = True, chance: dict | None = None):
    """Grouped bars of the balanced file-wise accuracy (mean ± std over repetitions).

    Parameters
    ----------
    results : DataFrame
        One row per repetition with ``task``, ``accuracy`` and ``series_column`` (default ``label``:
        the embedding, or ``baseline``).
    by : {"embedding", "task"}
        ``"embedding"``: one group of bars per embedding, one bar per task (figure a).
        ``"task"``: one group per task, one bar per embedding, plus an ``average`` group (figure b).
    average : bool
        With ``by="task"``, add the group of averages over tasks (per repetition, then mean ± std).
    chance : dict, optional
        ``{task: chance level in percent}`` drawn as short dashed lines (``by="task"``).
    """
    plt = _plt()
    tasks = list(dict.fromkeys(results["task"]))
    series = list(dict.fromkeys(results[series_column]))
    stats = results.groupby([series_column, "task"], sort=False)["accuracy"].agg(
        mean="mean", std=lambda a: float(np.std(a)))
    if by == "embedding":
        groups, bars = series, tasks
        value = lambda g, b: stats.loc[(g, b)] if (g, b) in stats.index else None  # noqa: E731
    elif by == "task":
        groups, bars = tasks + (["average"] if average and len(tasks) > 1 else []), series
        avg = (results.groupby([series_column, "repetition"], sort=False)["accuracy"].mean()
               .groupby(level=0, sort=False).agg(mean="mean", std=lambda a: float(np.std(a))))

        def value(g, b):
            if g == "average":
                return avg.loc[b] if b in avg.index else None
            return stats.loc[(b, g)] if (b, g) in stats.index else None
    else:
        raise ValueError(f"by must be 'embedding' or 'task', not {by!r}")
    colors = _colors(bars) if by == "task" else dict(zip(bars, plt.get_cmap("tab10")(np.arange(len(bars)) % 10)))
    width = 0.8 / max(1, len(bars))
    if ax is None:
        fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 3.6))
    else:
        fig = ax.figure
    x = np.arange(len(groups))
    for j, bar in enumerate(bars):
        means, stds = [], []
        for g in groups:
            v = value(g, bar)
            means.append(np.nan if v is None else float(v["mean"]))
            stds.append(0.0 if v is None else float(v["std"]))
        ax.bar(x + (j - (len(bars) - 1) / 2) * width, means, width * 0.92, yerr=stds, capsize=2,
               color=colors[bar], label=str(bar), error_kw={"elinewidth": 0.8, "ecolor": "#222"})
    if chance and by == "task":
        for i, g in enumerate(groups):
            if g in chance:
                ax.hlines(chance[g], i - 0.45, i + 0.45, colors="#b00", linestyles="dashed", linewidth=0.9,
                          label="chance" if i == 0 else None)
    ax.set_xticks(x, [str(g) for g in groups], rotation=0 if max(len(str(g)) for g in groups) < 12 else 20,
                  ha="center" if max(len(str(g)) for g in groups) < 12 else "right")
    ax.set_ylabel("balanced file-wise accuracy (%)")
    ax.set_ylim(0, 105)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=9, ncol=min(len(bars) + (1 if chance else 0), 4), loc="lower center",
              bbox_to_anchor=(0.5, 1.0), frameon=False)
    if title:
        rows = -(-(len(bars) + (1 if chance else 0)) // 4)  # legend rows above the axes
        ax.set_title(title, pad=6 + 16 * rows if len(bars) > 1 else 6, fontsize=11)
    fig.tight_layout()
    return fig


def confusion_heatmap(frame: pd.DataFrame, *, ax=None, title: str | None = None, cmap: str = "Blues",
                      digits: int = 0):
    """Heatmap of a confusion matrix in percent of each true class (rows: true, columns: predicted), every
    cell annotated with its percentage and the axes with the class names."""
    plt = _plt()
    n = len(frame)
    if ax is None:
        size = max(3.2, 0.55 * n + 1.8)
        fig, ax = plt.subplots(figsize=(size, size * 0.9))
    else:
        fig = ax.figure
    values = frame.to_numpy(dtype=float)
    ax.imshow(np.nan_to_num(values), cmap=cmap, vmin=0, vmax=100)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if np.isnan(v):
                continue
            ax.text(j, i, f"{v:.{digits}f}", ha="center", va="center", fontsize=8 if n <= 5 else 7,
                    color="white" if v > 55 else "black")
    labels_x = [str(c) for c in frame.columns]
    labels_y = [str(c) for c in frame.index]
    ax.set_xticks(range(values.shape[1]), labels_x, rotation=35 if max(map(len, labels_x)) > 4 else 0,
                  ha="right" if max(map(len, labels_x)) > 4 else "center", fontsize=8)
    ax.set_yticks(range(values.shape[0]), labels_y, fontsize=8)
    ax.set_xlabel("predicted", fontsize=9)
    ax.set_ylabel("true", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def confusion_grid(frames: dict, *, ncols: int = 3, suptitle: str | None = None, cmap: str = "Blues"):
    """Several confusion heatmaps side by side: ``{title: frame}``."""
    plt = _plt()
    n = len(frames)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    biggest = max(len(f) for f in frames.values())
    width = min(PAGE_WIDTH, ncols * max(3.0, 0.5 * biggest + 1.9))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, width / ncols * 0.95 * nrows), squeeze=False,
                             layout="constrained")
    for ax, (title, frame) in zip(axes.flat, frames.items()):
        confusion_heatmap(frame, ax=ax, title=title, cmap=cmap)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def learning_curves(results: pd.DataFrame, *, series_column: str = "label", title: str | None = None, ncols: int = 3):
    """Accuracy over the training share: one panel per task and one of the average over tasks, one line per
    embedding (and the baseline) with a band of ± one standard deviation over repetitions."""
    plt = _plt()
    tasks = list(dict.fromkeys(results["task"]))
    panels = tasks + (["average"] if len(tasks) > 1 else [])
    series = list(dict.fromkeys(results[series_column]))
    colors = _colors(series)
    ncols = max(1, min(ncols, len(panels)))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH, _panel_height(ncols) * nrows + 0.6), squeeze=False,
                             sharey=True, layout="constrained")
    for ax, panel in zip(axes.flat, panels):
        for name in series:
            part = results[results[series_column] == name]
            if panel == "average":
                per_rep = part.groupby(["train_fraction", "repetition"])["accuracy"].mean()
                stats = per_rep.groupby(level=0).agg(["mean", "std"])
                stats["std"] = per_rep.groupby(level=0).agg(lambda a: float(np.std(a)))
            else:
                stats = part[part["task"] == panel].groupby("train_fraction")["accuracy"].agg(
                    mean="mean", std=lambda a: float(np.std(a)))
            if stats.empty:
                continue
            x = 100 * stats.index.to_numpy(dtype=float)
            ax.plot(x, stats["mean"], marker="o", markersize=3.5, color=colors[name], label=str(name),
                    linestyle="--" if name == "baseline" else "-")
            ax.fill_between(x, stats["mean"] - stats["std"], stats["mean"] + stats["std"], color=colors[name], alpha=0.15)
        ax.set_xscale("log")
        fractions = sorted(set(100 * results["train_fraction"].astype(float)))
        ax.set_xticks(fractions, [f"{f:g}" for f in fractions])
        ax.minorticks_off()
        ax.set_title(str(panel), fontsize=10)
        ax.set_xlabel("training data (%)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 102)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (%)", fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), fontsize=9, frameon=False)
    return fig


def training_curves(histories: dict, *, title: str | None = None, ncols: int = 3):
    """Loss and accuracy per epoch of networks: ``{panel title: [history, ...]}`` with Keras-style histories
    (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``), one thin line per repetition. Each panel shows
    the loss (left axis) and the accuracy (right axis) on training and validation frames."""
    plt = _plt()
    panels = [(k, [h for h in v if h]) for k, v in histories.items()]
    panels = [(k, v) for k, v in panels if v]
    if not panels:
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.text(0.5, 0.5, "no training histories stored", ha="center", va="center")
        ax.axis("off")
        return fig
    ncols = max(1, min(ncols, len(panels)))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH, _panel_height(ncols) * nrows + 0.6), squeeze=False,
                             layout="constrained")
    for ax, (name, runs) in zip(axes.flat, panels):
        right = ax.twinx()
        for i, history in enumerate(runs):
            epochs = np.arange(1, len(history.get("loss", [])) + 1)
            kw = {"alpha": 0.85 if len(runs) == 1 else 0.6, "linewidth": 1.2}
            ax.plot(epochs, history.get("loss", []), color="C0", label="training loss" if i == 0 else None, **kw)
            if history.get("val_loss"):
                ax.plot(epochs, history["val_loss"], color="C0", linestyle="--",
                        label="validation loss" if i == 0 else None, **kw)
            right.plot(epochs, 100 * np.asarray(history.get("accuracy", [])), color="C1",
                       label="training accuracy" if i == 0 else None, **kw)
            if history.get("val_accuracy"):
                right.plot(epochs, 100 * np.asarray(history["val_accuracy"]), color="C1", linestyle="--",
                           label="validation accuracy" if i == 0 else None, **kw)
        ax.set_title(str(name), fontsize=10)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("loss", fontsize=8, color="C0")
        right.set_ylabel("frame accuracy (%)", fontsize=8, color="C1")
        right.set_ylim(0, 102)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    first = axes.flat[0]
    handles = first.get_legend_handles_labels()
    twin = [a for a in fig.axes if a not in axes.flat][0]
    handles2 = twin.get_legend_handles_labels()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="outside lower center", ncol=4, fontsize=9,
               frameon=False)
    return fig


def projection_scatter(X: np.ndarray, labels, *, method: str = "pca", ax=None, title: str | None = None,
                       random_state: int = 0, classes=None):
    """2-D projection (PCA or t-SNE) of vectors (e.g. one mean embedding per file), coloured by class."""
    plt = _plt()
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(np.asarray(X, dtype=float))
    labels = np.asarray(labels)
    if method == "pca":
        from sklearn.decomposition import PCA

        points = PCA(n_components=2, random_state=random_state).fit_transform(X)
        axis = "principal component"
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = max(2.0, min(30.0, (len(X) - 1) / 3))
        points = TSNE(n_components=2, random_state=random_state, perplexity=perplexity, init="pca").fit_transform(X)
        axis = "t-SNE dimension"
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', not {method!r}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.6, 4.0))
    else:
        fig = ax.figure
    classes = list(classes) if classes is not None else list(dict.fromkeys(labels))
    for i, label in enumerate(classes):
        mask = labels == label
        ax.scatter(points[mask, 0], points[mask, 1], s=18, color=plt.get_cmap("tab10")(i % 10), label=str(label),
                   alpha=0.85, edgecolors="none")
    ax.set_xlabel(f"{axis} 1", fontsize=8)
    ax.set_ylabel(f"{axis} 2", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="best", frameon=True, framealpha=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def spectrogram(audio: np.ndarray, sample_rate: int, *, ax=None, title: str | None = None, mel: bool = True):
    """Log (mel) spectrogram of a signal."""
    plt = _plt()
    import librosa

    if mel:
        spec = librosa.feature.melspectrogram(y=audio, sr=sample_rate, n_fft=1024, hop_length=256, n_mels=96)
    else:
        spec = np.abs(librosa.stft(audio, n_fft=1024, hop_length=256)) ** 2
    db = librosa.power_to_db(spec, ref=np.max)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.0, 2.4))
    else:
        fig = ax.figure
    duration = len(audio) / sample_rate
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=(0, duration, 0, db.shape[0]), vmin=-80, vmax=0)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("mel band" if mel else "frequency bin", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def reproduction_scatter(frame: pd.DataFrame, *, title: str | None = None, ax=None):
    """Reproduced (mean ± std) against published accuracy, one point per table × row × task, with the
    diagonal; from :func:`evalkit.report.reproduction_frame`."""
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 4.6))
    else:
        fig = ax.figure
    tables = list(dict.fromkeys(frame["table"]))
    for i, table in enumerate(tables):
        part = frame[frame["table"] == table]
        ax.errorbar(part["published"], part["mean"], yerr=part["std"], fmt="o", markersize=4, capsize=2,
                    color=plt.get_cmap("tab10")(i % 10), label=f"Table {table}", elinewidth=0.8)
    ax.plot([0, 100], [0, 100], color="#888", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, 102)
    ax.set_ylim(0, 102)
    ax.set_aspect("equal")
    ax.set_xlabel("published accuracy (%)", fontsize=9)
    ax.set_ylabel("this profile (%)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def setup_notebook(dpi: int = 100) -> None:
    """Notebook defaults of the book: PNG figures at ``dpi``, compact pandas output, no warning noise."""
    import warnings

    import matplotlib

    matplotlib.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "figure.max_open_warning": 0,
                                "savefig.bbox": "tight"})
    pd.set_option("display.precision", 1)
    pd.set_option("display.max_colwidth", 120)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("matplotlib", "inline")
            shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    except ImportError:
        pass
