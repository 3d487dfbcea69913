"""Google's speech embedding (Lin et al., 2020; TF Hub ``google/speech_embedding``) from the TFLite files that the
``openwakeword`` 0.5.1 wheel ships, run on a TFLite interpreter (LiteRT's where installed, else TensorFlow's; see
:func:`evalkit.embed.birdnet.tflite_interpreter_class`) the way openwakeword runs them.

``openwakeword`` itself is never imported: its ``__init__`` imports its VAD, which imports onnxruntime, and its TFLite
path needs tflite-runtime; neither is installed here (``pip install --no-deps openwakeword==0.5.1``, see
requirements-nodeps.txt). What openwakeword 0.5.1 does (``openwakeword/utils.py``, ``AudioFeatures``), which this
module repeats and ``tests/test_standins.py`` checks against openwakeword's own code:

- ``melspectrogram.tflite``: input (1, n_samples) float32 holding 16-bit PCM values (int16 cast to float, i.e.
  [-1, 1] audio times 32768) at 16 kHz; output (1, 1, n_frames, 32): 32 mel bands of 512-sample frames every 160
  samples (10 ms), no padding, so ``n_frames = (n_samples - 512) // 160 + 1``. openwakeword then applies
  ``x / 10 + 2`` ("closer to the native TensorFlow implementation from Google").
- ``embedding_model.tflite``: input (n, 76, 32, 1), windows of 76 mel frames every 8 frames; output (n, 1, 1, 96).
  One embedding therefore summarises 75 * 160 + 512 = 12512 samples (0.782 s) and they come every 1280 samples
  (80 ms); only complete windows are used.
"""
from __future__ import annotations

import numpy as np

from ..config import MissingDataError, ParameterError, check_number
from ..data.audio import pad_to_length
from .base import Extractor, frame
from .birdnet import PerThread, package_version, shipped_model_file, tflite_interpreter

SPEECH_MODELS = {"mel": "resources/models/melspectrogram.tflite", "embedding": "resources/models/embedding_model.tflite"}
SPEECH_INSTALL = "pip install --no-deps openwakeword==0.5.1 (see requirements-nodeps.txt)"
SPEECH_SAMPLE_RATE = 16000
#: The mel front end: frame length and hop in samples, bands; and the embedding's window and step in mel frames.
MEL_FRAME, MEL_HOP, MEL_BANDS = 512, 160, 32
EMBEDDING_FRAMES, EMBEDDING_STEP = 76, 8
#: Samples one model embedding summarises (12512: 0.782 s) and between two of them (1280: 80 ms).
STEP_WINDOW = (EMBEDDING_FRAMES - 1) * MEL_HOP + MEL_FRAME
STEP_HOP = EMBEDDING_STEP * MEL_HOP
#: Model embeddings per call of the embedding interpreter (bounds its memory on long files).
EMBEDDING_CHUNK = 1024


def _steps(seconds: float, *, offset: int = 0) -> float:
    """``(seconds * 16000 - offset) / 1280``: how many 80-ms model steps a duration is (not rounded)."""
    return (seconds * SPEECH_SAMPLE_RATE - offset) / STEP_HOP


