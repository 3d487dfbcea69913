"""Extraction and the grid on a local Dask cluster (evalkit.cluster, evalkit.embed.distributed,
evalkit.learn.distributed, evalkit.book.plan.compute): the same caches and results as the single-process run, nothing
finished lost or recomputed when a worker is killed, GPU resources attached, Dask imported only when asked for.

The clusters are real: two worker processes on this machine, on the demo task D3 (12 files per class, 3 s each).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from evalkit import EmbeddingCache, ParameterError, ResultStore, extract_embeddings, get_extractor, run_experiment
from evalkit.cluster import add_cluster_arguments, check_cluster_options, start_cluster
from evalkit.data.registry import demo_task

REPO_ROOT = Path(__file__).resolve().parent.parent
#: What differs between two runs of the same repetition: the time the fit took.
TIMING = {"fit_seconds"}


@pytest.fixture(scope="module")
def task():
    return demo_task("D3", files_per_class=12, duration=3.0).prepare(progress=False)


@pytest.fixture(scope="module")
def cluster():
    from evalkit.cluster import BLAS_THREADS

    before = {name: os.environ.get(name) for name in BLAS_THREADS}
    with start_cluster(workers=2) as cluster:
        # the workers kept this process's BLAS threading, and this process's environment is untouched (Dask's
        # default, one thread, changes MFCCs in the last bits and would leak into this process's subprocesses)
        assert {name: os.environ.get(name) for name in BLAS_THREADS} == before
        assert set(cluster.client.run(lambda: os.environ.get("OMP_NUM_THREADS")).values()) == {before["OMP_NUM_THREADS"]}
        yield cluster


def tree(root: Path) -> dict[str, int]:
    """``{relative path: mtime_ns}`` of every file under ``root``."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_cache(a: Path, b: Path) -> None:
    assert tree(a).keys() == tree(b).keys() and tree(a)
    for name in tree(a):
        if name.endswith(".npz"):
            with np.load(a / name) as x, np.load(b / name) as y:
                assert x.files == y.files
                for field in x.files:  # embeddings, times, checksum and seconds of audio: bit for bit
                    if field == "extract_seconds":  # a timing: recorded on both sides, not equal
                        assert x[field] > 0 and y[field] > 0, f"{name}: {field}"
                    else:
                        assert np.array_equal(x[field], y[field]), f"{name}: {field}"
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def assert_same_results(a: Path, b: Path) -> None:
    assert tree(a).keys() == tree(b).keys() and tree(a)
    for name in tree(a):
        x, y = json.loads((a / name).read_text()), json.loads((b / name).read_text())
        if name.endswith("config.json"):
            assert x == y, name
        else:
            assert {k: v for k, v in x.items() if k not in TIMING} == {k: v for k, v in y.items() if k not in TIMING}


# ------------------------------------------------------------------------------------------------
# Options and imports


