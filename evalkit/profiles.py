"""Experiment profiles: which tasks, embeddings, classifiers and tables a book build computes.

A profile is a YAML file (``profiles/demo.yaml``, ``profiles/paper.yaml``, ``profiles/test.yaml`` or any
file of the same schema)::

    name: demo
    tasks: [D1, D2, D3, D4, D5, D6]
    task_params: {}                  # keyword arguments of evalkit.tasks.get_task
    repetitions: 3
    seed: 0
    embeddings: {mfcc: "mfcc", musicnn-msd: "musicnn(model=MSD_musicnn, layer=penultimate)"}
    classifiers: [svm, d128, d512]
    baseline: {default: {embedding: "spectrogram(kind=linear)", classifier: "cnn(epochs=20)"}}
    baseline_repetitions: 2
    tables: {I: {embeddings: [mfcc, musicnn-msd], train_fraction: 0.8, fusion: late, baseline: true}, ...}
    learning_curve: {embeddings: [mfcc], classifier: svm, train_fractions: [0.1, 0.8], repetitions: 2}
    paper_rows: {}                   # profile embedding label -> row keys of data/reference/paper_tables.csv
    teaching: {task: D2, embedding: musicnn-msd}   # optional: the teaching notebook's small example

:func:`load_profile` reads and validates one (every error names the key and the valid choices);
:func:`single_run_profile` builds the profile of a single task × embedding × classifier run, which the
notebooks use when they are run on their own (``papermill ... -p task D2 -p embedding musicnn``).
:meth:`Profile.run` runs one configuration through :func:`evalkit.experiments.run_experiment`, which
stores every repetition, so a configuration several notebooks need is computed once.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .config import REPO_ROOT, parse_spec

#: Profile names that resolve to ``profiles/<name>.yaml``.
NAMED_PROFILES = ("demo", "paper", "test")
TABLE_IDS = ("I", "II", "III", "IV", "V")
TABLE_TITLES = {
    "I": "80 % training data",
    "II": "10 % training data",
    "III": "early vs. late fusion",
    "IV": "same embedding, different training content",
    "V": "small vs. large embedding",
}
FUSIONS = ("late", "early")
POOLINGS = ("mean", "mean+std")
STANDARD_FRACTIONS = [0.05, 0.1, 0.2, 0.4, 0.8]

#: The baseline CNNs when a profile does not say otherwise (T2 / D2 use Han et al.'s architecture).
DEFAULT_BASELINE = {
    "default": {"embedding": "spectrogram(kind=linear, patch_hop=1.0)", "classifier": "cnn(epochs=30, learning_rate=0.003)"},
    "D2": {"embedding": "spectrogram(kind=mel, patch_hop=1.0)", "classifier": "cnn-han(epochs=30, learning_rate=0.003)"},
    "T2": {"embedding": "spectrogram(kind=mel, patch_hop=1.0)", "classifier": "cnn-han(epochs=30, learning_rate=0.003)"},
}

_TOP_KEYS = {"name", "description", "tasks", "task_params", "repetitions", "seed", "embeddings", "classifiers",
             "baseline", "baseline_repetitions", "tables", "learning_curve", "paper_rows", "teaching", "test_size"}
_TABLE_KEYS = {"embeddings", "train_fraction", "fusion", "pooling", "baseline", "classifiers"}
_CURVE_KEYS = {"embeddings", "classifier", "train_fractions", "repetitions", "baseline"}
_TEACHING_KEYS = {"task", "embedding", "train_fractions", "repetitions", "examples_per_class", "cnn_epochs"}
_PAPER_ROW_KEYS = {"embedding", "content", "emb_size"}


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file, the key and what is valid."""


def profiles_dir() -> Path:
    """Folder of the named profiles: ``profiles/`` of the repository (or of the working directory)."""
    for candidate in (REPO_ROOT / "profiles", Path.cwd() / "profiles"):
        if candidate.is_dir():
            return candidate
    return REPO_ROOT / "profiles"


