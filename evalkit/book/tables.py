"""HTML tables of the book: a profile's Tables I–V with the published rows beside its own, the published tables,
the claims, the reproduction overview and plain frames.

Every table is rendered by a :class:`pandas.io.formats.style.Styler` (:func:`_styled`): a frame of cell contents
(short HTML fragments: a mean in bold, its spread on a second line) and a frame of CSS per cell; the table carries
the class ``evalkit-table`` that ``book/_static/evalkit.css`` styles, and its own ``<style>`` block for the rest
(scoped to the table's id, which is derived from its content so that a rebuild writes the same HTML).
"""
from __future__ import annotations

import hashlib
import html

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from .profile import TABLE_TITLES
from .reference import (PAPER_TASK_NAMES, PAPER_TASKS, compares_directly, load_paper_tables, paper_column,
                        published_rows, variant_name)
from .summary import best_of, cell_stats, table_means

# ------------------------------------------------------------------------------------------------
# Rendering tables

#: CSS of the published (or orientation) rows under a profile's rows: italic, brownish, on a pale yellow.
_PUB = "color:#7a5c00;font-style:italic;font-size:90%;background:#fffbea"
#: CSS of summary rows (Table III's best late fusion): italic, a rule above.
_SUMMARY = "font-style:italic;border-top:1px solid #999"
#: Reproduction cells with directly comparable numbers: within / outside max(2 std, 3 points) of the published
#: number. Blue vs. orange (not green vs. red, which many colour-blind readers cannot tell apart), and a mark in
#: the cell (✓ / ✗) so that the verdict does not rest on colour alone.
_WITHIN = "background:#dbe9f6"
_OUTSIDE = "background:#fde0c2"
_MARKS = {True: ("✓", "within max(2 std, 3 points) of the published number"),
          False: ("✗", "outside max(2 std, 3 points) of the published number")}
#: Verdicts of the claims table (text colours of the same blue / orange pair; the word says it too).
_VERDICT = {"holds": "color:#0b5394;font-weight:bold", "does not hold": "color:#b45309;font-weight:bold",
            "inconclusive": "color:#555;font-weight:bold;font-style:italic", "no verdict": "color:#777;font-style:italic",
            "not testable": "color:#777"}

#: Styles every table shares (scoped to the table by the Styler's id): the spread line under a mean is small and grey.
_BASE_STYLES = [
    {"selector": "", "props": "border-collapse:collapse;font-size:90%"},
    {"selector": "caption", "props": "caption-side:top;text-align:left;font-weight:bold"},
    {"selector": ".evalkit-spread", "props": "color:#666;font-size:85%"},
    {"selector": ".evalkit-mark", "props": "font-weight:bold"},
]


#: pandas' Styler options that would change the cells (escaping them again, other decimal marks, trimming rows or
#: columns), at their defaults while a table renders.
_STYLER_OPTIONS = ("styler.format.escape", None, "styler.format.formatter", None, "styler.format.na_rep", None,
                   "styler.format.decimal", ".", "styler.format.thousands", None, "styler.render.max_rows", None,
                   "styler.render.max_columns", None, "styler.render.max_elements", 2 ** 31 - 1)


def _spread_html(std: float, n: int) -> str:
    """The small grey line under a mean in a table cell: ``± std``, or ``1 run`` when one run has no spread."""
    return f"<span class='evalkit-spread'>{'± ' + _fmt(std) if n > 1 else '1 run'}</span>"


def _fmt(value, digits=1):
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _bold_if(text: str, condition) -> str:
    return f"<b>{text}</b>" if condition else text


