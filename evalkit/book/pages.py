"""What each notebook of the book shows, computed by tested functions so that the notebooks only call and render.

Every page function takes the profile, reads the results of its sections (:mod:`evalkit.book.plan`), glues the few
values that another page pastes (``{glue}`page.ipynb::name```: page 1 pastes the summary, the banner and the claims'
tally) and returns a :class:`Page` whose attributes the notebook shows, its prose among them.
:func:`setup` is the one setup call of every notebook (``evalkit.notebook``).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..config import ParameterError, check_number, format_spec, parse_spec
from ..learn.metrics import largest_class_share
from . import NOTEBOOK_SECTIONS, prose
from .claims import check_claims, extraction_costs
from .display import build_banner, chance_levels, glue, task_title
from .plan import (baseline_run, collect, collect_curve, collect_table, compute, detailed_runs, main_fractions, plan,
                   teaching_runs)
from .profile import STANDARD_FRACTIONS, TABLE_IDS
from .reference import compares_directly, load_paper_tables, paper_column, reproduction_frame
from .reference import PAPER_TASKS, paper_confusion_frame
from .summary import (CLASSIFIER_NAMES, averages, baseline_average, best_configuration, best_row, curve_table,
                      fusion_comparison, largest_confusions, mean_confusion_frame)
from .tables import frame_html, table_html
from .verdicts import VERDICTS, descriptor, one_frame_embeddings


class Page(SimpleNamespace):
    """What a page shows: frames and texts as attributes, and ``values``, the numbers and texts of its prose (those that
    other pages paste are glued, :func:`evalkit.book.display.glue`)."""


def setup(profile=None, *, page: str, task="D2", embedding="musicnn", classifier="svm", repetitions=3, baseline=True,
          group_pattern=None, train_fractions=None, cnn_epochs=None, progress: bool = True):
    """Set up a notebook: display defaults, the profile its parameters ask for, and the results of the sections
    ``page`` reads (computed now when missing, e.g. when the notebook runs on its own with papermill).

    Parameters
    ----------
    profile : str, path or None
        ``demo``, ``paper``, ``test`` or a profile YAML file; None for a single run of ``task`` × ``embedding`` ×
        ``classifier`` (see :func:`evalkit.book.profiles.single_run_profile`).
    page : str
        The notebook's name, one of :data:`evalkit.book.NOTEBOOKS`.
    train_fractions : list of float or None
        A single run's lesson (the teaching notebook): its training shares, each in (0, 0.8]; None: the default.
    cnn_epochs : int or None
        A single run's lesson: the epoch limit of its CNN trained from scratch; None: the CNN's own.

    Returns
    -------
    Profile
    """
    from .figures import notebook_display_defaults
    from .profiles import resolve_profile

    if page not in NOTEBOOK_SECTIONS:
        raise ParameterError(f"unknown page {page!r}; valid: {', '.join(NOTEBOOK_SECTIONS)}")
    notebook_display_defaults()
    P = resolve_profile(profile, task=task, embedding=embedding, classifier=classifier, repetitions=repetitions,
                        baseline=baseline, group_pattern=group_pattern)
    if P.single_run:  # a notebook on its own: leave out the shares the task's recordings cannot fill
        _lesson_budget(P, train_fractions=train_fractions, cnn_epochs=cnn_epochs)
        _keep_usable_shares(P)
    compute(P, plan(P, NOTEBOOK_SECTIONS[page]), progress=progress)
    return P


def _lesson_budget(P, *, train_fractions=None, cnn_epochs=None) -> None:
    """A single run's lesson with other training shares or a shorter CNN training (the quick variant of ``make
    teach``), checked before any work: the CNN spec gets ``epochs=cnn_epochs`` (a new configuration, stored apart
    from the full training)."""
    if train_fractions is not None:
        if isinstance(train_fractions, str):  # papermill -p train_fractions "[0.1, 0.8]" passes the text
            import yaml

            try:
                train_fractions = yaml.safe_load(train_fractions)
            except yaml.YAMLError:
                raise ParameterError(f"teaching: train_fractions must be a list of training shares such as "
                                     f"[0.1, 0.8], not {train_fractions!r}") from None
        shares = [train_fractions] if isinstance(train_fractions, (int, float, str)) else list(train_fractions)
        if not shares:
            raise ParameterError("teaching: train_fractions must list at least one training share, not []")
        P.teaching["train_fractions"] = sorted({float(check_number("teaching", "train_fractions", f, low=0, high=0.8,
                                                                   low_open=True)) for f in shares})
        P.teaching["baseline"] = True  # the shares asked for: the CNN too, whichever the profile trains it at
    if cnn_epochs is not None and P.baseline:
        from ..learn.registry import get_classifier

        check_number("teaching", "cnn_epochs", cnn_epochs, low=1, whole=True)
        task = str(P.teaching_config()["task"])
        key = next(k for k in (task, Path(task).name, "default") if k in P.baseline)  # as Profile.baseline_config
        name, params = parse_spec(P.baseline[key]["classifier"])
        spec = format_spec(name, {**params, "epochs": int(cnn_epochs)})
        get_classifier(spec)  # the CNN's own parameter checks
        P.baseline[key] = {**P.baseline[key], "classifier": spec}


def unusable_shares(P, fractions) -> list[float]:
    """The training shares of ``fractions`` that leave some class of some task of the profile with fewer than two
    training recordings in one of the profile's repetitions (:func:`~evalkit.learn.splits.split_files` refuses them).
    """
    from ..learn.splits import split_files

    unusable = []
    for task_id in P.tasks:
        task = P.task(task_id).prepare()  # a demo task is generated here: the page computes on it anyway
        files = task.files()
        labels, groups = [f.label for f in files], [f.group for f in files]
        for fraction in fractions:
            for repetition in range(P.repetitions):
                try:
                    split_files(labels, groups, seed=P.seed + repetition, test_size=P.test_size,
                                train_fraction=fraction, classes=task.classes)
                except ParameterError:
                    unusable.append(fraction)
                    break
    return sorted(set(unusable))


def _keep_usable_shares(P) -> None:
    """A single run on a small folder: the learning curve and the lesson keep only the shares its recordings can
    fill (a notebook cannot ask its reader for other shares); the learning-curve page says which were left out.
    Table II's share stays: a task too small for it is refused with the reason."""
    curve = P.learning_curve
    if curve and curve.get("train_fractions"):
        dropped = unusable_shares(P, curve["train_fractions"])
        if dropped and len(dropped) < len(curve["train_fractions"]):
            curve["train_fractions"] = [f for f in curve["train_fractions"] if f not in dropped]
    if P.teaching is not None:
        shares = P.teaching_config()["train_fractions"]
        dropped = unusable_shares(P, shares)
        if dropped and len(dropped) < len(shares):
            P.teaching["train_fractions"] = [f for f in shares if f not in dropped]