def profile_path(name_or_path) -> Path:
    """The YAML file of a profile name (``demo``, ``paper``, ``test``, any ``profiles/<name>.yaml``) or path."""
    text = str(name_or_path)
    candidate = profiles_dir() / f"{text}.yaml"
    if os.sep not in text and not text.endswith((".yaml", ".yml")) and candidate.exists():
        return candidate
    path = Path(text).expanduser()
    if path.is_file():
        return path
    known = sorted(p.stem for p in profiles_dir().glob("*.yaml"))
    raise ProfileError(f"unknown profile {text!r}; valid profiles: {', '.join(known) or ', '.join(NAMED_PROFILES)} "
                       "(profiles/<name>.yaml) or the path of a profile YAML file")


@dataclass
class Profile:
    """A validated profile. Build it with :func:`load_profile` or :func:`single_run_profile`."""

    name: str
    tasks: list
    embeddings: dict
    description: str = ""
    task_params: dict = field(default_factory=dict)
    repetitions: int = 3
    seed: int = 0
    classifiers: list = field(default_factory=lambda: ["svm"])
    baseline: dict | None = None
    baseline_repetitions: int | None = None
    tables: dict = field(default_factory=dict)
    learning_curve: dict | None = None
    paper_rows: dict = field(default_factory=dict)
    teaching: dict | None = None
    test_size: float = 0.2
    path: Path | None = None
    single_run: bool = False
    _tasks: dict = field(default_factory=dict, repr=False, compare=False)
    _extractors: dict = field(default_factory=dict, repr=False, compare=False)

    # ----------------------------------------------------------------------------------- identity
    def as_dict(self) -> dict:
        """The profile's content (what determines its results), as plain data."""
        keys = ["name", "description", "tasks", "task_params", "repetitions", "seed", "embeddings", "classifiers",
                "baseline", "baseline_repetitions", "tables", "learning_curve", "paper_rows", "teaching", "test_size"]
        return {k: copy.deepcopy(getattr(self, k)) for k in keys}

    @property
    def fingerprint(self) -> str:
        """Hash of the profile's content (16 hex)."""
        text = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def is_demo(self) -> bool:
        """True when the tasks are the demo stand-ins D1–D6 (not the paper's T1–T6)."""
        return all(str(t).upper().startswith("D") and len(str(t)) == 2 for t in self.tasks)

    @property
    def task_ids(self) -> list[str]:
        """Short task ids (a folder task's id is its folder name)."""
        return [self.task(t).id for t in self.tasks]

    # ------------------------------------------------------------------------------------ lookups
    def task(self, task):
        """The :class:`~evalkit.tasks.Task` of a task entry or id (built once, with ``task_params``)."""
        from .tasks import Task, get_task

        if isinstance(task, Task):
            return task
        key = str(task)
        if key not in self._tasks:
            matches = [t for t in self._tasks.values() if t.id == key]  # a folder task asked for by its id
            if matches:
                return matches[0]
            self._tasks[key] = get_task(key, **self.task_params)
        return self._tasks[key]

    def extractor(self, embedding: str):
        """The extractor of a label or spec, built once per profile: a model loaded for one task serves the
        others (musicnn keeps its model in a worker process). :meth:`close` releases them."""
        from .embeddings import get_extractor

        spec = self.spec(embedding)
        if spec not in self._extractors:
            self._extractors[spec] = get_extractor(spec)
        return self._extractors[spec]

    def close(self) -> None:
        """Release the models of :meth:`extractor` (worker processes); they are rebuilt when needed again."""
        for extractor in self._extractors.values():
            extractor.close()

    def spec(self, label: str) -> str:
        """Embedding spec of a label of ``embeddings`` (other strings are taken as specs themselves)."""
        return self.embeddings.get(label, label)

    @property
    def main_classifier(self) -> str:
        """The classifier of the overview figures: the linear SVM if the profile has it."""
        return "svm" if "svm" in self.classifiers else self.classifiers[0]

    def baseline_config(self, task) -> dict:
        """``{"embedding": spec, "classifier": spec}`` of the baseline CNN of a task."""
        if not self.baseline:
            raise ProfileError(f"profile {self.name}: no baseline configured")
        task_id = self.task(task).id
        config = self.baseline.get(task_id) or self.baseline.get(str(task)) or self.baseline.get("default")
        if config is None:
            raise ProfileError(f"profile {self.name}: baseline has no entry for task {task_id} and no 'default'")
        return config

    def table(self, table_id: str) -> dict | None:
        """The normalised spec of table ``table_id`` (fusion as a list, classifiers filled in), or None."""
        spec = self.tables.get(table_id)
        if spec is None:
            return None
        out = dict(spec)
        fusion = out.get("fusion", "late")
        out["fusion"] = [fusion] if isinstance(fusion, str) else list(fusion)
        out.setdefault("pooling", "mean")
        out.setdefault("baseline", False)
        out.setdefault("train_fraction", 0.8)
        out["classifiers"] = list(out.get("classifiers") or self.classifiers)
        return out

    def curve(self) -> dict | None:
        """The normalised learning-curve spec, or None."""
        if not self.learning_curve:
            return None
        out = dict(self.learning_curve)
        out.setdefault("classifier", self.main_classifier)
        out.setdefault("train_fractions", list(STANDARD_FRACTIONS))
        out.setdefault("repetitions", self.repetitions)
        out.setdefault("baseline", bool(self.baseline))
        out.setdefault("embeddings", list(self.embeddings))
        return out

    def teaching_config(self) -> dict:
        """The teaching notebook's small example (one task, one embedding, a few training shares)."""
        curve = self.curve() or {}
        labels = list(self.embeddings)
        default_embedding = next((e for e in reversed(curve.get("embeddings", [])) if e in labels), labels[-1])
        out = {"task": self.tasks[min(1, len(self.tasks) - 1)], "embedding": default_embedding,
               "train_fractions": [0.1, 0.4, 0.8], "repetitions": 1, "examples_per_class": 2, "cnn_epochs": None}
        out.update(self.teaching or {})
        return out

    # ------------------------------------------------------------------------------------ running
    def run(self, task, embedding: str, classifier: str, *, fusion: str = "late", train_fraction: float = 0.8,
            pooling: str = "mean", repetitions: int | None = None, label: str | None = None):
        """Run (or load) one configuration with the profile's seed and repetitions.

        Returns the frame of :func:`evalkit.experiments.run_experiment` with two more columns:
        ``label`` (the embedding's label in this profile) and ``task`` (the task id).
        """
        from .experiments import run_experiment

        task_obj = self.task(task)
        repetitions = self.repetitions if repetitions is None else int(repetitions)
        spec = self.spec(embedding)
        tracking = bool(os.environ.get(RUN_LOG_ENV))
        extractor = self.extractor(embedding)
        folder = _results_folder(task_obj, extractor, classifier, fusion, pooling, train_fraction, self.test_size,
                                 self.seed) if tracking else None
        stored = _stored(folder, repetitions)
        what = f"{task_obj.id} · {label or embedding} · {classifier} · {fusion} · {100 * train_fraction:g} %"
        if tracking and stored < repetitions:  # announce long steps (extraction, CNN training) before they start
            _log_run_entry({"started": True, "what": what, "repetitions": int(repetitions)})
        started = time.perf_counter()
        frame = run_experiment(task_obj, extractor, classifier, fusion=fusion, pooling=pooling,
                               train_fraction=train_fraction, test_size=self.test_size,
                               repetitions=repetitions, seed=self.seed, progress=False)
        if tracking:
            _record_run(folder, repetitions, computed=stored < repetitions, seconds=time.perf_counter() - started,
                        what=what)
        frame = frame.copy()
        frame["label"] = label or embedding
        frame["task"] = task_obj.id
        return frame

    def run_baseline(self, task, *, train_fraction: float = 0.8, repetitions: int | None = None):
        """Run (or load) the baseline CNN of a task; ``label`` is ``"baseline"``."""
        config = self.baseline_config(task)
        if repetitions is None:
            repetitions = self.baseline_repetitions or self.repetitions
        return self.run(task, config["embedding"], config["classifier"], fusion="late",
                        train_fraction=train_fraction, repetitions=repetitions, label="baseline")


