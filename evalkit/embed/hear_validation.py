"""The HEAR 2021 API (Holistic Evaluation of Audio Representations): import a module, load its model, call it, and
check it as the HEAR validator (``hearvalidator``) does, without that package (its pins break this environment).

A HEAR module provides ``load_model(model_file_path)``, whose model has ``sample_rate``, ``scene_embedding_size`` and
``timestamp_embedding_size``; ``get_timestamp_embeddings(audio[n_sounds, n_samples], model) ->
(embeddings[n_sounds, n_times, timestamp_embedding_size], timestamps_ms[n_sounds, n_times])`` and
``get_scene_embeddings(audio, model) -> [n_sounds, scene_embedding_size]``. A PyTorch model (``torch.nn.Module``)
gets torch tensors, a TensorFlow model (``tf.Module``) TensorFlow tensors and any other model numpy arrays; outputs
of all three come back as numpy arrays.

:func:`validate_hear_module` returns what is wrong, one line per problem (empty: valid). Beyond the validator, it
also requires outputs that do not change between two calls on the same input (deterministic) and do not depend on
the other sounds of a batch, since evalkit caches embeddings and computes them in batches.
"""
from __future__ import annotations

import importlib
import inspect
import sys

import numpy as np

from ..config import MissingPackageError, ParameterError

#: Lengths in seconds of the random test sounds of :func:`check_model`: the shortest is also the least a file is
#: padded to before a model sees it (the model is known to work on it); 1.98 s is the HEAR validator's odd length
#: that catches rounding errors of the frame hop.
VALIDATION_SECONDS = (1.0, 1.98)
#: Sounds per test batch (the HEAR validator's), and the seed of their white noise.
VALIDATION_SOUNDS, VALIDATION_SEED = 2, 0
#: Two calls on the same input agree within this (relative and absolute); a sound alone and in a batch within the
#: second (batched matrix products may sum in another order).
DETERMINISM_TOLERANCE, BATCH_TOLERANCE = 1e-5, 1e-4
#: The HEAR validator's limit on the deviation of the timestamp spacing from its mean, in milliseconds.
SPACING_TOLERANCE_MS = 1.0
HEAR_FUNCTIONS = ("load_model", "get_timestamp_embeddings", "get_scene_embeddings")
MODEL_ATTRIBUTES = ("sample_rate", "scene_embedding_size", "timestamp_embedding_size")


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _failure(call: str, error: BaseException) -> str:
    return f"{call} raised {type(error).__name__}: {_one_line(error)}"


def import_hear_module(name: str):
    """Import the HEAR module ``name`` (e.g. ``"hear21passt.base"``).

    Raises
    ------
    MissingPackageError
        The module, or a package it imports, is not installed (the message says which and what to install).
    ParameterError
        Importing the module failed otherwise (a bug in the module; the message quotes the error).
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            install = ("pip install 'hear21passt' (PaSST; it downloads its weights when first loaded)"
                       if missing == "hear21passt" else
                       "pip install the package that provides it (e.g. 'hear21passt' for hear21passt.base, PaSST)")
            raise MissingPackageError(f"the hear embedding needs the HEAR-API module '{name}', which is not "
                                      f"installed: {install}") from None
        raise MissingPackageError(f"HEAR module '{name}' cannot be imported: it needs the Python package "
                                  f"'{missing}', which is not installed (pip install {missing.split('.')[0]})") from None
    except Exception as error:  # noqa: BLE001 - any error of the module's own code is reported in one line
        raise ParameterError(f"HEAR module '{name}' cannot be imported: {_failure('import', error)}") from None


def module_problems(module) -> list[str]:
    """The HEAR functions ``module`` lacks (or has but cannot call), one message each."""
    name = getattr(module, "__name__", repr(module))
    problems = []
    for function in HEAR_FUNCTIONS:
        if not hasattr(module, function):
            problems.append(f"module {name} has no function {function}")
        elif not callable(getattr(module, function)):
            problems.append(f"module {name}: {function} is not callable")
    return problems


def load_hear_model(module, weights: str | None = None):
    """``module.load_model(weights)``; without weights ``load_model()`` when it takes no argument (as the HEAR
    validator calls it), else ``load_model("")``. A PyTorch model is put in evaluation mode (no dropout)."""
    if weights is not None:
        model = module.load_model(str(weights))
    else:
        try:
            parameters = inspect.signature(module.load_model).parameters.values()
            needs_argument = any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                                 for p in parameters)
        except (TypeError, ValueError):  # no signature (a builtin): the API's form
            needs_argument = True
        model = module.load_model("") if needs_argument else module.load_model()
    torch = _torch_of(model)
    if torch is not None:
        model.eval()
    return model


def _torch_of(model):
    """The torch package if ``model`` is a ``torch.nn.Module`` (torch is then imported already), else None."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(model, torch.nn.Module) else None


