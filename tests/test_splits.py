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


# ------------------------------------------------------------------------------------------------
# Folder tasks whose recordings span class folders (FolderTask's groups_span_classes)


def _spanning_folder(root):
    """Three classes × 6 recordings of 2 short files each (names unique per class), and one recording, ``shared``,
    with two files in class ``a`` and two in class ``b``."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    names = {label: [f"{label}{g}__{k}" for g in range(6) for k in range(2)] for label in "abc"}
    names["a"] += ["shared__0", "shared__1"]
    names["b"] += ["shared__2", "shared__3"]
    for label, stems in names.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for stem in stems:
            sf.write(root / label / f"{stem}.wav", (0.1 * rng.standard_normal(1600)).astype(np.float32), 16000)
    return root


def _sides_of_shared(task, seeds=range(40)):
    """For each seed, the sides (``"train"``, ``"test"``) that the split puts the shared recording's files on."""
    files = task.files()
    labels, groups = np.array([f.label for f in files]), np.array([f.group for f in files])
    shared = [i for i, f in enumerate(files) if f.path.stem.startswith("shared")]
    sides = []
    for seed in seeds:
        train, test = split_files(labels, groups, seed=seed, classes=task.classes)
        sides.append({"test" if i in test else "train" for i in shared if i in test or i in train})
    return sides


def test_groups_span_classes_makes_one_recording_under_two_class_folders_one_group_that_never_straddles(tmp_path):
    from argparse import Namespace

    from evalkit.cli import _task
    from evalkit.data.tasks import FolderTask

    root = _spanning_folder(tmp_path / "task")
    task = FolderTask.from_folder(root, group_pattern="^(.*)__", groups_span_classes=True)
    files = task.files()
    assert {f.group for f in files if f.path.stem.startswith("shared")} == {"shared"}
    assert len({f.group for f in files}) == 3 * 6 + 1
    sides = _sides_of_shared(task)
    assert all(len(side) == 1 for side in sides)  # all four files on one side, for every seed
    assert {"test"} in sides and {"train"} in sides  # and the shared recording is tested for some seeds
    from_cli = _task(Namespace(task=str(root), group_pattern="^(.*)__", groups_span_classes=True))
    assert [f.group for f in from_cli.files()] == [f.group for f in files]


def test_without_groups_span_classes_a_group_belongs_to_its_class_folder_as_before(tmp_path, tone_task_dir):
    from evalkit.data.tasks import FolderTask

    task = FolderTask.from_folder(_spanning_folder(tmp_path / "task"), group_pattern="^(.*)__")
    assert {f.group for f in task.files() if f.path.stem.startswith("shared")} == {"a/shared", "b/shared"}
    assert all(f.group == f"{f.label}/{f.path.stem.split('__')[0]}" for f in task.files())
    assert any(len(side) == 2 for side in _sides_of_shared(task))  # the leak that the option prevents
    tones = FolderTask.from_folder(tone_task_dir, group_pattern="^(.*)__")  # rec0 … rec3 in every class folder
    assert len({f.group for f in tones.files()}) == 3 * 4 and not tones.groups_span_classes


def test_a_manifest_can_say_that_its_recordings_span_class_folders(tmp_path):
    from evalkit.data.datasets import _build

    manifest = {"id": "T9", "name": "spanning", "classes": ["a", "b", "c"], "layout": "one folder per class",
                "group_pattern": "^(.*)__", "groups_span_classes": True}
    task = _build(manifest, _spanning_folder(tmp_path / "task"))
    assert task.groups_span_classes and len({f.group for f in task.files()}) == 3 * 6 + 1
    assert not _build({**manifest, "groups_span_classes": False}, tmp_path / "task").groups_span_classes
    del manifest["groups_span_classes"]  # the key is optional: off
    assert {f.group for f in _build(manifest, tmp_path / "task").files()} >= {"a/shared", "b/shared"}
