"""What a unit of work costs on this machine, measured here in a few seconds and kept per machine.

The units are those :mod:`evalkit.learn.workload` counts: a second of audio through an embedding extractor (and
the extractor's model load, once per build), a classifier fit per training value (frames × dimensions), and a CNN
training step, a predicted spectrogram patch and the fixed cost of a CNN fit (building and tracing the network).
Each is measured once per machine on synthetic data (:func:`measure_extractor`, :func:`measure_classifier`,
:func:`measure_cnn`) and kept in ``<data>/calibration/<machine>.json``, keyed by the CPU model, the threads this
process may use and the TensorFlow version (:func:`machine`): a build measures only what no earlier one has.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from ..config import data_dir
from .store import write_json_atomic

#: Bump when a measurement changes meaning, so older calibrations are measured again.
CALIBRATION_VERSION = "6"
#: Seconds of synthetic audio per file of the extractor measurement (one file, then two more, per extractor).
AUDIO_SECONDS = 6.0
#: Sample rate of that audio (the demo tasks' rate: the measurement includes the resampling a build does).
AUDIO_RATE = 22050
#: Frames, dimensions and classes of the synthetic classifier fit; a fit's cost is taken as proportional to the
#: frames × dimensions it trains on (the SVM's and the dense networks' passes are).
FIT_FRAMES, FIT_DIM, FIT_CLASSES = 2048, 128, 4
#: Epochs of each calibration fit of a classifier that trains by epochs (all of them: no early stopping): its
#: units are per epoch, and a build's fit costs as many as it is expected to run
#: (:func:`~evalkit.learn.workload.expected_epochs`). Measured to the stopping point instead, the synthetic fits
#: ran other epoch counts than real embeddings do: the dense classifiers' estimate came out 3–5.5× high.
FIT_EPOCHS = 3
#: 3×3 convolutions (batch, height = width, channels in = out) whose best speed is taken as the CPU's peak
#: (benchmarks/extraction.py prints it too, beside musicnn's share of it).
PEAK_SHAPES = [(8, 32, 256), (64, 16, 128), (4, 56, 256)]


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def machine() -> dict:
    """What the unit costs depend on: the CPU model, the threads this process may use (``taskset`` counts) and the
    TensorFlow version."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    except OSError:
        pass
    try:
        threads = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        threads = os.cpu_count() or 1
    tensorflow = None
    for package in ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"):  # one is installed
        try:
            tensorflow = metadata.version(package)
            break
        except metadata.PackageNotFoundError:
            continue
    return {"cpu": model, "threads": int(threads), "tensorflow": tensorflow, "version": CALIBRATION_VERSION}


def calibration_path(*, root: Path | None = None) -> Path:
    """The file of this machine's unit costs: ``<data>/calibration/<cpu>-<threads>t-<digest>.json``."""
    info = machine()
    digest = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12]
    return Path(root or data_dir() / "calibration") / f"{info['threads']}t-{digest}.json"


