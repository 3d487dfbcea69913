"""Kumar et al. (2018)'s weak-label AudioSet CNN, rebuilt in Keras from the authors' released PyTorch weights."""
from __future__ import annotations

import numpy as np

from ..config import MissingDataError, ParameterError, check_number
from ..data.audio import pad_to_length
from .base import Extractor, require

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
            raise ParameterError(f"Kumar weights: {name}.0.weight has shape {weight.shape}, expected "
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
        Seconds between patch starts, > 0 (1.0: one embedding per second, as in the paper). Patch k starts at the log-mel
        frame nearest to k * hop s, so the patches do not drift off the grid on long files.
    weights : str or None
        The released weight file; default ``data/models/kumar/mx-h64-1024_0d3-1.17.pkl``.
    """

    name = "kumar"
    training_domain = "general sound (AudioSet)"
    sample_rate = KUMAR_SAMPLE_RATE
    #: the audio that yields 128 centred frames: 127 hops
    window = (KUMAR_PATCH - 1) * KUMAR_HOP / KUMAR_SAMPLE_RATE
    dim = 1024
    #: "2": the authors' reflect-padded front end and drift-free patch starts; keeps older cache entries apart
    version = "2"

    def __init__(self, hop: float = 1.0, weights: str | None = None):
        from pathlib import Path

        from ..config import data_dir

        # checked before torch is imported or the weights are looked for
        self.hop, self._model = check_number("kumar", "hop", hop, low=0, low_open=True, unit="s"), None
        self.weights = Path(weights) if weights else data_dir() / "models" / "kumar" / KUMAR_WEIGHTS
        self._torch = require("torch", "Kumar et al.", "pip install torch --index-url "
                              "https://download.pytorch.org/whl/cpu; torch only reads the released PyTorch weights")
        if not self.weights.is_file():
            raise MissingDataError(f"the Kumar et al. embedding needs {KUMAR_WEIGHTS} from {KUMAR_SOURCE}; "
                                   f"put it at {self.weights} (or pass weights=<path>)")

    def params(self) -> dict:
        return {"hop": self.hop}

    def model(self):
        """The Keras network with the released weights, built on first use and kept until :meth:`close`."""
        if self._model is None:
            state = self._torch.load(str(self.weights), map_location="cpu")
            # the release was saved from nn.DataParallel: keys are "module.layerN...", stripped as the authors'
            # load_model does; num_batches_tracked (newer torch) carries no weights
            state = {k[len("module."):] if k.startswith("module.") else k: np.asarray(v.numpy(), dtype=np.float32)
                     for k, v in state.items() if not k.endswith("num_batches_tracked")}
            self._model = _kumar_network(state)
        return self._model

    def close(self) -> None:
        self._model = None

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
