"""Handcrafted features: MFCC texture windows (the reference without pre-training) and the spectrogram patches
that the baseline CNNs learn from."""
from __future__ import annotations

import numpy as np

from ..config import ParameterError, check_choice, check_number
from .base import Extractor, frame


def _texture_windows(features: np.ndarray, frame_rate: float, window: float, hop: float) -> np.ndarray:
    """Mean and standard deviation of short-time ``features`` (n_feat, n_steps) over texture windows.

    Returns shape (n_windows, 2 * n_feat), float32; features shorter than one window give one window of all of them.
    """
    size = max(1, int(round(window * frame_rate)))
    step = max(1, int(round(hop * frame_rate)))
    windows = frame(features, size, step, axis=-1)  # (n_windows, n_feat, size)
    return np.concatenate([windows.mean(axis=-1), windows.std(axis=-1)], axis=1).astype(np.float32)


#: Mel bands the MFCCs are computed from: the most coefficients there can be.
MFCC_BANDS = 40


def _whole_steps(name: str, seconds) -> float:
    """An MFCC ``window`` or ``hop`` in seconds, checked to be a whole number (≥ 1) of the 10-ms feature steps (any
    other would be rounded, and the frame times would not be those of the frames)."""
    seconds = check_number("mfcc", name, seconds, low=0.01, unit="s")
    if abs(seconds * 100 - round(seconds * 100)) > 1e-6:
        raise ParameterError(f"mfcc: {name} must be a whole number of the 10-ms feature steps (0.01, 0.02, … s), "
                             f"not {seconds!r}")
    return seconds


class MFCCExtractor(Extractor):
    """Handcrafted baseline: MFCCs with deltas and delta-deltas, summarised over texture windows.

    Each frame holds the mean and standard deviation over ``window`` seconds of ``n_mfcc`` MFCCs
    and their first and second derivatives (32 ms FFT, 10 ms steps): ``dim = 6 * n_mfcc``.

    Parameters
    ----------
    n_mfcc : int
        Coefficients, 1 … 40 (the DCT of 40 mel bands has no more).
    window, hop : float
        Seconds of a texture window and between two of them: whole numbers of the 10-ms steps, at least one step.
    sample_rate : int
        Hz, 8000 … 192000.
    """

    name = "mfcc"

    def __init__(self, n_mfcc: int = 20, window: float = 1.0, hop: float = 0.5, sample_rate: int = 16000):
        self.n_mfcc = check_number("mfcc", "n_mfcc", n_mfcc, low=1, high=MFCC_BANDS, whole=True)
        self.window, self.hop = (_whole_steps(name, value) for name, value in (("window", window), ("hop", hop)))
        self.sample_rate = check_number("mfcc", "sample_rate", sample_rate, low=8000, high=192000, whole=True, unit="Hz")
        self.dim = 6 * self.n_mfcc

    def params(self) -> dict:
        return {"n_mfcc": self.n_mfcc, "window": self.window, "hop": self.hop, "sample_rate": self.sample_rate}

    def _extract_one(self, audio):
        import librosa

        step = self.sample_rate // 100
        mfcc = librosa.feature.mfcc(y=audio, sr=self.sample_rate, n_mfcc=self.n_mfcc, n_fft=512, hop_length=step,
                                    n_mels=MFCC_BANDS)
        feats = np.vstack([mfcc, librosa.feature.delta(mfcc, width=5), librosa.feature.delta(mfcc, order=2, width=5)])
        emb = _texture_windows(feats, 100.0, self.window, self.hop)
        times = np.arange(len(emb)) * self.hop + self.window / 2
        return emb, times


#: The inputs of the authors' two released baseline CNNs (ACMus-Models): ``mel`` the T3 baseline
#: (speech_music), ``linear`` the ensemble-size model on the T1 data; ``patch_hop`` in STFT frames (see
#: :class:`SpectrogramPatches` for why the T3 hop is denser than the released 140).
SPECTROGRAM_SETTINGS = {
    "mel": {"sample_rate": 22050, "n_fft": 1024, "stft_hop": 342, "bins": 80, "patch": 140, "patch_hop": 7},
    "linear": {"sample_rate": 12000, "n_fft": 512, "stft_hop": 512, "bins": 257, "patch": 34, "patch_hop": 17},
}


