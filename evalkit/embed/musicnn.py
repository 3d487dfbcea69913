"""musicnn (Pons & Serra 2019): pre-trained music-tagging CNNs whose checkpoints ship in the PyPI wheel."""
from __future__ import annotations

import functools

import numpy as np

from ..config import MissingPackageError, UnknownNameError, check_number
from ..data.audio import pad_to_length
from .base import Extractor, frame
from .worker import ModelWorker

# Its TF1-style graph needs eager execution disabled, which would break Keras training in the same process, so the
# model lives in a worker interpreter of its own (evalkit.embed.worker: started as `python -m`, so it never re-imports
# the caller's script), owned by the extractor that started it and shared with the extractors of the other layers
# that :meth:`MusicnnExtractor.related` makes; or in a warm worker shared across commands (evalkit.embed.warm). The
# worker also computes the log-mel patches, in a thread while the model runs, so that a caller of a warm worker never
# imports librosa (about 1 s) and the model never waits for its input.

MUSICNN_MODELS = ("MTT_musicnn", "MSD_musicnn")
MUSICNN_LAYERS = {"penultimate": 200, "max_pool": 753, "mean_pool": 753, "taggram": 50}
#: Seconds between two of musicnn's log-mel frames (256 samples at 16 kHz).
MEL_FRAME_SECONDS = 256 / 16000


def _require_musicnn() -> None:
    """Raise :class:`~evalkit.config.MissingPackageError` without the musicnn package, or without tf-keras on a
    TensorFlow that has Keras 3 (found, not imported: the model is imported only in the worker process)."""
    import importlib.util

    if importlib.util.find_spec("musicnn") is None:
        raise MissingPackageError("the musicnn embedding needs the Python package 'musicnn', which is not installed. "
                                  "Install it without its dependencies (its metadata pins numpy<1.17, although it runs "
                                  "on newer ones): pip install --no-deps musicnn==0.1.0")
    version = _tensorflow_version()
    if version is not None and version >= (2, 16) and importlib.util.find_spec("tf_keras") is None:
        raise MissingPackageError(f"the musicnn embedding builds its graph with tf.compat.v1.layers, which TensorFlow "
                                  f"{'.'.join(map(str, version))} (Keras 3) provides only with the Python package "
                                  f"'tf-keras' (Keras 2), which is not installed. Install it: pip install tf-keras")


def _tensorflow_version() -> tuple[int, int] | None:
    """(major, minor) of the installed TensorFlow distribution (any of its names), read from its metadata; None if
    there is none."""
    from importlib.metadata import PackageNotFoundError, version

    for distribution in ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel"):
        try:
            major, minor = version(distribution).split(".")[:2]
            return int(major), int(minor)
        except (PackageNotFoundError, ValueError):
            continue
    return None


