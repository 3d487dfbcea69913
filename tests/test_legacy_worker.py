"""Models in another interpreter (evalkit.embed.legacy, ModelWorker(python=...)): the paper's OpenL3 runs in the paper
interpreter (``make paper-env``) when this one cannot run it, found by the extractor or named by
$EVALKIT_PAPER_PYTHON, and one line names ``make paper-env`` when there is none.

End to end with a real model: musicnn, in a worker of a *second* interpreter (another Python version, with evalkit's
requirements: ``$EVALKIT_SECOND_PYTHON``, or a venv that ``make test-all`` made next to the checkout), gives this
interpreter's numbers. Without one, that test is skipped and says why.
"""
from __future__ import annotations

import importlib.util
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import evalkit as ek
from evalkit.embed import legacy
from evalkit.embed.protocol import _Unpickler
from evalkit.embed.worker import ModelWorker

ROOT = Path(__file__).resolve().parent.parent
HERE = "%d.%d" % sys.version_info[:2]
SECOND_PYTHON_VARIABLE = "EVALKIT_SECOND_PYTHON"
SECOND_VENVS = (".venv", ".venv-3.11", ".venv-3.12", ".venv-3.13")

#: openl3 0.4.2's call contract and framing (as tests/test_paper_embeddings.py's in-process stand-in), as a package
#: on disk that the paper interpreter's worker imports; each frame holds the length of its signal.
FAKE_OPENL3 = '''"""A stand-in for openl3 0.4.2 in the paper interpreter."""
import types

import numpy as np

__version__ = "0.4.2"


def load_audio_embedding_model(input_repr, content_type, embedding_size, frontend="kapre"):
    return ("model", input_repr, content_type, embedding_size)


models = types.SimpleNamespace(load_audio_embedding_model=load_audio_embedding_model)


def get_audio_embedding(audio, sr, model=None, input_repr=None, content_type="music", embedding_size=6144,
                        center=True, hop_size=0.1, batch_size=32, frontend="kapre", verbose=True):
    assert isinstance(audio, list) and sr == [48000] * len(audio) and center is True and verbose in (0, 1)
    out, times = [], []
    for x in audio:
        n = len(x) + 24000
        frames = 1 if n <= 48000 else 1 + int(np.ceil((n - 48000) / int(hop_size * 48000)))
        out.append(np.full((frames, model[3]), float(len(x))))
        times.append(np.arange(frames) * hop_size)
    return out, times
'''


@pytest.fixture
def paper_interpreter(tmp_path, monkeypatch):
    """This interpreter as the paper interpreter ($EVALKIT_PAPER_PYTHON), with the stand-in openl3 on its path (and
    its metadata), while openl3 cannot be imported here."""
    (tmp_path / "openl3").mkdir()
    (tmp_path / "openl3" / "__init__.py").write_text(FAKE_OPENL3)
    (tmp_path / "openl3-0.4.2.dist-info").mkdir()
    metadata = "Metadata-Version: 2.1\nName: openl3\nVersion: 0.4.2\n"
    (tmp_path / "openl3-0.4.2.dist-info" / "METADATA").write_text(metadata)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv(legacy.PAPER_PYTHON_VARIABLE, sys.executable)
    monkeypatch.setitem(sys.modules, "openl3", None)
    return sys.executable


def test_openl3_runs_in_the_paper_interpreter_when_this_one_cannot(paper_interpreter, tone_task_dir, tmp_path):
    extractor = ek.get_extractor("openl3-env")
    assert extractor.python == paper_interpreter and extractor.version == "openl3-0.4.2"
    paths = sorted(tone_task_dir.rglob("*.wav"))[:3]  # 2 s at 16 kHz, resampled to 48 kHz on loading
    results = ek.extract_embeddings(paths, extractor, cache=ek.EmbeddingCache(tmp_path / "cache"), progress=False)
    for embeddings, times in results:
        assert embeddings.dtype == np.float32 and embeddings.shape == (16, 512)
        assert (embeddings == 96000).all()  # the stand-in's mark: it ran on the 48 kHz signal
        assert times.dtype == np.float64 and np.allclose(times, np.arange(16) * 0.1)
    worker = extractor._model
    assert isinstance(worker, ModelWorker) and worker.running and worker.pid != os.getpid()
    assert worker.python == paper_interpreter
    (short, _), = extractor.extract_batch([np.zeros(4800, np.float32)])
    assert short.shape == (1, 512) and extractor._model is worker  # one worker per extractor, kept until close()
    extractor.close()
    assert extractor._model is None and not worker.running


def test_a_paper_interpreter_without_openl3_is_named_in_one_line(monkeypatch):
    monkeypatch.setenv(legacy.PAPER_PYTHON_VARIABLE, sys.executable)
    monkeypatch.setitem(sys.modules, "openl3", None)
    with pytest.raises(ek.MissingPackageError) as error:
        ek.get_extractor("openl3")
    message = str(error.value)
    assert message == (f"the paper interpreter {sys.executable} ($EVALKIT_PAPER_PYTHON) has no package 'openl3': "
                       "install requirements-paper.txt into it (`make paper-env` does)")


