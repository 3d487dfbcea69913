"""The paper's claims as checks on Tables I–V, evaluated on the published numbers and on a profile's own."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .reference import PAPER_TASKS, load_paper_tables, variant_name
from .summary import cell_stats

#: How close (percentage points) counts as "on par" in the claims.
PAR_MARGIN = 2.0


def _points(difference: float) -> float:
    """A difference of accuracies compared with a margin, rounded so that 64.4 − 62.4 is exactly 2.0 points."""
    return round(float(difference), 6)


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
            _points(emb["avg"] - base["avg"]) >= -PAR_MARGIN)


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
            _points(svm.iloc[0] - dense.max()) >= -PAR_MARGIN)


def _pair_claim(long, table, what, margin):
    avgs = _avgs(long, table, kind="embedding")
    variants = list(dict.fromkeys(avgs["variant"]))
    if len(variants) != 2:
        return None
    a, b = (avgs[avgs["variant"] == v]["avg"].max() for v in variants)
    return (f"{variants[0]} {a:.1f} vs. {variants[1]} {b:.1f} (best classifier each)", what(a, b, margin))


def _claim_content(long):
    return _pair_claim(long, "IV", lambda a, b, m: _points(abs(a - b)) < m, 5.0)


def _claim_size(long):
    return _pair_claim(long, "V", lambda a, b, m: _points(b - a) < m, PAR_MARGIN)


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