def _musicnn_session(model: str):
    """In the worker process: build the musicnn graph, restore the shipped checkpoint and return the function that
    computes activations, ``run(patches, layers, batch_size)`` (see :func:`_run_session`)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import importlib.util

    if importlib.util.find_spec("tf_keras") is not None:
        # TensorFlow >= 2.16 (Keras 3) provides the tf.compat.v1.layers that musicnn's graph is built with only from
        # tf-keras, and only when asked before it is imported; this process runs musicnn alone.
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import warnings

    warnings.simplefilter("ignore")  # this process only runs musicnn, whose TF1 code warns of every layer it builds
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
    return functools.partial(_run_session, session, x, is_training, layers)


def log_mel_patches(audio: np.ndarray, *, window: float, hop: float) -> np.ndarray:
    """musicnn's input as musicnn computes it: log-mel patches (16 kHz, 96 bands) of ``window`` s every ``hop`` s.

    Parameters
    ----------
    audio : np.ndarray, shape (n_samples,), float32
        Mono audio at 16 kHz, at least one window long (:func:`~evalkit.data.audio.pad_to_length`).

    Returns
    -------
    np.ndarray, shape (n_patches, n_frames, 96), float32
        Patch k starts at mel frame ``k * round(hop * 16000 / 256)``.
    """
    import librosa

    mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    # musicnn rounds the mel power to float16 and scales it in float32: numpy < 2 promoted `10000 * float16` to
    # float32 (10000 taken as uint16), numpy 2 keeps float16, where 10000 * mel overflows to inf above 6.55 and the
    # network returns NaN. Written out in float32, the numbers are numpy 1's on both.
    rounded = mel.astype(np.float16).astype(np.float32)
    mel = np.log10(np.float32(10000) * rounded + np.float32(1)).astype(np.float32)
    n_frames = librosa.time_to_frames(window, sr=16000, n_fft=512, hop_length=256) + 1
    return np.ascontiguousarray(frame(mel, n_frames, _mel_step(hop), axis=0))


def _mel_step(hop: float) -> int:
    """Mel frames between two patches."""
    return max(1, int(round(hop * 16000 / 256)))


def _run_session(session, x, is_training, tensors: dict, audios: list[np.ndarray], layers: list[str],
                 batch_size: int, window: float, hop: float) -> tuple[dict[str, np.ndarray], list[int]]:
    """In the worker: activations of ``layers`` for the log-mel patches of ``audios``.

    The patches of the next signals are computed in a thread while the model runs (TensorFlow releases the GIL), and
    the model runs on consecutive ``batch_size`` patches of all signals' patches in order, the batches of one
    concatenated array (so the numbers do not depend on how the signals arrive).

    Returns
    -------
    activations : dict of str to np.ndarray, shape (n_patches of all signals, dim), float32
    counts : list of int
        Patches per signal.
    """
    from concurrent.futures import ThreadPoolExecutor

    fetches = {layer: tensors[layer] for layer in layers}
    outputs, counts, waiting = [], [], np.zeros((0, 0, 0), np.float32)
    with ThreadPoolExecutor(1, thread_name_prefix="log-mel") as pool:
        pending = [pool.submit(log_mel_patches, audio, window=window, hop=hop) for audio in audios]
        for n, future in enumerate(pending):
            patches = future.result()
            counts.append(len(patches))
            waiting = np.concatenate([waiting, patches]) if len(waiting) else patches
            last = n == len(pending) - 1
            while len(waiting) >= batch_size or (last and len(waiting)):
                batch, waiting = waiting[:batch_size], waiting[batch_size:]
                outputs.append(session.run(fetches, feed_dict={x: batch, is_training: False}))
    activations = {layer: np.concatenate([o[layer] for o in outputs]).astype(np.float32) for layer in layers}
    return activations, counts


class MusicnnExtractor(Extractor):
    """musicnn (Pons & Serra 2019), pre-trained on MagnaTagATune (``MTT_musicnn``) or the Million Song Dataset (``MSD_musicnn``).

    Frames are log-mel patches (16 kHz, 96 bands) of ``window`` seconds every ``hop`` seconds. The
    models were trained on 3-s patches but are fully convolutional up to a temporal pooling, so
    they accept shorter ones; the default of 1 s without overlap matches the frame length of OpenL3
    and VGGish and costs a third of 3-s patches with a 1-s hop. The embedding is the activation of ``layer``: ``penultimate`` (200 values), ``max_pool`` / ``mean_pool`` (753,
    the temporal pooling of the mid-end) or ``taggram`` (50 tag probabilities). ``window`` and ``hop`` are at least
    one mel frame (0.016 s); ``batch_size`` (patches per model call) at least 1.
    """

    name = "musicnn"
    sample_rate = 16000
    training_domain = "music"

    def __init__(self, model: str = "MTT_musicnn", layer: str = "penultimate", window: float = 1.0, hop: float = 1.0,
                 batch_size: int = 32):
        if model not in MUSICNN_MODELS:
            raise UnknownNameError("musicnn model", model, MUSICNN_MODELS)
        if layer not in MUSICNN_LAYERS:
            raise UnknownNameError("musicnn layer", layer, MUSICNN_LAYERS)
        self.model, self.layer = model, layer
        self.batch_size = check_number("musicnn", "batch_size", batch_size, low=1, whole=True)
        # at least one 16-ms mel frame (256 samples at 16 kHz): a patch and a step of none cannot be
        self.window = check_number("musicnn", "window", window, low=MEL_FRAME_SECONDS, unit="s")
        self.hop = check_number("musicnn", "hop", hop, low=MEL_FRAME_SECONDS, unit="s")
        self.dim = MUSICNN_LAYERS[layer]
        self._owner, self._model = self, None
        _require_musicnn()

    @functools.cached_property
    def version(self) -> str:
        # cached: the cache asks for the identity of every entry it writes, and reading package metadata is slow
        try:
            from importlib.metadata import version
            return f"musicnn-{version('musicnn')}"
        except Exception:  # noqa: BLE001 - not installed: extraction will say so
            return "musicnn-unknown"

    def params(self) -> dict:
        return {"model": self.model, "layer": self.layer, "window": self.window, "hop": self.hop}

    def _worker(self) -> ModelWorker:
        """The worker process holding this model, started (not waited for) on first use; stopped by :meth:`close`."""
        if self._owner is not self:
            return self._owner._worker()
        if self._model is None:
            _require_musicnn()
            self._model = ModelWorker(f"{__name__}:_musicnn_session", name=f"musicnn {self.model}",
                                      version=self.version, model=self.model)
        return self._model.start()

    def patch_times(self, n_patches: int) -> np.ndarray:
        """Centre times in seconds of the first ``n_patches`` patches, (n_patches,) float64."""
        starts = np.arange(n_patches) * _mel_step(self.hop)
        return (starts * 256 + self.window * 16000 / 2) / 16000

    def prepare(self, audio: np.ndarray) -> np.ndarray:
        """The signal padded to one window (the log-mel patches are computed in the worker, which has librosa
        loaded: a warm worker's caller does not import it); starts the model's worker (without waiting), so that
        the model loads while the files are read."""
        self._worker()
        return pad_to_length(audio, self.window_samples)

    def extract_batch(self, audios):
        return self.extract_batch_related(audios, related=False)[0][1]

    def related(self):
        """The other layers of the same model, window and hop: one forward pass computes them all."""
        siblings = [MusicnnExtractor(self.model, layer, self.window, self.hop, self.batch_size)
                    for layer in MUSICNN_LAYERS if layer != self.layer]
        for sibling in siblings:
            sibling._owner = self._owner  # one worker process serves them all
        return siblings

    def extract_batch_related(self, audios, related: bool = True):
        return self.extract_prepared([self.prepare(a) for a in audios], related=related)

    def extract_prepared(self, prepared, related: bool = True):
        """One model call on several signals (:meth:`prepare`), this layer and, with ``related``, the other layers:
        ``[(extractor, [(embeddings (n_patches, dim), times (n_patches,)) per signal])]``."""
        extractors = [self] + (self.related() if related else [])
        out, counts = self._worker()(list(prepared), [e.layer for e in extractors], self.batch_size,
                                     self.window, self.hop)
        bounds = np.cumsum([0] + counts)
        return [(e, [(out[e.layer][bounds[i]:bounds[i + 1]], self.patch_times(counts[i])) for i in range(len(counts))])
                for e in extractors]

    def close(self) -> None:
        """Stop this extractor's worker process and wait for it to exit (it restarts on the next extraction)."""
        model, self._model = self._model, None
        if model is not None:
            model.close()