class SpeechEmbeddingExtractor(Extractor):
    """Google's speech embedding (Lin et al., 2020): 96 values per frame, the mean of the model's 80-ms steps.

    The model gives one 96-value embedding every 80 ms, each computed from 0.782 s of 16 kHz audio. This extractor
    averages the consecutive ones whose 0.782-s windows lie inside one frame of ``window`` seconds, a frame every
    ``hop`` seconds: frame k is the mean of model steps ``k * hop / 0.08`` … ``k * hop / 0.08 + (window - 0.782) /
    0.08``, summarising samples ``[k * hop, k * hop + window)``, time-stamped at the centre ``k * hop + window / 2``.

    The default (``window=0.942``: the mean of 3 steps; ``hop=0.96``: 12 steps) makes ~1-s frames without overlap
    every 0.96 s, the frames of VGGish (0.975 s every 0.96 s) and musicnn (1 s every 1 s), so that the number of
    training frames and the classifiers' cost are comparable; averaging neighbouring steps only smooths (each step
    already sees 0.782 s). ``window=0.782, hop=0.08`` gives the model's own steps (12.5 frames per second: 41 for a
    4-s file). A file shorter than ``window`` is zero-padded to one frame.

    Parameters
    ----------
    window : float
        Seconds of audio one frame summarises: 0.782 plus a whole number of 0.08-s steps (0.782, 0.862, 0.942, …).
    hop : float
        Seconds between frames: a whole number of 0.08-s steps (0.08, 0.16, …, 0.96, 1.04, …).
    """

    name = "speech-embedding"
    sample_rate = SPEECH_SAMPLE_RATE
    dim = 96
    training_domain = "speech"

    def __init__(self, window: float = 0.942, hop: float = 0.96):
        self.window = check_number("speech-embedding", "window", window, low=STEP_WINDOW / SPEECH_SAMPLE_RATE, unit="s")
        self.hop = check_number("speech-embedding", "hop", hop, low=0, low_open=True, unit="s")
        pooled, hop_steps = _steps(self.window, offset=STEP_WINDOW), _steps(self.hop)
        if not np.isfinite(pooled) or pooled < -1e-6 or abs(pooled - round(pooled)) > 1e-6:
            raise ParameterError(f"speech-embedding: window must be 0.782 s (one model step) plus a whole number of "
                                 f"0.08-s steps (0.782, 0.862, 0.942, 1.022, …), not {window!r}")
        if not np.isfinite(hop_steps) or round(hop_steps) < 1 or abs(hop_steps - round(hop_steps)) > 1e-6:
            raise ParameterError(f"speech-embedding: hop must be a whole number of the model's 0.08-s steps (0.08, …, "
                                 f"0.96, 1.04, …), not {hop!r}")
        self._pooled, self._hop_steps = int(round(pooled)) + 1, int(round(hop_steps))
        self._paths = {part: shipped_model_file("openwakeword", path, what="speech", install=SPEECH_INSTALL)
                       for part, path in SPEECH_MODELS.items()}
        self._models = PerThread(self._load)

    def params(self) -> dict:
        return {"window": self.window, "hop": self.hop}

    @property
    def version(self) -> str:
        return f"openwakeword-{package_version('openwakeword')}"

    def model(self):
        """This thread's two TFLite interpreters ``(mel, embedding)``: loaded on first use in each thread
        (:class:`~evalkit.embed.birdnet.PerThread`), kept until :meth:`close`."""
        return self._models.get()

    def _load(self) -> tuple:
        """New interpreters ``(mel, embedding)``, allocated."""
        mel, embedding = (tflite_interpreter(self._paths[part]) for part in ("mel", "embedding"))
        # openwakeword too allocates the mel model at a valid length first: its stored (1, 1) input fails to
        # allocate; _run resizes both to the shapes of each call
        mel.resize_tensor_input(mel.get_input_details()[0]["index"], [1, STEP_WINDOW], strict=True)
        for interpreter in (mel, embedding):
            interpreter.allocate_tensors()
        shape = list(embedding.get_input_details()[0]["shape_signature"])
        if shape != [-1, EMBEDDING_FRAMES, MEL_BANDS, 1]:
            raise MissingDataError(f"{self._paths['embedding']}: input shape {shape}, expected "
                                   f"[-1, {EMBEDDING_FRAMES}, {MEL_BANDS}, 1]: not Google's speech embedding")
        return mel, embedding

    def close(self) -> None:
        self._models.close()

    @staticmethod
    def _run(interpreter, x: np.ndarray) -> np.ndarray:
        """One call of a TFLite interpreter on ``x``, resizing its input when the shape changed."""
        inputs = interpreter.get_input_details()[0]
        if list(inputs["shape"]) != list(x.shape):
            interpreter.resize_tensor_input(inputs["index"], list(x.shape), strict=True)
            interpreter.allocate_tensors()
        interpreter.set_tensor(inputs["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    def log_mel(self, audio: np.ndarray) -> np.ndarray:
        """openwakeword's mel spectrogram of one signal (at least 512 samples).

        Parameters
        ----------
        audio : np.ndarray, shape (n_samples,)
            Mono audio at 16 kHz in [-1, 1].

        Returns
        -------
        np.ndarray, shape ((n_samples - 512) // 160 + 1, 32), float32
            ``melspectrogram.tflite``'s output, transformed by ``x / 10 + 2`` as openwakeword does.
        """
        if len(audio) < MEL_FRAME:  # the TFLite model would crash the interpreter on an input without a frame
            raise ParameterError(f"speech-embedding: the mel front end needs at least {MEL_FRAME} samples, "
                                 f"got {len(audio)}")
        pcm = (np.asarray(audio, dtype=np.float32) * 32768.0)[None]  # the model expects 16-bit PCM values
        return self._run(self.model()[0], pcm)[0, 0] / 10 + 2

    def steps(self, audio: np.ndarray) -> np.ndarray:
        """The model's own embeddings of one signal: one per 80 ms, each of 0.782 s (complete windows only).

        Parameters
        ----------
        audio : np.ndarray, shape (n_samples,)
            Mono audio at 16 kHz, at least 12512 samples (0.782 s).

        Returns
        -------
        np.ndarray, shape ((n_samples - 12512) // 1280 + 1, 96), float32
            Step j summarises samples ``[1280 j, 1280 j + 12512)``.
        """
        if len(audio) < STEP_WINDOW:
            raise ParameterError(f"speech-embedding: one model step needs {STEP_WINDOW} samples (0.782 s at 16 kHz), "
                                 f"got {len(audio)}; extract() pads short signals")
        windows = frame(self.log_mel(audio), EMBEDDING_FRAMES, EMBEDDING_STEP, axis=0)[..., None]
        windows = np.ascontiguousarray(windows, dtype=np.float32)  # (n_steps, 76, 32, 1)
        # chunks of a fixed size: a file's numbers depend only on the file (the batch shape changes the rounding)
        parts = [self._run(self.model()[1], windows[i:i + EMBEDDING_CHUNK]) for i in range(0, len(windows), EMBEDDING_CHUNK)]
        return np.concatenate(parts).reshape(len(windows), self.dim).astype(np.float32)

    def extract_batch(self, audios):
        """Embeddings of several signals.

        Parameters
        ----------
        audios : list of np.ndarray, each shape (n_samples,)
            Mono audio at 16 kHz.

        Returns
        -------
        list of (embeddings, times)
            embeddings (n_frames, 96) float32, the mean of :meth:`steps` over each frame; times (n_frames,) float64,
            frame centres in seconds.
        """
        return self._models.map(self._extract_one, audios)

    def _extract_one(self, audio) -> tuple[np.ndarray, np.ndarray]:
        """The frames and times of one signal, on this thread's interpreters."""
        steps = self.steps(pad_to_length(np.asarray(audio, dtype=np.float32), self.window_samples))
        frames = frame(steps, self._pooled, self._hop_steps, axis=0).mean(axis=1, dtype=np.float64)
        times = np.arange(len(frames)) * (self._hop_steps * STEP_HOP / self.sample_rate) + self.window / 2
        return frames.astype(np.float32), times.astype(np.float64)
