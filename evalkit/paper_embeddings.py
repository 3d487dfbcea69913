"""The paper's pre-trained embeddings, through their own packages (``pip install -r requirements-paper.txt``).

- ``openl3``: OpenL3 (Cramer et al., 2019) via the ``openl3`` package: ``content`` music | env,
  ``input_repr`` mel128 | mel256 | linear, ``embedding_size`` 512 | 6144, 1 s windows every ``hop`` = 0.1 s
  (the paper's setting), 48 kHz input. The Keras model is loaded once per process and shared by every
  extractor with the same configuration; files are embedded in batches.

None of these packages is needed by the demo profile or the tests. Choosing one without its package fails at
construction, before any work, with what to install; the tests replace the package by a small fake module at the
import boundary. TensorFlow runs the model on a GPU when it sees one (``tf.config.list_physical_devices("GPU")``).
"""
from __future__ import annotations

import importlib

import numpy as np

from .embeddings import EXTRACTOR_PRESETS, Extractor, register_extractor

PAPER_REQUIREMENTS = "requirements-paper.txt"


def require(module: str, what: str, install: str):
    """Import ``module`` or raise ImportError saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"the {what} embedding needs the Python package '{module}', which is not installed "
                          f"({error}). Install the paper's extras: pip install -r {PAPER_REQUIREMENTS} "
                          f"({install})") from None


#: One loaded OpenL3 model per (input_repr, content, embedding_size), shared within the process.
_OPENL3_MODELS: dict = {}


class OpenL3Extractor(Extractor):
    """OpenL3 embeddings, shape (n_frames, embedding_size), one frame of 1 s every ``hop`` seconds.

    Parameters
    ----------
    content : {"music", "env"}
        Training content of the model.
    input_repr : {"mel128", "mel256", "linear"}
        Input representation of the model.
    embedding_size : {512, 6144}
    hop : float
        Seconds between frames (the paper: 0.1).
    batch_size : int
        Frames per model call.
    """

    name = "openl3"
    sample_rate = 48000
    window = 1.0

    def __init__(self, content: str = "music", input_repr: str = "mel256", embedding_size: int = 512,
                 hop: float = 0.1, batch_size: int = 32):
        if content not in ("music", "env"):
            raise ValueError(f"openl3: content must be 'music' or 'env', not {content!r}")
        if input_repr not in ("mel128", "mel256", "linear"):
            raise ValueError(f"openl3: input_repr must be 'mel128', 'mel256' or 'linear', not {input_repr!r}")
        if int(embedding_size) not in (512, 6144):
            raise ValueError(f"openl3: embedding_size must be 512 or 6144, not {embedding_size!r}")
        self.content, self.input_repr, self.dim = content, input_repr, int(embedding_size)
        self.hop, self.batch_size = float(hop), int(batch_size)
        self._openl3 = require("openl3", "OpenL3", "openl3 downloads its model weights while it is installed, "
                                                   "so this needs a network")

    def params(self) -> dict:
        return {"content": self.content, "input_repr": self.input_repr, "embedding_size": self.dim, "hop": self.hop}

    @property
    def version(self) -> str:
        return f"openl3-{getattr(self._openl3, '__version__', 'unknown')}"

    def model(self):
        """The Keras model of this configuration, loaded on first use and shared within the process."""
        key = (self.input_repr, self.content, self.dim)
        if key not in _OPENL3_MODELS:
            _OPENL3_MODELS[key] = self._openl3.models.load_audio_embedding_model(
                input_repr=self.input_repr, content_type=self.content, embedding_size=self.dim)
        return _OPENL3_MODELS[key]

    def extract_batch(self, audios):
        """Embeddings of several signals at 48 kHz in one call; returns ``[(embeddings, times), ...]`` with
        embeddings (n_frames, dim) float32 and frame centres in seconds."""
        if not audios:
            return []
        audios = [np.asarray(a, dtype=np.float32) for a in audios]
        embeddings, timestamps = self._openl3.get_audio_embedding(
            audios, [self.sample_rate] * len(audios), model=self.model(), hop_size=self.hop, center=True,
            batch_size=self.batch_size, verbose=False)
        # openl3 time stamps are frame starts of centred (padded by half a window) frames: i.e. frame centres
        return [(np.asarray(e, dtype=np.float32), np.asarray(t, dtype=np.float64))
                for e, t in zip(embeddings, timestamps)]


register_extractor("openl3", OpenL3Extractor)
EXTRACTOR_PRESETS.update({
    "openl3-env": ("openl3", {"content": "env"}),
    "openl3-6144": ("openl3", {"embedding_size": 6144}),
    "openl3-env-6144": ("openl3", {"content": "env", "embedding_size": 6144}),
})


# ------------------------------------------------------------------------------------------------
# VGGish

VGGISH_HUB_URL = "https://tfhub.dev/google/vggish/1"
VGGISH_PCA_URL = "https://storage.googleapis.com/audioset/vggish_pca_params.npz"
#: One loaded VGGish model per handle, shared within the process.
_VGGISH_MODELS: dict = {}


def vggish_postprocess(embeddings: np.ndarray, pca_eigen_vectors: np.ndarray, pca_means: np.ndarray) -> np.ndarray:
    """The post-processing of the released AudioSet VGGish embeddings: PCA (whitening with the released
    eigenvectors), clipping to [-2, 2] and quantisation to 8 bits, returned as float32 values 0 … 255.

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_frames, 128)
    pca_eigen_vectors : np.ndarray, shape (128, 128)
    pca_means : np.ndarray, shape (128, 1) or (128,)
    """
    pca = (pca_eigen_vectors @ (embeddings.T - np.reshape(pca_means, (-1, 1)))).T
    clipped = np.clip(pca, -2.0, 2.0)
    return np.round((clipped + 2.0) * (255.0 / 4.0)).astype(np.float32)


class VGGishExtractor(Extractor):
    """VGGish embeddings (Hershey et al., 2017): 128 values per 0.96 s frame of 16 kHz audio, no overlap.

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
    sample_rate = 16000
    window = 0.96
    hop = 0.96
    dim = 128

    def __init__(self, postprocess: bool = True, handle: str = VGGISH_HUB_URL, pca_params: str | None = None):
        from pathlib import Path

        from .config import data_dir

        self.postprocess, self.handle = bool(postprocess), str(handle)
        self._hub = require("tensorflow_hub", "VGGish", "tensorflow-hub loads the model from TensorFlow Hub, "
                                                        "which needs a network the first time")
        self._pca = None
        if self.postprocess:
            path = Path(pca_params) if pca_params else data_dir() / "models" / "vggish_pca_params.npz"
            if not path.is_file():
                raise FileNotFoundError(f"VGGish post-processing needs the released PCA parameters {path}: download "
                                        f"{VGGISH_PCA_URL} to that path, or use 'vggish-raw' "
                                        "(vggish(postprocess=false)) for the network's raw values")
            with np.load(path) as params:
                self._pca = (params["pca_eigen_vectors"], params["pca_means"])

    def params(self) -> dict:
        return {"postprocess": self.postprocess, "handle": self.handle}

    @property
    def version(self) -> str:
        return f"tensorflow_hub-{getattr(self._hub, '__version__', 'unknown')}"

    def model(self):
        """The VGGish SavedModel, loaded on first use and shared within the process."""
        if self.handle not in _VGGISH_MODELS:
            try:
                _VGGISH_MODELS[self.handle] = self._hub.load(self.handle)
            except Exception as error:  # noqa: BLE001 - hub raises many types when offline
                raise FileNotFoundError(f"cannot load VGGish from {self.handle} ({type(error).__name__}: {error}). "
                                        "It needs a network the first time (set TFHUB_CACHE_DIR to keep the download), "
                                        "or pass handle=<folder of a downloaded copy>") from None
        return _VGGISH_MODELS[self.handle]

    def _extract_one(self, audio):
        raw = np.asarray(self.model()(np.asarray(audio, dtype=np.float32)), dtype=np.float32)
        embeddings = vggish_postprocess(raw, *self._pca) if self.postprocess else raw
        times = np.arange(len(embeddings)) * self.hop + self.window / 2
        return embeddings.astype(np.float32), times


