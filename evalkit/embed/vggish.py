"""VGGish (Hershey et al., 2017) from TensorFlow Hub, raw or with the released PCA / 8-bit post-processing."""
from __future__ import annotations

import numpy as np

from ..config import MissingDataError, ParameterError, check_choice
from .base import Extractor, require

VGGISH_HUB_URL = "https://tfhub.dev/google/vggish/1"
VGGISH_PCA_URL = "https://storage.googleapis.com/audioset/vggish_pca_params.npz"


#: Range the released post-processing clips the PCA output to before quantising it to 8 bits
#: (QUANTIZE_MIN_VAL / QUANTIZE_MAX_VAL of vggish_params.py).
VGGISH_QUANTIZE_RANGE = (-2.0, 2.0)


def vggish_postprocess(embeddings: np.ndarray, pca_eigen_vectors: np.ndarray, pca_means: np.ndarray) -> np.ndarray:
    """The post-processing of the released AudioSet VGGish embeddings (``vggish_postprocess.Postprocessor`` of
    tensorflow/models research/audioset/vggish): PCA with whitening, clipping to [-2, 2], 8-bit quantisation.

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_frames, 128)
        Raw VGGish output.
    pca_eigen_vectors : np.ndarray, shape (128, 128)
        ``pca_eigen_vectors`` of ``vggish_pca_params.npz``: rows are the (whitening-scaled) components.
    pca_means : np.ndarray, shape (128, 1) or (128,)
        ``pca_means`` of ``vggish_pca_params.npz``.

    Returns
    -------
    np.ndarray, shape (n_frames, 128), float32
        Integer levels 0 … 255, as the released uint8 values, in float32 for the classifiers.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    pca_eigen_vectors, pca_means = np.asarray(pca_eigen_vectors), np.reshape(pca_means, (-1, 1))
    if embeddings.ndim != 2 or pca_eigen_vectors.shape != (embeddings.shape[1],) * 2 \
            or pca_means.shape != (embeddings.shape[1], 1):
        raise ParameterError(f"VGGish post-processing: embeddings {embeddings.shape}, pca_eigen_vectors "
                             f"{pca_eigen_vectors.shape} and pca_means {pca_means.shape} do not fit (expected (n, 128), "
                             "(128, 128) and (128, 1))")
    pca = (pca_eigen_vectors @ (embeddings.T - pca_means)).T
    low, high = VGGISH_QUANTIZE_RANGE
    levels = (np.clip(pca, low, high) - low) * (255.0 / (high - low))
    # the release casts to uint8, which truncates: a value of 254.9 is level 254, not 255
    return levels.astype(np.uint8).astype(np.float32)


class VGGishExtractor(Extractor):
    """VGGish embeddings (Hershey et al., 2017): 128 values per 0.96 s frame of 16 kHz audio, no overlap.

    The TF Hub model takes a 1-D float32 waveform at 16 kHz in [-1, 1] and returns (n_frames, 128) float32: a
    log-mel spectrogram of 25 ms windows every 10 ms (no padding) cut into patches of 96 windows every 96
    windows. Only complete patches are emitted, so frame k covers samples [15360 k, 15360 k + 15600), i.e.
    0.975 s centred at 0.96 k + 0.4875 s, and a signal shorter than 15600 samples gives no frame at all:
    shorter signals are zero-padded to 0.975 s (one frame), the project's rule for short files.

    Parameters
    ----------
    postprocess : bool
        Apply the released PCA + 8-bit quantisation (:func:`vggish_postprocess`, as in the AudioSet release) or
        keep the raw 128 values of the network. The paper's VGGish results sit at chance on T4–T6; comparing
        ``vggish`` with ``vggish-raw`` on those tasks tests whether the post-processing explains it.
    handle : str
        TensorFlow Hub handle or local folder of the SavedModel (``TFHUB_CACHE_DIR`` keeps downloads).
    pca_params : str or None
        ``vggish_pca_params.npz``; default ``data/models/vggish_pca_params.npz``.
    """

    name = "vggish"
    training_domain = "general sound (AudioSet)"
    sample_rate = 16000
    #: 96 STFT hops of 10 ms plus the last 25 ms window: the audio one frame is computed from
    window = (95 * 160 + 400) / 16000
    hop = 0.96
    dim = 128

    def __init__(self, postprocess: bool = True, handle: str = VGGISH_HUB_URL, pca_params: str | None = None):
        from pathlib import Path

        from ..config import data_dir

        # checked before tensorflow_hub is imported (1 or "yes" are refused: a spec writes true / false)
        self.postprocess = check_choice("vggish", "postprocess", postprocess, (True, False))
        if not isinstance(handle, str) or not handle:
            raise ParameterError(f"vggish: handle must be a TensorFlow Hub handle or a folder (text), not {handle!r}")
        self.handle = handle
        self._hub = require("tensorflow_hub", "VGGish", "pip install tensorflow-hub==0.15.0 on TensorFlow 2.15, pip "
                            "install --no-deps tensorflow-hub==0.16.1 on a newer one; it loads the model from "
                            "TensorFlow Hub, which needs a network the first time")
        self._pca, self._model = None, None
        if self.postprocess:
            path = Path(pca_params) if pca_params else data_dir() / "models" / "vggish_pca_params.npz"
            if not path.is_file():
                raise MissingDataError(f"VGGish post-processing needs the released PCA parameters {path}: download "
                                       f"{VGGISH_PCA_URL} to that path, or use 'vggish-raw' "
                                       "(vggish(postprocess=false)) for the network's raw values")
            with np.load(path) as params:  # the key names of vggish_params.PCA_EIGEN_VECTORS_NAME / PCA_MEANS_NAME
                self._pca = (params["pca_eigen_vectors"], params["pca_means"].reshape(-1, 1))
            if self._pca[0].shape != (128, 128) or self._pca[1].shape != (128, 1):
                raise ParameterError(f"{path}: pca_eigen_vectors {self._pca[0].shape} and pca_means {self._pca[1].shape}"
                                     " are not the released (128, 128) and (128,) VGGish PCA parameters")

    def params(self) -> dict:
        return {"postprocess": self.postprocess, "handle": self.handle}

    @property
    def version(self) -> str:
        # "r2": frames of 0.975 s and truncating quantisation (the release's); keeps older cache entries apart
        return f"tensorflow_hub-{getattr(self._hub, '__version__', 'unknown')}-r2"

    def model(self):
        """The VGGish SavedModel, loaded on first use and kept until :meth:`close`."""
        if self._model is None:
            try:
                self._model = self._hub.load(self.handle)
            except Exception as error:  # noqa: BLE001 - hub raises many types when offline
                raise MissingDataError(f"cannot load VGGish from {self.handle} ({type(error).__name__}: {error}). "
                                       "It needs a network the first time (set TFHUB_CACHE_DIR to keep the download), "
                                       "or pass handle=<folder of a downloaded copy>") from None
        return self._model

    def close(self) -> None:
        self._model = None

    def _extract_one(self, audio):
        """Frames of one signal (already padded to :attr:`window`): (n_frames, 128) float32, centres in s."""
        raw = np.asarray(self.model()(np.asarray(audio, dtype=np.float32)), dtype=np.float32).reshape(-1, self.dim)
        embeddings = vggish_postprocess(raw, *self._pca) if self.postprocess else raw
        times = np.arange(len(embeddings)) * self.hop + self.window / 2
        return embeddings.astype(np.float32), times.astype(np.float64)
