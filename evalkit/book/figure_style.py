"""The look shared by every figure of the book: colours (seaborn's colour-blind-safe palette, the baseline in grey),
sizes that fit the book's text column, legends, axes helpers, and the notebooks' display defaults.

No global state is changed on import: styles are applied inside each figure function (:func:`style`);
:func:`notebook_display_defaults` is the one explicit call that sets up a notebook.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd

#: Colour of the baseline CNN in every figure.
BASELINE_COLOR = "#444444"
#: Width in inches of a figure that spans the book's text column (about 700 px at the notebooks' 100 dpi): wider
#: figures are scaled down in the page, and their text with them.
PAGE_WIDTH = 8.0
#: Largest height in inches of one row of panels.
PANEL_HEIGHT = 3.2
#: Font size in points of every legend.
LEGEND_FONTSIZE = 9
#: Colour of chance levels and reference lines.
CHANCE_COLOR = "black"
#: Label of the y axis of accuracy plots.
ACCURACY_LABEL = "balanced file-wise accuracy (%)"
#: Label of the colour bar of confusion matrices.
CONFUSION_LABEL = "% of the true class"

# Indices into seaborn's "colorblind" palette (blue, orange, green, reddish purple, vermillion, sky blue, brown,
# pink, yellow): its grey (7) is left for the baseline, green (2) and vermillion (3) are not neighbours.
_PALETTE_ORDER = (0, 1, 2, 4, 3, 9, 5, 6, 8)
_RC = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5,
       "legend.fontsize": LEGEND_FONTSIZE, "legend.title_fontsize": LEGEND_FONTSIZE, "figure.titlesize": 11,
       "axes.titlepad": 5.0}


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


def _sns():
    _plt()  # choose the backend before seaborn imports pyplot
    import seaborn as sns

    return sns


@contextmanager
def _style(style: str = "whitegrid"):
    """The book's seaborn style and font sizes, for the figures and axes created inside the block only."""
    plt, sns = _plt(), _sns()
    with sns.axes_style(style), plt.rc_context(_RC):
        yield


def _panel_height(ncols: int) -> float:
    """Height in inches of one row of ``ncols`` line-plot panels across the page (not taller than wide-ish)."""
    return min(0.8 * PAGE_WIDTH / ncols, PANEL_HEIGHT)


def _is_baseline(name) -> bool:
    return str(name).strip().lower().startswith("baseline")


def palette(n: int) -> list:
    """``n`` colours of the book (seaborn's colour-blind palette without its grey, green not next to red),
    repeating after nine."""
    base = _sns().color_palette("colorblind")
    return [base[_PALETTE_ORDER[i % len(_PALETTE_ORDER)]] for i in range(n)]


def _colors(names) -> dict:
    """Colour of each series: the baseline in :data:`BASELINE_COLOR`, the others from :func:`palette`."""
    names = list(names)
    others = [n for n in names if not _is_baseline(n)]
    colors = dict(zip(others, palette(len(others))))
    return {n: BASELINE_COLOR if _is_baseline(n) else colors[n] for n in names}


def _population_sd(values) -> tuple[float, float]:
    """Error bar of seaborn's estimators: mean ± population standard deviation (``np.std``, ddof=0)."""
    a = np.asarray(values, dtype=float)
    mean, std = float(np.mean(a)), float(np.std(a))
    return mean - std, mean + std


def _new_axes(figsize, ax=None):
    plt = _plt()
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _grid(panels: int, ncols: int, row_height: float, **kw):
    """A constrained figure of ``panels`` axes across the page; unused cells switched off (the first one takes
    the legend, see :func:`_figure_legend`, else the legend goes below the panels)."""
    plt = _plt()
    ncols = max(1, min(ncols, panels))
    nrows = -(-panels // ncols)
    extra = 0.4 if panels % ncols else 0.75
    height = min(row_height * nrows + extra, PANEL_HEIGHT * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH, height), squeeze=False, layout="constrained", **kw)
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    return fig, axes


def _bottom_of_columns(axes, panels: int) -> set:
    """The lowest used axes of every column (they carry the x label)."""
    nrows, ncols = axes.shape
    out = set()
    for c in range(ncols):
        rows = [r for r in range(nrows) if r * ncols + c < panels]
        if rows:
            out.add(axes[rows[-1], c])
    return out