def _nan() -> float:
    return float("nan")


# ------------------------------------------------------------------------------------------------
# One function per notebook


def detailed_results(P) -> Page:
    """Every embedding with the main classifier (and the baseline) on every task, at the large and the small share."""
    large, small = main_fractions(P)
    runs = collect(P, detailed_runs(P, large), "detailed")
    runs10 = collect(P, detailed_runs(P, small), "detailed10")
    avg, avg10 = averages(runs, by="label"), averages(runs10, by="label")
    emb, emb10 = avg.drop(index="baseline", errors="ignore"), avg10.drop(index="baseline", errors="ignore")
    classifier = CLASSIFIER_NAMES.get(P.main_classifier, P.main_classifier)
    # best and weakest among the pre-trained embeddings; handcrafted features (MFCC) are named as the reference
    domains = training_domains(P)
    pretrained = [label for label in emb.index if domains.get(label) is not None]
    ranked, ranked10 = (e["mean"].loc[[x for x in pretrained if x in e.index] or list(e.index)] for e in (emb, emb10))
    values = {
        "build_banner": build_banner(P), "detailed_fraction": 100 * large, "detailed_classifier": classifier,
        "detailed_kind": "pre-trained embedding" if pretrained else "embedding",
        "detailed_best": ranked.idxmax(), "detailed_best_avg": ranked.max(),
        "detailed_worst": ranked.idxmin(), "detailed_worst_avg": ranked.min(),
        "detailed_baseline_avg": avg["mean"].get("baseline", _nan()), "detailed10_fraction": 100 * small,
        "detailed10_best": ranked10.idxmax(), "detailed10_best_avg": ranked10.max(),
        "detailed10_baseline_avg": avg10["mean"].get("baseline", _nan()),
    }
    references = {label: (emb["mean"][label], emb10["mean"].get(label, _nan()))
                  for label in emb.index if pretrained and label not in pretrained}
    text = prose.detailed(values, P.repetitions, references=references)
    glue("build_banner", values["build_banner"])  # pasted on page 1, with the summary
    glue("detailed_summary", text["summary"])
    table = avg[["average over tasks"]].copy()
    table.insert(0, "values per frame", [P.extractor(label).dim if label in P.embeddings else "–" for label in table.index])
    table.index.name = "embedding"
    return Page(runs=runs, runs10=runs10, chance=chance_levels(P), averages=table, large=large, small=small,
                text=Page(**text),
                title_a=f"(a) {classifier} on each embedding, {100 * large:g} % training data",
                title_b=f"(b) each task, {100 * large:g} % training data",
                title_c=f"(c) each task, {100 * small:g} % training data", values=values)


