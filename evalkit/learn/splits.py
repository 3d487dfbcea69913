"""Group-aware, stratified splits: a fixed 20 % test set of whole recordings per seed, nested training shares."""
from __future__ import annotations

import hashlib
import json

import numpy as np

from ..config import ParameterError, check_number

#: Fewest recordings of each class a training share must hold: one would leave a class without variation to learn
#: from (and a network without a recording to validate on).
MIN_TRAINING_RECORDINGS = 2


def _rng(*keys) -> np.random.Generator:
    """A generator seeded from any mix of ints and strings (stable across runs and platforms)."""
    digest = hashlib.sha256(json.dumps(keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def split_files(labels, groups, *, seed: int, test_size: float = 0.2, train_fraction: float = 0.8,
                classes=None) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, group-aware split into training and test files.

    The test set takes whole groups of each class until it holds at least ``test_size`` of the
    class's files; it depends only on ``seed``, so every training share of a repetition is tested on
    the same files. A group with files of several classes (one recording, two labels) is one group: all
    its files are on the same side. Training files are then drawn per class from the remaining files:
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
    ParameterError
        A share out of range, or classes with too few groups for the split or with fewer than
        :data:`MIN_TRAINING_RECORDINGS` recordings in the training share (every such class named at once).
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    check_shares(test_size=test_size, train_fraction=train_fraction)
    classes = sorted(set(labels)) if classes is None else list(classes)
    problems: dict = {}
    # first every class's test groups, then the training files: a group may hold files of several classes (one
    # recording, two labels), and a group that one class puts into the test set takes its files of every class along
    test_groups: set = set()
    for label in classes:
        idx = np.flatnonzero(labels == label)
        class_groups = sorted(set(groups[idx]))
        if len(class_groups) < 2:
            problems[label] = (f"class {str(label)!r} has {len(idx)} file(s) in {len(class_groups)} recording group(s); "
                               "a train/test split needs at least two groups per class")
            continue
        order = _rng("test", seed, str(label)).permutation(len(class_groups))
        target = max(1, int(round(test_size * len(idx))))
        chosen = [g for g in class_groups if g in test_groups]  # taken along by an earlier class
        n_test = int(np.isin(groups[idx], chosen).sum())
        for g in order:
            if n_test >= target or len(chosen) == len(class_groups) - 1:
                break
            if class_groups[g] in test_groups:
                continue
            test_groups.add(class_groups[g])
            chosen.append(class_groups[g])
            n_test += int(np.sum(groups[idx] == class_groups[g]))
    in_test = np.isin(groups, list(test_groups))
    train, test = [], np.flatnonzero(in_test)
    for label in classes:
        if label in problems:
            continue
        idx = np.flatnonzero(labels == label)
        pool = idx[~in_test[idx]]
        n_train = min(len(pool), max(1, int(round(train_fraction * len(idx)))))
        pool = pool[_rng("train", seed, str(label)).permutation(len(pool))]
        recordings = len(set(groups[pool[:n_train]]))
        if recordings < MIN_TRAINING_RECORDINGS:
            problems[label] = (f"class {str(label)!r}: {n_train} training file(s) from {recordings} recording(s) (of its "
                               f"{len(idx)} files in {len(set(groups[idx]))} recordings, "
                               f"{len(set(groups[idx][in_test[idx]]))} of them in the test set)")
        train.extend(pool[:n_train])
    if problems:
        raise ParameterError.with_problems(
            f"train_fraction {train_fraction:g} (seed {seed}) leaves {len(problems)} class(es) without the "
            f"{MIN_TRAINING_RECORDINGS} training recordings a classifier needs: use a larger share or more "
            "recordings", [problems[label] for label in classes if label in problems])
    return np.sort(np.array(train, dtype=int)), np.sort(np.asarray(test, dtype=int))


def check_shares(*, test_size: float, train_fraction: float) -> None:
    """``test_size`` in (0, 1) and ``train_fraction`` in (0, 1 - test_size], or a :class:`ParameterError` giving the
    range."""
    test_size = check_number("", "test_size", test_size, low=0, high=1, low_open=True, high_open=True)
    check_number("", "train_fraction", train_fraction, low=0, high=round(1 - test_size, 9), low_open=True,
                 unit=f"(with a test set of {test_size:g}, a larger share would exceed the data set)")
