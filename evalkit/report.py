"""Summaries of experiment results for the book: mean ± std tables, the paper's Tables I–V computed from a
profile's runs beside the published numbers, mean confusion matrices, the paper's claims checked on any
results, and the provenance of a page.

The published numbers are read from ``data/reference/`` (copies of the paper's tables and confusion
matrices); :func:`paper_column` says which published task a profile's task corresponds to (T1–T6 are
themselves, the demo tasks D1–D6 stand in for them).
"""
from __future__ import annotations

import datetime as _dt
import html
import platform
import subprocess
from functools import lru_cache

import numpy as np
import pandas as pd

from .config import REPO_ROOT, parse_spec
from .metrics import mean_confusion

#: Columns that identify a configuration in a results frame.
CONFIG_COLUMNS = ["task", "embedding", "classifier", "fusion", "train_fraction"]
REFERENCE_DIR = REPO_ROOT / "data" / "reference"
PAPER_TASKS = ["T1", "T2", "T3", "T4", "T5", "T6"]
PAPER_TASK_NAMES = {
    "T1": "ensemble size", "T2": "instrument family", "T3": "speech / music",
    "T4": "engine states", "T5": "metal surfaces", "T6": "plastic pucks",
}
CLASSIFIER_NAMES = {"svm": "SVM", "d128": "D128", "d512": "D512", "cnn": "CNN", "cnn-han": "CNN (Han)"}
#: How close (percentage points) counts as "on par" in the claims.
PAR_MARGIN = 2.0


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
    table["accuracy"] = [spread_text(m, s, n) for m, s, n in zip(table["mean"], table["std"], table["repetitions"])]
    return table


def mean_confusion_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Mean file-wise confusion matrix (percent of each true class) of one configuration's repetitions,
    labelled with the class names (rows: true class, columns: predicted class)."""
    classes = results["classes"].iloc[0]
    matrix = mean_confusion(results["confusion"])
    return pd.DataFrame(matrix, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))


# ------------------------------------------------------------------------------------------------
# Published reference


@lru_cache(maxsize=None)
def _read_reference(name: str) -> pd.DataFrame:
    path = REFERENCE_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"published reference {path} is missing (it ships with the repository)")
    return pd.read_csv(path, dtype={"content": str, "emb_size": "Int64"})


def load_paper_tables() -> pd.DataFrame:
    """The paper's Tables I–V: one row per table row, accuracies in percent (see data/reference/README.md)."""
    return _read_reference("paper_tables.csv").copy()


def load_paper_confusion() -> pd.DataFrame:
    """The published mean confusion matrices (OpenL3 music 512 + SVM, late fusion, 80 %), long format."""
    return _read_reference("paper_confusion_openl3_svm_late.csv").copy()


def paper_confusion_frame(paper_task: str) -> pd.DataFrame:
    """The published confusion matrix of T1–T6 as a labelled frame (unlisted cells are 0)."""
    long = load_paper_confusion()
    long = long[long.task == paper_task]
    classes = list(dict.fromkeys(list(long["true"]) + list(long["predicted"])))
    frame = pd.DataFrame(0.0, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))
    for row in long.itertuples():
        frame.loc[row.true, row.predicted] = row.percent
    return frame


def paper_column(task_id: str) -> str | None:
    """The published task a profile's task corresponds to: T1–T6 themselves, D1–D6 → T1–T6, else None."""
    text = str(task_id).upper()
    if text in PAPER_TASKS:
        return text
    if len(text) == 2 and text[0] == "D" and f"T{text[1]}" in PAPER_TASKS:
        return f"T{text[1]}"
    return None


def compares_directly(profile) -> bool:
    """True when the profile runs the paper's own tasks, so published numbers are directly comparable."""
    try:
        ids = profile.task_ids
    except Exception:  # noqa: BLE001 - a task that cannot be built is not the paper's
        return False
    return all(str(t).upper() in PAPER_TASKS for t in ids)


def variant_name(row) -> str:
    """Readable name of a published embedding variant, e.g. ``openl3 (music, 512)``."""
    details = [str(v) for v in (row.get("content"), row.get("emb_size")) if pd.notna(v) and str(v) not in ("", "<NA>")]
    return f"{row['embedding']} ({', '.join(details)})" if details else str(row["embedding"])


# ------------------------------------------------------------------------------------------------
# Collecting a profile's runs


def classifier_name(spec: str) -> str:
    """Registry name of a classifier spec (``"cnn(epochs=20)"`` → ``"cnn"``)."""
    return parse_spec(spec)[0]


def row_name(label: str, classifier: str, fusion: str = "late", with_fusion: bool = False) -> str:
    """Row label of a table: ``musicnn-msd · SVM`` (``· early`` with ``with_fusion``); ``baseline CNN``."""
    if label == "baseline":
        return "baseline CNN"
    name = f"{label} · {CLASSIFIER_NAMES.get(classifier_name(classifier), classifier)}"
    return f"{name} · {fusion}" if with_fusion else name


def _tag(frame: pd.DataFrame, table_id: str, with_fusion: bool) -> pd.DataFrame:
    frame = frame.copy()
    frame["table"] = table_id
    frame["kind"] = np.where(frame["label"] == "baseline", "baseline", "embedding")
    frame["classifier_name"] = [classifier_name(c) for c in frame["classifier"]]
    frame["row"] = [row_name(l, c, f, with_fusion) for l, c, f in zip(frame["label"], frame["classifier"], frame["fusion"])]
    return frame


def collect(profile, embeddings, classifiers, *, fusions=("late",), train_fraction: float = 0.8, pooling: str = "mean",
            baseline: bool = False, tasks=None, name: str = "runs") -> pd.DataFrame:
    """Every repetition of embeddings × classifiers × fusions on each task (plus the baseline CNN), computed or
    loaded from the stored results; tagged with ``table`` = ``name``, ``kind``, ``classifier_name``, ``row``."""
    frames = []
    for task in tasks or profile.tasks:
        for label in embeddings:
            for classifier in classifiers:
                for fusion in fusions:
                    frames.append(profile.run(task, label, classifier, fusion=fusion, pooling=pooling,
                                              train_fraction=train_fraction))
        if baseline:
            frames.append(profile.run_baseline(task, train_fraction=train_fraction))
    return _tag(pd.concat(frames, ignore_index=True), name, with_fusion=len(fusions) > 1)