def results_tables(P) -> Page:
    """Tables I–V of the profile and the values the page's prose pastes."""
    tables = {table_id: collect_table(P, table_id) for table_id in TABLE_IDS}
    values = {}
    for table_id, results in tables.items():
        name, value = best_row(results, early=table_id == "III")
        values.update({f"tab{table_id}_best": name, f"tab{table_id}_best_avg": value,
                       f"tab{table_id}_baseline": baseline_average(results)})
    iv, v = P.table("IV"), P.table("V")
    values.update({
        "tabIV_pair": " vs. ".join(f"{label} = `{P.spec(label)}`" for label in iv["embeddings"]) if iv else "–",
        "tabV_pair": " vs. ".join(f"{label} ({P.extractor(label).dim} values)" for label in v["embeddings"]) if v else "–",
        "tabIII_one_frame": ", ".join(one_frame_embeddings(tables["III"]))})
    fusion_html = "" if tables["III"].empty else frame_html(fusion_comparison(tables["III"]),
                                                          caption="Average over tasks: late vs. early fusion")
    return Page(tables=tables, everything=_concat(tables.values()), fusion_html=fusion_html, values=values,
                text=Page(**prose.tables(values, P.is_demo)))


def _concat(frames) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def confusion_matrices(P) -> Page:
    """Mean confusion matrices of Table I's best configuration (and of the baseline) on every task."""
    first = collect_table(P, "I")
    if first.empty:  # a profile without Table I: the detailed results' configurations
        first = collect(P, detailed_runs(P, 0.8), "I")
    best = best_configuration(first)
    best_runs = first[first["row"] == best["row"]]
    ours = {task_title(P, t): mean_confusion_frame(best_runs[best_runs["task"] == P.task(t).id]) for t in P.tasks}
    base = first[first["kind"] == "baseline"]
    baseline = {task_title(P, t): mean_confusion_frame(base[base["task"] == P.task(t).id]) for t in P.tasks} \
        if not base.empty else {}
    n = int(best_runs.groupby("task")["repetition"].nunique().min())
    values = {"cm_best": best["row"], "cm_best_avg": best["avg"],
                       "cm_reps": f"{n} repetition{'s' if n != 1 else ''}"}
    return Page(runs=best_runs, ours=ours, largest=largest_confusions(ours), baseline=baseline,
                text=Page(**prose.confusion(values)),
                baseline_note="" if baseline else "*This profile has no baseline CNN.*",
                published={f"{t} (published)": paper_confusion_frame(t) for t in PAPER_TASKS}, values=values)


def epoch_limits(runs: pd.DataFrame, limits: dict) -> tuple[int, int, int]:
    """``(runs cut short at their epoch limit, runs without a validation set, runs)``: a run with a validation set
    whose history is as long as its ``epochs`` was cut short, not stopped early; one without trains to its limit by
    design. ``limits``: ``{task id: epochs}``."""
    validated = [(h, t) for h, t in zip(runs["history"], runs["task"]) if h and h.get("val_loss")]
    return sum(len(h["loss"]) >= limits[t] for h, t in validated), len(runs) - len(validated), len(runs)


