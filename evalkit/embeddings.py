"""Embedding extractors: one interface for pre-trained embeddings and handcrafted features.

An extractor turns a mono signal at its own sample rate into frame-wise vectors::

    emb, times = extractor.extract(audio)     # (n_frames, dim) float32, (n_frames,) seconds

Its :attr:`~Extractor.identity` (name, parameters, model version) keys the on-disk cache.
Use :func:`get_extractor` to build one by name and :func:`evalkit.cache.extract_embeddings` to run
one over files with caching.
"""
from __future__ import annotations

import atexit
import json
from concurrent.futures import ProcessPoolExecutor
import multiprocessing

import numpy as np

from .audio import pad_to_length
from .config import UnknownNameError, format_spec, parse_spec


class Extractor:
    """Base class of all extractors.

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
    cacheable : bool
        False for features cheaper to recompute than to read back (spectrogram patches).
    """

    name = "base"
    sample_rate = 16000
    window = 1.0
    hop = 1.0
    dim = 0
    frame_shape: tuple[int, ...] | None = None
    cacheable = True
    version = "1"

    def params(self) -> dict:
        """Parameters that change the output (part of the cache identity)."""
        return {}

    @property
    def spec(self) -> str:
        """Readable spec, e.g. ``musicnn(layer=penultimate, model=MTT_musicnn)``."""
        return format_spec(self.name, self.params())

    @property
    def identity(self) -> str:
        """Stable JSON of name, parameters and model version: the cache key of this extractor."""
        return json.dumps({"name": self.name, "params": self.params(), "version": self.version}, sort_keys=True)

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

    def _extract_one(self, audio):  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def window_samples(self) -> int:
        return int(round(self.window * self.sample_rate))

    def frame_starts(self, n_samples: int) -> np.ndarray:
        """Start sample of every frame that fits in ``n_samples`` (at least one)."""
        hop = int(round(self.hop * self.sample_rate))
        return np.arange(0, max(n_samples - self.window_samples, 0) + 1, hop)

    def close(self) -> None:
        """Release models or worker processes (called at exit as well)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}: {self.dim} values every {self.hop:g} s>"


def _texture_windows(features: np.ndarray, frame_rate: float, window: float, hop: float) -> np.ndarray:
    """Mean and standard deviation of short-time ``features`` (n_feat, n_steps) over texture windows.

    Returns shape (n_windows, 2 * n_feat).
    """
    size = max(1, int(round(window * frame_rate)))
    step = max(1, int(round(hop * frame_rate)))
    n_steps = features.shape[1]
    starts = np.arange(0, max(n_steps - size, 0) + 1, step)
    out = np.empty((len(starts), 2 * features.shape[0]), dtype=np.float32)
    for i, start in enumerate(starts):
        block = features[:, start:start + size]
        out[i, : features.shape[0]] = block.mean(axis=1)
        out[i, features.shape[0]:] = block.std(axis=1)
    return out


class MFCCExtractor(Extractor):
    """Handcrafted baseline: MFCCs with deltas and delta-deltas, summarised over texture windows.

    Each frame holds the mean and standard deviation over ``window`` seconds of ``n_mfcc`` MFCCs
    and their first and second derivatives (32 ms FFT, 10 ms steps): ``dim = 6 * n_mfcc``.
    """

    name = "mfcc"

    def __init__(self, n_mfcc: int = 20, window: float = 1.0, hop: float = 0.5, sample_rate: int = 16000):
        self.n_mfcc, self.window, self.hop, self.sample_rate = int(n_mfcc), float(window), float(hop), int(sample_rate)
        self.dim = 6 * self.n_mfcc

    def params(self) -> dict:
        return {"n_mfcc": self.n_mfcc, "window": self.window, "hop": self.hop, "sample_rate": self.sample_rate}

    def _extract_one(self, audio):
        import librosa

        step = self.sample_rate // 100
        mfcc = librosa.feature.mfcc(y=audio, sr=self.sample_rate, n_mfcc=self.n_mfcc, n_fft=512, hop_length=step, n_mels=40)
        feats = np.vstack([mfcc, librosa.feature.delta(mfcc, width=5), librosa.feature.delta(mfcc, order=2, width=5)])
        emb = _texture_windows(feats, 100.0, self.window, self.hop)
        times = np.arange(len(emb)) * self.hop + self.window / 2
        return emb, times


class SpectrogramPatches(Extractor):
    """Input of the baseline CNNs trained from scratch: log-magnitude spectrogram patches.

    ``kind="linear"``: the paper's 256 × 34 log-spectrogram patch (512-point FFT, lowest 256 bins);
    ``kind="mel"``: Han et al.'s 128 × 43 log-mel patch (22.05 kHz, hop 512: about one second).
    Frames are flattened patches; :attr:`frame_shape` is (frequency, time).
    """

    name = "spectrogram"
    cacheable = False

    def __init__(self, kind: str = "linear", patch_hop: float = 0.5):
        if kind not in ("linear", "mel"):
            raise ValueError(f"spectrogram kind must be 'linear' or 'mel', not {kind!r}")
        self.kind, self.patch_hop = kind, float(patch_hop)
        if kind == "linear":
            self.sample_rate, self.n_fft, self.step, self.frame_shape = 16000, 512, 256, (256, 34)
        else:
            self.sample_rate, self.n_fft, self.step, self.frame_shape = 22050, 1024, 512, (128, 43)
        self.dim = int(np.prod(self.frame_shape))
        self.window = (self.frame_shape[1] - 1) * self.step / self.sample_rate + self.n_fft / self.sample_rate
        self.hop = self.patch_hop

    def params(self) -> dict:
        return {"kind": self.kind, "patch_hop": self.patch_hop}

    def _extract_one(self, audio):
        import librosa

        if self.kind == "linear":
            spec = np.abs(librosa.stft(audio, n_fft=self.n_fft, hop_length=self.step, center=False))[: self.frame_shape[0]]
        else:
            spec = librosa.feature.melspectrogram(y=audio, sr=self.sample_rate, n_fft=self.n_fft, hop_length=self.step,
                                                  n_mels=self.frame_shape[0], center=False, power=1.0)
        logspec = np.log1p(100.0 * spec).astype(np.float32)
        n_time = self.frame_shape[1]
        step = max(1, int(round(self.patch_hop * self.sample_rate / self.step)))
        starts = np.arange(0, max(logspec.shape[1] - n_time, 0) + 1, step)
        patches = np.stack([logspec[:, s:s + n_time].reshape(-1) for s in starts])
        times = (starts * self.step + (self.window * self.sample_rate) / 2) / self.sample_rate
        return patches, times


# ---------------------------------------------------------------------------------------------
# musicnn (Pons & Serra): pre-trained music-tagging CNNs whose checkpoints ship in the PyPI wheel.
# Its TF1-style graph needs eager execution disabled, which would break Keras training in the same
# process, so the model lives in a worker process of its own.

MUSICNN_MODELS = ("MTT_musicnn", "MSD_musicnn")
MUSICNN_LAYERS = {"penultimate": 200, "max_pool": 753, "mean_pool": 753, "taggram": 50}
_MUSICNN_STATE: dict = {}
#: One worker process per musicnn model, shared by every extractor of this process.
_MUSICNN_WORKERS: dict[str, ProcessPoolExecutor] = {}


def _close_musicnn_workers() -> None:
    for model in list(_MUSICNN_WORKERS):
        _MUSICNN_WORKERS.pop(model).shutdown(wait=True, cancel_futures=True)


atexit.register(_close_musicnn_workers)


def _musicnn_worker_init(model: str) -> None:
    """Build the musicnn graph once per worker process and restore the shipped checkpoint."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import warnings

    warnings.filterwarnings("ignore")
    import musicnn
    from musicnn import configuration, models

    labels = configuration.MTT_LABELS if model.startswith("MTT") else configuration.MSD_LABELS
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, None, configuration.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        with tf.name_scope("model"):
            outputs = models.define_model(x, is_training, model, len(labels))
        logits, _, _, _, _, _, mean_pool, max_pool, penultimate = outputs
        layers = {"taggram": tf.nn.sigmoid(logits), "mean_pool": mean_pool, "max_pool": max_pool, "penultimate": penultimate}
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
        session = tf.compat.v1.Session(graph=graph, config=config)
        saver = tf.compat.v1.train.Saver()
        saver.restore(session, os.path.join(os.path.dirname(musicnn.__file__), model) + "/")
    _MUSICNN_STATE.update(session=session, x=x, is_training=is_training, layers=layers)