# ------------------------------------------------------------------------------------------------
# Which stored results a notebook used: the book build skips a notebook only if they are unchanged.

RUN_LOG_ENV = "EVALKIT_RUN_LOG"


def _results_folder(task, extractor, classifier, fusion, pooling, train_fraction, test_size, seed) -> str | None:
    """Where :func:`evalkit.experiments.run_experiment` stores this configuration's repetitions."""
    try:
        from .config import results_dir
        from .experiments import experiment_key

        key = experiment_key(task, extractor, classifier, fusion, pooling, train_fraction, test_size, seed)
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return str(results_dir() / task.id / digest)
    except Exception:  # noqa: BLE001 - without a folder the build just cannot skip this notebook next time
        return None


def _stored(folder, repetitions) -> int:
    if not folder:
        return 0
    return sum(1 for rep in range(repetitions) if (Path(folder) / f"rep-{rep:02d}.json").exists())


def _record_run(folder, repetitions, *, computed: bool, seconds: float, what: str) -> None:
    """Append a finished configuration to ``$EVALKIT_RUN_LOG`` (set by ``evalkit book``): its results folder,
    so the next build can tell whether the results a notebook read changed, and whether it was computed."""
    if folder and not (Path(folder) / "config.json").exists():
        folder = None  # the key computation disagrees with run_experiment's: do not pretend to track it
    _log_run_entry({"folder": folder, "repetitions": int(repetitions), "computed": bool(computed),
                    "seconds": round(seconds, 2), "what": what})


