"""Experiments: train on a share of a task's files, test on a fixed 20 % of its recordings.

:func:`run_experiment` runs one configuration (task × embedding × classifier × fusion × training share) for several
repetitions and keeps every finished repetition in a :class:`~evalkit.learn.store.ResultStore`, keyed by everything
that determines it (:func:`experiment_key`), so reruns skip finished work and an interrupted run resumes.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import time

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import ParameterError, check_choice, check_number, warn
from ..data.registry import get_task
from ..data.tasks import Task
from ..embed.cache import EmbeddingCache, extract_embeddings
from ..embed.registry import get_extractor
from ..provenance import code_fingerprint
from .classifiers import class_scores
from .fusion import frame_table, late_fusion, pool_embeddings
from .metrics import balanced_file_accuracy, confusion_matrix_percent
from .registry import classifier_spec, get_classifier
from .splits import check_shares, split_files
from .store import ResultStore

FUSIONS = ("late", "early")
POOLINGS = ("mean", "mean+std")


def task_fingerprint(task: Task) -> str:
    """16 hex identifying a task's files (relative paths, labels, groups, sizes): new or changed data change it."""
    files = task.files()
    base = os.path.commonpath([str(f.path) for f in files]) if files else ""
    items = [(os.path.relpath(f.path, base), f.label, f.group, f.path.stat().st_size) for f in files]
    return hashlib.sha256(json.dumps([task.id, task.classes, items]).encode()).hexdigest()[:16]


def experiment_key(task: Task, extractor, classifier, fusion: str, pooling: str, train_fraction: float,
                   test_size: float, seed: int, *, fingerprint: str | None = None) -> dict:
    """Everything that determines a repetition's result (its hash names its folder in the
    :class:`~evalkit.learn.store.ResultStore`); ``fingerprint``: the task's :func:`task_fingerprint`, if known.

    Besides the parameters: the code that trains and scores (this module and the evalkit.learn modules it uses,
    with the classifier's own; :func:`evalkit.provenance.code_fingerprint`), the versions of the packages it uses,
    and the arithmetic a network computes in on this machine (``precision``: a CNN's ``"auto"`` is bfloat16 where
    the CPU has it natively, float32 elsewhere), so that no stored result is reused for code or arithmetic that
    would compute another one. The embedding's identity carries the code that extracts it in the same way."""
    probe = get_classifier(classifier)
    precision = probe.resolved_precision() if hasattr(probe, "resolved_precision") else None
    return {"task": task.id, "task_files": fingerprint or task_fingerprint(task), "embedding": json.loads(extractor.identity),
            "classifier": classifier_spec(classifier), "fusion": fusion,
            "pooling": pooling if fusion == "early" else None, "train_fraction": float(train_fraction),
            "test_size": float(test_size), "seed": int(seed), "precision": precision,
            "code": code_fingerprint(sys.modules[__name__], type(probe), within=("evalkit.learn",))}


def _fit_and_score(classifier, train_emb, y_train, test_emb, fusion, pooling, classes, groups_train=None):
    """Train on one split and return per-file class scores of the test files (n_test, n_classes).

    ``groups_train`` (recording of each training file; default: each file its own) keeps the validation sets of
    networks free of recordings they train on; a classifier whose ``fit`` takes ``files`` also gets each frame's
    file."""
    groups_train = np.arange(len(train_emb)) if groups_train is None else np.asarray(groups_train)
    if fusion == "early":
        classifier.fit(pool_embeddings(train_emb, pooling), y_train, groups=groups_train)
        scores = class_scores(classifier, pool_embeddings(test_emb, pooling))
    else:
        frames, file_index = frame_table(train_emb)
        extra = {"files": file_index} if "files" in inspect.signature(classifier.fit).parameters else {}
        classifier.fit(frames, np.asarray(y_train)[file_index], groups=groups_train[file_index], **extra)
        test_frames, test_index = frame_table(test_emb)
        scores = late_fusion(class_scores(classifier, test_frames), test_index, len(test_emb))
    # Reorder columns to the task's class order (a class absent from training keeps a score of -inf).
    ordered = np.full((len(test_emb), len(classes)), -np.inf)
    for column, label in enumerate(classifier.classes_):
        ordered[:, classes.index(label)] = scores[:, column]
    return ordered


def check_options(*, fusion: str = "late", pooling: str = "mean", train_fraction: float = 0.8, test_size: float = 0.2,
                  repetitions: int = 5, seed: int = 0, batch_size: int = 16) -> None:
    """Check the options of :func:`run_experiment` that need neither task nor models: each in its range, and no
    option that the others would silently ignore.

    Raises
    ------
    ParameterError
        The option, its value and what is valid.
    """
    check_choice("", "fusion", fusion, FUSIONS)
    check_choice("", "pooling", pooling, POOLINGS)
    if fusion == "late" and pooling != "mean":
        raise ParameterError(f"pooling {pooling!r} is for early fusion: late fusion classifies every frame and averages "
                             "the class scores per file; use fusion 'early' or leave pooling out")
    repetitions = check_number("", "repetitions", repetitions, low=1, whole=True)
    check_number("", "seed", seed, low=0, high=2**32 - repetitions, whole=True)  # seeds seed … seed + repetitions - 1
    check_shares(test_size=test_size, train_fraction=train_fraction)
    check_number("", "batch_size", batch_size, low=1, whole=True)