def _legend_columns(labels, width_in: float) -> int:
    """Columns of a legend of ``labels`` at :data:`LEGEND_FONTSIZE` that fits ``width_in`` inches, rows balanced."""
    n = len(labels)
    if n == 0:
        return 1
    em = LEGEND_FONTSIZE / 72  # inches
    entry = max((2.0 + 1.2 + 0.55 * len(str(label))) * em for label in labels)  # handle, spacing, text
    ncol = max(1, min(n, int(width_in // entry)))
    rows = -(-n // ncol)
    return -(-n // rows)


def _row_major(items: list, ncol: int) -> list:
    """Reorder ``items`` so that matplotlib's column-by-column legend reads row by row."""
    n = len(items)
    ncol = max(1, min(ncol, n))
    rows, long_columns = -(-n // ncol), n % ncol or ncol
    sizes = [rows if c < long_columns else rows - 1 for c in range(ncol)]
    return [items[r * ncol + c] for c in range(ncol) for r in range(sizes[c])]


def _legend(target, handles, labels, width_in: float, **kw):
    """A frameless legend of ``target`` (axes or figure) that reads row by row within ``width_in`` inches."""
    ncol = _legend_columns(labels, width_in)
    return target.legend(_row_major(list(handles), ncol), _row_major(list(labels), ncol), ncol=ncol,
                         fontsize=LEGEND_FONTSIZE, frameon=False, **kw)


def _figure_legend(fig, axes, handles, labels, panels: int):
    """The legend of a grid of panels: in its first unused cell when there is one, else below the panels."""
    spare = list(axes.flat)[panels:]
    if spare:
        cell = spare[0]
        width = fig.get_figwidth() / axes.shape[1]
        rows_fit = max(1, int(fig.get_figheight() / axes.shape[0] / (1.9 * LEGEND_FONTSIZE / 72)))
        ncol = max(-(-len(labels) // rows_fit), 1)
        if ncol == 1 or _legend_columns(labels, width) >= ncol:
            cell.legend(handles, labels, loc="center", ncol=ncol, fontsize=LEGEND_FONTSIZE, frameon=False)
            return
    _legend(fig, handles, labels, fig.get_figwidth() * 0.95, loc="outside lower center")


# ------------------------------------------------------------------------------------------------
# ------------------------------------------------------------------------------------------------
# Notebooks


def notebook_display_defaults(dpi: int = 100) -> None:
    """Display defaults of the book's notebooks: inline PNG figures at twice ``dpi`` shown at ``dpi`` ("retina": sharp
    on high-resolution screens and when zoomed; cropped to their content),
    the book's colour-blind-safe colour cycle and legend size for figures drawn directly with matplotlib, and
    compact pandas output. Changes global state on purpose: call it once at the top of a notebook."""
    import matplotlib
    from cycler import cycler

    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("matplotlib", "inline")
            shell.run_line_magic("config", "InlineBackend.figure_formats = ['retina']")
    except ImportError:
        pass
    # after %matplotlib inline, which may apply its own rc settings
    matplotlib.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "savefig.bbox": "tight",
                                "figure.max_open_warning": 0, "legend.fontsize": LEGEND_FONTSIZE,
                                "axes.prop_cycle": cycler(color=palette(len(_PALETTE_ORDER)))})
    pd.set_option("display.precision", 1)
    pd.set_option("display.max_colwidth", 120)


#: The class folders of T3 and its stand-in D3, as the authors' speech/music model names the classes.
SPEECH_MUSIC_CLASSES = {"SP": "speech", "CH": "choir", "SS": "solo singing", "IN": "instrumental"}


def class_name(label) -> str:
    """A class folder's name as a reader would say it: ``"_ninst01"`` (T1 and its stand-in D1: the number of
    instruments) becomes ``"1 player"``, ``"_ninst03"`` ``"3 players"``; T3's and D3's ``"SP"``, ``"CH"``, ``"SS"``,
    ``"IN"`` become ``"speech"``, ``"choir"``, ``"solo singing"``, ``"instrumental"``; other names lose leading and
    trailing underscores and read with spaces (``"electric_engine"`` → ``"electric engine"``)."""
    import re

    text = str(label)
    players = re.fullmatch(r"_?ninst0*(\d+)", text)
    if players:
        n = int(players.group(1))
        return f"{n} player{'s' if n != 1 else ''}"
    if text in SPEECH_MUSIC_CLASSES:
        return SPEECH_MUSIC_CLASSES[text]
    return text.strip("_").replace("_", " ") or text