def _styled(cells: list[list[str]], header: list[str], *, css: list[list[str]] | None = None, caption: str = "",
            left=(), nowrap=(), styles=()) -> str:
    """An ``evalkit-table`` rendered by a Styler.

    Parameters
    ----------
    cells : list of rows
        The cell contents, HTML (escape text before).
    header : list of str
        The column headers, HTML.
    css : list of rows, optional
        CSS declarations per cell ("" for none), the shape of ``cells``.
    caption : str
        Plain text (escaped here).
    left, nowrap : iterable of int
        Columns (positions) aligned left / kept on one line.
    styles : iterable of dict
        More Styler table styles (``{"selector": ..., "props": ...}``).
    """
    width = len(header)
    content = pd.DataFrame(cells, columns=range(width)) if cells else pd.DataFrame(columns=range(width), dtype=object)
    left, nowrap = sorted(set(left)), sorted(set(nowrap))
    table_styles = list(_BASE_STYLES)
    if left == list(range(width)):
        table_styles.append({"selector": "th, td", "props": "text-align:left"})
    else:
        table_styles += [{"selector": f"th.col{i}, td.col{i}", "props": "text-align:left"} for i in left]
    if nowrap == list(range(width)):
        table_styles.append({"selector": "td", "props": "white-space:nowrap"})
    else:
        table_styles += [{"selector": f"td.col{i}", "props": "white-space:nowrap"} for i in nowrap]
    table_styles += list(styles)
    # a stable id: the same table renders to the same HTML, build after build
    key = repr((header, cells, css, caption, table_styles)).encode()
    with pd.option_context(*_STYLER_OPTIONS):  # the cells are HTML already, whatever a notebook set
        styler = Styler(content, uuid=hashlib.sha1(key).hexdigest()[:10], cell_ids=False)
        styler.hide(axis="index")
        styler.format_index(lambda i: header[i], axis=1)
        styler.set_table_attributes('class="evalkit-table"')
        styler.set_table_styles(table_styles)
        if caption:
            styler.set_caption(html.escape(caption))
        if css is not None and cells:
            styler.apply(lambda frame: pd.DataFrame(css, index=frame.index, columns=frame.columns), axis=None)
        return styler.to_html()


def table_html(profile, results: pd.DataFrame, table_id: str | None = None, *, published: dict | None = None,
               direct: bool = False, caption: str = "", extra_rows: pd.DataFrame | None = None) -> str:
    """An HTML table: rows × tasks of ``mean ± std`` (best per task in bold) and the average over tasks,
    with published rows beside the rows they correspond to.

    Parameters
    ----------
    results : DataFrame
        From :func:`collect_table` (or any frame with ``row``, ``task``, ``accuracy``).
    published : dict, optional
        ``{row: published row}`` from :func:`published_rows`.
    direct : bool
        The published rows are the same experiment (paper profile) rather than orientation.
    extra_rows : DataFrame, optional
        Rows × tasks of means (plus ``Avg``) appended as summary rows (e.g. best late fusion).
    """
    tasks = list(dict.fromkeys(results["task"]))
    stats = cell_stats(results).set_index(["row", "task"])
    means = table_means(results, tasks)
    best = {t: means[t].max() for t in tasks + ["Avg"]}
    published = published or {}
    header = ["configuration"] + [_task_header(profile, t) for t in tasks] + ["Avg"]
    plain = [""] * len(header)
    cells, css = [], []

    def add_published(row):
        cells.append(_published_cells(published[row], tasks, direct))
        css.append([_PUB] * len(header))

    for row in means.index:
        line = [html.escape(str(row))]
        for t in tasks:
            if (row, t) not in stats.index:
                line.append("–")
                continue
            cell = stats.loc[(row, t)]
            mean, std, n = float(cell["mean"]), float(cell["std"]), int(cell["n"])
            # the spread goes under the mean: seven columns of "mean ± std" would not fit the text column
            line.append(f"{_bold_if(_fmt(mean), np.isclose(mean, best[t]))}<br>{_spread_html(std, n)}")
        avg = means.loc[row, "Avg"]
        line.append(_bold_if(_fmt(avg), np.isclose(avg, best["Avg"])))
        cells.append(line)
        css.append(plain)
        if row in published:
            add_published(row)
    if extra_rows is not None:
        for row, values in extra_rows.iterrows():
            cells.append([html.escape(str(row))] + [_fmt(values.get(t)) for t in tasks + ["Avg"]])
            css.append([_SUMMARY] * len(header))
            if row in published:
                add_published(row)
    return _styled(cells, header, css=css, caption=caption, left=[0], nowrap=range(len(header) - 1))


def _task_title(profile, task_id) -> str:
    try:
        return profile.task(task_id).name
    except Exception:  # noqa: BLE001 - a title is decoration
        return str(task_id)


def _task_header(profile, task_id) -> str:
    """A task's column header: its id (the task's name on hover) and, for a stand-in (D1), the paper's task (T1)."""
    column = paper_column(task_id)
    title = html.escape(_task_title(profile, task_id), quote=True)
    sub = "" if column in (None, task_id) else (
        f"<br><span class='evalkit-spread' title='stands in for {column}'>({column})</span>")
    return f"<span title='{title}'>{html.escape(str(task_id))}</span>{sub}"


