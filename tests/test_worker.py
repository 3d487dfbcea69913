"""The model worker (evalkit.embed.worker): a model in an interpreter of its own, started as
``python -m evalkit.embed.worker``, that never re-imports the caller's script (so a script without a main guard,
``python -c`` and an interactive session work), says in one line which worker died and how, and never outlives
its caller.

The worker imports the small models below from this file (the tests folder is put on its PYTHONPATH); musicnn, the
real user of the worker, is tested in test_extractors.py and by the README's examples in test_examples.py.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from evalkit.config import MissingPackageError, WorkerError
from evalkit.embed.protocol import RemoteTraceback
from evalkit.embed.worker import ModelWorker

TESTS = Path(__file__).resolve().parent


def scaling_model(scale: float = 1.0):
    """A model for the worker: returns ``scale * x`` and where it ran; can print, fail, exit or kill itself."""
    print("scaling model loaded", file=sys.stderr, flush=True)

    def run(x, *, fail=None, exit_code=None, kill=False, noise=False):
        if noise:  # output on stdout, from Python and from below it, must not reach the replies
            print("noise from print")
            sys.stdout.flush()
            os.write(1, b"noise on file descriptor 1\n")
        if fail:
            raise ValueError(fail)
        if exit_code is not None:
            print("about to exit on purpose", file=sys.stderr, flush=True)
            os._exit(exit_code)
        if kill:
            print("about to be killed", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return {"scaled": np.asarray(x) * scale, "pid": os.getpid(), "main": sys.modules["__main__"].__spec__.name}

    return run


def model_without_its_package():
    raise MissingPackageError("the test model needs the Python package 'nothing-at-all'")


@pytest.fixture(autouse=True)
def tests_on_worker_path(monkeypatch):
    """Workers started by these tests find the models of this file."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_calls_return_results_and_raise_the_models_errors():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with ModelWorker("test_worker:scaling_model", name="scaling", scale=2.0) as worker:
        out = worker(x)
        assert out["scaled"].dtype == np.float32
        np.testing.assert_array_equal(out["scaled"], 2 * x)
        assert out["pid"] == worker.pid != os.getpid()
        assert out["main"] == "evalkit.embed.worker"  # the worker's main module is the worker, not the caller
        with pytest.raises(ValueError, match="no such value") as caught:
            worker(x, fail="no such value")
        assert isinstance(caught.value.__cause__, RemoteTraceback) and "in run" in str(caught.value.__cause__)
        noisy = worker(x, noise=True)  # prints of the model go to its stderr, not into the replies
        np.testing.assert_array_equal(noisy["scaled"], 2 * x)
        assert noisy["pid"] == out["pid"]  # the same worker served all calls
        assert wait_until(lambda: any("noise on file descriptor 1" in line for line in worker._channel.stderr))
    assert worker.pid is None and not alive(out["pid"])


@pytest.mark.parametrize("how, expected", [({"exit_code": 3}, "exited with exit code 3"),
                                           ({"kill": True}, "was ended by signal SIGKILL")])
def test_a_worker_that_dies_says_so_in_one_line_and_the_next_call_starts_a_new_one(how, expected):
    with ModelWorker("test_worker:scaling_model", name="scaling x2", scale=2.0) as worker:
        first = worker(1.0)["pid"]
        with pytest.raises(WorkerError) as caught:
            worker(1.0, **how)
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"model worker scaling x2 (pid {first}, python -m evalkit.embed.worker "
                                  "test_worker:scaling_model) ")
        assert expected in message and "while computing" in message and "about to" in message
        assert not alive(first) and not worker.running  # reaped: no zombie left
        again = worker(1.0)
        assert again["scaled"] == 2.0 and again["pid"] != first


def test_a_worker_that_died_between_calls_is_reported_on_the_next_call():
    with ModelWorker("test_worker:scaling_model", name="scaling") as worker:
        pid = worker(1.0)["pid"]
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: worker._channel.gone())
        with pytest.raises(WorkerError, match=rf"^model worker scaling \(pid {pid}, .*\) was ended by signal SIGKILL"
                                              r".* while waiting for a call; its last stderr lines: scaling model"):
            worker(1.0)


def test_ctrl_c_is_for_the_caller_which_ends_the_worker():
    """The terminal sends SIGINT to the caller and its worker alike; the worker ignores it, so that the caller, which
    gets the KeyboardInterrupt, decides (it ends a worker interrupted in the middle of a call)."""
    with ModelWorker("test_worker:scaling_model", name="scaling") as worker:
        pid = worker(1.0)["pid"]
        os.kill(pid, signal.SIGINT)
        time.sleep(0.5)
        assert worker(1.0)["pid"] == pid


