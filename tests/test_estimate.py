"""The calibrated estimate and the cost-weighted progress bar, on tone tasks the tests generate."""
from __future__ import annotations

import json
import re

import numpy as np
import yaml

from evalkit.book import NOTEBOOKS
from evalkit.book.plan import compute, missing, plan, run_costs
from evalkit.book.profiles import validate
from evalkit.book.rendering import HTML_KERNELS, KERNELS_PER_RUN, NOTEBOOK_KERNELS, NOTEBOOK_WORKERS, rendering_seconds
from evalkit.cli import main
from evalkit.data.registry import get_task
from evalkit.embed.cache import EmbeddingCache
from evalkit.embed.registry import get_extractor
from evalkit.learn.calibration import Calibration, calibration_path, machine
from evalkit.learn.distributed import Configuration
from evalkit.learn.progress import PRIOR_SHARE, CostBar
from evalkit.learn.registry import get_classifier
from evalkit.learn.workload import EARLY_STOP_EPOCHS, STAGES, Workload, expected_epochs, frames_per_file


def _profile_data(task_dir) -> dict:
    return {"name": "tiny", "tasks": [str(task_dir)], "task_params": {"group_pattern": "^(.*)__"}, "repetitions": 2,
            "embeddings": {"mfcc": "mfcc", "mfcc13": "mfcc(n_mfcc=13)"}, "classifiers": ["svm"],
            "tables": {"I": {"embeddings": ["mfcc", "mfcc13"], "train_fraction": 0.8},
                       "II": {"embeddings": ["mfcc"], "train_fraction": 0.4}},
            "teaching": {"embedding": "mfcc", "train_fractions": [0.4, 0.8], "repetitions": 1}}


def test_the_estimate_counts_only_unfinished_work(tone_task_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path))
    profile = validate(_profile_data(tone_task_dir))
    runs = plan(profile)
    before = run_costs(profile, runs)
    assert all(cost.total > 0 and cost.fits == run.repetitions for cost, run in zip(before, runs))
    # one extraction per embedding, counted with the first run that needs it
    assert sum(cost.seconds["embedding extraction"] > 0 for cost in before) == 2
    first = next(run for run in runs if run.embedding == "mfcc")
    compute(profile, [first], progress=False)
    after = run_costs(profile, runs)
    for run, cost in zip(runs, after):
        if run is first:
            assert cost.total == 0 and cost.fits == 0
        elif run.embedding == "mfcc":  # its embeddings are cached now: only its fits are left
            assert cost.seconds["embedding extraction"] == 0 and cost.fits == run.repetitions
    assert sum(cost.seconds["embedding extraction"] > 0 for cost in after) == 1  # mfcc13's


def test_the_bar_advances_by_each_configurations_estimate_to_their_sum(tone_task_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path))
    profile = validate(_profile_data(tone_task_dir))
    runs = plan(profile)
    expected = sum(cost.total for cost in run_costs(profile, missing(profile, runs)))
    record = []
    compute(profile, runs, progress=False, on_progress=lambda *values: record.append(values))
    assert len(record) == len(runs)
    done = [entry[0] for entry in record]
    assert done == sorted(done) and np.isclose(done[-1], expected) and all(entry[1] == expected for entry in record)
    assert record[-1][3] == 0  # nothing left, no time left
    assert sum(cost.total for cost in run_costs(profile, runs)) == 0  # all stored: the estimate is nothing


def test_the_eta_takes_a_stage_not_yet_begun_at_the_pace_of_the_work_so_far():
    bar = CostBar(100.0, disable=True)
    bar.plan({"CNN training": 50.0, "classifier fits": 50.0})
    assert bar.eta() == 100.0  # nothing done: the calibrated estimate
    bar.advance(50.0, estimated={"CNN training": 50.0}, actual={"CNN training": 25.0})  # twice as fast as estimated
    prior = PRIOR_SHARE * 100.0
    overall = (25.0 + prior) / (50.0 + prior)  # drawn towards 1 by the prior share
    assert np.isclose(bar.eta(), 50.0 * overall)  # the fits, not begun, at the machine's pace so far
    bar.advance(25.0, estimated={"classifier fits": 25.0}, actual={"classifier fits": 50.0})  # the fits are slow
    overall = (75.0 + prior) / (75.0 + prior)
    assert np.isclose(bar.eta(), 25.0 * (50.0 + prior * overall) / (25.0 + prior))  # mostly their own pace now
    bar.close()