def _published_cells(row, tasks, direct: bool) -> list[str]:
    """The cells of a published row under a profile's row: the paper's numbers of the tasks shown, and the average
    (as published when all six tasks are shown, else over the tasks shown, like the row above it)."""
    columns = [paper_column(t) for t in tasks]
    shown = [c for c in columns if c]
    label = f"↳ published: {row['row']}" if direct else f"↳ paper's {row['row']} (other data)"
    cells = [html.escape(label)] + [_fmt(row[column]) if column else "–" for column in columns]
    if set(shown) == set(PAPER_TASKS):
        cells.append(_fmt(row["Avg"]))  # the average as published
    else:
        average = _fmt(np.mean([row[c] for c in shown]) if shown else None)
        cells.append(f"<span title='mean of {', '.join(shown)}'>{average}</span>")
    return cells


def paper_table_html(table_id: str, caption: str = "") -> str:
    """The published table ``table_id`` as HTML (best per task in bold)."""
    paper = load_paper_tables()
    table = paper[paper["table"] == table_id]
    columns = PAPER_TASKS + ["Avg"]
    best = {c: table[c].max() for c in columns}
    header = ["row", "embedding", "classifier", "fusion"] + [
        f"<span title='{html.escape(PAPER_TASK_NAMES.get(c, ''), quote=True)}'>{c}</span>" for c in columns]
    cells = []
    for _, row in table.iterrows():
        cells.append([html.escape(row["row"]), html.escape(variant_name(row)), html.escape(str(row["classifier"])),
                      html.escape(str(row["fusion"]))]
                     + [_bold_if(_fmt(row[c]), np.isclose(row[c], best[c])) for c in columns])
    return _styled(cells, header, caption=caption, left=[0, 1])


def spread_over(results: pd.DataFrame) -> str:
    """``"the standard deviation over 3 repetitions"`` (or ``over 1–3 repetitions`` when cells differ): what the ±
    of a table's cells is computed over."""
    counts = results.groupby(["row", "task"])["repetition"].nunique()
    low, high = int(counts.min()), int(counts.max())
    n = f"{low}" if low == high else f"{low}–{high}"
    return f"the standard deviation over {n} repetition{'s' if high != 1 else ''}"


def profile_table_html(profile, table_id: str, results: pd.DataFrame) -> str:
    """Table ``table_id`` of a profile as the book shows it: its rows with the published (or, on other data,
    orientation) rows beside them; Table III shows the best late fusion per task below the early-fusion rows."""

    spec = profile.table(table_id)
    caption = f"Table {table_id}: {TABLE_TITLES.get(table_id, '')}"
    if spec is not None:
        caption += f" ({100 * spec['train_fraction']:g} % training data)" if table_id not in ("I", "II") else ""
    caption += f"; each cell: the mean, and under it ± {spread_over(results)}"
    published, direct = published_rows(profile, table_id, results)
    extra = None
    shown = results
    if table_id == "III":
        extra = best_of(results, "late", "best late fusion")
        early = results[results["fusion"] == "early"]
        shown = early if not early.empty else results
        paper = load_paper_tables()
        best_lf = paper[(paper["table"] == "III") & (paper["embedding"] == "best-late-fusion")]
        if not best_lf.empty and (direct or published) and extra is not None and not extra.empty:
            published["best late fusion"] = best_lf.iloc[0]
    return table_html(profile, shown, table_id, published=published, direct=direct, caption=caption, extra_rows=extra)


def table_section_html(profile, table_id: str, results: pd.DataFrame) -> str:
    """A results table as the book shows it, with the published table in a collapsible box below; a note
    when the profile does not define the table."""

    if results is None or results.empty:
        reason = " (a single run has one embedding; Tables IV and V compare two)" if profile.single_run else ""
        return f"<p><i>This profile does not define Table {table_id}{reason}.</i></p>"
    body = profile_table_html(profile, table_id, results)
    paper = paper_table_html(table_id)
    where = "" if compares_directly(profile) else \
        f" — the paper's data T1–T6, not comparable with {'the demo data' if profile.is_demo else 'your data'}"
    return (body + f"<details style='margin:0.6em 0 1.2em 0'><summary>The published Table {table_id} "
            f"({html.escape(TABLE_TITLES.get(table_id, ''))}){where}</summary>{paper}</details>")