class SpectrogramPatches(Extractor):
    """Input of the baseline CNNs trained from scratch: patches of a log-magnitude spectrogram, as the authors'
    released baselines compute them.

    The signal is divided by its peak absolute value; its magnitude STFT (``n_fft``-point Hann window every
    ``stft_hop`` samples, centred frames) is projected on ``bins`` Slaney mel bands from 0 Hz to ``sample_rate / 2``
    (``kind="mel"``) or keeps its lowest ``bins`` frequency bins (``kind="linear"``); then ``log(1 + x)``. Patches of
    ``patch`` frames every ``patch_hop`` frames are the frames of this "embedding": a signal of ``n`` STFT frames gives
    ``floor((n - (patch - patch_hop)) / patch_hop)`` of them, at least one. Each frame is a flattened
    ``(patch, bins)`` array (time × frequency, :attr:`frame_shape`). The per-bin normalisation belongs to the
    classifier (:class:`~evalkit.learn.cnn.BaselineCNN` computes it from its training patches).

    Parameters left out take the settings of ``kind`` (:data:`SPECTROGRAM_SETTINGS`): ``mel``, the T3 baseline
    (22.05 kHz, 1024 / 342, 80 mel bands, 140-frame patches of 2.17 s); ``linear``, the T1 baseline (12 kHz,
    512 / 512, 257 bins, 34-frame patches of 1.45 s, every 17 frames as released). The T3 patches hop 7 frames
    (0.11 s) instead of the released 140: one extractor serves training and test, and the CNN trains on one random
    patch of each file per epoch (:class:`~evalkit.learn.cnn.BaselineCNN`), so a dense hop gives it many crops of
    each recording; a test file's prediction averages more, overlapping patches.
    """

    name = "spectrogram"
    cacheable = False
    version = "2"  # 2: peak normalisation, log(1 + x), the authors' STFT settings, (time, frequency) patches

    def __init__(self, kind: str = "mel", sample_rate: int | None = None, n_fft: int | None = None,
                 stft_hop: int | None = None, bins: int | None = None, patch: int | None = None,
                 patch_hop: int | None = None):
        self.kind = check_choice("spectrogram", "kind", kind, sorted(SPECTROGRAM_SETTINGS))
        given = {"sample_rate": sample_rate, "n_fft": n_fft, "stft_hop": stft_hop, "bins": bins, "patch": patch,
                 "patch_hop": patch_hop}
        settings = {k: SPECTROGRAM_SETTINGS[kind][k] if v is None else v for k, v in given.items()}
        lowest = {"sample_rate": 1000, "n_fft": 16}  # the others: at least 1
        self.sample_rate, self.n_fft, self.stft_hop, self.bins, self.patch, self.patch_hop = (
            check_number("spectrogram", k, settings[k], low=lowest.get(k, 1), whole=True)
            for k in ("sample_rate", "n_fft", "stft_hop", "bins", "patch", "patch_hop"))
        if kind == "linear" and self.bins > self.n_fft // 2 + 1:
            raise ParameterError(f"spectrogram bins={self.bins}: a {self.n_fft}-point STFT has only "
                                 f"{self.n_fft // 2 + 1} frequency bins")
        self.frame_shape = (self.patch, self.bins)
        self.dim = self.patch * self.bins
        self.window = (self.patch - 1) * self.stft_hop / self.sample_rate  # centred frames: patch frames need this
        self.hop = self.patch_hop * self.stft_hop / self.sample_rate

    def params(self) -> dict:
        return {"kind": self.kind, "sample_rate": self.sample_rate, "n_fft": self.n_fft, "stft_hop": self.stft_hop,
                "bins": self.bins, "patch": self.patch, "patch_hop": self.patch_hop}

    def log_spectrogram(self, audio: np.ndarray) -> np.ndarray:
        """``log(1 + |STFT|)`` of the peak-normalised signal, projected on mel bands or cut to the lowest bins.

        Returns
        -------
        np.ndarray, shape (n_stft_frames, bins), float32
            Time × frequency; frame ``j`` is centred on sample ``j * stft_hop``.
        """
        import librosa

        audio = np.asarray(audio, dtype=np.float32)
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        audio = audio / peak if peak > 0 else audio  # a silent signal stays silent
        magnitude = np.abs(librosa.stft(audio, n_fft=self.n_fft, hop_length=self.stft_hop))
        if self.kind == "mel":
            bank = librosa.filters.mel(sr=self.sample_rate, n_fft=self.n_fft, n_mels=self.bins, fmin=0.0,
                                       fmax=self.sample_rate / 2)
            magnitude = bank @ magnitude
        else:
            magnitude = magnitude[: self.bins]
        return np.log1p(magnitude).T.astype(np.float32)

    def _extract_one(self, audio):
        spec = self.log_spectrogram(audio)
        patches = frame(spec, self.patch, self.patch_hop, axis=0)  # (n_patches, patch, bins)
        if patches.shape[1] < self.patch:  # cannot happen after padding to the window; a guard for direct calls
            patches = np.pad(patches, ((0, 0), (0, self.patch - patches.shape[1]), (0, 0)))
        starts = np.arange(len(patches)) * self.patch_hop
        times = (starts + (self.patch - 1) / 2) * self.stft_hop / self.sample_rate
        return patches.reshape(len(patches), -1).copy(), times
