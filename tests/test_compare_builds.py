"""scripts/compare_builds.py: repetitions paired by configuration (not by the key's code fingerprint), exact
differences found, --moved reporting the cells beyond one standard deviation, and build records that compare as
the builds they were written from."""
import gzip
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
    load = compare_builds.load
    assert compare_builds.compare(load(a), load(same)) == []  # other code, same numbers: the builds agree
    problems = compare_builds.compare(load(a), load(other))
    assert problems == ["D3 · mfcc(n_mfcc=20) · svm · late · 80 % · rep 1: accuracy differs"]
    assert compare_builds.main([str(a), str(other)]) == 1 and compare_builds.main([str(a), str(same)]) == 0
    for config in (a / "data" / "results").rglob("*.json"):  # a store before 14c7140 named its code's version
        config.write_text(json.dumps({**json.loads(config.read_text()), "results_version": "9"}))
    assert compare_builds.compare(load(a), load(same)) == []


def test_moved_lists_cells_beyond_one_std_and_cells_on_one_side(tmp_path, compare_builds):
    # accuracies in percent, as the store keeps them
    before = _store(tmp_path / "b", {("svm", 0.8): [80.0, 84.0], ("cnn", 0.8): [60.0, 70.0],
                                     ("d512", 0.1): [50.0, 50.0]}, code="x")
    after = _store(tmp_path / "c", {("svm", 0.8): [81.0, 85.0], ("cnn(epochs=20)", 0.8): [40.0, 42.0]}, code="y",
                   files="f1")  # the same task with other files (a smaller demo): the same cells
    before, after = compare_builds.load(before), compare_builds.load(after)
    report = "\n".join(compare_builds.moved(before, after))
    assert compare_builds.compare(before, after)  # but not the same repetitions
    assert "D3 · mfcc(n_mfcc=20) · cnn · late · 80 %: 65.0 -> 41.0 (-24.0 points" in report  # a CNN schedule: one cell
    assert "svm" not in report  # +1 point, within one std (2.8)
    assert "only before: D3 · mfcc(n_mfcc=20) · d512 · late · 10 %" in report
    assert "2 on both sides, 2 moved" in report


def _notebook(root: Path, name: str, glued: dict, table: str) -> None:
    """A generated notebook with glued values (as myst-nb's glue stores them) and one HTML table."""
    outputs = [{"output_type": "display_data", "metadata": {"scrapbook": {"name": key}},
                "data": {"text/plain": value}} for key, value in glued.items()]
    outputs.append({"output_type": "display_data", "metadata": {}, "data": {"text/html": table}})
    (root / "book" / "_generated" / name).write_text(json.dumps({"cells": [{"outputs": outputs}]}))


