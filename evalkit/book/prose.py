"""The sentences of the book that carry numbers, written from a page's values (see :mod:`evalkit.book.pages`).

A notebook shows them as Markdown output, so they read the same in the book and in a notebook run on its own
(where glue references in Markdown cells would stay unresolved). Each function takes the page's ``values`` (the
numbers and texts it also glues for other pages) and returns ``{name: Markdown paragraph}``.
"""
from __future__ import annotations

import math


def _pct(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f} %"


def _reps(n: int) -> str:
    return f"{n} repetition{'s' if n != 1 else ''}"


#: What the short classifier names of the tables are, for a sentence.
CLASSIFIER_WORDS = {"SVM": "a linear SVM", "D128": "a network with one dense hidden layer of 128 units (D128)",
                    "D512": "a network with one dense hidden layer of 512 units (D512)"}


def detailed(values: dict, repetitions: int, *, references: dict | None = None) -> dict[str, str]:
    """The detailed-results page's sentences and ``summary``, the one for page 1. ``references``: ``{label: (mean at
    the large share, mean at the small share)}`` of the handcrafted features, named beside the best pre-trained
    embedding (``detailed_kind``), never ranked with it."""
    kind = values.get("detailed_kind", "embedding")
    has_baseline = not math.isnan(values["detailed_baseline_avg"])
    baseline = f" The baseline CNN reaches {_pct(values['detailed_baseline_avg'])}." if has_baseline else ""
    baseline10 = (f", and the baseline reaches {_pct(values['detailed10_baseline_avg'])}"
                  if not math.isnan(values["detailed10_baseline_avg"]) else "")
    references = references or {}
    reference = "".join(f" The handcrafted reference {label} reaches {_pct(large)}."
                        for label, (large, _) in references.items())
    reference10 = "".join(f"; the handcrafted reference {label} reaches {_pct(small)}"
                          for label, (_, small) in references.items())
    if values["detailed_best"] == values["detailed_worst"]:
        ranking = f"the only {kind}, **{values['detailed_best']}**, reaches {_pct(values['detailed_best_avg'])}."
    else:
        ranking = (f"the best {kind} on average is **{values['detailed_best']}** with "
                   f"{_pct(values['detailed_best_avg'])}, and the weakest is {values['detailed_worst']} with "
                   f"{_pct(values['detailed_worst_avg'])}.")
    classifier = values["detailed_classifier"]
    words = CLASSIFIER_WORDS.get(classifier, f"**{classifier}**")
    small = values.get("detailed10_fraction", 10.0)
    summary = (f"With {values['detailed_fraction']:.0f} % training data and {words.split(' (')[0]}, the best {kind} is "
               f"**{values['detailed_best']}**, at {_pct(values['detailed_best_avg'])} on average.{baseline} With "
               f"{small:.0f} %, the best is **{values['detailed10_best']}**, at {_pct(values['detailed10_best_avg'])}"
               f"{baseline10}.")
    return {
        "setup": (f"Here the classifier is {words}, and each bar is the "
                  f"mean over {_reps(repetitions)}. "
                  + ("The dark bar is the CNN baseline, trained from scratch on spectrograms." if has_baseline else
                     "This build trains no CNN baseline, so there is no dark bar.")),
        "average": (f"With the {classifier} and {values['detailed_fraction']:.0f} % training data, "
                    f"{ranking}{baseline}{reference} The table gives the average over tasks per "
                    f"repetition (mean ± standard deviation over {_reps(repetitions)}) and the dimension of each "
                    "embedding."),
        "small": (f"Here the best {kind} on average is **{values['detailed10_best']}** with "
                  f"{_pct(values['detailed10_best_avg'])}{baseline10}{reference10}."),
        "summary": summary,
    }