register_extractor("vggish", VGGishExtractor)
EXTRACTOR_PRESETS["vggish-raw"] = ("vggish", {"postprocess": False})


# ------------------------------------------------------------------------------------------------
# Kumar et al. (2018): the weak-label AudioSet CNN

KUMAR_WEIGHTS = "mx-h64-1024_0d3-1.17.pkl"
KUMAR_SOURCE = ("the authors' released model (github.com/anuragkr90/weak_feature_extractor, which points to "
                "www.cs.cmu.edu/~alnu/TLWeak.htm)")
#: (state-dict layer, input channels, output channels, kernel, max-pool after it) of the network's conv layers.
_KUMAR_CONVS = [("layer1", 1, 16, 3, False), ("layer2", 16, 16, 3, True), ("layer4", 16, 32, 3, False),
                ("layer5", 32, 32, 3, True), ("layer7", 32, 64, 3, False), ("layer8", 64, 64, 3, True),
                ("layer10", 64, 128, 3, False), ("layer11", 128, 128, 3, True), ("layer13", 128, 256, 3, False),
                ("layer14", 256, 256, 3, True), ("layer16", 256, 512, 3, True), ("layer18", 512, 1024, 2, False)]
_KUMAR_MODELS: dict = {}


def _kumar_network(state: dict):
    """The network up to its 1024-channel layer (conv + batch norm + ReLU blocks, max pooling after every second
    block), as a Keras model on log-mel patches (n, 128 frames, 128 bands, 1), with the released weights."""
    import tensorflow as tf

    L = tf.keras.layers
    inputs = L.Input((128, 128, 1))
    x = inputs
    for name, c_in, c_out, kernel, pool in _KUMAR_CONVS:
        weight = state[f"{name}.0.weight"]
        if weight.shape != (c_out, c_in, kernel, kernel):
            raise ValueError(f"Kumar weights: {name}.0.weight has shape {weight.shape}, expected "
                             f"{(c_out, c_in, kernel, kernel)}: not the released {KUMAR_WEIGHTS}?")
        conv = L.Conv2D(c_out, kernel, padding="same" if kernel == 3 else "valid", name=name)
        x = conv(x)
        conv.set_weights([np.transpose(weight, (2, 3, 1, 0)), state[f"{name}.0.bias"]])
        norm = L.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")
        x = norm(x)
        norm.set_weights([state[f"{name}.1.{k}"] for k in ("weight", "bias", "running_mean", "running_var")])
        x = L.ReLU()(x)
        if pool:
            x = L.MaxPooling2D(2)(x)
    outputs = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, outputs, name="kumar_weak_mxh64_1024")