def _tensorflow_of(model):
    """The tensorflow package if ``model`` is a ``tf.Module`` (tensorflow is then imported already), else None."""
    tf = sys.modules.get("tensorflow")
    module_class = getattr(tf, "Module", None) if tf is not None else None
    return tf if module_class is not None and isinstance(model, module_class) else None


def as_numpy(value) -> np.ndarray:
    """A torch tensor (``.detach().cpu().numpy()``), a TensorFlow tensor (``.numpy()``) or an array-like as a numpy
    array of its own dtype."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # torch: off the autograd graph and the GPU first
        value = value.detach().cpu()
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)


def call_hear(function, audio: np.ndarray, model):
    """``function(audio, model)`` with ``audio`` (n_sounds, n_samples) float32 as the model's framework takes it
    (torch tensor on the model's device, without gradients; TensorFlow tensor; numpy array), and its output (an
    array or a tuple of arrays) as numpy arrays."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    torch, tf = _torch_of(model), _tensorflow_of(model)
    if torch is not None:
        tensors = [*model.parameters(), *model.buffers()]
        device = tensors[0].device if tensors else "cpu"
        with torch.no_grad():
            output = function(torch.from_numpy(audio).to(device), model)
    elif tf is not None:
        output = function(tf.convert_to_tensor(audio), model)
    else:
        output = function(audio, model)
    return tuple(as_numpy(o) for o in output) if isinstance(output, (tuple, list)) else as_numpy(output)


