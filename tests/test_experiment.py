"""End to end: tasks -> cached embeddings -> classifiers -> fusion -> stored, reusable results."""
import json

import numpy as np
import pandas as pd
import pytest

from evalkit import ResultStore, run_experiment
from evalkit.embed.handcrafted import MFCCExtractor
from evalkit.learn.classifiers import LinearSVM
from evalkit.book.summary import mean_confusion_frame, summarize
from evalkit.learn.metrics import largest_class_share


@pytest.fixture(scope="module")
def results(tone_task_dir, session_cache, tmp_path_factory):
    store = tmp_path_factory.mktemp("results")
    frames = [run_experiment(tone_task_dir, "mfcc", clf, fusion=fusion, train_fraction=0.8, repetitions=2,
                             cache=session_cache, store=ResultStore(store), progress=False)
              for clf in ("svm", "d128") for fusion in ("late", "early")]
    return store, pd.concat(frames, ignore_index=True)


def test_rows_are_tidy_and_accuracy_is_well_above_chance(results):
    _, df = results
    assert len(df) == 8 and set(df.fusion) == {"late", "early"}
    assert (df[df.classifier == "svm"].accuracy > 80).all()  # chance is 33 %
    assert df.accuracy.mean() > 75  # the dense net sees only 18 training files here
    for row in df.itertuples():
        assert np.asarray(row.confusion).shape == (3, 3)
        assert row.n_test_files == len(row.predictions) == 6  # one group of 2 files per class
        assert {p["label"] for p in row.predictions} == {"low", "mid", "high"}
    table = summarize(df)
    assert len(table) == 4 and table["repetitions"].eq(2).all()
    confusion = mean_confusion_frame(df[(df.classifier == "svm") & (df.fusion == "late")])
    assert list(confusion.index) == ["high", "low", "mid"]  # folder classes: sorted sub-folder names
    np.testing.assert_allclose(confusion.sum(axis=1), 100)
    for row in df[df.classifier == "svm"].itertuples():  # its most predicted class has 2 or 3 of the 6 test files
        assert largest_class_share([p["predicted"] for p in row.predictions]) in (2 / 6, 3 / 6)
    assert largest_class_share(["low"] * 4) == 1.0  # a collapse


def test_reruns_reuse_stored_repetitions(results, tone_task_dir, session_cache, monkeypatch):
    store, df = results
    assert len(list(store.rglob("rep-*.json"))) == 8
    calls = []
    original = LinearSVM.fit
    monkeypatch.setattr(LinearSVM, "fit", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    again = run_experiment(tone_task_dir, "mfcc", "svm", repetitions=3, cache=session_cache,
                           store=ResultStore(store), progress=False)
    assert len(calls) == 1  # only the new third repetition was trained
    first = df[(df.classifier == "svm") & (df.fusion == "late")].accuracy.tolist()
    assert again.accuracy.tolist()[:2] == first


def test_same_parameters_give_the_same_numbers(tone_task_dir, session_cache):
    a = run_experiment(tone_task_dir, "mfcc", "d128", train_fraction=0.4, repetitions=2, seed=7,
                       cache=session_cache, store=False, progress=False)
    b = run_experiment(tone_task_dir, "mfcc", "d128", train_fraction=0.4, repetitions=2, seed=7,
                       cache=session_cache, store=False, progress=False)
    assert a.accuracy.tolist() == b.accuracy.tolist()
    assert [p["scores"] for p in a.predictions[0]] == [p["scores"] for p in b.predictions[0]]


def test_stored_config_names_what_determines_the_result(results):
    store, _ = results
    config = json.loads(next(store.rglob("config.json")).read_text())
    assert {"task", "task_files", "embedding", "classifier", "fusion", "train_fraction", "seed"} <= set(config)


def test_baseline_cnn_runs_on_spectrogram_patches(tone_task_dir):
    from sklearn.metrics import balanced_accuracy_score

    df = run_experiment(tone_task_dir, "cnn-input-t3(patch_hop=70)", "cnn(epochs=3)", repetitions=1,
                        cache=False, store=False, progress=False)
    row = df.iloc[0]
    assert len(row.history["loss"]) == 3 and row.history["stopped_epoch"] == 3  # three epochs, no more
    # the reported numbers are those of the stored predictions: each the arg-max of its scores, and the accuracy
    # scikit-learn's balanced accuracy of them
    predictions = row.predictions
    assert [p["predicted"] for p in predictions] == [row.classes[int(np.argmax(p["scores"]))] for p in predictions]
    y_true, y_pred = [p["label"] for p in predictions], [p["predicted"] for p in predictions]
    assert row.accuracy == pytest.approx(100 * balanced_accuracy_score(y_true, y_pred))
    np.testing.assert_allclose(np.nansum(row.confusion, axis=1), 100)
    with pytest.raises(ValueError, match="spectrogram"):
        run_experiment(tone_task_dir, "mfcc", "cnn(epochs=1)", repetitions=1, cache=False, store=False,
                       progress=False)


def test_an_extractor_built_from_a_spec_is_closed_one_passed_in_stays_open(tone_task_dir, session_cache, monkeypatch):
    closed = []
    monkeypatch.setattr(MFCCExtractor, "close", lambda self: closed.append(self))
    run_experiment(tone_task_dir, "mfcc", "svm", repetitions=1, cache=session_cache, store=False, progress=False)
    assert len(closed) == 1 and isinstance(closed[0], MFCCExtractor)
    mine = MFCCExtractor()
    run_experiment(tone_task_dir, mine, "svm", repetitions=1, cache=session_cache, store=False, progress=False)
    assert len(closed) == 1  # the caller owns it


@pytest.mark.skipif(__import__("importlib").util.find_spec("musicnn") is None,
                    reason="musicnn is not installed (make setup installs it with --no-deps)")
def test_end_to_end_on_a_small_demo_task_well_above_chance(session_cache):
    from evalkit.data.registry import demo_task

    task = demo_task("D3", files_per_class=12, duration=3.0).prepare(progress=False)  # 4 classes: chance is 25 %
    df = run_experiment(task, "musicnn-msd", "svm", repetitions=2, cache=session_cache, store=False,
                        progress=False)
    assert df.accuracy.mean() > 60
    # the test set: whole recordings, at least round(20 % of 12) = 2 of each class's 12 files (the demo data's
    # recordings hold one file or several)
    assert all(len(task.classes) * 2 <= n <= len(task.classes) * 6 for n in df.n_test_files)