def baseline_models(P) -> Page:
    """The baseline CNNs: architectures, training curves, results at the large and the small share."""
    from ..embed.registry import get_extractor
    from ..learn.registry import get_classifier
    from .display import architecture_frame, baseline_model

    if not P.baseline:
        values = {"bl_epochs_mean": _nan(), "bl_epochs_max": _nan(), "bl_n_configs": 0}
        return Page(runs=pd.DataFrame(), architectures=[], curves={}, stops=pd.DataFrame(), results_html="",
                    values=values,
                    text=Page(**prose.baseline(values)),
                    note="*This profile trains no baseline CNN (`baseline` is off): nothing to show on this page.*")
    large, small = main_fractions(P)
    runs = pd.concat([collect(P, [baseline_run(P, t, f) for t in P.tasks], f"{100 * f:g} %") for f in (large, small)],
                     ignore_index=True)
    configs = {}
    for t in P.tasks:
        c = P.baseline_config(t)
        configs.setdefault((c["embedding"], c["classifier"]), []).append(P.task(t).id)
    large_runs = runs[runs["train_fraction"] == large]
    epochs = large_runs["history"].map(lambda h: len(h["loss"]) if h else np.nan)
    limits = {P.task(t).id: get_classifier(P.baseline_config(t)["classifier"]).epochs for t in P.tasks}
    at_limit, unvalidated, total = epoch_limits(large_runs, limits)
    values = {"bl_epochs_mean": float(epochs.mean()), "bl_epochs_max": float(epochs.max()),
                       "bl_n_configs": len(configs), "bl_at_limit": at_limit, "bl_runs": total,
                       "bl_unvalidated": unvalidated}
    curves = {task_title(P, t): list(large_runs[large_runs["task"] == P.task(t).id]["history"]) for t in P.tasks}
    stops = pd.DataFrame([{"task": run.task, "training share": f"{100 * run.train_fraction:g} %", "run": run.repetition,
                           "kept epoch": h.get("best_epoch", len(h.get("loss", []))),
                           "last epoch": h.get("stopped_epoch", len(h.get("loss", []))),
                           "epoch limit": limits[run.task],
                           "held out per class": h.get("validation_recordings", "–"),
                           "arithmetic": h.get("precision", "float32"),  # stored before it was recorded: float32
                           "test files in its top class":
                               f"{largest_class_share([x['predicted'] for x in run.predictions]):.0%}"}
                          for run in runs.itertuples() for h in [run.history or {}]])
    runs = runs.assign(row=[f"baseline CNN, {100 * f:g} % training data" for f in runs["train_fraction"]])
    published = {}
    if any(paper_column(t) for t in runs["task"].unique()):
        paper = load_paper_tables()
        for f in (large, small):
            hit = paper[(paper["embedding"] == "baseline") & (paper["train_pct"] == round(100 * f))]
            if not hit.empty:
                published[f"baseline CNN, {100 * f:g} % training data"] = hit.iloc[0]
    architectures = []
    for (embedding, classifier), task_ids in configs.items():
        model = baseline_model(P, task_ids[0])
        architectures.append((f"**`{classifier}` on `{embedding}`** — tasks {', '.join(task_ids)} (input "
                              f"{model.input_shape[1]} values = patch {get_extractor(embedding).frame_shape})",
                              architecture_frame(model)))
    return Page(runs=runs, architectures=architectures, curves=curves, stops=stops, note="", values=values,
                text=Page(**prose.baseline(values)),
                results_html=table_html(P, runs, published=published, direct=compares_directly(P)))


def _shares_text(fractions) -> str:
    """``[0.1, 0.4, 0.8]`` -> ``"10, 40 and 80 %"``."""
    shares = [f"{100 * f:g}" for f in fractions]
    return (", ".join(shares[:-1]) + " and " if len(shares) > 1 else "") + f"{shares[-1]} %"


def learning_curve(P) -> Page:
    """Accuracy over the training share, per task and averaged over tasks."""
    runs = collect_curve(P)
    spec = P.curve()
    per = runs.groupby(["label", "train_fraction", "repetition"])["accuracy"].mean().groupby(level=[0, 1]).mean().unstack(0)
    embeddings = [c for c in per.columns if c != "baseline"]
    best_small = per[embeddings].iloc[0].idxmax()
    left_out = [f for f in STANDARD_FRACTIONS if f < min(spec["train_fractions"])] if P.single_run else []
    values = {"lc_smallest": 100 * per.index[0], "lc_fractions": _shares_text(spec["train_fractions"]),
              "lc_left_out": " and ".join(f"{100 * f:g} %" for f in left_out),
              "lc_reps": int(spec["repetitions"]), "lc_table_reps": int(P.repetitions),
              "lc_best_small": best_small, "lc_best_small_value": float(per[best_small].iloc[0]),
              "lc_best_small_handcrafted": int(training_domains(P).get(best_small) is None)}
    if "baseline" in per:
        cnn_shares = per.index[per["baseline"].notna()]
        values["lc_baseline_fractions"] = "" if len(cnn_shares) == len(per.index) else _shares_text(cnn_shares)
        ahead = per[embeddings].max(axis=1) - per["baseline"]
        caught = [f for f in per.index if ahead[f] <= 0]
        values.update({
            "lc_baseline_small_value": float(per["baseline"].iloc[0]),
            "lc_summary": f"the baseline CNN catches up with the best embedding from {100 * caught[0]:g} % of the data on"
                          if caught else "the best embedding stays ahead of the baseline CNN at every training share",
            "lc_gap_small": float(ahead.iloc[0])})
    else:
        values.update({"lc_baseline_small_value": _nan(), "lc_summary": "this profile's learning curve has no baseline",
                       "lc_gap_small": _nan(), "lc_baseline_fractions": ""})
    classifier = CLASSIFIER_NAMES.get(spec["classifier"], spec["classifier"])
    return Page(runs=runs, table=curve_table(runs), title=f"{classifier} on embeddings vs. the CNN baseline",
                text=Page(**prose.curve(values)),
                values=values)


