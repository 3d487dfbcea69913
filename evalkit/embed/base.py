"""Embedding extractors: one interface for pre-trained embeddings and handcrafted features.

An extractor turns a mono signal at its own sample rate into frame-wise vectors::

    emb, times = extractor.extract(audio)     # (n_frames, dim) float32, (n_frames,) seconds

Its :attr:`~Extractor.identity` (name, parameters, model version) keys the on-disk cache.
Build one by name with :func:`evalkit.embed.registry.get_extractor` and run it over files with caching with
:func:`evalkit.embed.cache.extract_embeddings`.

An extractor that needs a model loads it on first use and owns it: ``close()`` releases it, and ``with
get_extractor("musicnn") as extractor:`` closes it at the end of the block. No model is kept at module level.
"""
from __future__ import annotations

import importlib
import json

import numpy as np

from ..config import MissingPackageError, format_spec
from ..data.audio import pad_to_length
from ..provenance import code_fingerprint

#: What the paper's embeddings need, and the paper interpreter's requirements (OpenL3: ``make paper-env``).
PAPER_REQUIREMENTS = "requirements-paper.txt"


def require(module: str, what: str, install: str):
    """Import ``module`` or raise :class:`~evalkit.config.MissingPackageError` saying what needs it and how to
    install it (``install``: the command and why, in a few words)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingPackageError(f"the {what} embedding needs the Python package '{module}', which is not installed "
                                  f"({error}). Install it into this interpreter: {install} (see "
                                  f"{PAPER_REQUIREMENTS})") from None


def frame(x: np.ndarray, size: int, hop: int, axis: int = -1) -> np.ndarray:
    """Frames of ``size`` steps every ``hop`` steps along ``axis`` of ``x`` (``librosa.util.frame``), stacked on a new
    first axis: every frame that fits completely, starting at 0, hop, 2 hop, ...

    An ``x`` shorter than one frame gives exactly one frame, all of ``x`` (shorter than ``size``): the project's rule
    that a short input yields one frame.

    Returns
    -------
    np.ndarray, shape (n_frames, *x.shape) with ``x.shape[axis]`` replaced by ``size``
        A view of ``x`` (read-only); frame k covers steps ``[k * hop, k * hop + size)``.

    Examples
    --------
    >>> frame(np.arange(10), 4, 3)
    array([[0, 1, 2, 3],
           [3, 4, 5, 6],
           [6, 7, 8, 9]])
    >>> frame(np.arange(3), 4, 3).shape
    (1, 3)
    """
    import librosa

    axis = axis % x.ndim
    if x.shape[axis] < size:
        return x[None]  # librosa.util.frame refuses inputs shorter than one frame
    frames = librosa.util.frame(np.moveaxis(x, axis, 0), frame_length=size, hop_length=hop, axis=0)
    return np.moveaxis(frames, 1, axis + 1)  # (n_frames, size, other axes...) -> the framed axis back in its place


class Extractor:
    """Base class of all extractors.

    A constructor checks each of its parameters before anything is loaded (:func:`~evalkit.config.check_number`,
    :func:`~evalkit.config.check_choice`): a value out of range is a :class:`~evalkit.config.ParameterError` naming
    the extractor, the parameter, the value and the valid range.

    Attributes
    ----------
    name : str
        Registry name.
    sample_rate : int
        Sample rate in Hz that :meth:`extract` expects.
    window : float
        Length in seconds of the audio one frame summarises. Shorter inputs are zero-padded to it.
    hop : float
        Seconds between consecutive frames.
    dim : int
        Values per frame.
    frame_shape : tuple of int or None
        For spectrogram-patch "extractors" (inputs of the baseline CNNs), the 2-D shape each flat
        frame reshapes to; None for vector embeddings.
    training_domain : str or None
        What a pre-trained model learned from, in a few words (``"music"``, ``"environmental sound"``, ``"speech"``,
        ``"general sound (AudioSet)"``); None for handcrafted features, which learned from nothing. The book's
        claims use it: the best *pre-trained* embedding, and whether two embeddings differ in training content.
    cacheable : bool
        False for features cheaper to recompute than to read back (spectrogram patches).
    """

    name = "base"
    sample_rate = 16000
    window = 1.0
    hop = 1.0
    dim = 0
    frame_shape: tuple[int, ...] | None = None
    training_domain: str | None = None
    cacheable = True
    version = "1"

    def params(self) -> dict:
        """Parameters that change the output (part of the cache identity)."""
        return {}

    @property
    def spec(self) -> str:
        """Readable spec, e.g. ``musicnn(layer=penultimate, model=MTT_musicnn)``."""
        return format_spec(self.name, self.params())

    def identity_params(self) -> dict:
        """The parameters in :attr:`identity`: :meth:`params`, less those that name where something is (a copy of
        the same weights elsewhere must find the same entries)."""
        return self.params()

    @property
    def identity(self) -> str:
        """Stable JSON of name, parameters, model version and code (the extractor's modules and the versions of the
        packages they use, :func:`evalkit.provenance.code_fingerprint`): the cache key of this extractor. Changed
        code gets entries of its own instead of those the old code computed."""
        return json.dumps({"name": self.name, "params": self.identity_params(), "version": self.version,
                           "code": code_fingerprint(type(self))}, sort_keys=True)

    def extract(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame-wise embeddings of one signal.

        Parameters
        ----------
        audio : np.ndarray, shape (n_samples,), float32
            Mono audio at :attr:`sample_rate`.

        Returns
        -------
        embeddings : np.ndarray, shape (n_frames, dim), float32
        times : np.ndarray, shape (n_frames,), float64
            Centre of each frame in seconds.
        """
        return self.extract_batch([audio])[0]

    def extract_batch(self, audios: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`extract` for several signals; subclasses batch the model calls."""
        return [self._extract_one(pad_to_length(a, self.window_samples)) for a in audios]

    def related(self) -> list["Extractor"]:
        """Other extractors whose output the same model pass yields (e.g. other layers of one network)."""
        return []

    def extract_batch_related(self, audios) -> list[tuple["Extractor", list]]:
        """:meth:`extract_batch` for this extractor and every :meth:`related` one, from one model pass:
        a list of ``(extractor, outputs)``, this extractor first. The cache stores them all."""
        return [(self, self.extract_batch(audios))]

    def prepare(self, audio: np.ndarray):
        """The model's input for one signal (``(n_samples,)`` float32 at :attr:`sample_rate`), computed ahead of the
        model: :func:`~evalkit.embed.cache.extract_embeddings` prepares the next batch in a thread while the model
        runs on this one, so an override must be thread-safe (e.g. musicnn's log-mel patches). Default: the
        signal itself."""
        return audio

    def extract_prepared(self, prepared: list, related: bool = True) -> list[tuple["Extractor", list]]:
        """:meth:`extract_batch_related` (``related``) or this extractor's :meth:`extract_batch` alone, on inputs
        made by :meth:`prepare`: a list of ``(extractor, [(embeddings, times) per signal])``, this extractor
        first."""
        return self.extract_batch_related(prepared) if related else [(self, self.extract_batch(prepared))]

    def _extract_one(self, audio):  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def window_samples(self) -> int:
        return int(round(self.window * self.sample_rate))

    def close(self) -> None:
        """Release this extractor's model or worker process; it is loaded again when needed."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}: {self.dim} values every {self.hop:g} s>"
