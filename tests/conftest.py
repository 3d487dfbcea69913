"""Shared fixtures: small tasks of audio the tests generate themselves."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests keep generated audio, caches and results apart from the user's data/ (and reuse them across runs).
os.environ.setdefault("EVALKIT_DATA", str(Path(__file__).resolve().parent.parent / "data" / "_test"))



SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load_script(name: str, *, module_name: str | None = None):
    """``scripts/<name>.py`` imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(module_name or name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

def write_tone_task(root, classes=("low", "mid", "high"), groups=4, files_per_group=2, duration=2.0, sr=16000, seed=0):
    """A folder task of harmonic tones in noise: class = pitch region; group = recording (shared pitch and noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * sr)) / sr
    for c, label in enumerate(classes):
        (root / label).mkdir(parents=True, exist_ok=True)
        for g in range(groups):
            f0 = 150 * 2 ** (c * 0.8 + rng.uniform(-0.2, 0.2))
            noise = rng.uniform(0.05, 0.2)
            for k in range(files_per_group):
                x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 6))
                x = 0.3 * x / np.max(np.abs(x)) + noise * rng.standard_normal(len(t))
                sf.write(root / label / f"rec{g}__{k}.wav", x.astype(np.float32), sr, subtype="PCM_16")
    return root


@pytest.fixture(scope="session")
def tone_task_dir(tmp_path_factory):
    return write_tone_task(tmp_path_factory.mktemp("tones") / "task")


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    from evalkit import EmbeddingCache

    return EmbeddingCache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """The results book on the reduced `test` profile, built once per test run and shared by every test that reads a
    built book (test-all tier): ``(book root, html folder)``. Results and embeddings are kept in the tests' data
    folder, so a second run only executes the notebooks and renders."""
    pytest.importorskip("papermill", reason="papermill (requirements.txt) runs the notebooks")
    pytest.importorskip("jupyter_book", reason="jupyter-book (requirements.txt) builds the HTML")
    from evalkit.book.build import build_book

    root = tmp_path_factory.mktemp("book")
    return root, build_book("test", output=root)


@pytest.fixture(autouse=True)
def no_paper_interpreter(monkeypatch):
    """No test finds the paper interpreter of this checkout (``make paper-env``'s .venv-paper) or of the environment
    ($EVALKIT_PAPER_PYTHON) unless it gives one: what the openl3 extractor does must not depend on the machine."""
    from evalkit.embed import legacy

    monkeypatch.delenv(legacy.PAPER_PYTHON_VARIABLE, raising=False)
    monkeypatch.setattr(legacy, "PAPER_VENV", ".venv-paper-hidden-from-the-tests")
