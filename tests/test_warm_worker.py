"""Warm model workers (evalkit.embed.warm) and the overlapped extraction (evalkit.embed.cache).

A warm worker outlives its caller and serves the next caller of the same model: reused, gone after its idle timeout,
shared safely by callers that start at once, and named in one line when it dies (the next caller starts a new one).
The small model of test_worker.py stands for a model (the tests folder is on the workers' PYTHONPATH); musicnn, the
real user, is tested at the end through the command line, and the overlapped extraction against the plain one.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from evalkit import EmbeddingCache, extract_embeddings, get_extractor
from evalkit.cli import main as cli
from evalkit.config import EvalkitWarning, MissingPackageError, ParameterError, WorkerError
from evalkit.embed.warm import ENV, keep_warm_seconds, running_warm_workers, stop_warm_workers, warm_folder
from evalkit.embed.worker import ModelWorker
from test_worker import alive, wait_until

TESTS = Path(__file__).resolve().parent
needs_musicnn = pytest.mark.skipif(find_spec("musicnn") is None,
                                   reason="musicnn is not installed (make setup installs it with --no-deps)")


@pytest.fixture(autouse=True)
def warm_place(monkeypatch):
    """Warm workers of each test in a folder of their own (a short path: a socket's path has at most 107 bytes),
    all stopped at the end; the models of test_worker.py on the workers' path."""
    runtime = tempfile.mkdtemp(prefix="ekw")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    yield Path(runtime) / "evalkit-warm"
    for entry in stop_warm_workers():
        wait_until(lambda: not alive(entry["pid"]))
    shutil.rmtree(runtime, ignore_errors=True)


def scaling(keep_warm=30.0, scale=2.0) -> ModelWorker:
    return ModelWorker("test_worker:scaling_model", name="scaling", keep_warm=keep_warm, scale=scale)


def test_a_warm_worker_outlives_its_caller_and_serves_the_next_one(warm_place):
    with scaling() as first:
        out = first(np.arange(3.0))
        np.testing.assert_array_equal(out["scaled"], [0.0, 2.0, 4.0])
        assert first.warm and first.pid == out["pid"] != os.getpid()
        assert out["main"] == "evalkit.embed.warm"  # python -m evalkit.embed.warm, not the caller
    assert alive(out["pid"])  # closing the caller closed its connection only
    with scaling() as second:
        assert second(1.0)["pid"] == out["pid"]  # the same model, loaded once
    with scaling(scale=3.0) as other:  # another model (other arguments): another worker
        third = other(1.0)
        assert third["scaled"] == 3.0 and third["pid"] != out["pid"]
    listed = running_warm_workers()
    assert sorted(e["pid"] for e in listed) == sorted([out["pid"], third["pid"]])
    assert {e["name"] for e in listed} == {"scaling"} and oct(warm_place.stat().st_mode & 0o777) == "0o700"


def test_an_idle_warm_worker_exits_and_removes_its_socket(warm_place):
    with scaling(keep_warm=0.5) as worker:
        pid = worker(1.0)["pid"]
        sockets = list(warm_place.glob("*.sock"))
        assert len(sockets) == 1
        assert alive(pid)  # a caller is connected: not idle, however long it waits
    assert wait_until(lambda: not alive(pid), seconds=30), "the idle warm worker did not exit"
    assert not sockets[0].exists() and not list(warm_place.glob("*.json"))
    with scaling(keep_warm=0.5) as worker:  # the next caller starts a new one, without a warning
        assert worker(1.0)["pid"] != pid


CALLER = """
import sys, numpy as np
from evalkit.embed.worker import ModelWorker
with ModelWorker("test_worker:scaling_model", name="scaling", keep_warm=30, scale=2.0) as worker:
    results = [worker(np.full(1000, float(i))) for i in range(20)]
assert all(np.all(r["scaled"] == 2.0 * i) for i, r in enumerate(results))
print("pid", results[0]["pid"], flush=True)
"""


def test_callers_that_start_at_once_share_one_warm_worker():
    """Four callers start together when no warm worker runs: one is started, all four take turns on it."""
    callers = [subprocess.Popen([sys.executable, "-c", CALLER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(4)]
    outputs = [caller.communicate(timeout=120) for caller in callers]
    assert all(caller.returncode == 0 for caller in callers), [err[-500:] for _, err in outputs]
    pids = {out.split()[1] for out, _ in outputs}
    assert len(pids) == 1 and len(running_warm_workers()) == 1


def test_a_warm_worker_that_dies_in_a_call_says_so_and_the_next_call_starts_a_new_one():
    with scaling() as worker:
        pid = worker(1.0)["pid"]
        with pytest.raises(WorkerError) as caught:
            worker(1.0, kill=True)
        message = str(caught.value)
        assert "\n" not in message and message.startswith(f"warm model worker scaling (pid {pid}, ")
        assert "is gone (it exited or was killed) while computing" in message and "about to be killed" in message
        with pytest.warns(EvalkitWarning, match=r"the warm model worker scaling \(.*\.sock\) is gone, .*about to be "
                                                r"killed.*; starting a new one"):
            again = worker(1.0)
        assert again["scaled"] == 2.0 and again["pid"] != pid


def refuses(path: Path) -> bool:
    """Whether nothing listens on the socket ``path`` any more."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return True
    return False


def test_a_warm_worker_killed_between_callers_is_replaced_with_a_warning(warm_place):
    with scaling() as worker:
        pid = worker(1.0)["pid"]
    (path,) = warm_place.glob("*.sock")
    os.kill(pid, signal.SIGKILL)
    # The main thread of a killed process is a zombie before its other threads have ended, and the socket listens
    # until the last one has: wait for that, as a command started later would find it.
    assert wait_until(lambda: not alive(pid) and refuses(path))
    with pytest.warns(EvalkitWarning, match="is gone.*starting a new one"), scaling() as worker:
        assert worker(1.0)["pid"] != pid


def test_a_model_that_cannot_load_in_a_warm_worker_raises_its_error_and_leaves_nothing(warm_place):
    worker = ModelWorker("test_worker:model_without_its_package", name="missing", keep_warm=30)
    with pytest.raises(MissingPackageError, match="nothing-at-all"):
        worker(1.0)
    assert wait_until(lambda: not list(warm_place.glob("*.sock")) and not running_warm_workers())


def test_keep_warm_comes_from_the_environment_and_a_bad_value_names_it(monkeypatch):
    assert keep_warm_seconds() == 0
    monkeypatch.setenv(ENV, "12.5")
    assert keep_warm_seconds() == 12.5 and keep_warm_seconds(0) == 0
    with scaling(keep_warm=None) as worker:
        assert worker(1.0)["scaled"] == 2.0 and worker.warm
    with scaling(keep_warm=0) as worker:
        assert worker(1.0)["scaled"] == 2.0 and not worker.warm
    monkeypatch.setenv(ENV, "soon")
    with pytest.raises(ParameterError, match=rf"^{ENV} must be a number of seconds ≥ 0 .* not 'soon'$"):
        keep_warm_seconds()


def test_the_command_line_checks_keep_warm_before_any_work(monkeypatch, capsys):
    assert cli(["extract", "--task", "D9", "--embedding", "mfcc", "--keep-warm", "-1"]) == 2
    assert capsys.readouterr().err.strip() == ("evalkit extract: error: --keep-warm must be a number of seconds ≥ 0 (the "
                                               "idle timeout of warm model workers; 0: none), not -1.0")
    monkeypatch.setenv(ENV, "later")
    assert cli(["run", "--task", "D9", "--embedding", "mfcc"]) == 2
    assert f"evalkit run: error: {ENV} must be a number" in capsys.readouterr().err


def test_the_warm_folder_must_be_private(warm_place):
    warm_folder().chmod(0o755)
    try:
        with pytest.raises(WorkerError, match="must belong to this user and be private"):
            warm_folder()
    finally:
        warm_place.chmod(0o700)


# -- musicnn: the overlapped extraction, and warm workers through the command line --------------------------------


@needs_musicnn
def test_overlapped_extraction_equals_the_plain_one_and_a_warm_worker_the_own_one(tone_task_dir, tmp_path):
    """The same cache contents whether files are read and written while the model runs or one step after the other,
    and whether the model runs in a worker of this process or in a warm one."""
    paths = sorted(tone_task_dir.rglob("*.wav"))[:7] + [tmp_path / "short.wav"]
    import soundfile as sf

    sf.write(paths[-1], np.random.default_rng(0).uniform(-0.5, 0.5, 3000).astype(np.float32), 16000)
    runs = {}
    for name, prefetch, keep_warm in (("plain", False, 0), ("overlapped", True, 0), ("warm", True, 30)):
        with get_extractor("musicnn(batch_size=5)") as extractor:
            extractor.related()  # the other layers are cached from the same pass
            os.environ[ENV] = str(keep_warm)
            try:
                runs[name] = extract_embeddings(paths, extractor, cache=EmbeddingCache(tmp_path / name),
                                                batch_size=3, progress=False, prefetch=prefetch)
                assert extractor._model.warm == bool(keep_warm)
            finally:
                del os.environ[ENV]
    entries = {name: sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*.npz")) for name in runs}
    assert len(entries["plain"]) == 4 * len(paths) and entries["plain"] == entries["overlapped"] == entries["warm"]
    for entry in entries["plain"]:
        with np.load(tmp_path / "plain" / entry) as plain:
            for name in ("overlapped", "warm"):
                with np.load(tmp_path / name / entry) as other:
                    for key in ("embeddings", "times", "checksum"):
                        np.testing.assert_array_equal(other[key], plain[key], err_msg=f"{name} {entry} {key}")
    assert [len(e) for e, _ in runs["plain"]] == [len(e) for e, _ in runs["overlapped"]]


@needs_musicnn
def test_a_second_command_with_keep_warm_reuses_the_loaded_model(tone_task_dir, tmp_path, capsys):
    command = ["extract", "--task", str(tone_task_dir), "--embedding", "musicnn-msd", "--keep-warm", "60"]
    assert cli(command + ["--cache", str(tmp_path / "one")]) == 0
    (first,) = running_warm_workers()
    assert cli(command + ["--cache", str(tmp_path / "two")]) == 0
    assert running_warm_workers() == [first] and first["name"] == "musicnn MSD_musicnn"
    assert cli(["warm"]) == 0 and f"musicnn MSD_musicnn: pid {first['pid']}, exits after 60 s idle" in capsys.readouterr().out
    assert cli(["warm", "--stop"]) == 0
    assert wait_until(lambda: not alive(first["pid"]))