def test_a_record_compares_as_the_build_it_was_written_from(tmp_path, compare_builds, capsys):
    build = _store(tmp_path / "a", {("svm", 0.8): [80.0, 82.0], ("cnn", 0.1): [60.0, 70.0]}, code="old")
    _notebook(build, "tables.ipynb", {"best": "'82.0'"}, "<table><tr><td>svm</td><td>81.0 ± 1.4</td></tr></table>")
    record = tmp_path / "records" / "a.json.gz"
    assert compare_builds.main(["--record", str(record), str(build), "--note", "machine x"]) == 0
    first = record.read_bytes()
    compare_builds.main(["--record", str(record), str(build)])
    assert record.read_bytes() != first  # the note is part of the record ...
    compare_builds.main(["--record", str(record), str(build), "--note", "machine x"])
    assert record.read_bytes() == first  # ... and the same build and note give the same bytes
    saved = compare_builds.load(record)
    assert saved["note"] == "machine x" and len(saved["repetitions"]) == 4
    assert saved["notebooks"]["tables.ipynb"] == {"glued": {"best": "'82.0'"}, "cells": ["svm", "81.0 ± 1.4"]}
    assert compare_builds.main([str(record), str(build)]) == 0  # record against its own build: they agree

    # the same configurations computed by other code, one accuracy and one table cell different
    other = _store(tmp_path / "b", {("svm", 0.8): [80.0, 83.0], ("cnn", 0.1): [60.0, 70.0]}, code="new")
    _notebook(other, "tables.ipynb", {"best": "'83.0'"}, "<table><tr><td>svm</td><td>81.5 ± 2.1</td></tr></table>")
    capsys.readouterr()
    assert compare_builds.main([str(record), str(other)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS: D3 · mfcc(n_mfcc=20) · svm · late · 80 % · rep 1: accuracy differs" in out
    assert "DIFFERS: tables.ipynb: glued best: \"'82.0'\" -> \"'83.0'\"" in out
    assert "table cells differ: ['81.0 ± 1.4'] -> ['81.5 ± 2.1']" in out
    # a cell that quotes measured times (the size claim's cost) differs between two runs of one build: not compared
    timed = _store(tmp_path / "c", {("svm", 0.8): [80.0, 82.0], ("cnn", 0.1): [60.0, 70.0]}, code="new")
    _notebook(timed, "tables.ipynb", {"best": "'82.0'"}, "<table><tr><td>svm</td><td>81.0 ± 1.4</td></tr>"
              "<tr><td>cost: A 0.00974 s per audio-second, A/B = 1.04; training 0.31 s (A)</td></tr></table>")
    _notebook(build, "tables.ipynb", {"best": "'82.0'"}, "<table><tr><td>svm</td><td>81.0 ± 1.4</td></tr>"
              "<tr><td>cost: A 0.00937 s per audio-second, A/B = 1.00; training 0.30 s (A)</td></tr></table>")
    assert compare_builds.compare(compare_builds.load(build), compare_builds.load(timed)) == []
    report = compare_builds.moved(saved, compare_builds.load(other))  # 81 -> 81.5: within one std
    assert report[-1] == "table cells: 2 on both sides, 0 moved beyond one std or on one side only:"


@pytest.mark.parametrize("arguments, message", [
    (["{tmp}", "{tmp}", "--before-data", "{tmp}/nowhere"], "before-data {tmp}/nowhere is not a folder"),
    (["{tmp}/empty", "{tmp}"], "before {tmp}/empty holds no built book (book/_generated): build it or name a record"),
    (["{tmp}/notes.txt", "{tmp}"], "before {tmp}/notes.txt is a file but not a build record (.json.gz)"),
    (["{tmp}/r.json.gz", "{tmp}", "--before-data", "{tmp}"],
     "before {tmp}/r.json.gz is a build record: it holds its data, --before-data does not apply"),
    (["{tmp}"], "two builds to compare are needed (or --record FILE with one)"),
    (["--record", "{tmp}/r.json", "{tmp}"], "--record {tmp}/r.json: a build record's name ends in .json.gz"),
    (["--record", "{tmp}/r.json.gz", "{tmp}", "{tmp}"], "--record takes one build and compares nothing"),
    (["{tmp}", "{tmp}", "--data", "{tmp}"],
     "--data and --note describe the build --record writes; to compare, use --before-data/--after-data"),
    (["{tmp}/r.json.gz", "{tmp}"], "before {tmp}/r.json.gz is not a readable build record: "),  # empty: cut short
    (["{tmp}", "{tmp}/old.json.gz"], "after {tmp}/old.json.gz: a build record of format 7; this script reads format 1"),
])
def test_bad_arguments_are_one_line(tmp_path, compare_builds, capsys, arguments, message):
    (tmp_path / "book" / "_generated").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "r.json.gz").write_bytes(b"")
    with gzip.open(tmp_path / "old.json.gz", "wt") as stream:
        json.dump({"record": 7, "repetitions": {}, "notebooks": {}, "claims": {}}, stream)
    with pytest.raises(SystemExit):
        compare_builds.main([a.format(tmp=tmp_path) for a in arguments])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    expected = "error: " + message.format(tmp=tmp_path)
    assert error.endswith(expected) if not expected.endswith(": ") else expected in error