def check_experiment(task, embedding=None, classifier: str = "svm", *, fusion: str = "late", pooling: str = "mean",
                     train_fraction: float = 0.8, test_size: float = 0.2, repetitions: int = 5, seed: int = 0,
                     batch_size: int = 16, progress: bool = True):
    """Check a configuration of :func:`run_experiment` as a whole before any work, cheapest first: the options
    (:func:`check_options`), the classifier's and the embedding's parameters, that they fit together, then the
    task's files (:meth:`~evalkit.data.tasks.Task.check`: generates a demo task first) and every repetition's split.

    Silent or constant files and files shorter than the embedding's window are one-line warnings.

    Returns
    -------
    task : Task
    extractor : Extractor
        ``embedding`` if it is one, else built from the spec (the caller closes it).

    Raises
    ------
    EvalkitError
        One line naming the option, parameter, file or class and the problem; a task's problems all at once.
    """
    check_options(fusion=fusion, pooling=pooling, train_fraction=train_fraction, test_size=test_size,
                  repetitions=repetitions, seed=seed, batch_size=batch_size)
    probe = get_classifier(classifier)  # an unknown name or a parameter out of its range
    if embedding is None:
        embedding = getattr(probe, "default_input", None)
        if embedding is None:
            raise ParameterError(f"classifier {classifier!r} has no input of its own: give an embedding")
    extractor = get_extractor(embedding)
    if hasattr(probe, "input_shape"):  # a network that learns from spectrogram patches (BaselineCNN)
        if extractor.frame_shape is None:
            raise ParameterError(f"classifier {classifier!r} learns from spectrogram patches, not from {extractor.spec}: "
                                 "use a spectrogram embedding (cnn-input-t3, cnn-input-t1, cnn-input-han) or none")
        if fusion != "late":
            raise ParameterError(f"classifier {classifier!r} classifies spectrogram patches and averages their scores "
                                 "per file: late fusion only (early fusion would average the patches themselves)")
    task = get_task(task)
    task.prepare(progress=progress)
    durations = task.check(progress=progress).durations
    short = int(np.sum(durations < extractor.window - 1e-9))
    if short:
        warn(f"task {task.id}: {short} of {len(durations)} files are shorter than the {extractor.window:g}-s window of "
             f"{extractor.spec} and are zero-padded to one frame")
    labels = np.array([f.label for f in task.files()])
    groups = np.array([f.group for f in task.files()])
    for rep in range(repetitions):
        split_files(labels, groups, seed=seed + rep, test_size=test_size, train_fraction=train_fraction,
                    classes=task.classes)
    return task, extractor


def run_experiment(task, embedding=None, classifier: str = "svm", *, fusion: str = "late", pooling: str = "mean",
                   train_fraction: float = 0.8, test_size: float = 0.2, repetitions: int = 5, seed: int = 0,
                   cache: EmbeddingCache | None | bool = None, store: ResultStore | None | bool = None,
                   progress: bool = True,
                   batch_size: int = 16) -> pd.DataFrame:
    """Run one configuration for ``repetitions`` seeds (``seed``, ``seed + 1``, ...).

    Parameters
    ----------
    task : str, path-like or Task
        Task id (``"D2"``), folder of class sub-folders, or a :class:`~evalkit.data.tasks.Task`.
    embedding : str, Extractor or None
        Embedding spec, e.g. ``"musicnn-msd"``, ``"mfcc"``, ``"cnn-input-t3"`` (spectrogram patches, input of the
        CNNs). None: the classifier's own input (its ``default_input``; the CNNs have one). An extractor built here
        from a spec is closed after the extraction; one passed in stays open (its owner closes it).
    classifier : str
        ``"svm"``, ``"d128"``, ``"d512"``, ``"cnn"``, ``"cnn-han"``, optionally with parameters.
    fusion : {"late", "early"}
        Late: classify frames and average their scores per file. Early: pool each file's frames
        (``pooling``: ``"mean"`` or ``"mean+std"``) and classify files.
    train_fraction, test_size : float
        See :func:`split_files`.
    repetitions, seed : int
    cache : EmbeddingCache, None (default cache) or False (no caching)
    store : ResultStore, None or False
        Where finished repetitions are kept and found: None, the default store (``<data>/results``); False, none.

    Returns
    -------
    pandas.DataFrame
        One row per repetition: the parameters, ``accuracy`` (balanced file-wise, percent),
        ``confusion`` (percent of each true class), ``classes``, ``predictions`` (per test file),
        training set sizes, ``fit_seconds`` and ``history`` (training curves of networks).
    """
    if store is None or store is True:
        store = ResultStore()
    # a folder that cannot take files stops the run before any audio is generated or embedded
    if store:
        store.check_writable()
    if cache is not False:
        (cache if isinstance(cache, EmbeddingCache) else EmbeddingCache()).check_writable()
    task, extractor = check_experiment(task, embedding, classifier, fusion=fusion, pooling=pooling,
                                       train_fraction=train_fraction, test_size=test_size, repetitions=repetitions,
                                       seed=seed, batch_size=batch_size, progress=progress)
    files = task.files()
    labels = np.array([f.label for f in files])
    groups = np.array([f.group for f in files])

    key = experiment_key(task, extractor, classifier, fusion, pooling, train_fraction, test_size, seed)

    rows, todo = [], []
    for rep in range(repetitions):
        row = store.load(key, rep) if store else None
        if row is None:
            todo.append(rep)
        else:
            rows.append(row)
    if todo:
        try:
            embeddings = [e for e, _ in extract_embeddings([f.path for f in files], extractor, cache=cache,
                                                           batch_size=batch_size, progress=progress)]
        finally:
            if extractor is not embedding:  # built here from a spec: release its model before training
                extractor.close()
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
                                    [embeddings[i] for i in test], fusion, pooling, task.classes, groups[train])
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
            if store:
                store.save(key, rep, row)
            rows.append(row)
    rows.sort(key=lambda r: r["repetition"])
    return pd.DataFrame(rows)
