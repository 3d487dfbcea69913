"""Splits and experiments: train on a share of a task's files, test on a fixed 20 % of recordings.

:func:`run_experiment` runs one configuration (task × embedding × classifier × fusion × training
share) for several repetitions and stores every finished repetition under the results folder, keyed
by everything that determines it, so reruns skip finished work and an interrupted run resumes.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .cache import EmbeddingCache, extract_embeddings
from .classifiers import class_scores, classifier_spec, get_classifier
from .config import results_dir as default_results_dir
from .embeddings import get_extractor
from .fusion import frame_table, late_fusion, pool_embeddings
from .metrics import balanced_file_accuracy, confusion_matrix_percent
from .tasks import Task, get_task

#: Bump when a change to evalkit (splits, classifiers, fusion, metric) changes results, so stored results are not
#: reused. 2: batch-norm momentum 0.9 in the Han CNN.
RESULTS_VERSION = "2"
FUSIONS = ("late", "early")


def _rng(*keys) -> np.random.Generator:
    """A generator seeded from any mix of ints and strings (stable across runs and platforms)."""
    digest = hashlib.sha256(json.dumps(keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def split_files(labels, groups, *, seed: int, test_size: float = 0.2, train_fraction: float = 0.8,
                classes=None) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, group-aware split into training and test files.

    The test set takes whole groups of each class until it holds at least ``test_size`` of the
    class's files; it depends only on ``seed``, so every training share of a repetition is tested on
    the same files. Training files are then drawn per class from the remaining files:
    ``train_fraction`` of the class's files in the whole data set (0.8 with a 20 % test set: all of
    them). Smaller shares are subsets of larger ones for the same seed.

    Parameters
    ----------
    labels, groups : sequence, shape (n_files,)
    seed : int
    test_size : float
        Share of each class's files in the test set (by whole groups).
    train_fraction : float
        Share of each class's files used for training, relative to the whole data set.

    Returns
    -------
    train, test : np.ndarray of int
        Sorted file indices.

    Raises
    ------
    ValueError
        A class has too few groups or files for the split (named in the message).
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    if not 0 < test_size < 1 or not 0 < train_fraction <= 1:
        raise ValueError(f"test_size and train_fraction must lie in (0, 1); got {test_size}, {train_fraction}")
    if train_fraction > 1 - test_size + 1e-9:
        raise ValueError(f"train_fraction {train_fraction} + test_size {test_size} exceed the data set")
    classes = sorted(set(labels)) if classes is None else list(classes)
    train, test = [], []
    for label in classes:
        idx = np.flatnonzero(labels == label)
        class_groups = sorted(set(groups[idx]))
        if len(class_groups) < 2:
            raise ValueError(f"class {label!r} has {len(idx)} file(s) in {len(class_groups)} recording group(s); "
                             "a train/test split needs at least two groups per class")
        order = _rng("test", seed, str(label)).permutation(len(class_groups))
        target = max(1, int(round(test_size * len(idx))))
        test_groups, n_test = set(), 0
        for g in order:
            if n_test >= target or len(test_groups) == len(class_groups) - 1:
                break
            test_groups.add(class_groups[g])
            n_test += int(np.sum(groups[idx] == class_groups[g]))
        pool = np.array([i for i in idx if groups[i] not in test_groups])
        n_train = min(len(pool), max(1, int(round(train_fraction * len(idx)))))
        pool = pool[_rng("train", seed, str(label)).permutation(len(pool))]
        train.extend(pool[:n_train])
        test.extend(i for i in idx if groups[i] in test_groups)
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def _task_fingerprint(task: Task) -> str:
    files = task.files()
    base = os.path.commonpath([str(f.path) for f in files]) if files else ""
    items = [(os.path.relpath(f.path, base), f.label, f.group, f.path.stat().st_size) for f in files]
    return hashlib.sha256(json.dumps([task.id, task.classes, items]).encode()).hexdigest()[:16]


def experiment_key(task: Task, extractor, classifier: str, fusion: str, pooling: str, train_fraction: float,
                   test_size: float, seed: int) -> dict:
    """Everything that determines a repetition's result (its hash names the results folder)."""
    return {"task": task.id, "task_files": _task_fingerprint(task), "embedding": json.loads(extractor.identity),
            "classifier": classifier_spec(classifier), "fusion": fusion,
            "pooling": pooling if fusion == "early" else None, "train_fraction": float(train_fraction),
            "test_size": float(test_size), "seed": int(seed), "results_version": RESULTS_VERSION}


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def _fit_and_score(classifier, train_emb, y_train, test_emb, fusion, pooling, classes):
    """Train on one split and return per-file class scores of the test files (n_test, n_classes)."""
    if fusion == "early":
        classifier.fit(pool_embeddings(train_emb, pooling), y_train)
        scores = class_scores(classifier, pool_embeddings(test_emb, pooling))
    else:
        frames, file_index = frame_table(train_emb)
        classifier.fit(frames, np.asarray(y_train)[file_index], groups=file_index)
        test_frames, test_index = frame_table(test_emb)
        scores = late_fusion(class_scores(classifier, test_frames), test_index, len(test_emb))
    # Reorder columns to the task's class order (a class absent from training keeps a score of -inf).
    ordered = np.full((len(test_emb), len(classes)), -np.inf)
    for column, label in enumerate(classifier.classes_):
        ordered[:, classes.index(label)] = scores[:, column]
    return ordered


