"""The published results: the paper's Tables I–V and confusion matrices (shipped with evalkit as
``data/reference/*.csv``), which published task a profile's task corresponds to, and which published row faces
each of a profile's rows."""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from ..config import MissingDataError, resource_path
from ..learn.registry import classifier_name
from .summary import cell_stats, table_means

PAPER_TASKS = ["T1", "T2", "T3", "T4", "T5", "T6"]
PAPER_TASK_NAMES = {
    "T1": "ensemble size", "T2": "instrument family", "T3": "speech / music",
    "T4": "engine states", "T5": "metal surfaces", "T6": "plastic pucks",
}


# ------------------------------------------------------------------------------------------------
# Published reference


@lru_cache(maxsize=None)
def _read_reference(name: str) -> pd.DataFrame:
    try:
        path = resource_path(f"data/reference/{name}")
    except MissingDataError:
        raise MissingDataError(f"the published reference data/reference/{name} is missing (it ships with evalkit); "
                               "reinstall evalkit") from None
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


