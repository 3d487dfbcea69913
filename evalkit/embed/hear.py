"""Any module of the HEAR 2021 API (PaSST, BEATs, CLAP wrappers, the HEAR baselines, ...) as an embedding:
``hear(module=NAME, weights=PATH, window=..., hop=...)``.

The module's timestamp embeddings are the frames (or, with ``window`` and ``hop``, their means over windows). Files
are fed in batches of similar length: sorted by length, each batch zero-padded to its longest file (and to at least
:data:`~evalkit.embed.hear_validation.VALIDATION_SECONDS` ``[0]``, the shortest length the model was checked on),
and every file keeps only the frames whose timestamps lie within its own length, so the padding adds no frames (for
models that zero-pad the end of a sound themselves it changes no values either). A file shorter than the model's
first timestamp keeps that one frame: the project's rule that a short file gives one frame.

The model is loaded on first use, checked once with :func:`~evalkit.embed.hear_validation.check_model` (a one-line
:class:`~evalkit.config.ParameterError` lists what is wrong) and released by ``close()``. What the check measured
(sample rate, sizes, frame hop) is remembered in ``<data>/cache/hear/``, keyed like the embedding cache, so a run
whose embeddings are all cached never loads the model.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..config import MissingDataError, ParameterError, data_dir
from ..data.audio import file_hash
from .base import Extractor
from .hear_validation import (VALIDATION_SECONDS, call_hear, check_model, import_hear_module, load_hear_model,
                              module_problems)


def module_version(module) -> str:
    """``NAME VERSION`` of a module: its ``__version__`` (or its top package's), else the version of the
    distribution that installed it, else ``source-`` and a SHA-256 of its source files (a module of your own)."""
    name, top = module.__name__, module.__name__.partition(".")[0]
    version = getattr(module, "__version__", None) or getattr(sys.modules.get(top), "__version__", None)
    if version is None:
        distributions = importlib.metadata.packages_distributions().get(top)
        if distributions:
            version = importlib.metadata.version(distributions[0])
    if version is None:
        version = "source-" + _source_hash(module)
    return f"{name} {version}"


def _source_hash(module) -> str:
    """SHA-256 (16 hex) of the module's file, or of every ``.py`` file of its top package."""
    top = sys.modules.get(module.__name__.partition(".")[0], module)
    origin = Path(getattr(top, "__file__", None) or getattr(module, "__file__", None) or "")
    files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(origin.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def weights_hash(path: Path) -> str:
    """SHA-256 of a weights file, or of every file (relative name and content) of a weights folder."""
    if path.is_file():
        return file_hash(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(item.relative_to(path)).encode())
        digest.update(file_hash(item).encode())
    return digest.hexdigest()


def pool_frames(embeddings: np.ndarray, times: np.ndarray, *, duration: float, window: float,
                hop: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the frames whose times fall in each window ``[k * hop, k * hop + window)`` that fits in
    ``duration`` seconds (at least one window: the project's short-file rule).

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_frames, dim)
    times : np.ndarray, shape (n_frames,)
        Frame times in seconds, increasing.
    duration, window, hop : float
        Seconds.

    Returns
    -------
    pooled : np.ndarray, shape (n_windows, dim), float32
        ``n_windows = 1 + floor((duration - window) / hop)``, at least 1. A window without a frame (a model hop
        longer than ``window``) takes the frame nearest to its centre.
    centres : np.ndarray, shape (n_windows,), float64
        ``k * hop + window / 2``.
    """
    n_windows = 1 + max(0, int(np.floor((duration - window) / hop + 1e-9)))
    starts = np.arange(n_windows) * hop
    first = np.searchsorted(times, starts - 1e-9, side="left")
    stop = np.searchsorted(times, starts + window - 1e-9, side="left")
    sums = np.concatenate([np.zeros((1, embeddings.shape[1])), np.cumsum(embeddings, axis=0, dtype=np.float64)])
    counts = (stop - first)[:, None]
    pooled = (sums[stop] - sums[first]) / np.maximum(counts, 1)
    centres = starts + window / 2
    empty = counts[:, 0] == 0
    if np.any(empty):
        nearest = np.abs(times[None, :] - centres[empty, None]).argmin(axis=1)
        pooled[empty] = embeddings[nearest]
    return pooled.astype(np.float32), centres


#: The module of a plain ``hear``: PaSST (Koutini et al., 2022), trained on AudioSet, from the ``hear21passt`` package.
DEFAULT_MODULE, DEFAULT_DOMAIN = "hear21passt.base", "general sound (AudioSet)"


class HearExtractor(Extractor):
    """The timestamp embeddings of a HEAR 2021 module, shape (n_frames, timestamp_embedding_size).

    Parameters
    ----------
    module : str
        An importable HEAR module; default :data:`DEFAULT_MODULE`, PaSST (``pip install hear21passt``; it downloads
        its weights when first loaded).
    weights : path-like, optional
        File (or folder) given to ``load_model``; None loads the module's default model (``load_model()``, or
        ``load_model("")`` when it needs an argument). Its SHA-256, not its path, keys the cache.
    window, hop : float, optional
        None: the module's own frames (every ``frame_hop`` s, as the model's timestamps say). Else the mean of the
        frames in windows of ``window`` seconds every ``hop`` seconds (``hop`` defaults to ``window``).
    batch_size : int
        Files per model call.
    domain : str, optional
        What the model was trained on, for the book's claims (e.g. ``"general sound (AudioSet)"``); default: that of
        the default module, else "not stated".

    ``sample_rate`` and ``dim`` come from the model; the first time they are needed the model is loaded and checked,
    and afterwards they are read from ``<data>/cache/hear/``.
    """

    name = "hear"

    def __init__(self, module: str = DEFAULT_MODULE, weights: str | None = None, window: float | None = None,
                 hop: float | None = None, batch_size: int = 8, domain: str | None = None):
        if not module or not isinstance(module, str):
            raise ParameterError(f"hear: module must be the name of an installed HEAR 2021 API module, not {module!r}")
        if window is None and hop is not None:
            raise ParameterError(f"hear(module={module}): hop={hop} needs a window (seconds) to pool frames over")
        for key, value in (("window", window), ("hop", hop)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ParameterError(f"hear(module={module}): {key} must be a positive number of seconds, not {value!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"hear(module={module}): batch_size must be a positive whole number, not {batch_size!r}")
        self.module = module
        self.weights = None if weights is None else Path(str(weights)).expanduser()
        if self.weights is not None and not self.weights.exists():
            raise MissingDataError(f"hear(module={module}): weights {self.weights} do not exist")
        self.pool_window = None if window is None else float(window)
        self.pool_hop = None if window is None else float(window if hop is None else hop)
        self.batch_size = int(batch_size)
        self.training_domain = domain or (DEFAULT_DOMAIN if module == DEFAULT_MODULE else
                                          f"not stated (HEAR module {module})")
        self._module = import_hear_module(module)
        problems = module_problems(self._module)
        if problems:
            raise ParameterError(f"hear(module={module}): not a HEAR 2021 module: {'; '.join(problems)}")
        self.weights_sha256 = None if self.weights is None else weights_hash(self.weights)
        self.version = (f"{module_version(self._module)}; weights "
                        f"{'default' if self.weights is None else 'sha256 ' + self.weights_sha256}")
        self._model, self._facts = None, None

    def params(self) -> dict:
        params = {"module": self.module}
        if self.weights is not None:
            params["weights"] = str(self.weights)
        if self.pool_window is not None:
            params.update(window=self.pool_window, hop=self.pool_hop)
        return params

    def identity_params(self) -> dict:
        """Parameters without the weights' path: their SHA-256 is part of :attr:`version`, so a copy of the same
        weights elsewhere (another machine) finds the same cache entries."""
        return {k: v for k, v in self.params().items() if k != "weights"}

    # -- what the model says about itself -------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return self.facts()["sample_rate"]

    @property
    def dim(self) -> int:
        return self.facts()["timestamp_embedding_size"]

    @property
    def hop(self) -> float:
        return self.facts()["frame_hop"] if self.pool_hop is None else self.pool_hop

    @property
    def window(self) -> float:
        """The pooling window; without one, the frame hop (the stretch of audio each frame stands for)."""
        return self.facts()["frame_hop"] if self.pool_window is None else self.pool_window

    def _facts_path(self) -> Path:
        key = hashlib.sha256(json.dumps([self.module, self.version]).encode()).hexdigest()[:16]
        return data_dir() / "cache" / "hear" / f"{self.module}-{key}.json"

    def facts(self) -> dict:
        """``sample_rate``, ``timestamp_embedding_size``, ``scene_embedding_size`` and ``frame_hop`` (seconds) of the
        model: remembered from an earlier check of the same module version and weights, else from loading it now."""
        if self._facts is None:
            try:
                self._facts = json.loads(self._facts_path().read_text())
            except (OSError, ValueError):  # not checked yet (or an unreadable note): load and check the model
                self.model()
        return self._facts

    def model(self):
        """The module's model, loaded and checked on first use and kept until :meth:`close`.

        Raises
        ------
        ParameterError
            ``load_model`` failed, or the model does not behave as the HEAR API says (every problem listed).
        """
        if self._model is None:
            weights = None if self.weights is None else str(self.weights)
            try:
                model = load_hear_model(self._module, weights)
            except Exception as error:  # noqa: BLE001 - the module's error, in one line
                message = " ".join(f"{type(error).__name__}: {error}".split())[:300]
                raise ParameterError(f"{self.spec}: load_model({'' if weights is None else repr(weights)}) failed: "
                                     f"{message}") from error
            problems, facts = check_model(self._module, model)
            if problems:
                raise ParameterError(f"{self.spec}: not a valid HEAR 2021 module: {'; '.join(problems)}")
            self._remember(facts)
            self._model = model
        return self._model

    def _remember(self, facts: dict) -> None:
        path = self._facts_path()
        if path.is_file():
            try:
                known = json.loads(path.read_text())
            except ValueError:
                known = None
            if known is not None and known != facts:
                raise ParameterError(f"{self.spec}: the model changed without a new version ({self.version}): it was "
                                     f"{known}, now {facts}; give the module a new __version__ (the embedding cache "
                                     f"is keyed by it) or delete {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(facts, handle)
        os.replace(tmp, path)
        self._facts = facts

    def close(self) -> None:
        self._model = None

    def __repr__(self) -> str:  # without loading the model: it may not have been checked yet
        if self._facts is None and not self._facts_path().is_file():
            return f"<{type(self).__name__} {self.spec}: model not loaded yet>"
        return super().__repr__()

    def __getstate__(self) -> dict:  # a copy in another process imports the module and loads the model itself
        return {**self.__dict__, "_module": None, "_model": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._module = import_hear_module(self.module)

    # -- extraction -----------------------------------------------------------------------------------------------

    def extract_batch(self, audios):
        """Timestamp embeddings of several signals, in model calls of up to ``batch_size`` files of similar length.

        Parameters
        ----------
        audios : list of np.ndarray, each shape (n_samples,)
            Mono audio at :attr:`sample_rate`.

        Returns
        -------
        list of (embeddings, times)
            embeddings (n_frames, dim) float32; times (n_frames,) float64, seconds (the model's timestamps, or the
            centres of the pooling windows).
        """
        if not audios:
            return []
        model, rate = self.model(), self.sample_rate
        audios = [np.asarray(a, dtype=np.float32) for a in audios]
        shortest = int(round(VALIDATION_SECONDS[0] * rate))
        order = sorted(range(len(audios)), key=lambda i: len(audios[i]))
        results: list = [None] * len(audios)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            lengths = [len(audios[i]) for i in chunk]
            batch = np.zeros((len(chunk), max(shortest, *lengths)), dtype=np.float32)
            for row, i in enumerate(chunk):
                batch[row, :lengths[row]] = audios[i]
            embeddings, timestamps = call_hear(self._module.get_timestamp_embeddings, batch, model)
            if embeddings.ndim != 3 or embeddings.shape[::2] != (len(chunk), self.dim) or timestamps.shape != embeddings.shape[:2]:
                raise ParameterError(f"{self.spec}: get_timestamp_embeddings returned shapes {embeddings.shape} and "
                                     f"{timestamps.shape} for {batch.shape} audio, expected ({len(chunk)}, n_times, "
                                     f"{self.dim}) and ({len(chunk)}, n_times)")
            for row, i in enumerate(chunk):
                results[i] = self._file_frames(embeddings[row], timestamps[row], lengths[row] / rate)
        return results

    def _file_frames(self, embeddings: np.ndarray, timestamps_ms: np.ndarray, duration: float):
        """One file's frames from its row of a padded batch: those within its ``duration`` seconds (at least the
        first), pooled to windows if asked."""
        times = np.asarray(timestamps_ms, dtype=np.float64) / 1000
        keep = times <= duration + 0.5 / self.sample_rate
        keep[0] = True
        embeddings, times = np.asarray(embeddings, dtype=np.float32)[keep], times[keep]
        if self.pool_window is not None:
            embeddings, times = pool_frames(embeddings, times, duration=duration, window=self.pool_window,
                                            hop=self.pool_hop)
        return embeddings, times
