import numpy as np
import pytest

from evalkit.learn.splits import split_files


def _data(n_classes=4, groups_per_class=10, files_per_group=4):
    labels, groups = [], []
    for c in range(n_classes):
        for g in range(groups_per_class):
            labels += [f"c{c}"] * files_per_group
            groups += [f"c{c}/g{g}"] * files_per_group
    return np.array(labels), np.array(groups)


def test_split_is_stratified_and_never_leaks_a_group():
    labels, groups = _data()
    for seed in range(5):
        train, test = split_files(labels, groups, seed=seed)
        assert not set(groups[train]) & set(groups[test])
        assert not set(train) & set(test)
        for c in set(labels):
            n = np.sum(labels == c)
            assert np.sum(labels[test] == c) == pytest.approx(0.2 * n, abs=4)  # whole groups of 4 files
            assert np.sum(labels[train] == c) >= 0.75 * n - 4


def test_split_depends_only_on_seed_and_smaller_shares_are_nested():
    labels, groups = _data()
    train80, test80 = split_files(labels, groups, seed=3, train_fraction=0.8)
    train10, test10 = split_files(labels, groups, seed=3, train_fraction=0.1)
    train40, _ = split_files(labels, groups, seed=3, train_fraction=0.4)
    assert test80.tolist() == test10.tolist()
    assert set(train10) <= set(train40) <= set(train80)
    for c in set(labels):
        assert np.sum(labels[train10] == c) == 4  # 10 % of 40 files per class
    again = split_files(labels, groups, seed=3, train_fraction=0.1)
    assert again[0].tolist() == train10.tolist()
    other = split_files(labels, groups, seed=4, train_fraction=0.1)
    assert other[1].tolist() != test10.tolist()


def test_split_rejects_a_class_with_too_few_groups():
    labels = np.array(["a"] * 6 + ["b"] * 2)
    groups = np.array(["a1"] * 3 + ["a2"] * 3 + ["b1"] * 2)
    with pytest.raises(ValueError, match="class 'b' has 2 file\\(s\\) in 1 recording group"):
        split_files(labels, groups, seed=0)


def test_split_rejects_impossible_fractions():
    labels, groups = _data()
    with pytest.raises(ValueError, match="exceed"):
        split_files(labels, groups, seed=0, train_fraction=0.9)


def test_a_recording_with_files_of_two_classes_never_straddles_the_test_boundary():
    labels, groups = _data(n_classes=3, groups_per_class=10, files_per_group=2)
    groups = np.array([g.split("/")[1] for g in groups])  # g0 … g9 each hold files of all three classes
    for seed in range(10):
        train, test = split_files(labels, groups, seed=seed)
        assert not set(groups[train]) & set(groups[test])
        assert set(labels[test]) == set(labels) and set(labels[train]) == set(labels)