def test_a_paper_interpreter_that_does_not_exist_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(legacy.PAPER_PYTHON_VARIABLE, str(tmp_path / "nowhere" / "python"))
    monkeypatch.setitem(sys.modules, "openl3", None)
    with pytest.raises(ek.MissingPackageError, match=r"\$EVALKIT_PAPER_PYTHON names .*nowhere/python, which is not a "
                                                     r"file nor a command on PATH: make it with `make paper-env`"):
        ek.get_extractor("openl3")


def test_the_checkouts_paper_venv_is_found(monkeypatch, tmp_path):
    python = legacy.venv_python(tmp_path / ".venv-paper")
    python.parent.mkdir(parents=True)
    python.write_text("")
    monkeypatch.setattr(legacy, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(legacy, "PAPER_VENV", ".venv-paper")
    assert legacy.paper_python("OpenL3", "openl3") == (str(python), ".venv-paper of the checkout")
    monkeypatch.setenv(legacy.PAPER_PYTHON_VARIABLE, sys.executable)  # the variable comes first
    assert legacy.paper_python("OpenL3", "openl3") == (sys.executable, "$EVALKIT_PAPER_PYTHON")


def test_the_protocol_reads_the_arrays_of_either_numpy_major_version():
    """numpy 2 pickles arrays with numpy._core.* functions, numpy 1 with numpy.core.*: a worker of the paper
    interpreter (numpy 1.26) and its caller (numpy 2) read each other's."""
    unpickler = _Unpickler(io.BytesIO(b""))
    for name, function in (("numeric", "_frombuffer"), ("multiarray", "_reconstruct")):
        assert unpickler.find_class(f"numpy.core.{name}", function) is unpickler.find_class(f"numpy._core.{name}",
                                                                                         function)
    array = np.arange(12, dtype=np.float32).reshape(3, 4)[:, 1:]
    np.testing.assert_array_equal(_Unpickler(io.BytesIO(pickle.dumps(array, protocol=5))).load(), array)


# ------------------------------------------------------------------------------------------------
# End to end: a real model in a worker of another interpreter


def probe(python: str) -> tuple[str, bool]:
    """(``"X.Y"``, whether it has musicnn and TensorFlow) of an interpreter, without importing them."""
    script = ("import sys, importlib.util as u; print('%d.%d' % sys.version_info[:2], "
              "all(u.find_spec(m) is not None for m in ('musicnn', 'tensorflow', 'evalkit')))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    version, ready = (done.stdout.split() + ["?", "False"])[:2]
    return version, ready == "True"


@pytest.fixture
def second_python() -> str:
    """$EVALKIT_SECOND_PYTHON (which must work), else the first venv of the checkout that is another Python version
    than this one and has musicnn and TensorFlow; the test is skipped without one."""
    named = os.environ.get(SECOND_PYTHON_VARIABLE)
    if named:
        version, ready = probe(named)
        assert ready and version != HERE, (f"${SECOND_PYTHON_VARIABLE}={named} must be another Python than this "
                                           f"{HERE} with musicnn and TensorFlow (it is {version}, ready: {ready})")
        return named
    for venv in SECOND_VENVS:
        python = legacy.venv_python(ROOT / venv)
        if python.is_file():
            version, ready = probe(str(python))
            if ready and version != HERE:
                return str(python)
    pytest.skip(f"no second interpreter: ${SECOND_PYTHON_VARIABLE} is not set and no venv of the checkout "
                f"({', '.join(SECOND_VENVS)}) is another Python than this {HERE} with musicnn and TensorFlow "
                "(make test-all makes them)")


@pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                    reason="musicnn is not installed (requirements-nodeps.txt)")
def test_musicnn_in_a_worker_of_another_interpreter_gives_this_interpreters_numbers(second_python):
    from evalkit.embed.musicnn import MUSICNN_LAYERS, MusicnnExtractor

    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    audios = [(0.3 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
              for f in (220.0, 1760.0)]
    layers = list(MUSICNN_LAYERS)
    with MusicnnExtractor("MSD_musicnn") as here:
        prepared = [here.prepare(audio) for audio in audios]
        expected, expected_counts = here._worker()(prepared, layers, 32, 1.0, 1.0)
    with ModelWorker("evalkit.embed.musicnn:_musicnn_session", name="musicnn MSD_musicnn (second interpreter)",
                     keep_warm=0, python=second_python, model="MSD_musicnn") as there:
        activations, counts = there(prepared, layers, 32, 1.0, 1.0)
        assert there._channel.process.args[0] == second_python  # it ran in the other interpreter
    assert counts == expected_counts == [3, 3]
    for layer in layers:
        assert activations[layer].dtype == np.float32 and activations[layer].shape == expected[layer].shape
        # the stacks may differ (numpy, librosa, TensorFlow): on noisy audio one max_pool value of 4518 moved by
        # 3.8e-4 relative between Python 3.12 (TensorFlow 2.21, librosa 1.0) and 3.11 (TensorFlow 2.15, librosa 0.11)
        np.testing.assert_allclose(activations[layer], expected[layer], rtol=2e-3, atol=1e-5, err_msg=layer)
