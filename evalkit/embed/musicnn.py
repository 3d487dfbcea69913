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
# that :meth:`MusicnnExtractor.related` makes.

MUSICNN_MODELS = ("MTT_musicnn", "MSD_musicnn")
MUSICNN_LAYERS = {"penultimate": 200, "max_pool": 753, "mean_pool": 753, "taggram": 50}
#: Seconds between two of musicnn's log-mel frames (256 samples at 16 kHz).
MEL_FRAME_SECONDS = 256 / 16000


def _require_musicnn() -> None:
    """Raise :class:`~evalkit.config.MissingPackageError` without the musicnn package (found, not imported: the
    model is imported only in the worker process)."""
    import importlib.util

    if importlib.util.find_spec("musicnn") is None:
        raise MissingPackageError("the musicnn embedding needs the Python package 'musicnn', which is not installed. "
                                  "Install it without its dependencies (its metadata pins numpy<1.17, although it runs "
                                  "on newer ones): pip install --no-deps musicnn==0.1.0")


def _musicnn_session(model: str):
    """In the worker process: build the musicnn graph, restore the shipped checkpoint and return the function that
    computes activations, ``run(patches, layers, batch_size)`` (see :func:`_run_session`)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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


def _run_session(session, x, is_training, tensors: dict, patches: np.ndarray, layers: list[str],
                 batch_size: int) -> dict[str, np.ndarray]:
    """Activations of ``layers`` for log-mel ``patches`` (n, frames, 96): {layer: (n, dim) float32}."""
    fetches = {layer: tensors[layer] for layer in layers}
    outputs = [session.run(fetches, feed_dict={x: patches[i:i + batch_size], is_training: False})
               for i in range(0, len(patches), batch_size)]
    return {layer: np.concatenate([o[layer] for o in outputs]).astype(np.float32) for layer in layers}


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

    @property
    def version(self) -> str:
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
            self._model = ModelWorker(f"{__name__}:_musicnn_session", name=f"musicnn {self.model}", model=self.model)
        return self._model.start()

    def _patches(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-mel patches as musicnn computes them, (n_patches, n_frames, 96), and their centre times."""
        import librosa

        audio = pad_to_length(audio, self.window_samples)
        mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
        mel = np.log10(10000 * mel.astype(np.float16) + 1).astype(np.float32)
        n_frames = librosa.time_to_frames(self.window, sr=16000, n_fft=512, hop_length=256) + 1
        step = max(1, int(round(self.hop * 16000 / 256)))
        patches = np.ascontiguousarray(frame(mel, n_frames, step, axis=0))  # (n_patches, n_frames, 96)
        starts = np.arange(len(patches)) * step
        times = (starts * 256 + self.window * 16000 / 2) / 16000
        return patches, times

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
        worker = self._worker()  # loads the model while the patches are computed
        prepared = [self._patches(a) for a in audios]
        counts = [len(p) for p, _ in prepared]
        stacked = np.concatenate([p for p, _ in prepared])
        extractors = [self] + (self.related() if related else [])
        out = worker(stacked, [e.layer for e in extractors], self.batch_size)
        bounds = np.cumsum([0] + counts)
        return [(e, [(out[e.layer][bounds[i]:bounds[i + 1]], prepared[i][1]) for i in range(len(audios))])
                for e in extractors]

    def close(self) -> None:
        """Stop this extractor's worker process and wait for it to exit (it restarts on the next extraction)."""
        model, self._model = self._model, None
        if model is not None:
            model.close()