def tables(values: dict, is_demo: bool) -> dict[str, str]:
    def best(table_id: str, early: bool = False) -> str:
        name = values[f"tab{table_id}_best"]
        if name == "–":
            return "This profile does not define this table."
        base = values[f"tab{table_id}_baseline"]
        kind = "early-fusion row" if early else "row"
        return (f"The best {kind} on average is **{name}** with {_pct(values[f'tab{table_id}_best_avg'])}"
                + (f", and the baseline reaches {_pct(base)}." if not math.isnan(base) else "."))
    stand_in = {
        "IV": ("On the demo profile, stand-ins with different training content take their place; they differ in their "
               "network, window and sample rate too, so the reproduction page does not test the training-content claim "
               "on them. " if is_demo else ""),
        "V": ("On the demo profile, a smaller and a larger embedding of the stand-ins take their place; where they are "
              "two layers of one network rather than one layer at two sizes, the reproduction page does not test the "
              "size claim on them. " if is_demo else ""),
    }
    one_frame = values.get("tabIII_one_frame", "")
    same = (f" {one_frame} {'gives' if ', ' not in one_frame else 'give'} one frame per file here: late and early "
            "fusion then classify the same vector and give the same results, so the claim that late fusion is better "
            "is judged on embeddings with several frames per file." if one_frame else "")
    return {"I": best("I"), "II": best("II"), "III": best("III", early=True) + same,
            "IV": f"{stand_in['IV']}This profile compares **{values['tabIV_pair']}**." if values["tabIV_pair"] != "–"
            else "This profile does not define Table IV.",
            "V": f"{stand_in['V']}This profile compares **{values['tabV_pair']}**." if values["tabV_pair"] != "–"
            else "This profile does not define Table V."}


def confusion(values: dict) -> dict[str, str]:
    return {"best": (f"The best configuration of Table I is **{values['cm_best']}**, with "
                     f"{_pct(values['cm_best_avg'])} on average over tasks; each matrix is the mean over "
                     f"{values['cm_reps']}.")}


def _stopping(values: dict) -> str:
    """How the baseline's runs with the larger share ended: early stopping, the epoch limit, or no validation set."""
    at_limit, runs, unvalidated = values["bl_at_limit"], values["bl_runs"], values["bl_unvalidated"]
    parts = []
    if unvalidated:
        parts.append(f"{unvalidated} of {runs} runs had too few training recordings per class to hold out a validation "
                     "set and trained to the epoch limit by design")
    if at_limit:
        parts.append(f"{at_limit} of {runs} runs ended at the epoch limit of the profile rather than by early stopping, "
                     "so longer training could still raise the baseline")
    if runs - unvalidated - at_limit:
        parts.append(("every run" if not parts else f"{runs - unvalidated - at_limit} of {runs} runs")
                     + " ended by early stopping, when neither the balanced accuracy nor the loss on the validation "
                       "recordings improved any more")
    return "; ".join(parts)


def training_end(*, validated: bool, at_limit: bool, limit: int) -> str:
    """How one CNN run ended, for the teaching page: without a validation set, at its epoch limit, or early."""
    if not validated:
        return (f"It trained for all {limit} epochs on every training recording: there were too few of them to hold "
                "out validation recordings, so nothing told it when to stop.")
    if at_limit:
        return (f"It ended at its limit of {limit} epoch{'s' * (limit != 1)}, not by early stopping: longer training "
                "might still improve it, so this comparison favours the embedding.")
    return ("Training stopped early, when neither the accuracy nor the loss on the validation recordings improved "
            "any more.")


def baseline(values: dict) -> dict[str, str]:
    if not values["bl_n_configs"]:
        return {"architectures": "", "curves": ""}
    return {"architectures": (f"This profile has {values['bl_n_configs']} distinct baseline configuration"
                              f"{'s' if values['bl_n_configs'] != 1 else ''}."),
            "curves": (f"The runs with the larger training share took {values['bl_epochs_mean']:.0f} epochs on average "
                       f"(at most {values['bl_epochs_max']:.0f}): {_stopping(values)}. The table's last column "
                       "gives the share of each run's test files that went to the class it predicts most: the classes "
                       "are balanced, so a share far above one per class means a bias, and 100 % a collapse.")}


def curve(values: dict) -> dict[str, str]:
    gap = (f", against {_pct(values['lc_baseline_small_value'])} for the baseline (a gap of "
           f"{values['lc_gap_small']:.1f} points)" if not math.isnan(values["lc_baseline_small_value"]) else "")
    trained = ("Every embedding of the learning curve and the baseline CNN are" if not math.isnan(
        values["lc_baseline_small_value"]) and not values.get("lc_baseline_fractions")
        else "Every embedding of the learning curve is")
    left_out = (f" The shares of {values['lc_left_out']} are left out: they leave some class of this task with fewer "
                "than two training recordings." if values.get("lc_left_out") else "")
    reps = values.get("lc_reps")
    counted = "" if reps is None else (
        f" Each point is the mean over {_reps(reps)}"
        + (f" (the results tables use {values['lc_table_reps']}, so the values at their shares can differ from "
           "theirs)." if values.get("lc_table_reps") not in (None, reps) else "."))
    cnn_shares = (f" The baseline CNN is trained on {values['lc_baseline_fractions']} only (the profile's "
                  "learning_curve.baseline: a CNN training takes half a minute or more, an SVM a second)."
                  if values.get("lc_baseline_fractions") else "")
    best = (f"row is **{values['lc_best_small']}**, handcrafted features (not a pre-trained embedding),"
            if values.get("lc_best_small_handcrafted") else f"embedding is **{values['lc_best_small']}**")
    return {"shares": f"{trained} trained on {values['lc_fractions']} of the data, always tested on the same 20 % of "
                      f"recordings.{cnn_shares}{left_out}{counted}",
            "average": (f"With only {values['lc_smallest']:g} % of the data, the best {best} with "
                        f"{_pct(values['lc_best_small_value'])}{gap}. Over the whole curve, {values['lc_summary']}.")}


