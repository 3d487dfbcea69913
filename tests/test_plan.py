"""The plan: every configuration of a profile listed once, computed once, resumable, read back by the pages."""
from __future__ import annotations

import pytest

from evalkit.book import NOTEBOOK_SECTIONS, NOTEBOOKS
from evalkit.book.plan import SECTIONS, collect_table, compute, missing, plan, results_state, section_runs
from evalkit.book.preflight import estimate
from evalkit.book.profiles import validate
from evalkit.learn.store import ResultStore


def _profile(task_dir, **changes):
    data = {
        "name": "tiny", "tasks": [str(task_dir)], "task_params": {"group_pattern": "^(.*)__"}, "repetitions": 2,
        "embeddings": {"mfcc": "mfcc", "mfcc13": "mfcc(n_mfcc=13)"}, "classifiers": ["svm"],
        "tables": {"I": {"embeddings": ["mfcc", "mfcc13"], "train_fraction": 0.8},
                   "II": {"embeddings": ["mfcc"], "train_fraction": 0.4},
                   "III": {"embeddings": ["mfcc"], "fusion": ["late", "early"], "train_fraction": 0.8}},
        "learning_curve": {"embeddings": ["mfcc"], "train_fractions": [0.4, 0.8], "repetitions": 3},
        "teaching": {"embedding": "mfcc", "train_fractions": [0.4, 0.8], "repetitions": 1},
    }
    data.update(changes)
    return validate(data)


def test_plan_lists_each_configuration_once_with_the_most_repetitions_any_section_reads(tone_task_dir):
    profile = _profile(tone_task_dir)
    runs = plan(profile)
    configs = [run.config() for run in runs]
    assert len(configs) == len(set(configs))
    every = [run for section in SECTIONS for run in section_runs(profile, section)]
    assert {run.config() for run in every} == set(configs)
    # mfcc · svm · late · 80 % is in Tables I and III (2 repetitions), the curve (3) and the teaching chapter (1)
    mfcc_80 = [run for run in runs if run.embedding == "mfcc" and run.fusion == "late" and run.train_fraction == 0.8
               and run.classifier == "svm"]
    assert len(mfcc_80) == 1 and mfcc_80[0].repetitions == 3
    early = [run for run in runs if run.fusion == "early"]
    assert len(early) == 1 and early[0].pooling == "mean"


def test_the_learning_curve_trains_the_baseline_at_the_shares_it_names(tone_task_dir):
    cnn = {"default": {"embedding": "spectrogram", "classifier": "cnn"}}
    curve = {"embeddings": ["mfcc"], "train_fractions": [0.4, 0.6, 0.8], "repetitions": 2}
    every = section_runs(_profile(tone_task_dir, baseline=cnn, learning_curve={**curve, "baseline": True}), "curve")
    named = section_runs(_profile(tone_task_dir, baseline=cnn, learning_curve={**curve, "baseline": [0.4, 0.8]}), "curve")
    assert sorted(r.train_fraction for r in every if r.label == "baseline") == [0.4, 0.6, 0.8]
    assert sorted(r.train_fraction for r in named if r.label == "baseline") == [0.4, 0.8]
    assert sorted(r.train_fraction for r in named if r.label == "mfcc") == [0.4, 0.6, 0.8]
    # the teaching chapter likewise, always with the lesson's CNN at 80 %
    teaching = {"embedding": "mfcc", "train_fractions": [0.4, 0.6, 0.8], "repetitions": 1, "baseline": [0.4]}
    lesson = section_runs(_profile(tone_task_dir, baseline=cnn, teaching=teaching), "teaching")
    assert sorted(r.train_fraction for r in lesson if r.label == "baseline") == [0.4, 0.8]


@pytest.mark.parametrize("value,message", [
    ([0.5], "learning_curve.baseline: share 0.5 is not one of the train_fractions"),
    ("yes", "learning_curve.baseline: expected true, false or a list of shares"),
])
def test_the_learning_curve_baseline_names_shares_of_the_curve(tone_task_dir, value, message):
    from evalkit.book.profiles import ProfileError

    curve = {"embeddings": ["mfcc"], "train_fractions": [0.4, 0.8], "baseline": value}
    with pytest.raises(ProfileError, match=message):
        _profile(tone_task_dir, baseline={"default": {"embedding": "spectrogram", "classifier": "cnn"}},
                 learning_curve=curve)


def test_every_notebook_reads_known_sections():
    assert set(NOTEBOOK_SECTIONS) == set(NOTEBOOKS)
    for sections in NOTEBOOK_SECTIONS.values():
        assert set(sections) <= set(SECTIONS)


def test_compute_runs_what_is_missing_once_and_resumes(tone_task_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path))
    profile = _profile(tone_task_dir)
    runs = plan(profile, ["tables"])
    # an interrupted build: one configuration finished before the stop
    assert compute(profile, runs[:1], progress=False) == 1
    assert len(missing(profile, runs)) == len(runs) - 1
    assert compute(profile, runs, progress=True) == len(runs) - 1
    assert "computing tiny" in capsys.readouterr().err  # one progress bar over configurations
    assert missing(profile, runs) == [] and compute(profile, runs) == 0
    state = results_state(profile, runs)
    assert len(state) == sum(run.repetitions for run in runs) and None not in state.values()
    # the pages read the same repetitions back, nothing is computed again
    before = {path: value for path, value in state.items()}
    table = collect_table(profile, "I")
    assert set(table["row"]) == {"mfcc · SVM", "mfcc13 · SVM"} and len(table) == 2 * 2
    assert results_state(profile, runs) == before


def test_results_live_where_the_store_says(tone_task_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path))
    profile = _profile(tone_task_dir)
    run = plan(profile, ["tables"])[0]
    compute(profile, [run], progress=False)
    from evalkit.book.plan import run_key

    store = ResultStore()
    assert store.root == tmp_path / "results"
    assert store.stored(run_key(profile, run), run.repetitions) == list(range(run.repetitions))
    assert (store.folder(run_key(profile, run)) / "config.json").exists()


def test_estimate_counts_the_plan(tone_task_dir):
    profile = _profile(tone_task_dir)
    runs = plan(profile)
    work = estimate(profile, runs)
    assert work["fits"] == sum(run.repetitions for run in runs)
    assert work["extractions"] == 2  # mfcc and mfcc(n_mfcc=13) on the one task
    assert work["cnn_fits"] == 0
    assert list(work["tasks"].values())[0]["files"] == 24


def test_a_section_of_a_missing_table_is_empty(tone_task_dir):
    profile = _profile(tone_task_dir)
    assert section_runs(profile, "vggish") == []
    assert collect_table(profile, "IV").empty
    with pytest.raises(ValueError, match="unknown section"):
        section_runs(profile, "nope")
