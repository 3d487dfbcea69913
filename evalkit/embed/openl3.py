"""OpenL3 (Cramer et al., 2019) through the ``openl3`` package 0.4.2 (``pip install -r requirements-paper.txt``).

TensorFlow runs the model on a GPU when it sees one. Without the package, building the extractor says what to install.
"""
from __future__ import annotations

import numpy as np

from ..config import check_choice, check_number
from .base import Extractor, require


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
        self._openl3 = require("openl3", "OpenL3", "openl3 downloads its model weights while it is installed, "
                                                   "so this needs a network")

    def params(self) -> dict:
        return {"content": self.content, "input_repr": self.input_repr, "embedding_size": self.dim, "hop": self.hop}

    @property
    def version(self) -> str:
        return f"openl3-{getattr(self._openl3, '__version__', 'unknown')}"

    def model(self):
        """The Keras model of this configuration, loaded on first use and kept until :meth:`close`."""
        if self._model is None:
            self._model = self._openl3.models.load_audio_embedding_model(
                input_repr=self.input_repr, content_type=self.content, embedding_size=self.dim)
        return self._model

    def close(self) -> None:
        self._model = None

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
        # openl3 0.4.2: get_audio_embedding(audio, sr, model=None, input_repr=None, content_type="music",
        # embedding_size=6144, center=True, hop_size=0.1, batch_size=32, frontend="kapre", verbose=True); with
        # lists of audio and sample rates it returns lists. Given a model, input_repr / content / size are
        # taken from the model. No padding here: openl3 pads short signals itself.
        embeddings, timestamps = self._openl3.get_audio_embedding(
            audios, [self.sample_rate] * len(audios), model=self.model(), hop_size=self.hop, center=True,
            batch_size=self.batch_size, verbose=False)
        # the time stamps are k * hop_size; with center=True the signal was shifted by half a window, so they
        # are the frames' centres in the original signal
        return [(np.asarray(e, dtype=np.float32), np.asarray(t, dtype=np.float64))
                for e, t in zip(embeddings, timestamps)]