def claims_html(claims: pd.DataFrame, *, side_name: str = "this profile") -> str:
    """The claims table of :func:`evalkit.book.claims.check_claims` as HTML: each claim with the authors' sentence,
    where it stands and its rule, the evidence and verdict on the published tables and on this profile (blue holds,
    orange does not hold, grey italic inconclusive or no verdict, grey not testable). ``side_name`` heads the
    profile's columns (``"demo (stand-ins, synthetic data)"`` on a profile with stand-ins)."""
    header = ["claim and rule", "the paper's numbers", "verdict", f"{side_name}: numbers", "verdict"]
    cells, css = [], []
    for _, row in claims.iterrows():
        cells.append([f"<b>{html.escape(row['claim'])}</b><br>“{html.escape(row['statement'])}” "
                      f"({html.escape(row['source'])})<br><i>holds if {html.escape(row['rule'])}</i>",
                      html.escape(row["paper"]), html.escape(row["holds in the paper"]),
                      html.escape(row["this profile"]), html.escape(row["holds here"])])
        verdict = [_VERDICT.get(row["holds in the paper"], "font-weight:bold"),
                   _VERDICT.get(row["holds here"], "font-weight:bold")]
        css.append(["", "", verdict[0], "", verdict[1]])
    return _styled(cells, header, css=css, left=[0, 1, 3], styles=[{"selector": "td.col0", "props": "max-width:28em"}])


#: Cells of :func:`frame_html` up to this many characters are not broken across lines.
SHORT_CELL = 32


def frame_html(frame: pd.DataFrame, *, index: bool = True, caption: str = "") -> str:
    """A DataFrame as a compact HTML table in the book's table style (one header row)."""
    frame = frame.reset_index() if index and (frame.index.name or any(frame.index.names)) else frame
    header = [html.escape(str(c)) for c in frame.columns]
    # row by row as iterrows gives them: floats (and the numbers of a frame of only numbers) with one decimal
    cells = [[_fmt(value) if isinstance(value, float) else html.escape(str(value)) for value in row]
             for _, row in frame.iterrows()]
    # short values (numbers, shapes such as "(batch, 43, 128, 32)", names) stay on one line, so that a narrow screen
    # scrolls the table instead of breaking them; longer texts wrap
    short = [i for i in range(len(header)) if max((len(row[i]) for row in cells), default=0) <= SHORT_CELL]
    return _styled(cells, header, caption=caption, left=range(len(header)), nowrap=short)


def reproduction_html(numbers: pd.DataFrame) -> str:
    """:func:`reproduction_frame` as one row per table row: in each task's cell this profile's mean, its std, and
    the published number in italics; with directly comparable numbers, cells within max(2 std, 3 points) are
    blue and marked ✓, the others orange and marked ✗."""
    if numbers.empty:
        return "<p><i>No row of this profile has a published counterpart.</i></p>"
    tasks = list(dict.fromkeys(numbers["task"]))
    direct = bool(numbers["comparable"].any())
    header = [html.escape(h) for h in ["table · published row / this profile's row"] + [
        f"{t} ({paper_column(t)})" if paper_column(t) != t else t for t in tasks]]
    cells, css = [], []
    for (table, row, pub), part in numbers.groupby(["table", "row", "published row"], sort=False):
        line = [f"{html.escape(table)} · {html.escape(pub)}<br><span class='evalkit-spread'>{html.escape(row)}</span>"]
        styles = [""]
        for t in tasks:
            cell = part[part["task"] == t]
            if cell.empty:
                line.append("–")
                styles.append("")
                continue
            c = cell.iloc[0]
            mark = ""
            if direct:
                symbol, meaning = _MARKS[bool(c["within"])]
                mark = f" <span class='evalkit-mark' title='{meaning}' aria-label='{meaning}'>{symbol}</span>"
            # three short lines (mean, spread, published) keep six task columns inside the text column
            line.append(f"{c['mean']:.1f}{mark}<br>{_spread_html(c['std'], c['n'])}<br>"
                        f"<i style='color:#7a5c00'>{c['published']:.1f}</i>")
            styles.append((_WITHIN if c["within"] else _OUTSIDE) if direct else "")
        cells.append(line)
        css.append(styles)
    caption = ("✓ (blue): within max(2 std, 3 points) of the published number; ✗ (orange): outside it"
               if direct else "")
    return _styled(cells, header, css=css, caption=caption, left=range(len(header)), nowrap=range(len(header)),
                   styles=[{"selector": "caption", "props": "font-weight:normal"}] if direct else ())