class Calibration:
    """This machine's unit costs, measured when first asked for and kept on disk.

    Parameters
    ----------
    path : path-like, optional
        The file; default :func:`calibration_path`.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else calibration_path()
        try:
            self.entries = json.loads(self.path.read_text())["entries"]
        except (OSError, ValueError, KeyError):
            self.entries = {}
        self.measured_now: list[str] = []
        #: Extractor objects measured by this calibration: their models are loaded now (until they are closed).
        self.loaded: set[int] = set()

    def entry(self, key: str, measure) -> dict:
        """The unit cost kept under ``key``, a dict; measured by ``measure()`` and kept on disk when missing (the
        other stages' units, e.g. :func:`evalkit.book.rendering.kernel_seconds`, are kept here too)."""
        if key not in self.entries:
            self.entries[key] = measure()
            self.measured_now.append(key)
            write_json_atomic(self.path, {"machine": machine(), "entries": self.entries})
        return self.entries[key]

    def conv_peak(self) -> float:
        """The CPU's TensorFlow float32 3×3-convolution peak, GFLOP/s (what names the machine class)."""
        return self.entry("conv-peak", lambda: {"gflops": conv_peak_gflops()})["gflops"]

    def extractor(self, extractor) -> dict:
        """``{"load": s, "per_audio_second": s}`` of an extractor (kept by its identity; measured on ``extractor``
        itself, whose model then stays loaded for the work that follows)."""
        def measure():
            self.loaded.add(id(extractor))
            return measure_extractor(extractor)

        return self.entry(f"embed:{extractor.identity}", measure)

    def classifier(self, spec: str) -> dict:
        """``{"fit": s, "per_value": s}``: a classifier's fixed seconds per fit and seconds per training sample ×
        dimension beyond them."""
        return self.entry(f"fit:{spec}", lambda: measure_classifier(spec))

    def cnn(self, spec: str, model, frame_shape) -> dict:
        """``{"fit": s, "step": s, "patch": s}`` of a CNN (``model``, built from ``spec``) on patches of
        ``frame_shape``; kept per architecture, batch size and precision (its epochs do not change a step)."""
        shape = tuple(int(v) for v in frame_shape)
        key = f"cnn:{model.arch}:{model.batch_size}:{model.precision}:{shape[0]}x{shape[1]}"
        return self.entry(key, lambda: measure_cnn(spec, shape))

    def describe(self) -> str:
        """The machine line of an estimate: CPU, threads, conv peak, TensorFlow."""
        info = machine()
        return (f"{info['cpu']}, {info['threads']} thread(s), TensorFlow fp32 3×3-conv peak "
                f"{self.conv_peak():.0f} GFLOP/s, TensorFlow {info['tensorflow']}")


# ------------------------------------------------------------------------------------------------
# The measurements


def conv_peak_gflops(*, shapes=PEAK_SHAPES, repeats: int = 5) -> float:
    """The best float32 throughput of TensorFlow's 3×3 convolution over a few layer shapes, GFLOP/s, on the threads
    this process may use (about 2 s)."""
    import tensorflow as tf

    peak = 0.0
    for batch, size, channels in shapes:
        x = tf.random.normal([batch, size, size, channels])
        w = tf.random.normal([3, 3, channels, channels])
        conv = tf.function(lambda x, w: tf.nn.conv2d(x, w, strides=1, padding="SAME"))
        for _ in range(2):  # warm-up: the trace, and oneDNN picks its kernels
            conv(x, w).numpy()
        best = min(_timed(lambda: conv(x, w).numpy()) for _ in range(repeats))
        peak = max(peak, 2 * batch * size * size * channels * channels * 9 / best / 1e9)
    return peak


def measure_extractor(extractor) -> dict:
    """An extractor's model load and seconds per second of audio, read from WAV files as a build reads them, without
    the embedding cache: one file of :data:`AUDIO_SECONDS` (the load, when the model is not loaded yet, and the
    first file), then twice two more through the loaded model (the rate: the faster of the two, which leaves out
    what the model does on its first calls only). The model stays loaded: a build measured first uses it."""
    import soundfile as sf

    from ..embed.cache import extract_embeddings

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(3):
            path = Path(folder) / f"noise-{i}.wav"
            sf.write(path, 0.1 * rng.standard_normal(int(AUDIO_SECONDS * AUDIO_RATE)).astype(np.float32), AUDIO_RATE)
            paths.append(path)
        first = _timed(lambda: extract_embeddings(paths[:1], extractor, cache=False, progress=False))
        rest = min(_timed(lambda: extract_embeddings(paths[1:], extractor, cache=False, progress=False))
                   for _ in range(2))
    per_second = rest / (2 * AUDIO_SECONDS)
    return {"load": max(0.0, first - AUDIO_SECONDS * per_second), "per_audio_second": per_second}


def measure_classifier(spec: str) -> dict:
    """A classifier's fixed cost per fit and seconds per training value (sample × dimension, per epoch for one that
    trains by epochs) beyond it: a fit and scoring on 64 frames and one on :data:`FIT_FRAMES` frames,
    :data:`FIT_CLASSES` overlapping Gaussian classes of :data:`FIT_DIM` dimensions, 16 frames per file, each
    network trained for exactly :data:`FIT_EPOCHS` epochs. Samples are those an epoch draws
    (:func:`~evalkit.learn.workload.samples_per_epoch`: a small training set is drawn from several times)."""
    from .classifiers import class_scores
    from .registry import get_classifier
    from .workload import samples_per_epoch

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(FIT_CLASSES), FIT_FRAMES // FIT_CLASSES)
    X = (rng.standard_normal((FIT_FRAMES, FIT_DIM)) + 0.5 * rng.standard_normal((FIT_CLASSES, FIT_DIM))[y])
    X = X.astype(np.float32)
    groups = np.arange(FIT_FRAMES) // 16
    small = np.arange(0, FIT_FRAMES, FIT_FRAMES // 64)  # 64 frames, 16 of each class, 4 per file
    model = get_classifier(spec, random_state=0)
    epochs = 1
    if hasattr(model, "epochs"):  # every epoch of it: the units are per epoch
        epochs = FIT_EPOCHS
        model.set_params(epochs=epochs, **({"min_epochs": epochs} if hasattr(model, "min_epochs") else {}))
    fixed = min(_timed(lambda: class_scores(model.fit(X[small], y[small], groups=np.arange(len(small)) // 4),
                                            X[small])) for _ in range(2))  # the first pays for imports too
    seconds = _timed(lambda: class_scores(model.fit(X, y, groups=groups), X))
    values = [samples_per_epoch(model, n) * FIT_DIM * epochs for n in (len(small), FIT_FRAMES)]
    per_value = max(0.0, seconds - fixed) / max(values[1] - values[0], 1)
    return {"fit": max(0.0, fixed - values[0] * per_value), "per_value": per_value}


def measure_cnn(spec: str, frame_shape: tuple[int, int], *, batches: int = 4) -> dict:
    """A CNN's training step (one batch), predicted patch and fixed cost per fit, on random patches of
    ``frame_shape``: the faster of two fits of one epoch and of two fits of three (``batches`` steps each, no
    validation), then 256 patches scored. More batches per epoch spread the per-epoch work as a real fit does
    (``benchmarks/stacks.py`` uses 20); 4 keeps the calibration to seconds (with 2 the fits' difference could
    vanish in their noise). A difference that is not positive is measured again; after three tries the step is
    the longer fit's time per step (an upper bound), never zero."""
    from .registry import get_classifier

    rng = np.random.default_rng(0)
    model = get_classifier(spec, random_state=0)
    batch = int(model.batch_size)
    n = batches * batch
    X = rng.standard_normal((n, int(np.prod(frame_shape)))).astype(np.float32)
    y = np.arange(n) % 2

    def fit(epochs: int):
        cnn = get_classifier(spec, random_state=0)
        cnn.set_params(input_shape=tuple(frame_shape), epochs=epochs, min_epochs=1, min_batches=batches,
                       validation_fraction=0.0)
        return cnn.fit(X, y)

    # the faster of two fits of each length: the first fit also pays for TensorFlow's own start (its first graph,
    # oneDNN's kernels), which is no fit's cost, and the faster of two is less at the mercy of other processes
    one, three, fitted = np.inf, np.inf, [None]
    for _ in range(3):  # tries
        for _ in range(2):
            one = min(one, _timed(lambda: fit(1)))
            three = min(three, _timed(lambda: fitted.__setitem__(0, fit(3))))
        if three > one:
            break
    # two epochs of ``batches`` steps more; if noise hid them, the longer fit's time per step (an upper bound)
    step = (three - one) / (2 * batches) if three > one else three / (3 * batches)
    patches = np.repeat(X, 4, axis=0)[:256]
    fitted[0].predict_proba(patches[:8])  # the trace of the inference function
    patch = _timed(lambda: fitted[0].predict_proba(patches)) / len(patches)
    return {"fit": max(0.0, one - batches * step), "step": step, "patch": patch}