class KumarExtractor(Extractor):
    """Kumar et al. (2018) embeddings: 1024 values (the network's penultimate, 1024-channel layer, averaged)
    per 1.49 s patch of 128 log-mel frames (44.1 kHz, 1024-point FFT, hop 512), one patch every ``hop`` seconds.

    The network is rebuilt in Keras from the released PyTorch weights, which are read with ``torch.load``
    (so ``torch`` is needed to read the weight file, not to run the network).

    Parameters
    ----------
    hop : float
        Seconds between patches (1.0: one embedding per second, as in the paper).
    weights : str or None
        The released weight file; default ``data/models/kumar/mx-h64-1024_0d3-1.17.pkl``.
    """

    name = "kumar"
    sample_rate = 44100
    window = 128 * 512 / 44100
    dim = 1024

    def __init__(self, hop: float = 1.0, weights: str | None = None):
        from pathlib import Path

        from .config import data_dir

        self.hop = float(hop)
        self.weights = Path(weights) if weights else data_dir() / "models" / "kumar" / KUMAR_WEIGHTS
        self._torch = require("torch", "Kumar et al.", "torch reads the released PyTorch weights; the CPU wheel is enough")
        if not self.weights.is_file():
            raise FileNotFoundError(f"the Kumar et al. embedding needs {KUMAR_WEIGHTS} from {KUMAR_SOURCE}; "
                                    f"put it at {self.weights} (or pass weights=<path>)")

    def params(self) -> dict:
        return {"hop": self.hop}

    def model(self):
        """The Keras network with the released weights, built once per process and weight file."""
        key = str(self.weights.resolve())
        if key not in _KUMAR_MODELS:
            state = self._torch.load(str(self.weights), map_location="cpu")
            state = {k[len("module."):] if k.startswith("module.") else k: np.asarray(v.numpy(), dtype=np.float32)
                     for k, v in state.items() if not k.endswith("num_batches_tracked")}
            _KUMAR_MODELS[key] = _kumar_network(state)
        return _KUMAR_MODELS[key]

    def patches(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-mel patches (n, 128 frames, 128 bands, 1) of a 44.1 kHz signal and their centre times in seconds."""
        import librosa

        mel = librosa.power_to_db(librosa.feature.melspectrogram(y=audio, sr=self.sample_rate, n_fft=1024,
                                                                 hop_length=512, n_mels=128)).T
        if len(mel) < 128:  # as the authors do: zero-pad short inputs to one patch
            mel = np.concatenate([mel, np.zeros((128 - len(mel), 128), dtype=mel.dtype)])
        step = max(1, int(round(self.hop * self.sample_rate / 512)))
        starts = np.arange(0, len(mel) - 128 + 1, step)
        patches = np.stack([mel[s:s + 128] for s in starts])[..., None].astype(np.float32)
        return patches, (starts + 64) * 512 / self.sample_rate

    def _extract_one(self, audio):
        patches, times = self.patches(audio)
        embeddings = np.concatenate([self.model()(patches[i:i + 32], training=False).numpy()
                                     for i in range(0, len(patches), 32)])
        return embeddings.astype(np.float32), times


register_extractor("kumar", KumarExtractor)