def collect_table(profile, table_id: str) -> pd.DataFrame:
    """Every repetition of every configuration of the profile's table ``table_id`` (computed or loaded).

    Returns the rows of :func:`evalkit.experiments.run_experiment` with ``label``, ``task``, ``table``,
    ``kind`` (``embedding`` / ``baseline``), ``classifier_name`` and ``row`` (display label); an empty
    frame when the profile has no such table.
    """
    spec = profile.table(table_id)
    if spec is None:
        return pd.DataFrame()
    return collect(profile, spec["embeddings"], spec["classifiers"], fusions=spec["fusion"], pooling=spec["pooling"],
                   train_fraction=spec["train_fraction"], baseline=spec["baseline"], name=table_id)


def collect_curve(profile) -> pd.DataFrame:
    """Every repetition of the learning curve: each embedding (and the baseline) at each training share."""
    spec = profile.curve()
    if spec is None:
        return pd.DataFrame()
    frames = []
    for task in profile.tasks:
        for fraction in spec["train_fractions"]:
            for label in spec["embeddings"]:
                frames.append(profile.run(task, label, spec["classifier"], train_fraction=fraction,
                                          repetitions=spec["repetitions"]))
            if spec["baseline"]:
                reps = min(spec["repetitions"], profile.baseline_repetitions or profile.repetitions)
                frames.append(profile.run_baseline(task, train_fraction=fraction, repetitions=reps))
    return _tag(pd.concat(frames, ignore_index=True), "curve", with_fusion=False)


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


def best_configuration(results: pd.DataFrame) -> pd.Series:
    """The embedding row (not the baseline) with the best average over tasks: ``label``, ``classifier``,
    ``fusion``, ``row`` and ``avg``."""
    emb = results[results["kind"] == "embedding"]
    means = table_means(emb)
    best = means["Avg"].idxmax()
    first = emb[emb["row"] == best].iloc[0]
    return pd.Series({"label": first["label"], "classifier": first["classifier"], "fusion": first["fusion"],
                      "row": best, "avg": float(means.loc[best, "Avg"])})


# ------------------------------------------------------------------------------------------------
# Published rows beside a profile's rows


def _match(paper: pd.DataFrame, **keys) -> pd.DataFrame:
    out = paper
    for key, value in keys.items():
        if value is None:
            continue
        if key == "emb_size":
            out = out[out[key].astype("Int64").astype(str) == str(int(value))]
        else:
            out = out[out[key].astype(str) == str(value)]
    return out


def published_row(profile, table_id: str, label: str, classifier: str, fusion: str, train_fraction: float):
    """The published row that corresponds to one of the profile's rows, or None.

    Only for profiles on the paper's tasks: the baseline is the paper's baseline; an embedding label
    maps to rows through the profile's ``paper_rows``. The row of the same table is preferred, else any
    table's row with the same embedding, classifier, fusion and training share.
    """
    if not compares_directly(profile):
        return None
    paper = load_paper_tables()
    pct = int(round(100 * train_fraction))
    if label == "baseline":
        found = _match(paper, embedding="baseline", train_pct=pct)
    elif label in profile.paper_rows:
        found = _match(paper, **profile.paper_rows[label], classifier=classifier_name(classifier), fusion=fusion,
                       train_pct=pct)
    else:
        return None
    if found.empty:
        return None
    same = found[found["table"] == table_id]
    return (same if not same.empty else found).iloc[0]


def _paper_variants(paper_table: pd.DataFrame) -> list[str]:
    emb = paper_table[~paper_table["embedding"].isin(["baseline", "best-late-fusion"])]
    return list(dict.fromkeys(variant_name(r) for _, r in emb.iterrows()))


def orientation_rows(profile, table_id: str, results: pd.DataFrame) -> dict:
    """For profiles on other data (the demo): the paper's rows to show beside some of this table's rows,
    for orientation only. Returns ``{row: published row}``.

    The baseline faces the paper's baseline; the best embedding of the table (best average over its
    rows) faces the paper's best embedding with the same classifier and fusion; in Tables IV and V the
    first and second embedding face the paper's first and second variant (OpenL3 music / env,
    512 / 6144 values).
    """
    if compares_directly(profile) or results.empty or not any(paper_column(t) for t in results["task"].unique()):
        return {}
    paper = load_paper_tables()
    table = paper[paper["table"] == table_id]
    if table.empty:
        return {}
    out = {}
    pairs = {}
    emb = results[results["kind"] == "embedding"]
    if table_id in ("IV", "V"):
        spec = profile.table(table_id)
        for label, variant in zip(spec["embeddings"], _paper_variants(table)):
            pairs[label] = variant
    elif not emb.empty:
        means = table_means(emb)
        by_label = means["Avg"].groupby(emb.drop_duplicates("row").set_index("row").loc[means.index, "label"]).max()
        best_label = by_label.idxmax()
        paper_emb = table[~table["embedding"].isin(["baseline", "best-late-fusion"])].copy()
        paper_emb["variant"] = [variant_name(r) for _, r in paper_emb.iterrows()]
        pairs[best_label] = paper_emb.groupby("variant", sort=False)["Avg"].mean().idxmax()
    for row, first in results.drop_duplicates("row").set_index("row").iterrows():
        if first["label"] == "baseline":
            found = table[table["embedding"] == "baseline"]
        elif first["label"] in pairs:
            candidates = table[[variant_name(r) == pairs[first["label"]] for _, r in table.iterrows()]]
            found = candidates[(candidates["classifier"] == first["classifier_name"]) & (candidates["fusion"] == first["fusion"])]
        else:
            continue
        if not found.empty:
            out[row] = found.iloc[0]
    return out