def _is_whole_number(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def model_problems(model) -> list[str]:
    """The model attributes of the HEAR API that are missing or not positive whole numbers, one message each."""
    problems = []
    for attribute in MODEL_ATTRIBUTES:
        if not hasattr(model, attribute):
            problems.append(f"the model has no attribute {attribute}")
        elif not _is_whole_number(getattr(model, attribute)) or getattr(model, attribute) < 1:
            problems.append(f"the model's {attribute} must be a positive int, not {getattr(model, attribute)!r}")
    return problems


def noise_batch(n_sounds: int, seconds: float, sample_rate: int) -> np.ndarray:
    """White noise in [-1, 1], (n_sounds, round(seconds * sample_rate)) float32, seeded (:data:`VALIDATION_SEED`)."""
    rng = np.random.default_rng(VALIDATION_SEED)
    return rng.uniform(-1, 1, (n_sounds, int(round(seconds * sample_rate)))).astype(np.float32)


def timestamp_problems(embeddings: np.ndarray, timestamps: np.ndarray, *, n_sounds: int, seconds: float,
                       size: int) -> list[str]:
    """What is wrong with one ``get_timestamp_embeddings`` output on ``n_sounds`` sounds of ``seconds`` s: shapes,
    dtype, finite values, timestamps in milliseconds, the same for every sound, strictly increasing, regular and
    covering the sound (the HEAR validator's rules)."""
    where = f"get_timestamp_embeddings on {n_sounds} sounds of {seconds:g} s"
    expected = f"({n_sounds}, n_times, {size}) (timestamp_embedding_size {size})"
    if embeddings.ndim != 3 or embeddings.shape[0] != n_sounds or embeddings.shape[2] != size:
        return [f"{where}: embeddings have shape {embeddings.shape}, expected {expected}"]
    problems = []
    if embeddings.dtype != np.float32:
        problems.append(f"{where}: embeddings are {embeddings.dtype}, expected float32")
    if timestamps.shape != embeddings.shape[:2]:
        return problems + [f"{where}: timestamps have shape {timestamps.shape}, expected {embeddings.shape[:2]} "
                           "(n_sounds, n_times of the embeddings)"]
    if embeddings.shape[1] == 0:
        return problems + [f"{where}: no timestamps"]
    if not np.all(np.isfinite(embeddings)):
        problems.append(f"{where}: embeddings contain NaN or infinite values")
    if not np.issubdtype(timestamps.dtype, np.number) or not np.all(np.isfinite(timestamps)):
        return problems + [f"{where}: timestamps must be finite numbers, got {timestamps.dtype}"]
    times = timestamps.astype(np.float64)
    if not np.allclose(times, times[:1], rtol=0, atol=1e-3):
        problems.append(f"{where}: the timestamps differ between the sounds of the batch (all have the same length)")
    times, duration_ms = times[0], 1000 * seconds
    if len(times) > 1:
        spacing = np.diff(times)
        if np.any(spacing <= 0):
            return problems + [f"{where}: timestamps are not strictly increasing"]
        if times[-1] <= seconds + 1e-6:
            return problems + [f"{where}: timestamps are in seconds, not milliseconds (the last is {times[-1]:g} for "
                               f"{duration_ms:g} ms of audio)"]
        deviation = float(np.max(np.abs(spacing - spacing.mean())))
        if deviation > SPACING_TOLERANCE_MS:
            problems.append(f"{where}: timestamps are not regular (spacing deviates {deviation:.2f} ms from its "
                            f"mean {spacing.mean():.2f} ms)")
        if times[-1] < duration_ms - 2 * spacing.mean():
            problems.append(f"{where}: timestamps end at {times[-1]:g} ms of {duration_ms:g} ms of audio, leaving "
                            "the end without embeddings")
    if times[0] < 0:
        problems.append(f"{where}: the first timestamp {times[0]:g} ms is before the audio starts")
    if times[-1] > duration_ms + 1e-3:
        problems.append(f"{where}: timestamps end at {times[-1]:g} ms, after the end of the audio ({duration_ms:g} ms)")
    return problems


def _differs(a: np.ndarray, b: np.ndarray, tolerance: float) -> float | None:
    """The largest difference of ``a`` and ``b`` if they are not equal within ``tolerance`` (relative and
    absolute), else None."""
    if a.shape != b.shape:
        return float("inf")
    if np.allclose(a, b, rtol=tolerance, atol=tolerance):
        return None
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def check_model(module, model) -> tuple[list[str], dict]:
    """Check a loaded model's attributes and outputs on seeded white noise (:data:`VALIDATION_SECONDS`).

    Returns
    -------
    problems : list of str
        One line per problem; empty: the model behaves as the HEAR API says.
    facts : dict
        ``sample_rate``, ``timestamp_embedding_size``, ``scene_embedding_size`` and ``frame_hop`` (seconds between
        timestamps on the longest test sound; that sound's length if it has one frame only); empty with problems.
    """
    problems = module_problems(module) + model_problems(model)
    if problems:
        return problems, {}
    rate, size = int(model.sample_rate), int(model.timestamp_embedding_size)
    hop = None
    for seconds in VALIDATION_SECONDS:
        audio = noise_batch(VALIDATION_SOUNDS, seconds, rate)
        try:
            embeddings, timestamps = call_hear(module.get_timestamp_embeddings, audio, model)
        except Exception as error:  # noqa: BLE001 - the module's error is the finding
            return [_failure(f"get_timestamp_embeddings on {VALIDATION_SOUNDS} sounds of {seconds:g} s", error)], {}
        found = timestamp_problems(embeddings, timestamps, n_sounds=VALIDATION_SOUNDS, seconds=seconds, size=size)
        if found:
            return found, {}
        times = timestamps[0].astype(np.float64) / 1000
        hop = round(float(np.mean(np.diff(times))), 6) if len(times) > 1 else seconds  # µs: no float noise
        if seconds == VALIDATION_SECONDS[0]:
            problems += _repeat_problems(module, model, audio, embeddings, timestamps)
    problems += _scene_problems(module, model, noise_batch(VALIDATION_SOUNDS, VALIDATION_SECONDS[-1], rate))
    if problems:
        return problems, {}
    return [], {"sample_rate": rate, "timestamp_embedding_size": size,
                "scene_embedding_size": int(model.scene_embedding_size), "frame_hop": hop}


def _repeat_problems(module, model, audio, embeddings, timestamps) -> list[str]:
    """Determinism (the same batch again) and batch independence (the first sound alone)."""
    where = f"get_timestamp_embeddings on {len(audio)} sounds of {audio.shape[1] / model.sample_rate:g} s"
    try:
        again, again_times = call_hear(module.get_timestamp_embeddings, audio, model)
        alone, _ = call_hear(module.get_timestamp_embeddings, audio[:1], model)
    except Exception as error:  # noqa: BLE001 - the module's error is the finding
        return [_failure(f"{where}, called again", error)]
    difference = _differs(again, embeddings, DETERMINISM_TOLERANCE)
    if difference is not None or _differs(again_times, timestamps, DETERMINISM_TOLERANCE) is not None:
        differs = f"embeddings by up to {difference:g}" if difference is not None else "timestamps"
        # a second difference (the sound alone) would tell nothing more: random outputs differ anyway
        return [f"{where}: not deterministic: a second call on the same audio gives other {differs} (random layers, "
                "dropout or a model in training mode?)"]
    difference = _differs(alone[0], embeddings[0], BATCH_TOLERANCE)
    if difference is not None:
        return [f"{where}: the first sound's embeddings depend on the other sounds of its batch (they differ by up "
                f"to {difference:g} when it is alone; batch statistics?)"]
    return []


def _scene_problems(module, model, audio) -> list[str]:
    where = f"get_scene_embeddings on {len(audio)} sounds of {audio.shape[1] / model.sample_rate:g} s"
    try:
        scene = call_hear(module.get_scene_embeddings, audio, model)
    except Exception as error:  # noqa: BLE001 - the module's error is the finding
        return [_failure(where, error)]
    size = int(model.scene_embedding_size)
    if not isinstance(scene, np.ndarray) or scene.shape != (len(audio), size):
        shape = getattr(scene, "shape", type(scene).__name__)
        return [f"{where}: embeddings have shape {shape}, expected ({len(audio)}, {size}) (scene_embedding_size)"]
    problems = [] if scene.dtype == np.float32 else [f"{where}: embeddings are {scene.dtype}, expected float32"]
    if not np.all(np.isfinite(scene)):
        problems.append(f"{where}: embeddings contain NaN or infinite values")
    return problems


def validate_hear_module(module, weights: str | None = None) -> list[str]:
    """Check a HEAR 2021 module as the HEAR validator does (and for determinism and batch independence).

    Parameters
    ----------
    module : str or module
        An importable module name (``"hear21passt.base"``) or the module itself.
    weights : path-like, optional
        The model file given to ``load_model``; None loads the module's default model.

    Returns
    -------
    list of str
        One line per problem, naming the function, the test input and what is wrong; empty: valid.

    Raises
    ------
    MissingPackageError
        The module or a package it needs is not installed.
    """
    if isinstance(module, str):
        module = import_hear_module(module)
    problems = module_problems(module)
    if problems:
        return problems
    try:
        model = load_hear_model(module, weights)
    except Exception as error:  # noqa: BLE001 - the module's error is the finding
        return [_failure(f"load_model({'' if weights is None else repr(str(weights))})", error)]
    return check_model(module, model)[0]