def _musicnn_worker_run(patches: np.ndarray, layers: list[str], batch_size: int) -> dict[str, np.ndarray]:
    """Activations of ``layers`` for log-mel ``patches`` (n, frames, 96): {layer: (n, dim) float32}."""
    state = _MUSICNN_STATE
    fetches = {layer: state["layers"][layer] for layer in layers}
    outputs = [state["session"].run(fetches, feed_dict={state["x"]: patches[i:i + batch_size], state["is_training"]: False})
               for i in range(0, len(patches), batch_size)]
    return {layer: np.concatenate([o[layer] for o in outputs]).astype(np.float32) for layer in layers}


class MusicnnExtractor(Extractor):
    """musicnn (Pons & Serra 2019), pre-trained on MagnaTagATune (``MTT_musicnn``) or the Million Song Dataset (``MSD_musicnn``).

    Frames are log-mel patches (16 kHz, 96 bands) of ``window`` seconds every ``hop`` seconds. The
    models were trained on 3-s patches but are fully convolutional up to a temporal pooling, so
    they accept shorter ones; the default of 1 s without overlap matches the frame length of OpenL3
    and VGGish and costs a third of 3-s patches with a 1-s hop. The embedding is the activation of ``layer``: ``penultimate`` (200 values), ``max_pool`` / ``mean_pool`` (753,
    the temporal pooling of the mid-end) or ``taggram`` (50 tag probabilities).
    """

    name = "musicnn"
    sample_rate = 16000

    def __init__(self, model: str = "MTT_musicnn", layer: str = "penultimate", window: float = 1.0, hop: float = 1.0,
                 batch_size: int = 32):
        if model not in MUSICNN_MODELS:
            raise UnknownNameError("musicnn model", model, MUSICNN_MODELS)
        if layer not in MUSICNN_LAYERS:
            raise UnknownNameError("musicnn layer", layer, MUSICNN_LAYERS)
        self.model, self.layer, self.batch_size = model, layer, int(batch_size)
        self.window, self.hop = float(window), float(hop)
        self.dim = MUSICNN_LAYERS[layer]

    @property
    def version(self) -> str:
        try:
            from importlib.metadata import version
            return f"musicnn-{version('musicnn')}"
        except Exception:  # noqa: BLE001 - not installed: extraction will say so
            return "musicnn-unknown"

    def params(self) -> dict:
        return {"model": self.model, "layer": self.layer, "window": self.window, "hop": self.hop}

    def _worker(self) -> ProcessPoolExecutor:
        """The process holding this model (started on first use, shared with other extractors)."""
        if self.model not in _MUSICNN_WORKERS:
            import importlib.util

            if importlib.util.find_spec("musicnn") is None:
                raise ImportError("the musicnn embedding needs the 'musicnn' package: pip install --no-deps musicnn==0.1.0")
            _MUSICNN_WORKERS[self.model] = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                               initializer=_musicnn_worker_init, initargs=(self.model,))
        return _MUSICNN_WORKERS[self.model]

    def _patches(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-mel patches as musicnn computes them, (n_patches, n_frames, 96), and their centre times."""
        import librosa

        audio = pad_to_length(audio, self.window_samples)
        mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
        mel = np.log10(10000 * mel.astype(np.float16) + 1).astype(np.float32)
        n_frames = librosa.time_to_frames(self.window, sr=16000, n_fft=512, hop_length=256) + 1
        step = max(1, int(round(self.hop * 16000 / 256)))
        starts = np.arange(0, max(mel.shape[0] - n_frames, 0) + 1, step)
        patches = np.stack([mel[s:s + n_frames] for s in starts])
        times = (starts * 256 + self.window * 16000 / 2) / 16000
        return patches, times

    def extract_batch(self, audios):
        return self.extract_batch_related(audios, related=False)[0][1]

    def related(self):
        """The other layers of the same model, window and hop: one forward pass computes them all."""
        return [MusicnnExtractor(self.model, layer, self.window, self.hop, self.batch_size)
                for layer in MUSICNN_LAYERS if layer != self.layer]

    def extract_batch_related(self, audios, related: bool = True):
        prepared = [self._patches(a) for a in audios]
        counts = [len(p) for p, _ in prepared]
        stacked = np.concatenate([p for p, _ in prepared])
        extractors = [self] + (self.related() if related else [])
        out = self._worker().submit(_musicnn_worker_run, stacked, [e.layer for e in extractors], self.batch_size).result()
        bounds = np.cumsum([0] + counts)
        return [(e, [(out[e.layer][bounds[i]:bounds[i + 1]], prepared[i][1]) for i in range(len(audios))])
                for e in extractors]

    def close(self) -> None:
        """Stop this model's worker process (it restarts on the next extraction)."""
        worker = _MUSICNN_WORKERS.pop(self.model, None)
        if worker is not None:
            worker.shutdown(wait=True, cancel_futures=True)


#: Named extractors; a name maps to a factory taking keyword parameters.
EXTRACTORS = {
    "mfcc": MFCCExtractor,
    "musicnn": MusicnnExtractor,
    "spectrogram": SpectrogramPatches,
}

#: Short names for the configurations the book uses.
EXTRACTOR_PRESETS = {
    "musicnn-mtt": ("musicnn", {"model": "MTT_musicnn", "layer": "penultimate"}),
    "musicnn-msd": ("musicnn", {"model": "MSD_musicnn", "layer": "penultimate"}),
    "musicnn-mtt-maxpool": ("musicnn", {"model": "MTT_musicnn", "layer": "max_pool"}),
}


def register_extractor(name: str, factory) -> None:
    """Add an extractor factory (a class or callable taking keyword parameters) under ``name``."""
    EXTRACTORS[name] = factory


def available_extractors() -> list[str]:
    """Names accepted by :func:`get_extractor` (registry names and presets)."""
    _register_paper_extractors()
    return sorted(set(EXTRACTORS) | set(EXTRACTOR_PRESETS))


def _register_paper_extractors() -> None:
    try:
        from . import paper_embeddings  # noqa: F401  (registers openl3, vggish, kumar)
    except ImportError:
        pass


def get_extractor(spec: str | Extractor, **params) -> Extractor:
    """Build an extractor from a name or spec, e.g. ``"mfcc"``, ``"musicnn-msd"``,
    ``"musicnn(model=MSD_musicnn, layer=max_pool)"``; keyword ``params`` override the spec's."""
    if isinstance(spec, Extractor):
        return spec
    name, spec_params = parse_spec(spec)
    if name in EXTRACTOR_PRESETS:
        name, preset = EXTRACTOR_PRESETS[name]
        spec_params = {**preset, **spec_params}
    if name not in EXTRACTORS:
        _register_paper_extractors()
    if name not in EXTRACTORS:
        raise UnknownNameError("embedding", name, available_extractors())
    try:
        return EXTRACTORS[name](**{**spec_params, **params})
    except TypeError as error:
        raise ValueError(f"embedding {name!r}: {error}") from None