def _log_run_entry(entry: dict) -> None:
    with open(os.environ[RUN_LOG_ENV], "a") as handle:
        handle.write(json.dumps(entry) + "\n")


# ------------------------------------------------------------------------------------------------
# Loading and validation


def _fail(where: str, message: str):
    raise ProfileError(f"profile {where}: {message}")


def _check_keys(where, data, valid, required=()):
    if not isinstance(data, dict):
        _fail(where, f"expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(valid))
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(valid))}")
    missing = [k for k in required if k not in data]
    if missing:
        _fail(where, f"missing key(s) {', '.join(missing)}")


def _check_fraction(where, value, upper=0.8):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < float(value) <= upper + 1e-9:
        _fail(where, f"training share must be a number in (0, {upper:g}], got {value!r}")
    return float(value)


def _check_int(where, value, minimum=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        _fail(where, f"expected an integer ≥ {minimum}, got {value!r}")
    return value


def _check_spec(where, spec, kind: str, valid) -> None:
    """A component spec string (``NAME(key=value, ...)``) whose name is one of ``valid``."""
    if not isinstance(spec, str):
        _fail(where, f"expected a {kind} spec string, got {spec!r}")
    try:
        name, _ = parse_spec(spec)
    except ValueError as error:
        _fail(where, str(error))
    if name not in valid:
        _fail(where, f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")


def _check_embedding_spec(where, spec):
    from .embeddings import available_extractors

    _check_spec(where, spec, "embedding", available_extractors())


def _check_classifier_spec(where, spec):
    from .classifiers import CLASSIFIERS

    _check_spec(where, spec, "classifier", list(CLASSIFIERS))


def _check_labels(where, labels, embeddings):
    if not isinstance(labels, list) or not labels:
        _fail(where, "expected a non-empty list of embedding labels")
    for label in labels:
        if label not in embeddings:
            _fail(where, f"unknown embedding label {label!r}; the profile's embeddings are {', '.join(embeddings)}")


def validate(data: dict, where: str = "<profile>") -> Profile:
    """Check a profile's data (as read from YAML) and return a :class:`Profile`.

    Raises
    ------
    ProfileError
        Naming the file, the key and what is valid.
    """
    _check_keys(where, data, _TOP_KEYS, required=("name", "tasks", "embeddings"))
    if not isinstance(data["name"], str) or not data["name"]:
        _fail(where, "name: expected a non-empty string")
    tasks = data["tasks"]
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, (str, int)) for t in tasks):
        _fail(f"{where}: tasks", "expected a non-empty list of task ids or folders")
    tasks = [str(t) for t in tasks]
    if len(set(tasks)) != len(tasks):
        _fail(f"{where}: tasks", "a task is listed twice")
    task_params = data.get("task_params") or {}
    if not isinstance(task_params, dict):
        _fail(f"{where}: task_params", "expected a mapping of keyword arguments")
    repetitions = _check_int(f"{where}: repetitions", data.get("repetitions", 3))
    seed = _check_int(f"{where}: seed", data.get("seed", 0), minimum=0)
    test_size = data.get("test_size", 0.2)
    if not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        _fail(f"{where}: test_size", f"expected a number in (0, 1), got {test_size!r}")

    embeddings = data["embeddings"]
    if not isinstance(embeddings, dict) or not embeddings:
        _fail(f"{where}: embeddings", "expected a non-empty mapping label -> embedding spec")
    embeddings = {str(k): v for k, v in embeddings.items()}
    for label, spec in embeddings.items():
        if label == "baseline":
            _fail(f"{where}: embeddings", "'baseline' is reserved for the CNN trained from scratch")
        _check_embedding_spec(f"{where}: embeddings.{label}", spec)

    classifiers = data.get("classifiers", ["svm"])
    if not isinstance(classifiers, list) or not classifiers:
        _fail(f"{where}: classifiers", "expected a non-empty list")
    for i, spec in enumerate(classifiers):
        _check_classifier_spec(f"{where}: classifiers[{i}]", spec)

    baseline = data.get("baseline")
    if baseline is not None:
        if not isinstance(baseline, dict) or not baseline:
            _fail(f"{where}: baseline", "expected a mapping task id (or 'default') -> {embedding, classifier}")
        for key, entry in baseline.items():
            _check_keys(f"{where}: baseline.{key}", entry, {"embedding", "classifier"}, required=("embedding", "classifier"))
            _check_embedding_spec(f"{where}: baseline.{key}.embedding", entry["embedding"])
            _check_classifier_spec(f"{where}: baseline.{key}.classifier", entry["classifier"])
            if key != "default" and key not in tasks and key not in [Path(t).name for t in tasks]:
                _fail(f"{where}: baseline.{key}", f"not a task of the profile ({', '.join(tasks)}) nor 'default'")
        uncovered = [t for t in tasks if t not in baseline and Path(t).name not in baseline] \
            if "default" not in baseline else []
        if uncovered:
            _fail(f"{where}: baseline", f"no entry for task(s) {', '.join(uncovered)}; add them or a 'default'")
        baseline = {str(k): dict(v) for k, v in baseline.items()}
    baseline_repetitions = data.get("baseline_repetitions")
    if baseline_repetitions is not None:
        _check_int(f"{where}: baseline_repetitions", baseline_repetitions)

    tables = data.get("tables") or {}
    if not isinstance(tables, dict):
        _fail(f"{where}: tables", "expected a mapping table id -> spec")
    for table_id, spec in tables.items():
        at = f"{where}: tables.{table_id}"
        if table_id not in TABLE_IDS:
            _fail(at, f"unknown table; valid tables: {', '.join(TABLE_IDS)}")
        _check_keys(at, spec, _TABLE_KEYS, required=("embeddings",))
        _check_labels(f"{at}.embeddings", spec["embeddings"], embeddings)
        _check_fraction(f"{at}.train_fraction", spec.get("train_fraction", 0.8), 1 - test_size)
        fusion = spec.get("fusion", "late")
        for f in [fusion] if isinstance(fusion, str) else fusion:
            if f not in FUSIONS:
                _fail(f"{at}.fusion", f"unknown fusion {f!r}; valid: {', '.join(FUSIONS)}")
        if spec.get("pooling", "mean") not in POOLINGS:
            _fail(f"{at}.pooling", f"unknown pooling {spec['pooling']!r}; valid: {', '.join(POOLINGS)}")
        if spec.get("baseline") and not baseline:
            _fail(f"{at}.baseline", "the table asks for the baseline but the profile has no 'baseline'")
        for i, clf in enumerate(spec.get("classifiers") or []):
            _check_classifier_spec(f"{at}.classifiers[{i}]", clf)
        if table_id in ("IV", "V") and len(spec["embeddings"]) != 2:
            _fail(f"{at}.embeddings", "tables IV and V compare exactly two embeddings")

    curve = data.get("learning_curve")
    if curve is not None:
        at = f"{where}: learning_curve"
        _check_keys(at, curve, _CURVE_KEYS)
        _check_labels(f"{at}.embeddings", curve.get("embeddings", list(embeddings)), embeddings)
        if "classifier" in curve:
            _check_classifier_spec(f"{at}.classifier", curve["classifier"])
        fractions = curve.get("train_fractions", STANDARD_FRACTIONS)
        if not isinstance(fractions, list) or not fractions:
            _fail(f"{at}.train_fractions", "expected a non-empty list")
        for f in fractions:
            _check_fraction(f"{at}.train_fractions", f, 1 - test_size)
        if "repetitions" in curve:
            _check_int(f"{at}.repetitions", curve["repetitions"])
        if curve.get("baseline") and not baseline:
            _fail(f"{at}.baseline", "the learning curve asks for the baseline but the profile has no 'baseline'")

    paper_rows = data.get("paper_rows") or {}
    if not isinstance(paper_rows, dict):
        _fail(f"{where}: paper_rows", "expected a mapping embedding label -> row keys")
    for label, keys in paper_rows.items():
        at = f"{where}: paper_rows.{label}"
        if label not in embeddings:
            _fail(at, f"unknown embedding label; the profile's embeddings are {', '.join(embeddings)}")
        _check_keys(at, keys, _PAPER_ROW_KEYS, required=("embedding",))

    teaching = data.get("teaching")
    if teaching is not None:
        at = f"{where}: teaching"
        _check_keys(at, teaching, _TEACHING_KEYS)
        if "embedding" in teaching:
            _check_labels(f"{at}.embedding", [teaching["embedding"]], embeddings)
        for f in teaching.get("train_fractions", []):
            _check_fraction(f"{at}.train_fractions", f, 1 - test_size)

    return Profile(name=data["name"], description=str(data.get("description") or ""), tasks=tasks,
                   task_params=dict(task_params), repetitions=repetitions, seed=seed, embeddings=embeddings,
                   classifiers=list(classifiers), baseline=baseline, baseline_repetitions=baseline_repetitions,
                   tables={k: dict(v) for k, v in tables.items()}, learning_curve=dict(curve) if curve else None,
                   paper_rows={k: dict(v) for k, v in paper_rows.items()}, teaching=dict(teaching) if teaching else None,
                   test_size=float(test_size))