def published_rows(profile, table_id: str, results: pd.DataFrame) -> tuple[dict, bool]:
    """The published rows to show beside ``results``' rows and whether they are directly comparable."""
    if results.empty:
        return {}, False
    if compares_directly(profile):
        out = {}
        for row, first in results.drop_duplicates("row").set_index("row").iterrows():
            found = published_row(profile, table_id, first["label"], first["classifier"], first["fusion"],
                                  first["train_fraction"])
            if found is not None:
                out[row] = found
        return out, True
    return orientation_rows(profile, table_id, results), False


# ------------------------------------------------------------------------------------------------
# Rendering tables


_STD = "color:#666;font-size:85%"
_PUB = "color:#7a5c00;font-style:italic;font-size:90%;background:#fffbea"


def _spread_html(std: float, n: int) -> str:
    """The small grey line under a mean in a table cell: ``± std``, or ``1 run`` when one run has no spread."""
    return f"<span style='{_STD}'>{'± ' + _fmt(std) if n > 1 else '1 run'}</span>"


def _fmt(value, digits=1):
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}f}"


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
    stats = cell_stats(results)
    means = table_means(results, tasks)
    best = {t: means[t].max() for t in tasks + ["Avg"]}
    published = published or {}
    head = ["<th style='text-align:left'>configuration</th>"]
    for t in tasks:
        column = paper_column(t)
        title = html.escape(_task_title(profile, t))
        sub = "" if column in (None, t) else f"<br><span style='{_STD}' title='stands in for {column}'>({column})</span>"
        head.append(f"<th title='{title}'>{html.escape(str(t))}{sub}</th>")
    head.append("<th>Avg</th>")
    lines = ["<table class='evalkit-table' style='border-collapse:collapse;font-size:90%'>"]
    if caption:
        lines.append(f"<caption style='caption-side:top;text-align:left;font-weight:bold'>{html.escape(caption)}</caption>")
    lines.append("<thead><tr>" + "".join(head) + "</tr></thead><tbody>")
    for row in means.index:
        cells = [f"<td style='text-align:left;white-space:nowrap'>{html.escape(row)}</td>"]
        for t in tasks:
            cell = stats[(stats["row"] == row) & (stats["task"] == t)]
            if cell.empty:
                cells.append("<td>–</td>")
                continue
            mean, std, n = float(cell["mean"].iloc[0]), float(cell["std"].iloc[0]), int(cell["n"].iloc[0])
            text = _fmt(mean)
            if np.isclose(mean, best[t]):
                text = f"<b>{text}</b>"
            # the spread goes under the mean: seven columns of "mean ± std" would not fit the text column
            cells.append(f"<td style='white-space:nowrap'>{text}<br>{_spread_html(std, n)}</td>")
        avg = means.loc[row, "Avg"]
        avg_text = f"<b>{_fmt(avg)}</b>" if np.isclose(avg, best["Avg"]) else _fmt(avg)
        cells.append(f"<td>{avg_text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
        if row in published:
            lines.append(_published_tr(published[row], tasks, direct))
    if extra_rows is not None:
        for row, values in extra_rows.iterrows():
            cells = [f"<td style='text-align:left;white-space:nowrap'><i>{html.escape(str(row))}</i></td>"]
            cells += [f"<td><i>{_fmt(values.get(t))}</i></td>" for t in tasks + ["Avg"]]
            lines.append("<tr style='border-top:1px solid #999'>" + "".join(cells) + "</tr>")
            if row in published:
                lines.append(_published_tr(published[row], tasks, direct))
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _task_title(profile, task_id) -> str:
    try:
        return profile.task(task_id).name
    except Exception:  # noqa: BLE001 - a title is decoration
        return str(task_id)


def _published_tr(row, tasks, direct: bool) -> str:
    columns = [paper_column(t) for t in tasks]
    shown = [c for c in columns if c]
    label = f"↳ published: {row['row']}" if direct else f"↳ paper's {row['row']} (other data)"
    cells = [f"<td style='text-align:left;white-space:nowrap'>{html.escape(label)}</td>"]
    for column in columns:
        cells.append(f"<td>{_fmt(row[column]) if column else '–'}</td>")
    if set(shown) == set(PAPER_TASKS):
        cells.append(f"<td>{_fmt(row['Avg'])}</td>")  # the average as published
    else:  # the average over the tasks this table shows, like the row above it
        cells.append(f"<td title='mean of {', '.join(shown)}'>{_fmt(np.mean([row[c] for c in shown]) if shown else None)}</td>")
    return f"<tr style='{_PUB}'>" + "".join(cells) + "</tr>"


def paper_table_html(table_id: str, caption: str = "") -> str:
    """The published table ``table_id`` as HTML (best per task in bold)."""
    paper = load_paper_tables()
    table = paper[paper["table"] == table_id]
    columns = PAPER_TASKS + ["Avg"]
    best = {c: table[c].max() for c in columns}
    lines = ["<table class='evalkit-table' style='border-collapse:collapse;font-size:90%'>"]
    if caption:
        lines.append(f"<caption style='caption-side:top;text-align:left;font-weight:bold'>{html.escape(caption)}</caption>")
    lines.append("<thead><tr><th style='text-align:left'>row</th><th style='text-align:left'>embedding</th>"
                 "<th>classifier</th><th>fusion</th>"
                 + "".join(f"<th title='{PAPER_TASK_NAMES.get(c, '')}'>{c}</th>" for c in columns) + "</tr></thead><tbody>")
    for _, row in table.iterrows():
        cells = [f"<td style='text-align:left'>{html.escape(row['row'])}</td>",
                 f"<td style='text-align:left'>{html.escape(variant_name(row))}</td>",
                 f"<td>{html.escape(str(row['classifier']))}</td><td>{html.escape(str(row['fusion']))}</td>"]
        for c in columns:
            text = _fmt(row[c])
            cells.append(f"<td>{'<b>' + text + '</b>' if np.isclose(row[c], best[c]) else text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


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


def profile_table_html(profile, table_id: str, results: pd.DataFrame) -> str:
    """Table ``table_id`` of a profile as the book shows it: its rows with the published (or, on other data,
    orientation) rows beside them; Table III shows the best late fusion per task above the early-fusion rows."""
    from .profiles import TABLE_TITLES

    spec = profile.table(table_id)
    caption = f"Table {table_id}: {TABLE_TITLES.get(table_id, '')}"
    if spec is not None:
        caption += f" ({100 * spec['train_fraction']:g} % training data)" if table_id not in ("I", "II") else ""
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


# ------------------------------------------------------------------------------------------------
# The paper's claims, checked on the published numbers and on a profile's own


def _long_means_paper() -> pd.DataFrame:
    paper = load_paper_tables()
    long = paper.rename(columns={"Avg": "avg"}).melt(
        id_vars=["table", "row", "embedding", "content", "emb_size", "classifier", "fusion", "train_pct", "avg"],
        value_vars=PAPER_TASKS, var_name="task", value_name="mean")
    long["variant"] = [variant_name(r) for _, r in long.iterrows()]
    long["kind"] = np.where(long["embedding"] == "baseline", "baseline",
                            np.where(long["embedding"] == "best-late-fusion", "summary", "embedding"))
    return long[["table", "row", "variant", "classifier", "fusion", "kind", "task", "mean", "avg"]]


def _long_means_profile(tables: dict) -> pd.DataFrame:
    frames = []
    for table_id, results in tables.items():
        if results is None or results.empty:
            continue
        stats = cell_stats(results, by=("row", "label", "classifier_name", "fusion", "kind"))
        stats = stats.rename(columns={"label": "variant", "classifier_name": "classifier"})
        stats.loc[stats["kind"] == "baseline", "classifier"] = "cnn"  # one row, whichever CNN a task uses
        stats["table"] = table_id
        frames.append(stats[["table", "row", "variant", "classifier", "fusion", "kind", "task", "mean"]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["table", "row", "variant", "classifier", "fusion", "kind", "task", "mean"])


def _avgs(long: pd.DataFrame, table: str, **filters) -> pd.DataFrame:
    part = long[long["table"] == table]
    for key, value in filters.items():
        part = part[part[key] == value]
    if part.empty:
        return pd.DataFrame(columns=["row", "variant", "classifier", "fusion", "avg"])
    column = "avg" if "avg" in part else "mean"  # published rows: their printed average
    return part.groupby(["row", "variant", "classifier", "fusion"], sort=False)[column].mean().rename("avg").reset_index()


def _best(avgs: pd.DataFrame):
    return None if avgs.empty else avgs.loc[avgs["avg"].idxmax()]


def _claim_80(long):
    emb, base = _best(_avgs(long, "I", kind="embedding")), _best(_avgs(long, "I", kind="baseline"))
    if emb is None or base is None:
        return None
    return (f"best embedding {emb['row']} {emb['avg']:.1f} vs. baseline {base['avg']:.1f}",
            emb["avg"] >= base["avg"] - PAR_MARGIN)


def _claim_10(long):
    emb, base = _best(_avgs(long, "II", kind="embedding")), _best(_avgs(long, "II", kind="baseline"))
    if emb is None or base is None:
        return None
    return (f"best embedding {emb['row']} {emb['avg']:.1f} vs. baseline {base['avg']:.1f}", emb["avg"] > base["avg"])


def _claim_drop(long):
    first, second = _avgs(long, "I"), _avgs(long, "II")
    if first.empty or second.empty:
        return None
    merged = first.merge(second, on=["row", "variant", "classifier", "fusion"], suffixes=("_80", "_10"))
    base = merged[merged["variant"].isin(["baseline"])]
    emb = merged[~merged["variant"].isin(["baseline"])]
    if base.empty or emb.empty:
        return None
    best = emb.loc[emb["avg_80"].idxmax()]
    drop_emb, drop_base = best["avg_80"] - best["avg_10"], base["avg_80"].iloc[0] - base["avg_10"].iloc[0]
    return (f"{best['row']} loses {drop_emb:.1f} points, the baseline {drop_base:.1f}", drop_emb < drop_base)


def _claim_fusion(long):
    late = _avgs(long, "III", fusion="late")
    late = late[late["variant"] != "baseline"]
    if late.empty:
        late = _avgs(long, "I", kind="embedding", fusion="late")
    early = _avgs(long, "III", fusion="early")
    if late.empty or early.empty:
        return None
    bl, be = _best(late), _best(early)
    return (f"best late fusion {bl['avg']:.1f} vs. best early fusion {be['avg']:.1f}", bl["avg"] > be["avg"])


def _claim_svm(long):
    avgs = _avgs(long, "I", kind="embedding")
    if avgs.empty or "svm" not in set(avgs["classifier"]):
        return None
    best_variant = avgs.groupby("variant", sort=False)["avg"].max().idxmax()
    mine = avgs[avgs["variant"] == best_variant]
    svm = mine[mine["classifier"] == "svm"]["avg"]
    dense = mine[mine["classifier"] != "svm"]["avg"]
    if svm.empty or dense.empty:
        return None
    return (f"{best_variant}: SVM {svm.iloc[0]:.1f} vs. best dense network {dense.max():.1f}",
            svm.iloc[0] >= dense.max() - PAR_MARGIN)


def _pair_claim(long, table, what, margin):
    avgs = _avgs(long, table, kind="embedding")
    variants = list(dict.fromkeys(avgs["variant"]))
    if len(variants) != 2:
        return None
    a, b = (avgs[avgs["variant"] == v]["avg"].max() for v in variants)
    return (f"{variants[0]} {a:.1f} vs. {variants[1]} {b:.1f} (best classifier each)", what(a, b, margin))


def _claim_content(long):
    return _pair_claim(long, "IV", lambda a, b, m: abs(a - b) < m, 5.0)


def _claim_size(long):
    return _pair_claim(long, "V", lambda a, b, m: b - a < m, PAR_MARGIN)


#: The paper's findings as checks on Tables I–V: (id, statement, check). A check maps long-format
#: table means to (evidence text, holds) or None when the tables it needs are missing.
CLAIMS = [
    ("on par with 80 % data", f"With 80 % training data, the best pre-trained embedding with a small classifier is on par with the "
             f"CNN trained from scratch (average within {PAR_MARGIN:g} points or better).", _claim_80),
    ("better with 10 % data", "With 10 % training data, the best embedding beats the CNN trained from scratch on average.", _claim_10),
    ("robust to less data", "Going from 80 % to 10 % training data costs the best embedding fewer points than the baseline.",
     _claim_drop),
    ("late beats early fusion", "Late fusion (classify frames, average per file) beats early fusion (average the frames' embeddings, "
               "classify the file).", _claim_fusion),
    ("a linear SVM suffices", f"A linear SVM is enough: on the best embedding it is within {PAR_MARGIN:g} points of the best dense "
            "network or better.", _claim_svm),
    ("training content matters little", "The content the embedding was trained on (OpenL3: music vs. environmental sound) changes the "
                "average by less than 5 points.", _claim_content),
    ("a larger embedding gains little", f"A larger embedding (OpenL3: 6144 instead of 512 values) gains less than {PAR_MARGIN:g} points.",
     _claim_size),
]


def check_claims(tables: dict) -> pd.DataFrame:
    """Each claim of :data:`CLAIMS` evaluated on the published tables and on a profile's tables.

    Parameters
    ----------
    tables : dict
        ``{"I": results, ...}`` from :func:`collect_table` (missing tables skip the claims that need them).

    Returns
    -------
    DataFrame with ``claim``, ``statement``, ``paper`` (evidence), ``holds in the paper``, ``this profile``
    (evidence) and ``holds here`` (``"yes"``, ``"no"`` or ``"not computed"``).
    """
    paper, ours = _long_means_paper(), _long_means_profile(tables)
    rows = []
    for claim_id, statement, check in CLAIMS:
        published, mine = check(paper), check(ours) if not ours.empty else None
        rows.append({"claim": claim_id, "statement": statement,
                     "paper": published[0] if published else "–",
                     "holds in the paper": ("yes" if published[1] else "no") if published else "not computed",
                     "this profile": mine[0] if mine else "–",
                     "holds here": ("yes" if mine[1] else "no") if mine else "not computed"})
    return pd.DataFrame(rows)


def reproduction_frame(profile, tables: dict) -> pd.DataFrame:
    """Every number of the profile's tables that has a published counterpart: one row per table × row × task
    with ``published``, ``mean``, ``std``, ``n`` (repetitions), ``difference`` and ``within`` (|difference| ≤
    max(2 std, 3 points)).

    For profiles on other data (the demo), the counterparts are the orientation rows of
    :func:`orientation_rows` and ``comparable`` is False.
    """
    rows = []
    for table_id, results in tables.items():
        if results is None or results.empty:
            continue
        published, direct = published_rows(profile, table_id, results)
        stats = cell_stats(results)
        for row, pub in published.items():
            for _, cell in stats[stats["row"] == row].iterrows():
                column = paper_column(cell["task"])
                if column is None:
                    continue
                difference = cell["mean"] - pub[column]
                rows.append({"table": table_id, "row": row, "published row": pub["row"], "task": cell["task"],
                             "paper task": column, "published": float(pub[column]), "mean": float(cell["mean"]),
                             "std": float(cell["std"]), "n": int(cell["n"]), "difference": float(difference),
                             "within": bool(abs(difference) <= max(2 * cell["std"], 3.0)), "comparable": direct})
    return pd.DataFrame(rows, columns=["table", "row", "published row", "task", "paper task", "published", "mean",
                                       "std", "n", "difference", "within", "comparable"])


# ------------------------------------------------------------------------------------------------
# Notebook helpers


class GluedText:
    """A short text for the book's prose: Markdown for ``{glue:md}`` on the same page, HTML for ``{glue}`` on
    other pages (inline code in backticks and ``**bold**`` are converted)."""

    def __init__(self, text: str):
        self.text = str(text)

    def _repr_markdown_(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import re

        out = html.escape(self.text)
        out = re.sub(r"`([^`]*)`", r"<code>\1</code>", out)
        out = re.sub(r"\*\*([^*]*)\*\*", r"<b>\1</b>", out)
        return re.sub(r"\*([^*]*)\*", r"<i>\1</i>", out)

    def __repr__(self) -> str:
        return self.text


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's prose (myst-nb ``glue``). Numbers are pasted with
    ``{glue:text}`name:.1f```; strings are glued as :class:`GluedText`, pasted with ``{glue:md}`name``` on
    the same page and ``{glue}`page.ipynb::name``` on another. Outside a book build (no myst-nb) it does nothing."""
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return
    if isinstance(value, str):
        value = GluedText(value)
    elif hasattr(value, "item"):
        value = value.item()
    _glue(name, value, display=display)


def show_html(text: str) -> None:
    """Display HTML in a notebook, and nothing at all for an empty string (IPython would show the object's
    ``repr``, e.g. ``<IPython.core.display.HTML object>``, in the book)."""
    if text:
        from IPython.display import HTML, display

        display(HTML(text))


def stand_in_html(profile) -> str:
    """The note that demo tasks and embeddings stand in for the paper's (empty for other profiles)."""
    if not profile.is_demo:
        return ""
    return ("<div class='admonition note'><p class='admonition-title'>Demo data: stand-ins</p><p>On the <b>demo "
            "profile</b>, the tasks D1–D6 are synthetic stand-ins for the paper's T1–T6 (same classes), and the "
            "pre-trained <b>musicnn</b> models stand in for OpenL3, VGGish and Kumar et al.'s network. The paper's "
            "numbers appear beside the demo's for orientation only: they were measured on different data with "
            f"different embeddings.{_short_baseline_note(profile)}</p></div>")


def _short_baseline_note(profile) -> str:
    """A warning when the profile trains its CNN baselines for fewer epochs than :class:`BaselineCNN`'s default
    (to keep the build short)."""
    from .classifiers import BaselineCNN, get_classifier

    epochs = [get_classifier(entry["classifier"]).epochs for entry in (profile.baseline or {}).values()]
    if not epochs or max(epochs) >= BaselineCNN().epochs:
        return ""
    return (f" To keep the build short, its CNN baselines train for at most {max(epochs)} epochs (the "
            "<a href='baseline_models.html'>baseline page</a> shows how many runs were still improving), which can "
            "favour the embeddings.")


def task_title(profile, task) -> str:
    """``"D2: Musical instrument family"``: a task's id and the first part of its name, for figure titles."""
    import re

    import textwrap

    task = profile.task(task)
    name = re.split(r",| \(| demo of", task.name)[0].strip()
    if name.startswith("folder task"):
        return task.id
    return "\n".join(textwrap.wrap(f"{task.id}: {name}", 30)[:2])


def chance_levels(profile) -> dict:
    """Chance level of the balanced accuracy per task (100 / number of classes)."""
    out = {}
    for task_id in profile.tasks:
        task = profile.task(task_id)
        out[task.id] = 100.0 / len(task.classes)
    return out


def spread_text(mean: float, std: float, n: int) -> str:
    """``"mean ± std"`` over ``n`` repetitions, one decimal; ``"mean (1 run)"`` when one run has no spread."""
    return f"{mean:.1f} ± {std:.1f}" if n > 1 else f"{mean:.1f} (1 run)"


def averages(results: pd.DataFrame, by: str = "row") -> pd.DataFrame:
    """Average over tasks per repetition, then mean and std over repetitions, per ``by``."""
    per_rep = results.groupby([by, "repetition"], sort=False)["accuracy"].mean()
    out = per_rep.groupby(level=0, sort=False).agg(mean="mean", std=lambda a: float(np.std(a)), n="count")
    out["average over tasks"] = [spread_text(m, s, n) for m, s, n in zip(out["mean"], out["std"], out["n"])]
    return out


def table_section_html(profile, table_id: str, results: pd.DataFrame) -> str:
    """A results table as the book shows it, with the published table in a collapsible box below; a note
    when the profile does not define the table."""
    from .profiles import TABLE_TITLES

    if results is None or results.empty:
        reason = " (a single run has one embedding; Tables IV and V compare two)" if profile.single_run else ""
        return f"<p><i>This profile does not define Table {table_id}{reason}.</i></p>"
    body = profile_table_html(profile, table_id, results)
    paper = paper_table_html(table_id)
    where = "" if compares_directly(profile) else " — the paper's data T1–T6, not comparable with the demo data"
    return (body + f"<details style='margin:0.6em 0 1.2em 0'><summary>The published Table {table_id} "
            f"({html.escape(TABLE_TITLES.get(table_id, ''))}){where}</summary>{paper}</details>")


def claims_html(claims: pd.DataFrame) -> str:
    """The claims table of :func:`check_claims` as HTML, verdicts coloured."""
    colours = {"yes": "#1a7f37", "no": "#b42318", "not computed": "#777"}
    lines = ["<table class='evalkit-table' style='border-collapse:collapse;font-size:90%'><thead><tr>"
             "<th style='text-align:left'>claim</th><th style='text-align:left'>the paper's numbers</th>"
             "<th>holds</th><th style='text-align:left'>this profile's numbers</th><th>holds</th></tr></thead><tbody>"]
    for _, row in claims.iterrows():
        verdict = lambda v: f"<td style='color:{colours.get(v, '#000')};font-weight:bold'>{v}</td>"  # noqa: E731
        lines.append(f"<tr><td style='text-align:left;max-width:28em'><b>{html.escape(row['claim'])}</b><br>"
                     f"{html.escape(row['statement'])}</td>"
                     f"<td style='text-align:left'>{html.escape(row['paper'])}</td>{verdict(row['holds in the paper'])}"
                     f"<td style='text-align:left'>{html.escape(row['this profile'])}</td>{verdict(row['holds here'])}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def frame_html(frame: pd.DataFrame, *, index: bool = True, caption: str = "") -> str:
    """A DataFrame as a compact HTML table in the book's table style (one header row)."""
    frame = frame.reset_index() if index and (frame.index.name or any(frame.index.names)) else frame
    lines = ["<table class='evalkit-table' style='border-collapse:collapse;font-size:90%'>"]
    if caption:
        lines.append(f"<caption style='caption-side:top;text-align:left;font-weight:bold'>{html.escape(caption)}</caption>")
    lines.append("<thead><tr>" + "".join(f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in frame.columns)
                 + "</tr></thead><tbody>")
    for _, row in frame.iterrows():
        cells = []
        for value in row:
            if isinstance(value, float):
                text = _fmt(value)
            else:
                text = html.escape(str(value))
            cells.append(f"<td style='text-align:left'>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def reproduction_html(numbers: pd.DataFrame) -> str:
    """:func:`reproduction_frame` as one row per table row: in each task's cell this profile's mean, its std, and
    the published number in italics; with directly comparable numbers, cells within max(2 std, 3 points)
    are green."""
    if numbers.empty:
        return "<p><i>No row of this profile has a published counterpart.</i></p>"
    tasks = list(dict.fromkeys(numbers["task"]))
    direct = bool(numbers["comparable"].any())
    head = ["table · published row / this profile's row"] + [
        f"{t} ({paper_column(t)})" if paper_column(t) != t else t for t in tasks]
    lines = ["<table class='evalkit-table' style='border-collapse:collapse;font-size:90%'><thead><tr>"
             + "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for (table, row, pub), part in numbers.groupby(["table", "row", "published row"], sort=False):
        cells = [f"<td style='white-space:nowrap'>{html.escape(table)} · {html.escape(pub)}<br>"
                 f"<span style='{_STD}'>{html.escape(row)}</span></td>"]
        for t in tasks:
            cell = part[part["task"] == t]
            if cell.empty:
                cells.append("<td>–</td>")
                continue
            c = cell.iloc[0]
            colour = ("#e6f4ea" if c["within"] else "#fdecea") if direct else "transparent"
            # three short lines (mean, spread, published) keep six task columns inside the text column
            cells.append(f"<td style='white-space:nowrap;background:{colour}'>{c['mean']:.1f}<br>"
                         f"{_spread_html(c['std'], c['n'])}<br><i style='color:#7a5c00'>{c['published']:.1f}</i></td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def largest_confusions(frames: dict) -> pd.DataFrame:
    """The largest off-diagonal cell of each confusion matrix: ``{title: frame}`` → one row per matrix."""
    rows = []
    for title, frame in frames.items():
        values = frame.to_numpy(dtype=float).copy()
        np.fill_diagonal(values, -1)
        i, j = np.unravel_index(np.nanargmax(values), values.shape)
        perfect = not values[i, j] > 0
        rows.append({"task": title, "true class": "–" if perfect else frame.index[i],
                     "predicted as": "– (no confusion)" if perfect else frame.columns[j],
                     "percent of the class": 0.0 if perfect else round(float(values[i, j]), 1),
                     "lowest recall": f"{frame.index[int(np.nanargmin(np.diag(frame.to_numpy(dtype=float))))]} "
                                      f"({np.nanmin(np.diag(frame.to_numpy(dtype=float))):.1f} %)"})
    return pd.DataFrame(rows).set_index("task")


def architecture_frame(model) -> pd.DataFrame:
    """A Keras model's layers as a table: what ``model.summary()`` prints (layer, type, output shape,
    parameters), plus a total row."""
    rows = []
    for layer in model.layers:
        try:
            shape = layer.output_shape
        except AttributeError:  # Keras 3
            shape = getattr(layer.output, "shape", "")
        rows.append({"layer": layer.name, "type": type(layer).__name__,
                     "output shape": str(tuple(shape)).replace("None", "batch") if shape else "",
                     "parameters": int(layer.count_params())})
    frame = pd.DataFrame(rows)
    total = pd.DataFrame([{"layer": "total", "type": "", "output shape": "", "parameters": int(frame["parameters"].sum())}])
    return pd.concat([frame, total], ignore_index=True).set_index("layer")


def baseline_model(profile, task):
    """The (untrained) Keras model of a task's baseline CNN, as :class:`~evalkit.classifiers.BaselineCNN`
    builds it for that task's input and classes."""
    from .classifiers import get_classifier
    from .embeddings import get_extractor

    import tensorflow as tf

    tf.keras.backend.clear_session()  # layer names start from scratch for every model shown
    config = profile.baseline_config(task)
    extractor = get_extractor(config["embedding"])
    cnn = get_classifier(config["classifier"], random_state=0)
    cnn.set_params(input_shape=tuple(extractor.frame_shape))
    return cnn._build(extractor.dim, len(profile.task(task).classes))


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


# ------------------------------------------------------------------------------------------------
# Provenance


def git_commit() -> str:
    """``git rev-parse HEAD`` of the repository (with ``+ uncommitted changes``), or ``not a git checkout``."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return "not a git checkout"
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        suffix = " + uncommitted changes" if dirty.returncode == 0 and dirty.stdout.strip() else ""
        return commit.stdout.strip() + suffix
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


def _version(package: str) -> str:
    if package == "evalkit":
        from . import __version__

        return __version__
    try:
        from importlib.metadata import version

        return version(package)
    except Exception:  # noqa: BLE001
        return "not installed"


def provenance(profile, results: pd.DataFrame | None = None) -> dict:
    """Where a page's numbers come from: profile, data, embeddings and model versions, repetitions, date, commit."""
    from .embeddings import get_extractor

    tasks = []
    for task_id in profile.tasks:
        try:
            task = profile.task(task_id)
            files = task.files()
            tasks.append(f"{task.id}: {task.name} ({len(files)} files, {len(task.classes)} classes)")
        except Exception as error:  # noqa: BLE001 - provenance must not fail the page
            tasks.append(f"{task_id}: unavailable ({error})")
    embeddings = []
    for label, spec in profile.embeddings.items():
        try:
            extractor = get_extractor(spec)
            embeddings.append(f"{label} = {extractor.spec}, {extractor.dim} values per frame, version {extractor.version}")
        except Exception as error:  # noqa: BLE001
            embeddings.append(f"{label} = {spec} (unavailable: {error})")
    baseline = "none"
    if profile.baseline:
        baseline = "; ".join(f"{k}: {v['classifier']} on {v['embedding']}" for k, v in profile.baseline.items())
    reps = f"{profile.repetitions} (baseline CNN: {profile.baseline_repetitions or profile.repetitions})"
    if results is not None and not results.empty and "repetition" in results:
        counts = results.groupby(["task", "row"] if "row" in results else ["task"])["repetition"].nunique()
        reps += f"; this page: {counts.min()}–{counts.max()} per configuration" if counts.min() != counts.max() \
            else f"; this page: {counts.min()} per configuration"
    source = str(profile.path.relative_to(REPO_ROOT)) if profile.path and profile.path.is_relative_to(REPO_ROOT) \
        else str(profile.path or "built from the notebook's parameters")
    return {
        "profile": f"{profile.name} ({source}; fingerprint {profile.fingerprint})",
        "data": tasks,
        "embeddings": embeddings,
        "classifiers": ", ".join(profile.classifiers),
        "baseline": baseline,
        "repetitions": reps,
        "split": f"{100 * profile.test_size:g} % of the recordings of each class for testing, seed {profile.seed} + repetition",
        "software": ", ".join(f"{p} {_version(p)}" for p in ("evalkit", "numpy", "scikit-learn", "tensorflow-cpu",
                                                             "musicnn", "librosa"))
                    + f", Python {platform.python_version()}",
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git commit": git_commit(),
    }


def provenance_html(profile, results: pd.DataFrame | None = None) -> str:
    """:func:`provenance` as a box: a one-line summary, the details one click away."""
    info = provenance(profile, results)
    rows = []
    for key, value in info.items():
        if isinstance(value, list):
            value = "<br>".join(html.escape(v) for v in value)
        else:
            value = html.escape(str(value))
        rows.append(f"<tr><th style='text-align:left;vertical-align:top;padding-right:1em;white-space:nowrap'>{key}</th>"
                    f"<td style='text-align:left'>{value}</td></tr>")
    commit = info["git commit"]
    short = commit if commit == "not a git checkout" else commit[:10] + (" + local changes" if "+" in commit else "")
    reps = f"{profile.repetitions} repetition{'s' if profile.repetitions != 1 else ''}"
    summary = (f"<b>Provenance</b>: profile <b>{html.escape(profile.name)}</b> · {len(profile.tasks)} task"
               f"{'s' if len(profile.tasks) != 1 else ''} · {len(profile.embeddings)} embedding"
               f"{'s' if len(profile.embeddings) != 1 else ''} · {reps} · commit {html.escape(short)} · "
               f"{html.escape(info['date'])}")
    note = ""
    if not compares_directly(profile) and not profile.is_demo:
        note = "<p style='margin:0.3em 0'>These tasks are not the paper's: no published number applies.</p>"
    return ("<details class='evalkit-provenance' style='border:1px solid #ccc;border-radius:4px;padding:0.4em 0.8em;"
            f"font-size:85%;background:#f8f8f8;margin-bottom:1em'><summary>{summary}</summary>{note}"
            "<table style='border:none;margin:0.4em 0 0 0'>" + "".join(rows) + "</table></details>")


#: The paper's VGGish rows sit at chance on these tasks (Table I: 33.3 %, 33.3–36.3 % and 20.0 %).
VGGISH_CHANCE_TASKS = ("T4", "T5", "T6")
#: Training share of those runs (Table I's).
VGGISH_CHANCE_FRACTION = 0.8
#: Points above chance that still count as "at chance" for :func:`vggish_chance_html`.
CHANCE_MARGIN = 5.0
_VGGISH_VARIANTS = {(True, True): "post-processed, standardised", (True, False): "post-processed, unscaled",
                    (False, True): "raw, standardised", (False, False): "raw, unscaled"}


def vggish_chance_runs(profile, tasks=VGGISH_CHANCE_TASKS) -> pd.DataFrame:
    """Linear-SVM runs that test what puts VGGish at chance: VGGish with and without its PCA post-processing, each
    with and without feature standardisation (``svm`` / ``svm(scale=false)``), on the profile's tasks among
    ``tasks``. Columns of :meth:`Profile.run` plus ``postprocess`` and ``scaled``; empty unless the profile has both
    VGGish variants and one of the tasks."""
    configs = vggish_chance_configurations(profile, tasks)
    if not configs:
        return pd.DataFrame()
    return pd.concat([profile.run(task, label, classifier, train_fraction=VGGISH_CHANCE_FRACTION).assign(
        postprocess=post, scaled=scaled) for task, label, classifier, post, scaled in configs], ignore_index=True)


def vggish_chance_configurations(profile, tasks=VGGISH_CHANCE_TASKS) -> list[tuple]:
    """``(task, label, classifier, postprocess, scaled)`` of every run of :func:`vggish_chance_runs`; empty unless
    the profile has VGGish with and without post-processing and one of ``tasks``."""
    variants = {}
    for label in profile.embeddings:
        name, params = parse_spec(profile.spec(label))
        if name == "vggish":
            variants.setdefault(bool(params.get("postprocess", True)), label)
    if len(variants) < 2:
        return []
    return [(task, label, classifier, post, scaled) for task in profile.tasks if str(task).upper() in tasks
            for post, label in sorted(variants.items(), reverse=True)
            for classifier, scaled in (("svm", True), ("svm(scale=false)", False))]


def vggish_chance_html(profile, runs: pd.DataFrame) -> str:
    """The answer to "does post-processing or feature scaling explain VGGish's chance-level results?": the mean
    accuracy over :func:`vggish_chance_runs`' tasks of the four variants against chance, and a verdict. Empty
    without runs."""
    if runs is None or runs.empty:
        return ""
    tasks = list(dict.fromkeys(runs["task"]))
    chance = float(np.mean([100 / len(profile.task(t).classes) for t in tasks]))
    means = runs.groupby(["postprocess", "scaled"])["accuracy"].mean()
    at_chance = {key for key, value in means.items() if value < chance + CHANCE_MARGIN}
    named = lambda keys: ", ".join(_VGGISH_VARIANTS[k] for k in _VGGISH_VARIANTS if k in keys)  # noqa: E731
    if not at_chance:
        verdict = ("No variant sits at chance, so neither post-processing nor feature scaling explains the published "
                   "chance-level results on this data.")
    elif at_chance == set(means.index):
        verdict = ("All variants sit at chance: neither post-processing nor feature scaling explains it; the VGGish "
                   "embeddings do not separate these classes here.")
    elif at_chance == {(True, True), (True, False)}:
        verdict = "The post-processing explains the chance-level results: only post-processed values sit at chance."
    elif at_chance == {(True, False), (False, False)}:
        verdict = "Missing feature scaling explains the chance-level results: only unscaled values sit at chance."
    elif at_chance == {(True, False)}:
        verdict = ("Post-processing and missing feature scaling together explain the chance-level results: only "
                   "post-processed, unscaled values sit at chance.")
    else:
        verdict = f"At chance: {named(at_chance)}; above chance: {named(set(means.index) - at_chance)}."
    rows = "".join(
        f"<tr><td style='text-align:left'>{'post-processed (PCA, 8 bit)' if post else 'raw network output'}</td>"
        + "".join(f"<td>{_fmt(means.get((post, scaled)))}</td>" for scaled in (True, False)) + "</tr>"
        for post in (True, False))
    return (f"<p><b>VGGish at chance: post-processing or feature scaling?</b> The paper's VGGish rows sit at chance on "
            f"T4–T6. Linear SVM, 80 % training data, mean balanced accuracy over {', '.join(map(str, tasks))} "
            f"(chance: {chance:.1f} %):</p><table class='evalkit-table' style='border-collapse:collapse;font-size:90%'>"
            "<thead><tr><th style='text-align:left'>VGGish values</th><th>standardised features</th>"
            f"<th>unscaled features</th></tr></thead><tbody>{rows}</tbody></table><p>{html.escape(verdict)}</p>")
