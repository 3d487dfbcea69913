"""scripts/compare_builds.py: repetitions paired by configuration (not by the key's code fingerprint), exact
differences found, and --moved reporting the cells beyond one standard deviation."""
import json
from pathlib import Path

import pytest

from conftest import load_script


@pytest.fixture(scope="module")
def compare_builds():
    return load_script("compare_builds")


def _store(root: Path, accuracies: dict, *, code: str, files: str = "f0") -> Path:
    """A book root with data/results holding one configuration per ``(classifier, share)`` with these accuracies,
    stored under a digest that depends on the code fingerprint (as the real store's does)."""
    (root / "book" / "_generated").mkdir(parents=True)
    for (classifier, share), values in accuracies.items():
        config = {"task": "D3", "classifier": classifier, "fusion": "late", "pooling": None, "train_fraction": share,
                  "test_size": 0.2, "seed": 0, "precision": None, "code": {"code": code}, "task_files": files,
                  "embedding": {"name": "mfcc", "params": {"n_mfcc": 20}, "code": {"code": code}}}
        folder = root / "data" / "results" / "D3" / f"{code}-{classifier}-{share}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(config))
        for i, value in enumerate(values):
            (folder / f"rep-{i:02d}.json").write_text(json.dumps(
                {**config, "repetition": i, "accuracy": value, "fit_seconds": 1.0 + i}))
    return root


def test_repetitions_pair_by_configuration_across_code_and_exact_differences_are_named(tmp_path, compare_builds):
    a = _store(tmp_path / "a", {("svm", 0.8): [0.80, 0.82], ("cnn", 0.8): [0.6, 0.7]}, code="old")
    same = _store(tmp_path / "same", {("svm", 0.8): [0.80, 0.82], ("cnn", 0.8): [0.6, 0.7]}, code="new")
    other = _store(tmp_path / "other", {("svm", 0.8): [0.80, 0.83], ("cnn", 0.8): [0.6, 0.7]}, code="new")
    assert compare_builds.compare(a, same) == []  # other code, same numbers: the builds agree
    problems = compare_builds.compare(a, other)
    assert problems == ["D3 · mfcc(n_mfcc=20) · svm · late · 80 % · rep 1: accuracy differs"]
    assert compare_builds.main([str(a), str(other)]) == 1 and compare_builds.main([str(a), str(same)]) == 0


def test_moved_lists_cells_beyond_one_std_and_cells_on_one_side(tmp_path, compare_builds):
    # accuracies in percent, as the store keeps them
    before = _store(tmp_path / "b", {("svm", 0.8): [80.0, 84.0], ("cnn", 0.8): [60.0, 70.0],
                                     ("d512", 0.1): [50.0, 50.0]}, code="x")
    after = _store(tmp_path / "c", {("svm", 0.8): [81.0, 85.0], ("cnn(epochs=20)", 0.8): [40.0, 42.0]}, code="y",
                   files="f1")  # the same task with other files (a smaller demo): the same cells
    report = "\n".join(compare_builds.moved(before, after))
    assert compare_builds.compare(before, after)  # but not the same repetitions
    assert "D3 · mfcc(n_mfcc=20) · cnn · late · 80 %: 65.0 -> 41.0 (-24.0 points" in report  # a CNN schedule: one cell
    assert "svm" not in report  # +1 point, within one std (2.8)
    assert "only before: D3 · mfcc(n_mfcc=20) · d512 · late · 10 %" in report
    assert "2 on both sides, 2 moved" in report


def test_a_missing_folder_is_one_line(tmp_path, compare_builds, capsys):
    with pytest.raises(SystemExit):
        compare_builds.main([str(tmp_path), str(tmp_path), "--before-data", str(tmp_path / "nowhere")])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(f"error: before-data {tmp_path / 'nowhere'} is not a folder")
