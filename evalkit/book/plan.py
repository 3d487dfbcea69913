"""Every configuration a profile needs, listed once: the plan that ``evalkit book`` computes before it renders, the
compute estimate, and the readers that collect a section's results for a page.

A :class:`Run` is one configuration (task × embedding × classifier × fusion × training share) with the number of
repetitions its readers need. Each section of the book (:data:`SECTIONS`) lists its runs here and nowhere else;
:func:`plan` merges the sections' runs (a configuration several pages show is computed once, with the most
repetitions any of them reads), :func:`compute` runs what is not stored yet, and :func:`collect` reads a section's
runs back as one results frame.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace

import pandas as pd

from ..config import ParameterError, parse_spec
from ..learn.distributed import Configuration, compute_on_cluster
from ..learn.experiments import experiment_key
from ..learn.registry import classifier_name
from ..learn.store import ResultStore
from .profile import TABLE_IDS
from .summary import row_name

#: The book's sections, each read by one or more notebooks.
SECTIONS = ("detailed", "tables", "baseline", "curve", "vggish", "teaching")
#: The paper's VGGish rows sit at chance on these tasks (Table I: 33.3 %, 33.3–36.3 % and 20.0 %).
VGGISH_CHANCE_TASKS = ("T4", "T5", "T6")
#: Training share of the VGGish check (Table I's).
VGGISH_CHANCE_FRACTION = 0.8


@dataclass(frozen=True)
class Run:
    """One configuration of a profile and the repetitions its readers need.

    ``label`` is the embedding's label in the profile (``"baseline"`` for the CNN trained from scratch);
    ``embedding`` its spec. Two runs with the same :meth:`config` are the same computation.
    """

    task: str
    label: str
    embedding: str
    classifier: str
    fusion: str = "late"
    pooling: str = "mean"
    train_fraction: float = 0.8
    repetitions: int = 1

    def config(self) -> tuple:
        """What determines the results (everything but the label and the number of repetitions)."""
        return (self.task, self.embedding, self.classifier, self.fusion,
                self.pooling if self.fusion == "early" else None, float(self.train_fraction))

    def describe(self) -> str:
        return (f"{self.task} · {self.label} · {self.classifier} · {self.fusion} · {100 * self.train_fraction:g} % "
                f"({self.repetitions}×)")


# ------------------------------------------------------------------------------------------------
# The runs of each section


def _runs(profile, labels, classifiers, *, fusions=("late",), train_fraction=0.8, pooling="mean", baseline=False,
          repetitions=None, baseline_repetitions=None, tasks=None) -> list[Run]:
    repetitions = profile.repetitions if repetitions is None else repetitions
    out = []
    for task in tasks or profile.tasks:
        for label in labels:
            for classifier in classifiers:
                for fusion in fusions:
                    out.append(Run(str(task), label, profile.spec(label), classifier, fusion, pooling,
                                   float(train_fraction), int(repetitions)))
        if baseline:
            out.append(baseline_run(profile, task, train_fraction, baseline_repetitions))
    return out


def baseline_run(profile, task, train_fraction: float, repetitions: int | None = None) -> Run:
    """The baseline CNN of a task (``repetitions``: default the profile's baseline repetitions)."""
    config = profile.baseline_config(task)
    if repetitions is None:
        repetitions = profile.baseline_repetitions or profile.repetitions
    return Run(str(task), "baseline", config["embedding"], config["classifier"], "late", "mean", float(train_fraction),
               int(repetitions))


def table_runs(profile, table_id: str) -> list[Run]:
    """The runs of the profile's Table ``table_id`` (empty when the profile does not define it)."""
    spec = profile.table(table_id)
    if spec is None:
        return []
    return _runs(profile, spec["embeddings"], spec["classifiers"], fusions=spec["fusion"], pooling=spec["pooling"],
                 train_fraction=spec["train_fraction"], baseline=spec["baseline"])


def main_fractions(profile) -> tuple[float, float]:
    """The large and the small training share: Table I's and Table II's (0.8 and 0.1 without them)."""
    return ((profile.table("I") or {"train_fraction": 0.8})["train_fraction"],
            (profile.table("II") or {"train_fraction": 0.1})["train_fraction"])


def detailed_runs(profile, train_fraction: float) -> list[Run]:
    """Every embedding with the main classifier (and the baseline) at one training share: the detailed results."""
    return _runs(profile, list(profile.embeddings), [profile.main_classifier], train_fraction=train_fraction,
                 baseline=bool(profile.baseline))


def baseline_runs(profile) -> list[Run]:
    """The baseline CNNs at the large and the small training share."""
    if not profile.baseline:
        return []
    return [baseline_run(profile, task, fraction) for fraction in main_fractions(profile) for task in profile.tasks]


def baseline_at(baseline, fraction: float) -> bool:
    """Whether a section trains the baseline at ``fraction``: its ``baseline`` is true or lists that share."""
    return fraction in baseline if isinstance(baseline, list) else bool(baseline)


def curve_runs(profile) -> list[Run]:
    """The learning curve: each of its embeddings at each training share, and the baseline at the shares its
    ``baseline`` names (all of them when it is true)."""
    spec = profile.curve()
    if spec is None:
        return []
    base_reps = min(spec["repetitions"], profile.baseline_repetitions or profile.repetitions)
    out = []
    for task in profile.tasks:
        for fraction in spec["train_fractions"]:
            out += _runs(profile, spec["embeddings"], [spec["classifier"]], train_fraction=fraction,
                         baseline=baseline_at(spec["baseline"], fraction), repetitions=spec["repetitions"],
                         baseline_repetitions=base_reps,
                         tasks=[task])
    return out


def vggish_runs(profile, tasks=VGGISH_CHANCE_TASKS) -> list[tuple[Run, bool, bool]]:
    """``(run, postprocess, scaled)``: linear-SVM runs that test what puts VGGish at chance, VGGish with and without
    its PCA post-processing, each with and without feature standardisation (``svm`` / ``svm(scale=false)``), on the
    profile's tasks among ``tasks``; empty unless the profile has both VGGish variants and one of those tasks."""
    variants = {}
    for label in profile.embeddings:
        name, params = parse_spec(profile.spec(label))
        if name == "vggish":
            variants.setdefault(bool(params.get("postprocess", True)), label)
    if len(variants) < 2:
        return []
    return [(Run(str(task), label, profile.spec(label), classifier, train_fraction=VGGISH_CHANCE_FRACTION,
                 repetitions=profile.repetitions), post, scaled)
            for task in profile.tasks if str(task).upper() in tasks
            for post, label in sorted(variants.items(), reverse=True)
            for classifier, scaled in (("svm", True), ("svm(scale=false)", False))]


def teaching_runs(profile) -> list[Run]:
    """The teaching chapter's example: the lesson's classifier on its embedding and the baseline CNN at each of its
    training shares, and MFCCs with the same classifier at 80 % (the exercise on handcrafted features)."""
    cfg = profile.teaching_config()
    task, label, reps = str(cfg["task"]), cfg["embedding"], int(cfg["repetitions"])
    out = []
    for fraction in sorted({0.8, *cfg["train_fractions"]}, reverse=True):
        out.append(Run(task, label, profile.spec(label), cfg["classifier"], train_fraction=float(fraction),
                       repetitions=reps))
        if profile.baseline and (fraction == 0.8 or baseline_at(cfg["baseline"], fraction)):  # the lesson's CNN: 80 %
            out.append(baseline_run(profile, task, fraction, reps))
    if profile.spec(label) != "mfcc":
        out.append(Run(task, "mfcc", "mfcc", cfg["classifier"], train_fraction=0.8, repetitions=reps))
    return out


def section_runs(profile, section: str) -> list[Run]:
    """The runs of one of :data:`SECTIONS`."""
    if section == "detailed":
        return [run for fraction in main_fractions(profile) for run in detailed_runs(profile, fraction)]
    if section == "tables":
        return [run for table_id in TABLE_IDS for run in table_runs(profile, table_id)]
    if section == "baseline":
        return baseline_runs(profile)
    if section == "curve":
        return curve_runs(profile)
    if section == "vggish":
        return [run for run, _, _ in vggish_runs(profile)]
    if section == "teaching":
        return teaching_runs(profile)
    raise ParameterError(f"unknown section {section!r}; valid: {', '.join(SECTIONS)}")


def plan(profile, sections=SECTIONS) -> list[Run]:
    """Every configuration the ``sections`` of a profile read, once each, with the most repetitions any reads."""
    merged: dict[tuple, Run] = {}
    for section in sections:
        for run in section_runs(profile, section):
            known = merged.get(run.config())
            if known is None or known.repetitions < run.repetitions:
                merged[run.config()] = run if known is None else replace(known, repetitions=run.repetitions)
    return list(merged.values())


# ------------------------------------------------------------------------------------------------
# Computing and reading


def run_key(profile, run: Run) -> dict:
    """The :func:`~evalkit.learn.experiments.experiment_key` of a run (where the store keeps it)."""
    return experiment_key(profile.task(run.task), profile.extractor(run.embedding), run.classifier, run.fusion,
                          run.pooling, run.train_fraction, profile.test_size, profile.seed,
                          fingerprint=profile.fingerprint_of(run.task))


def missing(profile, runs, store: ResultStore | None = None) -> list[Run]:
    """The runs whose repetitions are not all stored yet."""
    store = store or ResultStore()
    return [run for run in runs if len(store.stored(run_key(profile, run), run.repetitions)) < run.repetitions]


def results_state(profile, runs, store: ResultStore | None = None) -> dict:
    """Size and modification time of every stored repetition of ``runs``: what the pages read."""
    store = store or ResultStore()
    state = {}
    for run in runs:
        state.update(store.state(run_key(profile, run), run.repetitions))
    return state


def configuration(profile, run: Run) -> Configuration:
    """The :class:`~evalkit.learn.distributed.Configuration` of a run (its task prepared by the caller)."""
    return Configuration(profile.task(run.task), profile.extractor(run.embedding), run.classifier, run.fusion,
                         run.pooling, run.train_fraction, profile.test_size, profile.seed, run.repetitions)


def run_costs(profile, runs, calibration=None, *, models_stay_loaded: bool = False) -> list:
    """The estimated cost of each run's unfinished work on this machine
    (:class:`~evalkit.learn.workload.ConfigurationCost`, in the order of ``runs``; a run's extraction counts with
    the first run that needs it). ``calibration``: this machine's unit costs (measured now where missing);
    ``models_stay_loaded``: the runs are computed next, with the models the calibration loaded."""
    from ..learn.calibration import Calibration
    from ..learn.workload import Workload

    workload = Workload(calibration or Calibration(), models_stay_loaded=models_stay_loaded)
    return [workload.configuration(configuration(profile, run), label=run.describe(),
                                   fingerprint=profile.fingerprint_of(run.task)) for run in runs]


def describe_cost(profile, runs, calibration=None) -> str:
    """The calibrated estimate of ``runs`` as a block for the console (per stage and in total, finished work
    reused), measuring this machine's missing unit costs first."""
    from ..learn.calibration import Calibration
    from ..learn.workload import describe_costs

    calibration = calibration or Calibration()
    return describe_costs(run_costs(profile, runs, calibration), calibration, total=len(runs))


def compute(profile, runs, *, progress: bool = True, cluster=None, on_progress=None, calibration=None) -> int:
    """Compute every run whose repetitions are not all stored; return how many were computed. Interrupted, it
    keeps every finished repetition and resumes with the rest.

    First the work left is estimated on this machine and printed (:func:`describe_cost`); then one progress bar
    weighted by that estimate (:class:`~evalkit.learn.progress.CostBar`) follows the runs, its ETA corrected by
    the pace so far; ``on_progress`` gets its ``(done, total, elapsed, eta)`` after each run. ``calibration``: the
    :class:`~evalkit.learn.calibration.Calibration` an estimate just before used (default: this machine's).

    ``cluster``: an :class:`evalkit.cluster.Cluster` to compute on (extraction sharded by file, the runs by
    configuration × repetition; the same results as without it); None computes in this process."""
    from ..learn.calibration import Calibration
    from ..learn.progress import CostBar
    from ..learn.workload import STAGES, describe_costs

    for task in dict.fromkeys(run.task for run in runs):
        profile.task(task).prepare(progress=progress)
    todo = missing(profile, runs)
    if cluster is not None and todo:
        compute_on_cluster(cluster, [configuration(profile, run) for run in todo], progress=progress)
        return len(todo)
    if not todo:
        return 0
    estimates = None
    if progress or on_progress is not None:  # someone watches: what is the work worth on this machine?
        calibration = calibration or Calibration()
        estimates = run_costs(profile, todo, calibration, models_stay_loaded=True)
        if progress:
            print(describe_costs(estimates, calibration, total=len(runs)), file=sys.stderr, flush=True)
    costs = [cost.total for cost in estimates] if estimates else [1.0] * len(todo)
    bar = CostBar(sum(costs), desc=f"computing {profile.name}", disable=not progress, on_progress=on_progress)
    if estimates:
        bar.plan({stage: sum(cost.seconds[stage] for cost in estimates) for stage in STAGES})
    store = ResultStore()
    for i, run in enumerate(todo):
        bar.start(run.describe())
        new = set(range(run.repetitions)) - set(store.stored(run_key(profile, run), run.repetitions))
        started = time.perf_counter()
        frame = profile.run(run.task, run.embedding, run.classifier, fusion=run.fusion, pooling=run.pooling,
                            train_fraction=run.train_fraction, repetitions=run.repetitions)
        if estimates:
            bar.advance(costs[i], run.describe(), estimated=estimates[i].seconds,
                        actual=_stage_seconds(estimates[i], frame, new, time.perf_counter() - started))
        else:
            bar.advance(costs[i], run.describe())
    bar.close()
    return len(todo)


def _stage_seconds(cost, frame, new, seconds: float) -> dict:
    """The actual seconds of a run per stage: its fits as each new repetition timed itself, the rest extraction
    when the run extracted, else the rest of its fits' stage (reading the cached embeddings, scoring, storing)."""
    stage = "CNN training" if cost.cnn_fits else "classifier fits"
    if cost.seconds["embedding extraction"] <= 0:
        return {stage: seconds}
    fits = float(frame.loc[frame["repetition"].isin(new), "fit_seconds"].sum())
    return {stage: fits, "embedding extraction": max(0.0, seconds - fits)}


def collect(profile, runs, name: str = "runs", *, with_fusion: bool | None = None) -> pd.DataFrame:
    """Every repetition of ``runs`` (loaded, or computed when missing) as one frame, tagged with ``table`` = ``name``,
    ``kind`` (``embedding`` / ``baseline``), ``classifier_name`` and ``row`` (display label; with the fusion when
    ``with_fusion``, by default when the runs have both)."""
    if not runs:
        return pd.DataFrame()
    frame = pd.concat([profile.run(run.task, run.embedding, run.classifier,
                                   fusion=run.fusion, pooling=run.pooling, train_fraction=run.train_fraction,
                                   repetitions=run.repetitions, label=run.label) for run in runs], ignore_index=True)
    if with_fusion is None:
        with_fusion = len({run.fusion for run in runs}) > 1
    frame["table"] = name
    frame["kind"] = ["baseline" if label == "baseline" else "embedding" for label in frame["label"]]
    frame["classifier_name"] = [classifier_name(c) for c in frame["classifier"]]
    frame["row"] = [row_name(label, c, f, with_fusion)
                    for label, c, f in zip(frame["label"], frame["classifier"], frame["fusion"])]
    return frame


def collect_table(profile, table_id: str) -> pd.DataFrame:
    """Every repetition of the profile's Table ``table_id`` (empty frame when the profile does not define it)."""
    spec = profile.table(table_id)
    return collect(profile, table_runs(profile, table_id), table_id,
                   with_fusion=spec is not None and len(spec["fusion"]) > 1)


def collect_curve(profile) -> pd.DataFrame:
    """Every repetition of the learning curve."""
    return collect(profile, curve_runs(profile), "curve", with_fusion=False)
