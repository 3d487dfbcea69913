"""OpenL3 (Cramer et al., 2019) through the ``openl3`` package 0.4.2, here or in the paper interpreter.

openl3 0.4.2 with kapre 0.3.6 runs on TensorFlow <= 2.15 with Keras 2 only. Where this interpreter has both (openl3
installed, TensorFlow older than 2.16), the model runs here; otherwise it runs in a worker process of the paper
interpreter (:mod:`evalkit.embed.legacy`: ``make paper-env``'s ``.venv-paper`` or ``$EVALKIT_PAPER_PYTHON``), which
computes the same numbers with the same code (:func:`_embed`). Without either, building the extractor says what to
do in one line. TensorFlow runs the model on a GPU when it sees one.
"""
from __future__ import annotations

import functools
import importlib.util
import sys

import numpy as np

from ..config import check_choice, check_number
from .base import Extractor, require
from .legacy import package_version, paper_python
from .worker import ModelWorker

OPENL3_INSTALL = "openl3 downloads its model weights while it is installed, so this needs a network"


def _openl3_here():
    """The openl3 module if this interpreter can run it, else None: imported already (or a stand-in put in its place),
    or installed beside a TensorFlow older than 2.16 (kapre 0.3 needs Keras 2)."""
    if "openl3" in sys.modules:
        return sys.modules["openl3"]  # None: its import was blocked
    if importlib.util.find_spec("openl3") is None:
        return None
    from .musicnn import _tensorflow_version  # here: an optional path, not part of this module's code fingerprint

    version = _tensorflow_version()
    if version is not None and version >= (2, 16):
        return None
    return require("openl3", "OpenL3", f"pip install -r requirements-paper.txt ({OPENL3_INSTALL})")


def _embed(openl3, model, audios: list[np.ndarray], hop: float, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Embeddings and frame centres of several signals at 48 kHz in one openl3 call (here or in the worker)."""
    # openl3 0.4.2: get_audio_embedding(audio, sr, model=None, input_repr=None, content_type="music",
    # embedding_size=6144, center=True, hop_size=0.1, batch_size=32, frontend="kapre", verbose=True); with
    # lists of audio and sample rates it returns lists. Given a model, input_repr / content / size are
    # taken from the model. No padding here: openl3 pads short signals itself.
    embeddings, timestamps = openl3.get_audio_embedding(
        audios, [OpenL3Extractor.sample_rate] * len(audios), model=model, hop_size=hop, center=True,
        batch_size=batch_size, verbose=False)
    # the time stamps are k * hop_size; with center=True the signal was shifted by half a window, so they
    # are the frames' centres in the original signal
    return [(np.asarray(e, dtype=np.float32), np.asarray(t, dtype=np.float64)) for e, t in zip(embeddings, timestamps)]


def _openl3_model(content: str, input_repr: str, embedding_size: int):
    """In the paper interpreter's worker: load the model once and return the function that embeds,
    ``run(audios, hop, batch_size)``."""
    import openl3

    model = openl3.models.load_audio_embedding_model(input_repr=input_repr, content_type=content,
                                                     embedding_size=embedding_size)
    return functools.partial(_embed, openl3, model)


class OpenL3Extractor(Extractor):
    """OpenL3 embeddings, shape (n_frames, embedding_size), one frame of 1 s every ``hop`` seconds.

    ``openl3.get_audio_embedding(..., center=True)`` pads half a window (0.5 s) of silence before the signal, so
    frame k covers [k * hop - 0.5 s, k * hop + 0.5 s) of the file and its time stamp ``k * hop`` is the frame's
    centre; at the end it pads only up to the last hop that reaches the end. A file of n samples at 48 kHz thus
    gives ``1 + ceil(max(0, n + 24000 - 48000) / (hop * 48000))`` frames: 16 for 2 s at hop 0.1 s, the last
    centred at 1.5 s. Shorter files than a window are padded by openl3 itself (to one frame).

    Parameters
    ----------
    content : {"music", "env"}
        Training content of the model.
    input_repr : {"mel128", "mel256", "linear"}
        Input representation of the model.
    embedding_size : {512, 6144}
    hop : float
        Seconds between frames, > 0 (the paper: 0.1).
    batch_size : int
        Frames per model call, ≥ 1.
    """

    name = "openl3"
    sample_rate = 48000
    window = 1.0

    def __init__(self, content: str = "music", input_repr: str = "mel256", embedding_size: int = 512,
                 hop: float = 0.1, batch_size: int = 32):
        # checked before openl3 (and TensorFlow) is imported: a bad spec is named in one line at once
        self.content = check_choice("openl3", "content", content, ("music", "env"))
        self.input_repr = check_choice("openl3", "input_repr", input_repr, ("mel128", "mel256", "linear"))
        self.dim = int(check_choice("openl3", "embedding_size", embedding_size, (512, 6144)))
        self.training_domain = "music" if content == "music" else "environmental sound"
        self.hop = check_number("openl3", "hop", hop, low=0, low_open=True, unit="s")
        self.batch_size = check_number("openl3", "batch_size", batch_size, low=1, whole=True)
        self._model = None
        # here if this interpreter can run openl3, else in the paper interpreter (found now: one line if there is none)
        self._openl3, self.python, self._version = _openl3_here(), None, None
        if self._openl3 is None:
            self.python, where = paper_python("OpenL3", "openl3")
            self._version = package_version(self.python, "openl3", where)

    def params(self) -> dict:
        return {"content": self.content, "input_repr": self.input_repr, "embedding_size": self.dim, "hop": self.hop}

    @property
    def version(self) -> str:
        if self._openl3 is None:
            return f"openl3-{self._version}"
        return f"openl3-{getattr(self._openl3, '__version__', 'unknown')}"

    def model(self):
        """The Keras model of this configuration (here) or the worker that holds it (in the paper interpreter), loaded
        on first use and kept until :meth:`close`."""
        if self._model is None and self._openl3 is None:
            self._model = ModelWorker(f"{__name__}:_openl3_model", name=f"openl3 {self.content} {self.input_repr} "
                                      f"{self.dim}", version=self.version, python=self.python, content=self.content,
                                      input_repr=self.input_repr, embedding_size=self.dim)
        elif self._model is None:
            self._model = self._openl3.models.load_audio_embedding_model(
                input_repr=self.input_repr, content_type=self.content, embedding_size=self.dim)
        return self._model

    def close(self) -> None:
        model, self._model = self._model, None
        if isinstance(model, ModelWorker):
            model.close()

    def extract_batch(self, audios):
        """Embeddings of several signals in one openl3 call.

        Parameters
        ----------
        audios : list of np.ndarray, each shape (n_samples,)
            Mono audio at 48 kHz (openl3's own rate, so openl3 does not resample again).

        Returns
        -------
        list of (embeddings, times)
            embeddings (n_frames, dim) float32; times (n_frames,) float64, frame centres in seconds.
        """
        if not audios:
            return []
        audios = [np.asarray(a, dtype=np.float32) for a in audios]
        if self._openl3 is None:
            return self.model()(audios, self.hop, self.batch_size)
        return _embed(self._openl3, self.model(), audios, self.hop, self.batch_size)