def reproduction(P) -> Page:
    """The paper's claims on this profile, and every number with a published counterpart."""
    tables = {table_id: collect_table(P, table_id) for table_id in TABLE_IDS}
    claims = check_claims(tables, training_domains(P), roles=P.claims,
                          descriptors={label: descriptor(P.extractor(label)) for label in P.embeddings},
                          costs=extraction_costs(P, (P.table("V") or {}).get("embeddings", [])))
    numbers = reproduction_frame(P, tables)
    direct = bool(numbers["comparable"].any()) if not numbers.empty else False
    if numbers.empty:
        summary = ""
    elif direct:
        summary = (f"**{int(numbers['within'].sum())} of them** lie within max(2 std, 3 points) of the published number "
                   f"(marked ✓), and the mean absolute difference is {numbers['difference'].abs().mean():.1f} points.")
    else:
        summary = (f"On other data the numbers are not expected to agree: the mean absolute difference is "
                   f"{numbers['difference'].abs().mean():.1f} points, and only the claims above are comparable.")
    verdicts = claims["holds here"].value_counts()
    roles = P.claims or {}
    values = {
        "claims_total": len(claims),
        "claims_summary": prose.claims_summary(
            {verdict: int(verdicts.get(verdict, 0)) for verdict in VERDICTS},
            stand_ins=(f"{roles.get('embedding', '–')} with {roles.get('classifier', '–')}" if P.is_demo else "")),
        "claims_paper": int((claims["holds in the paper"] == "holds").sum()),
        "repro_n": len(numbers),
        "repro_kind": "the published numbers of the same experiments" if direct else
                      "the paper's corresponding rows on other data (orientation only)",
        "repro_summary": summary}
    for name in ("claims_total", "claims_summary"):  # pasted on page 1
        glue(name, values[name])
    return Page(tables=tables, everything=_concat(tables.values()), claims=claims, numbers=numbers, direct=direct,
                side_name="demo (stand-ins, synthetic data)" if P.is_demo else "this profile",
                text=Page(**prose.reproduction(values)),
                title="reproduced vs. published" if direct else (
                    f"{'demo' if P.is_demo else 'your data'} vs. paper (different data: orientation only)"),
                values=values)


def training_domains(P) -> dict:
    """``{embedding label: training domain}`` of a profile's embeddings (None: handcrafted, not pre-trained)."""
    return {label: P.extractor(label).training_domain for label in P.embeddings}


def teaching_shares(P) -> Page:
    """The teaching chapter's last experiment: the lesson's classifier on its embedding and the baseline CNN at each
    training share, a table of their mean accuracies, and the numbers the exercises use."""
    cfg = P.teaching_config()
    ours = f"{CLASSIFIER_NAMES.get(cfg['classifier'], cfg['classifier'])} on {cfg['embedding']}"
    runs = [run for run in teaching_runs(P)
            if run.label in (cfg["embedding"], "baseline") and run.train_fraction in cfg["train_fractions"]]
    frame = collect(P, runs, "teaching")
    frame.loc[frame["label"] != "baseline", "label"] = ours
    means = frame.groupby(["label", "train_fraction"])["accuracy"].mean().unstack(0)
    table = means.rename(index=lambda f: f"{100 * f:g} %")
    table.index.name = "training data"
    smallest = means.index.min()
    mfcc = [run for run in teaching_runs(P) if run.label == "mfcc" and run.train_fraction == 0.8]
    values = {"teach_small": 100 * smallest, "teach_small_ours": float(means.loc[smallest, ours]),
                       "teach_small_cnn": float(means.loc[smallest].get("baseline", _nan())),
                       "teach_mfcc_acc": float(collect(P, mfcc)["accuracy"].mean()) if mfcc else _nan()}
    chance = 100 / len(P.task(cfg["task"]).classes)
    return Page(runs=frame, table=table, label=ours, values=values,
                text=Page(**prose.teaching(values, label=ours, chance=chance)))