def test_dask_is_imported_only_when_a_cluster_is_asked_for():
    code = """
import argparse, sys
import evalkit, evalkit.cli, evalkit.cluster, evalkit.embed.distributed, evalkit.learn.distributed, evalkit.book.build
parser = argparse.ArgumentParser()
evalkit.cluster.add_cluster_arguments(parser)
args = parser.parse_args([])
with evalkit.cluster.cluster_from_args(args) as cluster:
    assert cluster is None
print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_cluster_options_parse_and_bad_ones_name_the_option():
    import argparse

    parser = argparse.ArgumentParser()
    add_cluster_arguments(parser)
    args = parser.parse_args(["--workers", "3", "--threads-per-worker", "2", "--gpu-workers"])
    assert (args.workers, args.threads_per_worker, args.scheduler, args.gpu_workers) == (3, 2, None, True)
    assert parser.parse_args(["--scheduler", "tcp://h:8786"]).scheduler == "tcp://h:8786"
    for options, named in [({"workers": 0}, "--workers"), ({"workers": 2, "scheduler": "tcp://h:1"}, "--scheduler"),
                            ({"workers": 2, "threads_per_worker": 0}, "--threads-per-worker"),
                            ({"threads_per_worker": 2}, "--threads-per-worker"), ({"gpu_workers": True}, "--gpu-workers")]:
        with pytest.raises(ParameterError, match=named) as error:
            check_cluster_options(**options)
        assert "\n" not in str(error.value)


def test_an_unreachable_scheduler_is_one_line_naming_the_address(monkeypatch):
    import evalkit.cluster

    monkeypatch.setattr(evalkit.cluster, "CONNECT_TIMEOUT", 2)
    with pytest.raises(ParameterError, match=r"--scheduler tcp://127\.0\.0\.1:9: cannot connect"):
        with start_cluster(scheduler="tcp://127.0.0.1:9"):
            pass


# ------------------------------------------------------------------------------------------------
# The same caches and results as one process


@pytest.mark.slow  # starts a Dask cluster
def test_extraction_and_runs_on_the_cluster_equal_the_single_process_run(task, cluster, tmp_path):
    from evalkit.embed.distributed import extract_on_cluster
    from evalkit.learn.distributed import run_experiment_on

    one, many = tmp_path / "one", tmp_path / "many"
    paths = [f.path for f in task.files()]
    with get_extractor("mfcc") as extractor:
        single = extract_embeddings(paths, extractor, cache=EmbeddingCache(one / "cache"), batch_size=5, progress=False)
        spread = extract_on_cluster(paths, extractor, cluster, cache=EmbeddingCache(many / "cache"), batch_size=5,
                                    progress=False)
    assert all(np.array_equal(a, b) and np.array_equal(s, t) for (a, s), (b, t) in zip(single, spread))
    assert_same_cache(one / "cache", many / "cache")

    kwargs = dict(train_fraction=0.4, repetitions=3, seed=1, progress=False)
    expected = run_experiment(task, "mfcc", "svm", cache=EmbeddingCache(one / "cache"), store=ResultStore(one / "results"),
                              **kwargs)
    found = run_experiment_on(cluster, task, "mfcc", "svm", cache=EmbeddingCache(many / "cache"),
                              store=ResultStore(many / "results"), **kwargs)
    assert_same_results(one / "results", many / "results")
    assert found.drop(columns=list(TIMING)).equals(expected.drop(columns=list(TIMING)))
    assert 25 < expected["accuracy"].mean() <= 100  # 4 classes: above chance, as in tests/test_experiment.py


@pytest.mark.slow  # starts a Dask cluster
def test_the_book_computes_its_plan_on_the_cluster_as_in_one_process(task, cluster, tmp_path, monkeypatch):
    from evalkit.book.plan import compute, plan
    from evalkit.book.profiles import single_run_profile

    demo = Path(os.environ["EVALKIT_DATA"]) / "demo"
    for name, on_cluster in (("one", None), ("many", cluster)):
        data = tmp_path / name
        data.mkdir()
        (data / "demo").symlink_to(demo)  # the tests' demo audio, fresh caches and results
        monkeypatch.setenv("EVALKIT_DATA", str(data))
        profile = single_run_profile("D3", "mfcc", "svm", repetitions=2, baseline=False, train_fractions=[0.8, 0.2],
                                     task_params={"files_per_class": 12, "duration": 3.0})
        with profile:
            runs = [run for run in plan(profile) if run.train_fraction >= 0.2]  # 12 files per class: not 10 %
            assert compute(profile, runs, progress=False, cluster=on_cluster) == len(runs) >= 2
            assert compute(profile, runs, progress=False, cluster=on_cluster) == 0  # all stored
    assert_same_cache(tmp_path / "one" / "cache", tmp_path / "many" / "cache")
    assert_same_results(tmp_path / "one" / "results", tmp_path / "many" / "results")


@pytest.mark.slow  # starts a Dask cluster
def test_a_bad_file_on_a_worker_is_the_one_line_error_of_one_process_and_the_rest_stays_cached(cluster, tmp_path):
    from conftest import write_tone_task

    from evalkit import AudioError
    from evalkit.embed.distributed import extract_on_cluster

    root = write_tone_task(tmp_path / "task", groups=2)
    bad = root / "mid" / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00 not audio")
    paths = sorted(p for p in root.rglob("*.wav"))
    with get_extractor("mfcc") as extractor, pytest.raises(AudioError, match="broken.wav") as error:
        extract_on_cluster(paths, extractor, cluster, cache=EmbeddingCache(tmp_path / "cache"), batch_size=2,
                           progress=False)
    assert "\n" not in str(error.value)
    cached = list((tmp_path / "cache").rglob("*.npz"))
    assert len(cached) >= len(paths) - 2  # every batch but the bad file's (whose files before it are kept too)


# ------------------------------------------------------------------------------------------------
# A worker killed mid-run


@pytest.mark.slow  # starts a Dask cluster
def test_a_worker_killed_mid_run_loses_nothing_finished(task, tmp_path):
    from evalkit.learn.distributed import Configuration, compute_on_cluster

    cache, store = EmbeddingCache(tmp_path / "cache"), ResultStore(tmp_path / "results")
    repetitions = 40
    with start_cluster(workers=2) as cluster, get_extractor("mfcc") as extractor:
        pids = cluster.client.run(os.getpid)
        configs = [Configuration(task, extractor, "svm", train_fraction=0.8, repetitions=repetitions)]
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.update(
            computed=compute_on_cluster(cluster, configs, cache=cache, store=store, batch_size=4, progress=False)))
        worker.start()
        deadline = time.monotonic() + 120
        while len(list((tmp_path / "results").rglob("rep-*.json"))) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        finished = {**tree(tmp_path / "cache"), **{f"results/{k}": v for k, v in tree(tmp_path / "results").items()}}
        worker.join(timeout=300)
        assert not worker.is_alive() and outcome["computed"] == repetitions
        done_at_kill = sum(name.startswith("results/") and "rep-" in name for name in finished)
        assert 4 <= done_at_kill < repetitions, "the run finished before the kill: give it more repetitions"
        after = {**tree(tmp_path / "cache"), **{f"results/{k}": v for k, v in tree(tmp_path / "results").items()}}
        assert {name: after.get(name) for name in finished} == finished  # nothing finished was written again
        assert len([n for n in after if "rep-" in n]) == repetitions
        assert victim not in cluster.client.run(os.getpid).values()  # the worker really died (and was replaced)

        # the rerun computes nothing and touches nothing
        assert compute_on_cluster(cluster, configs, cache=cache, store=store, progress=False) == 0
    assert {**tree(tmp_path / "cache"), **{f"results/{k}": v for k, v in tree(tmp_path / "results").items()}} == after


# ------------------------------------------------------------------------------------------------
# One model per worker, one GPU per model


@pytest.mark.slow  # starts a Dask cluster
def test_the_existing_cluster_of_a_scheduler_address_keeps_its_models_warm(task, cluster, tmp_path):
    from evalkit.cluster.worker import worker_models
    from evalkit.embed.distributed import extract_on_cluster

    address = cluster.client.scheduler.address
    paths = [f.path for f in task.files()][:12]
    for run in range(2):
        with start_cluster(scheduler=address) as remote, get_extractor("mfcc") as extractor:
            assert remote.n_workers == 2
            extract_on_cluster(paths, extractor, remote, cache=EmbeddingCache(tmp_path / f"cache{run}"), batch_size=3,
                               progress=False)
            held = remote.client.run(worker_models)
    identity = get_extractor("mfcc").identity
    # each worker built the extractor once and kept it across both connections
    assert all(keys.count(f"extractor {identity}") == 1 for keys in held.values())
    assert cluster.client.scheduler_info()["workers"]  # the cluster outlives the clients that connected to it
    with pytest.raises(ParameterError, match="--gpu-workers: no worker .* offers the resource GPU"):
        with start_cluster(scheduler=address, gpu_workers=True):
            pass


@pytest.mark.slow  # starts a Dask cluster
@pytest.mark.skipif(find_spec("musicnn") is None, reason="needs the musicnn package (a model whose tasks ask for a GPU)")
def test_gpu_workers_see_one_gpu_each_and_model_tasks_ask_for_one(task, tmp_path):
    from distributed.diagnostics.plugin import SchedulerPlugin

    from evalkit.cluster.worker import worker_models
    from evalkit.embed.distributed import extract_on_cluster
    from evalkit.learn.distributed import is_network

    class Restrictions(SchedulerPlugin):
        """Records the resources each evalkit task asked for when the scheduler gave it to a worker."""

        name = "restrictions"

        def __init__(self):
            self.seen = {}

        def start(self, scheduler):
            self.scheduler = scheduler

        def transition(self, key, start, finish, *args, **kwargs):
            if finish == "processing" and str(key).startswith("evalkit-"):
                self.seen[str(key)] = dict(self.scheduler.tasks[key].resource_restrictions or {})

    paths = [f.path for f in task.files()][:4]
    with start_cluster(workers=2, gpu_workers=True) as cluster:
        recorder = Restrictions()
        cluster.client.register_plugin(recorder)
        devices = cluster.client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        assert sorted(devices.values()) == ["0", "1"]
        assert all(w["resources"] == {"GPU": 1} for w in cluster.client.scheduler_info()["workers"].values())
        with get_extractor("musicnn") as musicnn, get_extractor("mfcc") as mfcc:
            extract_on_cluster(paths, musicnn, cluster, cache=EmbeddingCache(tmp_path), batch_size=1, progress=False)
            extract_on_cluster(paths, mfcc, cluster, cache=EmbeddingCache(tmp_path), batch_size=1, progress=False)
            held = cluster.client.run(worker_models)
            assert all(keys.count(f"extractor {musicnn.identity}") <= 1 for keys in held.values())  # one model each
        seen = cluster.client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins["restrictions"].seen)
    assert {k: v for k, v in seen.items() if "-musicnn-" in k} and all(
        v == {"GPU": 1} for k, v in seen.items() if "-musicnn-" in k)
    assert {k: v for k, v in seen.items() if "-mfcc-" in k} and all(v == {} for k, v in seen.items() if "-mfcc-" in k)
    assert is_network("d128") and is_network("cnn") and not is_network("svm")