def load_profile(name_or_path) -> Profile:
    """Read and validate a profile: ``"demo"``, ``"paper"``, ``"test"`` (``profiles/<name>.yaml``) or a YAML path.

    A :class:`Profile` is returned as is.
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    path = profile_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ProfileError(f"profile {path}: not valid YAML: {error}") from None
    profile = validate(data or {}, where=str(path.name if path.parent == profiles_dir() else path))
    profile.path = path
    return profile


def single_run_profile(task="D2", embedding: str = "musicnn", classifier: str = "svm", *, repetitions: int = 3,
                       seed: int = 0, baseline: bool = True, train_fractions=None, task_params=None) -> Profile:
    """The profile of one task × embedding × classifier (what a notebook runs on its own).

    Tables I–III use the one embedding (Tables IV and V need two and are left out); the learning
    curve uses the embedding, the classifier and, with ``baseline``, the CNN of
    :data:`DEFAULT_BASELINE`, trained once per training share (the expensive part).
    """
    task, label = str(task), str(embedding)
    data = {
        "name": "single run", "description": f"one configuration: task {task}, embedding {label}, classifier {classifier}",
        "tasks": [task], "task_params": dict(task_params or {}), "repetitions": int(repetitions), "seed": int(seed),
        "embeddings": {label: label}, "classifiers": [classifier], "baseline_repetitions": 1,
        "tables": {
            "I": {"embeddings": [label], "train_fraction": 0.8, "fusion": "late", "baseline": bool(baseline)},
            "II": {"embeddings": [label], "train_fraction": 0.1, "fusion": "late", "baseline": bool(baseline)},
            "III": {"embeddings": [label], "train_fraction": 0.8, "fusion": ["late", "early"], "pooling": "mean"},
        },
        "learning_curve": {"embeddings": [label], "classifier": classifier,
                           "train_fractions": list(train_fractions or STANDARD_FRACTIONS),
                           "repetitions": int(repetitions), "baseline": bool(baseline)},
        "teaching": {"task": task, "embedding": label},
    }
    if baseline:
        data["baseline"] = {k: v for k, v in DEFAULT_BASELINE.items() if k == "default" or k == task}
    profile = validate(data, where="(single run)")
    profile.single_run = True
    return profile


def resolve_profile(profile=None, *, task="D2", embedding="musicnn", classifier="svm", repetitions=3, seed=0,
                    baseline=True, group_pattern=None) -> Profile:
    """What a notebook's parameters ask for: the named/file ``profile`` if given, else a single run of
    ``task`` × ``embedding`` × ``classifier`` (``group_pattern``: recording groups of a folder task)."""
    if profile not in (None, "", "none", "None"):
        return load_profile(profile)
    params = {"group_pattern": group_pattern} if group_pattern else {}
    return single_run_profile(task, embedding, classifier, repetitions=repetitions, seed=seed, baseline=baseline,
                              task_params=params)