def test_book_estimate_does_no_work_and_stores_nothing(tone_task_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(_profile_data(tone_task_dir)))
    assert main(["book", "--profile", str(path), "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "estimate on this machine" in out and machine()["cpu"] in out
    assert re.search(rf"rendering +{len(NOTEBOOKS)} notebook\(s\) and the HTML +\d", out)  # cold: they all run
    assert not (tmp_path / "results").exists()
    assert not list((tmp_path / "cache").rglob("*.npz"))
    assert calibration_path().exists()  # what it measured is kept for the next estimate
    assert Calibration().entries["render:kernel"]["seconds"] > 0  # a kernel was started and timed


def test_rendering_costs_kernel_start_ups_per_notebook_two_at_a_time_and_the_html(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"entries": {"render:kernel": {"seconds": 2.0}}}))
    calibration = Calibration(path)
    notebook = 2.0 * (NOTEBOOK_KERNELS + KERNELS_PER_RUN * 10)
    assert np.isclose(rendering_seconds(calibration, [10, 10, 10]), 3 * notebook / NOTEBOOK_WORKERS + 2.0 * HTML_KERNELS)
    assert np.isclose(rendering_seconds(calibration, [10], html=False), notebook)  # one notebook runs alone
    empty = Calibration(tmp_path / "empty.json")
    assert rendering_seconds(empty, [], html=False) == 0 and not empty.entries  # nothing to render: no kernel started


def test_a_cnn_without_validation_recordings_costs_all_its_epochs(tone_task_dir, tmp_path):
    task = get_task(str(tone_task_dir), group_pattern="^(.*)__")
    extractor = get_extractor("cnn-input-t3")
    model = get_classifier("cnn(epochs=7)")
    shape = "x".join(str(v) for v in extractor.frame_shape)
    unit = {"fit": 2.0, "step": 0.5, "patch": 0.01}
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"entries": {
        f"cnn:{model.arch}:{model.batch_size}:{model.precision}:{shape}": unit,
        f"embed:{extractor.identity}": {"load": 1.0, "per_audio_second": 0.1}}}))
    workload = Workload(Calibration(path), store=None)
    cost = workload.configuration(Configuration(task, extractor, "cnn(epochs=7)", train_fraction=0.8, repetitions=2),
                                  fingerprint="tones")
    assert cost.cnn_fits == 2 and cost.cnn_epochs == 14 and cost.fits == 0  # 4 recordings a class: no validation
    durations = workload.durations(task)
    assert np.isclose(cost.audio_seconds, durations.sum())
    assert np.isclose(cost.seconds["embedding extraction"], 1.0 + 0.1 * durations.sum())
    # every epoch draws min_batches batches (the training set is smaller than that), the test files' patches scored
    steps = -(-model.min_batches * model.batch_size // model.batch_size)
    test_patches = cost.seconds["CNN training"] - 2 * (unit["fit"] + 7 * steps * unit["step"])
    assert test_patches > 0 and np.isclose(test_patches / unit["patch"] / 2,
                                           round(test_patches / unit["patch"] / 2))
    assert set(cost.seconds) == set(STAGES)
    assert frames_per_file([0.5, 10.0], extractor).min() == 1


def test_one_pass_caches_related_layers_so_the_second_costs_no_extraction(tone_task_dir, tmp_path):
    task = get_task(str(tone_task_dir), group_pattern="^(.*)__")
    first, second = get_extractor("mfcc"), get_extractor("mfcc(n_mfcc=13)")
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"entries": {
        **{f"embed:{e.identity}": {"load": 1.0, "per_audio_second": 0.1} for e in (first, second)},
        "fit:svm": {"fit": 0.5, "per_value": 1e-6}}}))

    def extraction(link: bool) -> list[float]:
        first.related = (lambda: [second]) if link else (lambda: [])  # as musicnn's layers are related
        workload = Workload(Calibration(path), store=None, cache=EmbeddingCache(tmp_path / "cache"))
        return [workload.configuration(Configuration(task, e, "svm"), fingerprint="tones").seconds[STAGES[0]]
                for e in (first, second)]

    assert extraction(link=False)[1] > 0  # unrelated: each is extracted
    charged = extraction(link=True)
    assert charged[0] > 0 and charged[1] == 0  # related: the first pass yields both


def test_a_network_that_stops_early_costs_its_expected_epochs_of_the_per_epoch_unit(tone_task_dir, tmp_path):
    task = get_task(str(tone_task_dir), group_pattern="^(.*)__")
    extractor = get_extractor("mfcc")
    specs = ["d128", "d128(min_epochs=5, patience=5)", "d128(epochs=12)", "svm"]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"entries": {f"embed:{extractor.identity}": {"load": 0.0, "per_audio_second": 0.0},
                                            **{f"fit:{spec}": {"fit": 0.5, "per_value": 1e-6} for spec in specs}}}))
    seconds = {spec: Workload(Calibration(path), store=None).configuration(
        Configuration(task, extractor, spec, train_fraction=0.8, repetitions=1), fingerprint="tones"
    ).seconds["classifier fits"] - 0.5 for spec in specs}
    assert [expected_epochs(get_classifier(spec)) for spec in specs] == [EARLY_STOP_EPOCHS * 25, EARLY_STOP_EPOCHS * 10,
                                                                         12, 1]
    # the same samples each epoch: the cost follows the epochs
    assert np.isclose(seconds["d128(min_epochs=5, patience=5)"] / seconds["d128"], 10 / 25)
    assert np.isclose(seconds["d128(epochs=12)"] / seconds["d128"], 12 / (EARLY_STOP_EPOCHS * 25))
    assert 0 < seconds["svm"] < seconds["d128(epochs=12)"]  # one pass over the frames
