"""Handcrafted features: MFCC texture windows (the reference without pre-training) and the spectrogram patches
that the baseline CNNs learn from."""
from __future__ import annotations

import numpy as np

from ..config import ParameterError
from .base import Extractor, frame


def _texture_windows(features: np.ndarray, frame_rate: float, window: float, hop: float) -> np.ndarray:
    """Mean and standard deviation of short-time ``features`` (n_feat, n_steps) over texture windows.

    Returns shape (n_windows, 2 * n_feat), float32; features shorter than one window give one window of all of them.
    """
    size = max(1, int(round(window * frame_rate)))
    step = max(1, int(round(hop * frame_rate)))
    windows = frame(features, size, step, axis=-1)  # (n_windows, n_feat, size)
    return np.concatenate([windows.mean(axis=-1), windows.std(axis=-1)], axis=1).astype(np.float32)


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
            raise ParameterError(f"spectrogram kind must be 'linear' or 'mel', not {kind!r}")
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
        step = max(1, int(round(self.patch_hop * self.sample_rate / self.step)))
        patches = frame(logspec, self.frame_shape[1], step, axis=-1).copy()  # (n_patches, frequency, time)
        patches = patches.reshape(len(patches), -1)
        starts = np.arange(len(patches)) * step
        times = (starts * self.step + (self.window * self.sample_rate) / 2) / self.sample_rate
        return patches, times
