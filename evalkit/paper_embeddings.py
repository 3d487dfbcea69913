"""The paper's pre-trained embeddings, through their own packages (``pip install -r requirements-paper.txt``).

- ``openl3``: OpenL3 (Cramer et al., 2019) via the ``openl3`` package 0.4.2: ``content`` music | env,
  ``input_repr`` mel128 | mel256 | linear, ``embedding_size`` 512 | 6144, 1 s windows every ``hop`` = 0.1 s
  (the paper's setting), 48 kHz input. The Keras model is loaded once per process and shared by every
  extractor with the same configuration; files are embedded in batches.
- ``vggish``: VGGish (Hershey et al., 2017) from TensorFlow Hub, 128 values per 0.96 s of 16 kHz audio, raw or
  with the released PCA / 8-bit post-processing of the AudioSet embeddings.
- ``kumar``: Kumar et al. (2018)'s weak-label AudioSet CNN, rebuilt in Keras from the authors' released PyTorch
  weights, 1024 values per 128-frame log-mel patch (1.49 s at 44.1 kHz).

None of these packages is needed by the demo profile or the tests. Choosing one without its package fails at
construction, before any work, with what to install; the tests replace the package by a small fake module at the
import boundary (and, where torch is installed, check the Kumar network against a PyTorch statement of it).
TensorFlow runs the models on a GPU when it sees one (``tf.config.list_physical_devices("GPU")``).
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
        raise ValueError(f"VGGish post-processing: embeddings {embeddings.shape}, pca_eigen_vectors "
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
    sample_rate = 16000
    #: 96 STFT hops of 10 ms plus the last 25 ms window: the audio one frame is computed from
    window = (95 * 160 + 400) / 16000
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
            with np.load(path) as params:  # the key names of vggish_params.PCA_EIGEN_VECTORS_NAME / PCA_MEANS_NAME
                self._pca = (params["pca_eigen_vectors"], params["pca_means"].reshape(-1, 1))
            if self._pca[0].shape != (128, 128) or self._pca[1].shape != (128, 1):
                raise ValueError(f"{path}: pca_eigen_vectors {self._pca[0].shape} and pca_means {self._pca[1].shape}"
                                 " are not the released (128, 128) and (128,) VGGish PCA parameters")

    def params(self) -> dict:
        return {"postprocess": self.postprocess, "handle": self.handle}

    @property
    def version(self) -> str:
        # "r2": frames of 0.975 s and truncating quantisation (the release's); keeps older cache entries apart
        return f"tensorflow_hub-{getattr(self._hub, '__version__', 'unknown')}-r2"

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
        """Frames of one signal (already padded to :attr:`window`): (n_frames, 128) float32, centres in s."""
        raw = np.asarray(self.model()(np.asarray(audio, dtype=np.float32)), dtype=np.float32).reshape(-1, self.dim)
        embeddings = vggish_postprocess(raw, *self._pca) if self.postprocess else raw
        times = np.arange(len(embeddings)) * self.hop + self.window / 2
        return embeddings.astype(np.float32), times.astype(np.float64)


register_extractor("vggish", VGGishExtractor)
EXTRACTOR_PRESETS["vggish-raw"] = ("vggish", {"postprocess": False})


# ------------------------------------------------------------------------------------------------
# Kumar et al. (2018): the weak-label AudioSet CNN

KUMAR_WEIGHTS = "mx-h64-1024_0d3-1.17.pkl"
KUMAR_SOURCE = ("the authors' released model (github.com/anuragkr90/weak_feature_extractor, which points to "
                "www.cs.cmu.edu/~alnu/TLWeak.htm)")
#: The authors' front end (feat_extractor.py): 44.1 kHz, 1024-point FFT, hop 512, 128 mel bands, power in dB.
KUMAR_SAMPLE_RATE, KUMAR_N_FFT, KUMAR_HOP, KUMAR_N_MELS = 44100, 1024, 512, 128
#: Log-mel frames one embedding summarises: the network halves time and frequency six times (128 -> 2) and its
#: 2 x 2 layer18 kernel then leaves one position, i.e. one segment of the network.
KUMAR_PATCH = 128
#: The conv blocks of weak_mxh64_1024 (network_architectures.py), as (state-dict name, input channels, output
#: channels, kernel, max-pool after it). layerN = Sequential(Conv2d, BatchNorm2d, ReLU), so the weights are
#: ``layerN.0.*`` (conv) and ``layerN.1.*`` (batch norm); the 3 x 3 convs have padding=1, layer18 (2 x 2) none.
#: layer3, 6, 9, 12, 15 and 17 are MaxPool2d(2) (no weights); layer19 (1 x 1 conv to the 527 AudioSet classes,
#: sigmoid) is not used: the authors' feature is layer18's output.
_KUMAR_CONVS = [("layer1", 1, 16, 3, False), ("layer2", 16, 16, 3, True), ("layer4", 16, 32, 3, False),
                ("layer5", 32, 32, 3, True), ("layer7", 32, 64, 3, False), ("layer8", 64, 64, 3, True),
                ("layer10", 64, 128, 3, False), ("layer11", 128, 128, 3, True), ("layer13", 128, 256, 3, False),
                ("layer14", 256, 256, 3, True), ("layer16", 256, 512, 3, True), ("layer18", 512, 1024, 2, False)]
_KUMAR_MODELS: dict = {}


def _kumar_network(state: dict):
    """weak_mxh64_1024 up to its layer18 (1024 channels, after batch norm and ReLU), average-pooled over its
    time-frequency map as the authors' ``getFeat`` does, as a Keras model with the released weights.

    Parameters
    ----------
    state : dict of str to np.ndarray
        The PyTorch state dict without the ``module.`` prefix: conv weights (out, in, kh, kw), biases (out,),
        batch-norm weight / bias / running_mean / running_var (channels,).

    Returns
    -------
    tf.keras.Model
        Input (n, n_frames, 128 mel bands, 1) log-mel patches in dB, channels last; n_frames >= 128 (any length:
        the network is convolutional; 128 frames give one layer18 position). Output (n, 1024) float32.
    """
    import tensorflow as tf

    L = tf.keras.layers
    # PyTorch's input is (n, 1, time, freq) (feat_extractor.py reshapes the (frames, 128) log-mel to
    # (1, 1, frames, 128)); channels last that is (n, time, freq, 1): height = time, width = frequency.
    inputs = L.Input((None, KUMAR_N_MELS, 1))
    x = inputs
    for name, c_in, c_out, kernel, pool in _KUMAR_CONVS:
        weight = state[f"{name}.0.weight"]
        if weight.shape != (c_out, c_in, kernel, kernel):
            raise ValueError(f"Kumar weights: {name}.0.weight has shape {weight.shape}, expected "
                             f"{(c_out, c_in, kernel, kernel)}: not the released {KUMAR_WEIGHTS}?")
        # stride 1: Keras 'same' pads a 3 x 3 kernel by one on each side, as padding=1 does in PyTorch
        conv = L.Conv2D(c_out, kernel, padding="same" if kernel == 3 else "valid", name=name)
        x = conv(x)
        # both compute a cross-correlation; only the weight layout differs: (out, in, kh, kw) -> (kh, kw, in, out)
        conv.set_weights([np.transpose(weight, (2, 3, 1, 0)), state[f"{name}.0.bias"]])
        norm = L.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")  # torch.nn.BatchNorm2d's default eps
        x = norm(x)
        norm.set_weights([state[f"{name}.1.{k}"] for k in ("weight", "bias", "running_mean", "running_var")])
        x = L.ReLU()(x)
        if pool:
            x = L.MaxPooling2D(2)(x)  # MaxPool2d(2): floor of odd sizes, as Keras' 'valid' pooling
    # feat_extractor.py: featType = 'layer18', globalpoolfn = avg_pool2d over the whole map
    outputs = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, outputs, name="kumar_weak_mxh64_1024")


def kumar_log_mel(audio: np.ndarray) -> np.ndarray:
    """The authors' input features: log-mel spectrogram of a 44.1 kHz signal, as in their feat_extractor.py.

    Parameters
    ----------
    audio : np.ndarray, shape (n_samples,)
        Mono audio at 44.1 kHz.

    Returns
    -------
    np.ndarray, shape (1 + n_samples // 512, 128), float32
        ``power_to_db`` (ref 1, top_db 80 relative to the file's maximum) of the 128-band mel power spectrogram
        (1024-point FFT, hop 512, centred frames), time first.
    """
    import librosa

    # pad_mode="reflect": the centring padding of librosa < 0.9, which the authors' 2018 code ran on (librosa
    # 0.9 changed the default to zeros)
    mel = librosa.feature.melspectrogram(y=np.asarray(audio, dtype=np.float32), sr=KUMAR_SAMPLE_RATE,
                                         n_fft=KUMAR_N_FFT, hop_length=KUMAR_HOP, n_mels=KUMAR_N_MELS,
                                         pad_mode="reflect")
    return librosa.power_to_db(mel).T.astype(np.float32)


class KumarExtractor(Extractor):
    """Kumar et al. (2018) embeddings: 1024 values (the network's layer18, after batch norm and ReLU) per patch of
    128 log-mel frames (1.49 s at 44.1 kHz, 1024-point FFT, hop 512), one patch every ``hop`` seconds.

    The authors' feat_extractor.py runs the fully convolutional network on a whole file and averages layer18 over
    its time positions (one every 64 frames, 0.74 s), giving one vector per file. Here each patch of 128 frames
    is run on its own, which is exactly one layer18 position (one segment of the network), so a file gives one
    vector per ``hop`` seconds for the frame-wise classifiers and late fusion. The log-mel spectrogram is
    computed over the whole file first, as theirs (its 80 dB floor is relative to the file's loudest bin).
    Files shorter than a patch are zero-padded (silence) to one patch, the project's rule for short files; the
    authors' script instead appends log-mel frames of 0 dB.

    The network is rebuilt in Keras from the released PyTorch weights, which are read with ``torch.load``
    (so ``torch`` is needed to read the weight file, not to run the network).

    Parameters
    ----------
    hop : float
        Seconds between patch starts (1.0: one embedding per second, as in the paper). Patch k starts at the log-mel
        frame nearest to k * hop s, so the patches do not drift off the grid on long files.
    weights : str or None
        The released weight file; default ``data/models/kumar/mx-h64-1024_0d3-1.17.pkl``.
    """

    name = "kumar"
    sample_rate = KUMAR_SAMPLE_RATE
    #: the audio that yields 128 centred frames: 127 hops
    window = (KUMAR_PATCH - 1) * KUMAR_HOP / KUMAR_SAMPLE_RATE
    dim = 1024
    #: "2": the authors' reflect-padded front end and drift-free patch starts; keeps older cache entries apart
    version = "2"

    def __init__(self, hop: float = 1.0, weights: str | None = None):
        from pathlib import Path

        from .config import data_dir

        self.hop = float(hop)
        if not self.hop > 0:
            raise ValueError(f"kumar: hop must be positive, not {hop!r}")
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
            # the release was saved from nn.DataParallel: keys are "module.layerN...", stripped as the authors'
            # load_model does; num_batches_tracked (newer torch) carries no weights
            state = {k[len("module."):] if k.startswith("module.") else k: np.asarray(v.numpy(), dtype=np.float32)
                     for k, v in state.items() if not k.endswith("num_batches_tracked")}
            _KUMAR_MODELS[key] = _kumar_network(state)
        return _KUMAR_MODELS[key]

    def patches(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-mel patches of a signal and their centre times.

        Parameters
        ----------
        audio : np.ndarray, shape (n_samples,)
            Mono audio at 44.1 kHz; shorter than :attr:`window` is zero-padded to it.

        Returns
        -------
        patches : np.ndarray, shape (n_patches, 128 frames, 128 bands, 1), float32
            Log-mel values in dB, time first (the network's input layout).
        times : np.ndarray, shape (n_patches,), float64
            Centre of each patch in seconds: the midpoint of its first and last frame centres.
        """
        from .audio import pad_to_length

        mel = kumar_log_mel(pad_to_length(np.asarray(audio, dtype=np.float32), self.window_samples))
        last = len(mel) - KUMAR_PATCH  # the last possible start
        step = self.hop * self.sample_rate / KUMAR_HOP  # frames per hop, not rounded: rounding would drift
        starts = np.round(np.arange(0, last / step + 1) * step).astype(int)
        starts = np.unique(starts[starts <= last])  # unique: a hop below one frame (11.6 ms) repeats starts
        patches = np.stack([mel[s:s + KUMAR_PATCH] for s in starts])[..., None]
        # centred frames: frame j is centred at j * 512 samples
        return patches, (starts + (KUMAR_PATCH - 1) / 2) * KUMAR_HOP / self.sample_rate

    def _extract_one(self, audio):
        patches, times = self.patches(audio)
        model = self.model()
        embeddings = np.concatenate([model(patches[i:i + 32], training=False).numpy()
                                     for i in range(0, len(patches), 32)])
        return embeddings.astype(np.float32), times.astype(np.float64)


register_extractor("kumar", KumarExtractor)
