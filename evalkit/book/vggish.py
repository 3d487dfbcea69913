"""Does post-processing or feature scaling explain VGGish's chance-level results on T4–T6? The runs that test it
and the verdict."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .plan import collect, vggish_runs
from .tables import _fmt


#: Points above chance that still count as "at chance" for :func:`vggish_chance_html`.
CHANCE_MARGIN = 5.0
_VGGISH_VARIANTS = {(True, True): "post-processed, standardised", (True, False): "post-processed, unscaled",
                    (False, True): "raw, standardised", (False, False): "raw, unscaled"}


def vggish_chance_runs(profile) -> pd.DataFrame:
    """Every repetition of :func:`evalkit.book.plan.vggish_runs` with ``postprocess`` and ``scaled`` columns; empty
    unless the profile has both VGGish variants and one of the tasks where the paper's VGGish sits at chance."""
    runs = vggish_runs(profile)
    if not runs:
        return pd.DataFrame()
    return pd.concat([collect(profile, [run]).assign(postprocess=post, scaled=scaled) for run, post, scaled in runs],
                     ignore_index=True)


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