def test_a_model_that_cannot_load_raises_its_error_and_leaves_no_worker():
    worker = ModelWorker("test_worker:model_without_its_package", name="missing")
    with pytest.raises(MissingPackageError, match="nothing-at-all"):
        worker(1.0)
    assert not worker.running and worker.pid is None


def test_a_worker_that_cannot_import_its_model_names_the_module():
    with ModelWorker("test_worker_no_such_module:model", name="nowhere") as worker:
        with pytest.raises(ModuleNotFoundError, match="test_worker_no_such_module"):
            worker(1.0)


def test_a_copy_in_another_process_starts_its_own_worker():
    with ModelWorker("test_worker:scaling_model", name="scaling", scale=3.0) as worker:
        pid = worker(1.0)["pid"]
        copy = pickle.loads(pickle.dumps(worker))
        assert not copy.running  # the process is not part of the copy
        with copy:
            assert copy(1.0)["scaled"] == 3.0 and copy.pid not in (None, pid)
        assert alive(pid)


SCRIPT = """
import numpy as np
from evalkit.embed.worker import ModelWorker

open({log!r}, "a").write("ran\\n")  # one line each time this top level runs
worker = ModelWorker("test_worker:scaling_model", name="scaling", scale=2.0)
result = worker(np.arange(3))
print("pid", result["pid"], "result", result["scaled"].tolist(), flush=True)
"""


@pytest.mark.parametrize("how", ["script", "-c", "interactive"])
def test_a_script_without_main_guard_python_c_and_an_interactive_session_work(how, tmp_path):
    """The issue's trap: ``spawn`` re-imported an unguarded script inside the worker, which then died. The worker
    is left running at the end (no ``close``): the caller's exit ends it."""
    log = tmp_path / "ran.log"
    code = SCRIPT.format(log=str(log))
    if how == "script":
        (tmp_path / "ex.py").write_text(code)
        command, stdin = [sys.executable, "ex.py"], None
    elif how == "-c":
        command, stdin = [sys.executable, "-c", code], None
    else:
        command, stdin = [sys.executable, "-i"], code + "\n"
    done = subprocess.run(command, cwd=tmp_path, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert log.read_text() == "ran\n"  # the worker did not run the caller's code
    line = next(line for line in done.stdout.splitlines() if "result" in line)
    assert line.endswith("result [0.0, 2.0, 4.0]")
    pid = int(line.split()[line.split().index("pid") + 1])
    assert not alive(pid)  # the caller's exit ended (and reaped) its worker


def test_a_notebook_kernel_works(tmp_path):
    papermill = pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SCRIPT.format(log=str(tmp_path / "ran.log")))])
    nbformat.write(notebook, tmp_path / "in.ipynb")
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               progress_bar=False, cwd=str(tmp_path))
    outputs = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs
    assert any("result [0.0, 2.0, 4.0]" in output.get("text", "") for output in outputs)
    assert (tmp_path / "ran.log").read_text() == "ran\n"


def test_a_worker_ends_when_its_caller_is_killed(tmp_path):
    code = SCRIPT.format(log=str(tmp_path / "ran.log")) + "import time\ntime.sleep(120)\n"
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = caller.stdout.readline()
        pid = int(line.split()[1])
        assert alive(pid)
    finally:
        caller.kill()
        caller.wait()
    assert wait_until(lambda: not alive(pid)), "the worker outlived its killed caller"


def test_the_worker_does_not_import_modules_of_the_callers_folder(tmp_path, monkeypatch):
    """A file of the caller's folder named like a module the worker imports must not shadow it."""
    (tmp_path / "numpy.py").write_text("raise SystemExit('the caller folder numpy.py was imported')\n")
    monkeypatch.chdir(tmp_path)
    with ModelWorker("test_worker:scaling_model", name="scaling", scale=2.0) as worker:
        assert worker(1.0)["scaled"] == 2.0


def test_a_worker_whose_caller_sends_nothing_exits_quietly():
    """`python -m evalkit.embed.worker` whose stdin ends before the model's arguments answers nothing and exits."""
    done = subprocess.run([sys.executable, "-m", "evalkit.embed.worker", "test_worker:scaling_model"], input=b"",
                          capture_output=True, timeout=60)
    assert done.returncode == 0 and done.stdout == b""
