"""Loading and validating audio files.

Every problem with an input file is raised as :class:`AudioError`, whose message names the file
and the problem, instead of a traceback from deep inside a decoding library.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..config import EvalkitError

#: File endings treated as audio when scanning class folders.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")


class AudioError(EvalkitError, ValueError):
    """An audio file cannot be used; the message names the file and the problem."""


def is_audio_file(path: str | os.PathLike) -> bool:
    """True when the file name ends in one of :data:`AUDIO_EXTENSIONS` and is not hidden."""
    name = Path(path).name
    return not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS)


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes (hex): the audio's identity in the embedding cache."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: A file whose peak lies below this (-80 dBFS) is reported as near silent.
NEAR_SILENT_PEAK = 1e-4


def read_samples(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """All samples of an audio file as they are, after checking that there are some and that they are finite.

    Returns
    -------
    samples : np.ndarray, shape (n_samples, n_channels), float32
    sample_rate : int
        The file's sample rate in Hz.

    Raises
    ------
    AudioError
        Missing, empty, corrupt or non-audio file, or samples that are NaN or infinite.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"{path}: cannot be decoded as audio (corrupt or not an audio file): {error}") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples")
    if not np.all(np.isfinite(data)):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise AudioError(f"{path}: {bad} samples are NaN or infinite")
    return data, int(file_rate)


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Read an audio file as mono float32 at ``sample_rate``.

    Multichannel audio is averaged to mono; any other sample rate (8 kHz, 96 kHz, ...) is resampled.

    Parameters
    ----------
    path : path-like
        Audio file (WAV, FLAC, OGG, MP3, AIFF: whatever libsndfile reads).
    sample_rate : int
        Target sample rate in Hz.

    Returns
    -------
    audio : np.ndarray, shape (n_samples,), float32
        Samples in [-1, 1] (values are not clipped).

    Raises
    ------
    AudioError
        Missing, empty, corrupt or non-audio file, or samples that are NaN or infinite.
    """
    data, file_rate = read_samples(path)
    audio = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if file_rate != sample_rate:
        audio = resample(audio, file_rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


@dataclass(frozen=True)
class AudioCheck:
    """What :func:`check_audio_file` found in one file.

    Attributes
    ----------
    path : Path
    duration : float
        Seconds (0 when the file cannot be read).
    sample_rate, channels : int
        Hz and channels of the file as stored (evalkit resamples and mixes to mono when it loads it).
    error : str or None
        Why the file cannot be used (the message names the file).
    warning : str or None
        What is odd about a usable file: silent, near silent, or a constant (DC) signal.
    """

    path: Path
    duration: float = 0.0
    sample_rate: int = 0
    channels: int = 0
    error: str | None = None
    warning: str | None = None


def check_audio_file(path: str | os.PathLike) -> AudioCheck:
    """Check one file without raising: what :func:`load_audio` would refuse is returned as ``error``, a silent,
    near-silent (peak below -80 dBFS) or constant (DC) signal as ``warning``, so that a task reports every bad file
    at once."""
    path = Path(path)
    try:
        data, rate = read_samples(path)
    except AudioError as error:
        return AudioCheck(path, error=str(error))
    peak = float(np.max(np.abs(data)))
    warning = None
    if peak == 0:
        warning = "silent (every sample is 0)"
    elif peak < NEAR_SILENT_PEAK:
        warning = f"near silent (peak {20 * np.log10(peak):.0f} dBFS)"
    elif np.all(data.std(axis=0) < 1e-3 * peak):
        warning = f"a constant (DC) signal of {float(data.mean()):.3g}, no sound"
    return AudioCheck(path, duration=data.shape[0] / rate, sample_rate=rate, channels=data.shape[1], warning=warning)


def resample(audio: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono signal (shape (n,)) from ``orig_rate`` to ``target_rate`` Hz (soxr, high quality)."""
    import soxr

    return soxr.resample(audio, orig_rate, target_rate, quality="HQ").astype(np.float32)


def pad_to_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Zero-pad ``audio`` at the end to at least ``n_samples`` samples.

    The project's single rule for short files: a file shorter than one embedding window is padded
    with silence to one window and so yields exactly one frame.
    """
    if audio.shape[0] >= n_samples:
        return audio
    return np.concatenate([audio, np.zeros(n_samples - audio.shape[0], dtype=audio.dtype)])