def claims_summary(counts: dict, *, stand_ins: str = "") -> str:
    """Page 1's and the reproduction page's sentence on the claims: how they are judged together (Holm, 5 %
    family-wise), the verdict counts, and, on a profile with stand-ins (``stand_ins`` names the configuration), that
    such verdicts are about the stand-ins on synthetic data, neither evidence for nor against the paper."""
    def verb(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    parts = [verb(counts.get("holds", 0), "holds", "hold"), verb(counts.get("does not hold", 0), "does not hold",
                                                                 "do not hold"),
             verb(counts.get("inconclusive", 0), "is inconclusive", "are inconclusive")]
    if counts.get("no verdict"):
        parts.append(verb(counts["no verdict"], "gets no verdict (too few repetitions for an interval)",
                          "get no verdict (too few repetitions for an interval)"))
    parts.append(f"{counts.get('not testable', 0)} cannot be tested")
    text = ("Each claim is judged with a 95 % interval on these tasks over resampled splits, and the verdicts share a "
            "5 % family-wise error rate (Holm): " + ", ".join(parts[:-1]) + f" and {parts[-1]}.")
    if stand_ins:
        text += (f" On this demo profile every verdict is about the stand-ins ({stand_ins} for OpenL3 with a linear "
                 "SVM) on synthetic data: such a verdict is neither evidence for nor against the paper.")
    return text


def reproduction(values: dict) -> dict[str, str]:
    return {"claims": (f"The paper states {values['claims_total']} findings, quoted below with where they stand. "
                       f"{values['claims_summary']} On the published means, {values['claims_paper']} of the "
                       f"{values['claims_total']} sentences agree with their rule (no interval: the paper gives no "
                       "spread per cell)."),
            "numbers": (f"There are {values['repro_n']} of them, compared with {values['repro_kind']}. "
                        f"{values['repro_summary']} Each cell gives this profile's mean, its standard deviation over "
                        "repetitions below it, and the published number in italics.")}


def teaching(values: dict, *, label: str, chance: float) -> dict[str, str]:
    """The teaching chapter's answer to exercise 3 (less data), with or without the CNN of the lesson."""
    small = f"With {values['teach_small']:g} % of the data, the {label} reaches {_pct(values['teach_small_ours'])}"
    if math.isnan(values["teach_small_cnn"]):
        return {"less_data": (f"{small}; chance is {chance:.1f} %. This run trains no CNN from scratch (`baseline` is "
                              "off), so there is nothing to compare with: run the lesson again with baseline = True. "
                              "The embedding brings features learned from a large collection of other audio, so the "
                              "classifier only has to draw boundaries in that space.")}
    ours, cnn = values["teach_small_ours"], values["teach_small_cnn"]
    start = f"{small} and the CNN trained from scratch {_pct(cnn)}; chance is {chance:.1f} %. "
    if ours > cnn + 1.0:
        return {"less_data": start + ("The embedding brings features learned from a large collection of other audio, "
                                      "so the classifier only has to draw boundaries in that space; the CNN has to "
                                      "learn its features from the few files it is given.")}
    verdict = "level with" if abs(ours - cnn) <= 1.0 else "behind"
    return {"less_data": start + (f"Here the embedding is {verdict} the CNN: the lesson does not hold on this run. "
                                  "Look at the CNN's training curves (did it stop early or at its epoch limit?) and "
                                  "at the spread over repetitions before drawing a conclusion: with few test files "
                                  "per class, one file moves the accuracy by several points, and a task whose "
                                  "classes differ in plain spectral shape is easy to learn even from few files.")}