def run_experiment(task, embedding, classifier: str = "svm", *, fusion: str = "late", pooling: str = "mean",
                   train_fraction: float = 0.8, test_size: float = 0.2, repetitions: int = 5, seed: int = 0,
                   cache: EmbeddingCache | None | bool = None, results_dir=None, progress: bool = True,
                   batch_size: int = 16) -> pd.DataFrame:
    """Run one configuration for ``repetitions`` seeds (``seed``, ``seed + 1``, ...).

    Parameters
    ----------
    task : str, path-like or Task
        Task id (``"D2"``), folder of class sub-folders, or a :class:`~evalkit.tasks.Task`.
    embedding : str or Extractor
        Embedding spec, e.g. ``"musicnn-msd"``, ``"mfcc"``, ``"spectrogram"`` (input of the CNNs).
    classifier : str
        ``"svm"``, ``"d128"``, ``"d512"``, ``"cnn"``, ``"cnn-han"``, optionally with parameters.
    fusion : {"late", "early"}
        Late: classify frames and average their scores per file. Early: pool each file's frames
        (``pooling``: ``"mean"`` or ``"mean+std"``) and classify files.
    train_fraction, test_size : float
        See :func:`split_files`.
    repetitions, seed : int
    cache : EmbeddingCache, None (default cache) or False (no caching)
    results_dir : path-like, optional
        Where repetitions are stored; default :func:`evalkit.config.results_dir`. ``False`` stores nothing.

    Returns
    -------
    pandas.DataFrame
        One row per repetition: the parameters, ``accuracy`` (balanced file-wise, percent),
        ``confusion`` (percent of each true class), ``classes``, ``predictions`` (per test file),
        training set sizes, ``fit_seconds`` and ``history`` (training curves of networks).
    """
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, not {fusion!r}")
    task = get_task(task)
    extractor = get_extractor(embedding)
    classifier_spec(classifier)
    get_classifier(classifier)  # fail on an unknown name before any work
    files = task.files()
    labels = np.array([f.label for f in files])
    groups = np.array([f.group for f in files])
    missing = [c for c in task.classes if c not in set(labels)]
    if missing:
        raise ValueError(f"task {task.id}: no files for class(es) {', '.join(missing)}")

    key = experiment_key(task, extractor, classifier, fusion, pooling, train_fraction, test_size, seed)
    store = None
    if results_dir is not False:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        store = Path(results_dir or default_results_dir()) / task.id / digest
        if not (store / "config.json").exists():
            _write_json(store / "config.json", key)

    rows, todo = [], []
    for rep in range(repetitions):
        path = store / f"rep-{rep:02d}.json" if store else None
        if path is not None and path.exists():
            rows.append(json.loads(path.read_text()))
        else:
            todo.append(rep)
    if todo:
        embeddings = [e for e, _ in extract_embeddings([f.path for f in files], extractor, cache=cache,
                                                       batch_size=batch_size, progress=progress)]
        base = os.path.commonpath([str(f.path) for f in files])
        for rep in tqdm(todo, desc=f"{task.id} {extractor.spec} {classifier} {fusion} {train_fraction:g}",
                        disable=not progress, leave=False):
            rep_seed = seed + rep
            train, test = split_files(labels, groups, seed=rep_seed, test_size=test_size,
                                      train_fraction=train_fraction, classes=task.classes)
            model = get_classifier(classifier, random_state=rep_seed)
            if hasattr(model, "input_shape") and extractor.frame_shape is not None:
                model.set_params(input_shape=tuple(extractor.frame_shape))
            started = time.perf_counter()
            scores = _fit_and_score(model, [embeddings[i] for i in train], labels[train],
                                    [embeddings[i] for i in test], fusion, pooling, task.classes)
            fit_seconds = time.perf_counter() - started
            predicted = [task.classes[j] for j in np.argmax(scores, axis=1)]
            row = {**{k: v for k, v in key.items() if k not in ("embedding", "task_files")},
                   "embedding": extractor.spec, "embedding_name": extractor.name, "repetition": rep,
                   "rep_seed": rep_seed, "classes": task.classes,
                   "accuracy": balanced_file_accuracy(labels[test], predicted, task.classes),
                   "confusion": confusion_matrix_percent(labels[test], predicted, task.classes).tolist(),
                   "n_train_files": int(len(train)), "n_test_files": int(len(test)),
                   "n_train_frames": int(sum(len(embeddings[i]) for i in train)),
                   "fit_seconds": fit_seconds, "history": getattr(model, "history_", None),
                   "predictions": [{"file": os.path.relpath(files[i].path, base), "label": labels[i],
                                    "predicted": p, "scores": [float(s) for s in score]}
                                   for i, p, score in zip(test, predicted, scores)]}
            if store is not None:
                _write_json(store / f"rep-{rep:02d}.json", row)
            rows.append(row)
    rows.sort(key=lambda r: r["repetition"])
    return pd.DataFrame(rows)
