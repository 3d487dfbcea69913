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
    claims: {embedding: musicnn-msd, classifier: svm}  # optional: what plays "OpenL3 + SVM" in the paper's claims

:func:`load_profile` reads and validates one (every error names the key and the valid choices);
:func:`single_run_profile` builds the profile of a single task × embedding × classifier run, which the
notebooks use when they are run on their own (``papermill ... -p task D2 -p embedding musicnn``).
:meth:`Profile.run` loads (or computes) one configuration through :func:`evalkit.learn.run_experiment`.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from ..config import parse_spec, resource_path
from ..embed.registry import EMBEDDINGS
from ..learn.registry import CLASSIFIERS
from .profile import (_CLAIMS_KEYS, _CURVE_KEYS, _PAPER_ROW_KEYS, _TABLE_KEYS, _TEACHING_KEYS, _TOP_KEYS, DEFAULT_BASELINE, FUSIONS,
                      NAMED_PROFILES, POOLINGS, STANDARD_FRACTIONS, TABLE_IDS, TEACHING_FRACTIONS, Profile,
                      ProfileError)

def profiles_dir() -> Path:
    """Folder of the named profiles: ``profiles/`` of the checkout, or its copy inside the installed package."""
    return resource_path("profiles")


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
    _check_spec(where, spec, "embedding", EMBEDDINGS.names())


def _check_classifier_spec(where, spec):
    _check_spec(where, spec, "classifier", CLASSIFIERS.names())


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
        _check_baseline_shares(f"{at}.baseline", curve.get("baseline", False), fractions, bool(baseline))

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
        if "classifier" in teaching:
            _check_classifier_spec(f"{at}.classifier", teaching["classifier"])
        if "embedding" in teaching:
            _check_labels(f"{at}.embedding", [teaching["embedding"]], embeddings)
        for f in teaching.get("train_fractions", []):
            _check_fraction(f"{at}.train_fractions", f, 1 - test_size)
        if "baseline" in teaching:
            _check_baseline_shares(f"{at}.baseline", teaching["baseline"],
                                   teaching.get("train_fractions", TEACHING_FRACTIONS), bool(baseline))

    roles = data.get("claims") or {}
    if not isinstance(roles, dict):
        _fail(f"{where}: claims", "expected a mapping {embedding: label, classifier: name}")
    _check_keys(f"{where}: claims", roles, _CLAIMS_KEYS)
    if "embedding" in roles:
        _check_labels(f"{where}: claims.embedding", [roles["embedding"]], embeddings)
    if "classifier" in roles and roles["classifier"] not in classifiers:
        _fail(f"{where}: claims.classifier", f"{roles['classifier']!r} is not one of the profile's classifiers "
                                             f"({', '.join(map(str, classifiers))})")

    return Profile(name=data["name"], description=str(data.get("description") or ""), tasks=tasks,
                   task_params=dict(task_params), repetitions=repetitions, seed=seed, embeddings=embeddings,
                   classifiers=list(classifiers), baseline=baseline, baseline_repetitions=baseline_repetitions,
                   tables={k: dict(v) for k, v in tables.items()}, learning_curve=dict(curve) if curve else None,
                   paper_rows={k: dict(v) for k, v in paper_rows.items()}, teaching=dict(teaching) if teaching else None,
                   test_size=float(test_size), claims=dict(roles))


def _check_baseline_shares(at: str, value, fractions, profile_has_baseline: bool) -> None:
    """``baseline`` of the learning curve or the teaching chapter: true, false, or the shares (among
    ``fractions``) at which the CNN is trained."""
    if isinstance(value, list):
        for f in value:
            if f not in fractions:
                _fail(at, f"share {f!r} is not one of the train_fractions ({', '.join(map(str, fractions))})")
    elif not isinstance(value, bool):
        _fail(at, f"expected true, false or a list of shares among train_fractions, not {value!r}")
    if value and not profile_has_baseline:
        _fail(at, "asks for the baseline but the profile has no 'baseline'")


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
        "teaching": {"task": task, "embedding": label, "classifier": classifier, "repetitions": int(repetitions)},
        # the run's own configuration plays the claims' "OpenL3 + SVM": chosen with the parameters, before any result
        "claims": {"embedding": label, "classifier": classifier},
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
