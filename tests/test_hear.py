"""HEAR 2021 API modules as embeddings: small HEAR modules written here (numpy; TensorFlow; torch where installed),
checked as the HEAR validator checks them, extracted in padded batches, pooled, cached and classified."""
import importlib
import importlib.util
import sys
import textwrap

import numpy as np
import pytest

import evalkit as ek
from evalkit import EmbeddingCache, get_extractor, load_audio
from evalkit.config import MissingDataError, MissingPackageError, ParameterError
from evalkit.embed.cache import extract_embeddings
from evalkit.embed.hear import HearExtractor, pool_frames
from evalkit.embed.hear_validation import validate_hear_module

#: A valid HEAR module: log energies in 24 bands, log energy and spectral centroid of 64-ms frames every 25 ms,
#: centred (zero-padded by half a frame at both ends). Its constants are what the broken variants change.
TONE_MODULE = '''
"""HEAR 2021 test module: band energies of 64-ms frames every 25 ms."""
import numpy as np

__version__ = "1.0"
SAMPLE_RATE, N_FFT, HOP = 16000, 1024, 400
EDGES = np.geomspace(100, 8000, 25)
TIME_SCALE = 1000.0           # timestamps in ms
EMBEDDING_DTYPE = np.float32
NOISE = 0.0                   # added times the number of calls: not deterministic when > 0
BATCH_CENTRED = False         # subtract the batch mean: the batch changes a sound's embeddings


class Model:
    sample_rate = SAMPLE_RATE
    timestamp_embedding_size = 26
    scene_embedding_size = 26

    def __init__(self, gains):
        self.gains, self.calls = gains, 0


def load_model(model_file_path=""):
    gains = np.load(model_file_path) if model_file_path else np.ones(24)
    return Model(np.asarray(gains, dtype=np.float64))


def get_timestamp_embeddings(audio, model):
    audio = np.asarray(audio, dtype=np.float64)
    n_frames = audio.shape[1] // HOP + 1
    padded = np.pad(audio, ((0, 0), (N_FFT // 2, N_FFT // 2)))
    frames = padded[:, np.arange(n_frames)[:, None] * HOP + np.arange(N_FFT)] * np.hanning(N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    bands = np.stack([power[..., (freqs >= lo) & (freqs < hi)].sum(-1) for lo, hi in zip(EDGES[:-1], EDGES[1:])], -1)
    total = power.sum(-1)
    embeddings = np.concatenate([np.log(bands * model.gains + 1e-8), np.log(total + 1e-8)[..., None],
                                 ((power * freqs).sum(-1) / (total + 1e-8) / 1000)[..., None]], axis=-1)
    model.calls += 1
    embeddings = embeddings + NOISE * model.calls
    if BATCH_CENTRED:
        embeddings = embeddings - embeddings.mean(axis=0)
    times = np.arange(n_frames) * HOP / SAMPLE_RATE * TIME_SCALE
    return embeddings.astype(EMBEDDING_DTYPE), np.tile(times, (len(audio), 1))


def get_scene_embeddings(audio, model):
    return get_timestamp_embeddings(audio, model)[0].mean(axis=1)
'''

#: Broken variants: replacements in TONE_MODULE, and the words the validator's message must contain.
BROKEN = {
    "seconds": ({"TIME_SCALE = 1000.0": "TIME_SCALE = 1.0"}, "in seconds, not milliseconds"),
    "float64": ({"EMBEDDING_DTYPE = np.float32": "EMBEDDING_DTYPE = np.float64"}, "are float64, expected float32"),
    "no_scene_size": ({"    scene_embedding_size = 26\n": ""}, "no attribute scene_embedding_size"),
    "random": ({"NOISE = 0.0": "NOISE = 1e-3"}, "not deterministic"),
    "wrong_size": ({"timestamp_embedding_size = 26": "timestamp_embedding_size = 27"},
                   "expected (2, n_times, 27) (timestamp_embedding_size 27)"),
    "batch_norm": ({"BATCH_CENTRED = False": "BATCH_CENTRED = True"}, "depend on the other sounds of its batch"),
    "float_rate": ({"    sample_rate = SAMPLE_RATE": "    sample_rate = 16000.0"}, "sample_rate must be a positive int"),
}

#: The same features from a TensorFlow model: tf.Module in, TensorFlow tensors out (checks what it is given).
TF_MODULE = '''
import numpy as np
import tensorflow as tf
import {base} as base


class Model(tf.Module):
    sample_rate, timestamp_embedding_size, scene_embedding_size = 16000, 26, 26

    def __init__(self):
        super().__init__()
        self.base = base.load_model()


def load_model(model_file_path=""):
    return Model()


def get_timestamp_embeddings(audio, model):
    assert isinstance(audio, tf.Tensor), type(audio)
    embeddings, times = base.get_timestamp_embeddings(audio.numpy(), model.base)
    return tf.constant(embeddings), tf.constant(times, dtype=tf.float32)


def get_scene_embeddings(audio, model):
    return tf.reduce_mean(get_timestamp_embeddings(audio, model)[0], axis=1)
'''

#: The same features from a PyTorch model: torch.nn.Module in, torch tensors out (checks what it is given).
TORCH_MODULE = '''
import torch
import {base} as base


class Model(torch.nn.Module):
    sample_rate, timestamp_embedding_size, scene_embedding_size = 16000, 26, 26

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.base = base.load_model()


def load_model(model_file_path=""):
    return Model()


def get_timestamp_embeddings(audio, model):
    assert isinstance(audio, torch.Tensor), type(audio)
    embeddings, times = base.get_timestamp_embeddings(audio.numpy(), model.base)
    return torch.from_numpy(embeddings) * model.scale, torch.from_numpy(times)


def get_scene_embeddings(audio, model):
    return get_timestamp_embeddings(audio, model)[0].mean(dim=1)
'''


@pytest.fixture
def hear_module(tmp_path, monkeypatch):
    """``write(name, source)``: a HEAR module importable as ``name`` (written into a folder on sys.path; removed
    from sys.modules afterwards). The data folder (where checked models are remembered) is the test's own."""
    folder = tmp_path / "modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # a rewritten module of the same size is read again
    written = []

    def write(name, source=TONE_MODULE, replacements=None):
        for old, new in (replacements or {}).items():
            assert old in source, old
            source = source.replace(old, new)
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        sys.modules.pop(name, None)
        importlib.invalidate_caches()
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def tones(tone_task_dir):
    """Three tone recordings of 2 s at 16 kHz (low, mid, high)."""
    return [load_audio(tone_task_dir / label / "rec0__0.wav", 16000) for label in ("low", "mid", "high")]


def test_valid_module_passes_the_checks(hear_module):
    assert validate_hear_module(hear_module("hear_tones")) == []


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_each_broken_module_is_named_by_what_is_wrong(hear_module, variant):
    replacements, expected = BROKEN[variant]
    name = hear_module(f"hear_broken_{variant}", replacements=replacements)
    problems = validate_hear_module(name)
    assert len(problems) == 1 and expected in problems[0], problems
    with pytest.raises(ParameterError) as error:  # the extractor checks the model when it first loads it
        HearExtractor(module=name).model()
    assert "\n" not in str(error.value) and expected in str(error.value)


def test_missing_functions_and_modules_fail_when_the_extractor_is_built(hear_module):
    name = hear_module("hear_no_scene", replacements={"def get_scene_embeddings": "def scene_embeddings"})
    assert validate_hear_module(name) == [f"module {name} has no function get_scene_embeddings"]
    with pytest.raises(ParameterError, match="has no function get_scene_embeddings"):
        get_extractor(f"hear(module={name})")
    with pytest.raises(MissingPackageError) as error:
        get_extractor("hear(module=no_such_module)")
    message = str(error.value)
    assert "\n" not in message and "'no_such_module'" in message and "pip install" in message
    if importlib.util.find_spec("hear21passt") is None:  # a plain `hear` is PaSST: `evalkit embeddings` says so
        with pytest.raises(MissingPackageError, match="'hear21passt.base'.*pip install 'hear21passt'"):
            get_extractor("hear")
    with pytest.raises(ParameterError, match="module must be the name"):
        get_extractor("hear(module=3)")
    with pytest.raises(MissingDataError, match="do not exist"):
        get_extractor(f"hear(module={hear_module('hear_tones')}, weights=/no/such/weights.npy)")


def test_frames_times_and_facts_come_from_the_model(hear_module, tones):
    extractor = get_extractor(f"hear(module={hear_module('hear_tones')})")
    assert extractor._model is None  # building does not load the model
    assert (extractor.sample_rate, extractor.dim, extractor.hop) == (16000, 26, 0.025)
    emb, times = extractor.extract(tones[0])
    assert emb.dtype == np.float32 and emb.shape == (81, 26)  # frames centred at 0, 25, ..., 2000 ms
    np.testing.assert_allclose(times, np.arange(81) * 0.025)
    again = get_extractor("hear(module=hear_tones)")
    assert again.dim == 26 and again._model is None  # remembered from the first check: no second load
    extractor.close()
    assert extractor._model is None


def test_unequal_lengths_in_a_batch_give_the_one_by_one_embeddings(hear_module, tones):
    """Sorted, padded batches: the padding adds no frames and changes no values (the model zero-pads itself)."""
    extractor = get_extractor(f"hear(module={hear_module('hear_tones')}, batch_size=3)")
    signals = [tones[0][:20800], tones[1], tones[2][:4800], tones[0][:16000]]  # 1.3, 2.0, 0.3 and 1.0 s
    batched = extractor.extract_batch(signals)
    for signal, (emb, times) in zip(signals, batched):
        alone, alone_times = extractor.extract(signal)
        np.testing.assert_allclose(emb, alone, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(times, alone_times)
        assert times[-1] <= len(signal) / 16000 and len(times) == len(signal) // 400 + 1
    assert len(batched[2][1]) == 13  # 0.3 s, padded to the 1 s the model was checked on: frames up to 300 ms


def test_pooling_to_windows(hear_module, tones):
    name = hear_module("hear_tones")
    frames, frame_times = get_extractor(f"hear(module={name})").extract(tones[1])
    pooled = get_extractor(f"hear(module={name}, window=1.0, hop=0.5)")
    assert (pooled.window, pooled.hop, pooled.dim) == (1.0, 0.5, 26)
    emb, times = pooled.extract(tones[1])
    assert emb.shape == (3, 26)  # 1-s windows every 0.5 s in 2 s, like mfcc
    np.testing.assert_allclose(times, [0.5, 1.0, 1.5])
    np.testing.assert_allclose(emb[1], frames[(frame_times >= 0.5) & (frame_times < 1.5)].mean(axis=0), rtol=1e-5)
    short_frames, _ = get_extractor(f"hear(module={name})").extract(tones[1][:4000])
    short, short_times = pooled.extract(tones[1][:4000])  # 0.25 s: one window of its 11 frames
    assert short.shape == (1, 26) and short_times.tolist() == [0.5] and len(short_frames) == 11
    np.testing.assert_allclose(short[0], short_frames.mean(axis=0), rtol=1e-5)
    # a window without frames (pooling finer than the model's hop) takes the nearest frame
    sparse, centres = pool_frames(np.arange(3.0)[:, None], np.array([0.0, 1.0, 2.0]), duration=2.0, window=0.2, hop=0.5)
    assert sparse[:, 0].tolist() == [0, 1, 1, 2] and np.allclose(centres, [0.1, 0.6, 1.1, 1.6])
    with pytest.raises(ParameterError, match="hop=0.5 needs a window"):
        get_extractor(f"hear(module={name}, hop=0.5)")


def test_cache_keys_follow_module_version_and_weights_content(hear_module, tmp_path, tone_task_dir):
    name = hear_module("hear_tones")
    weights = tmp_path / "gains.npy"
    np.save(weights, np.ones(24))
    first = get_extractor(f"hear(module={name}, weights={weights})")
    moved = tmp_path / "elsewhere" / "gains.npy"
    moved.parent.mkdir()
    np.save(moved, np.ones(24))
    assert get_extractor(f"hear(module={name}, weights={moved})").identity == first.identity  # content, not path
    np.save(weights, np.full(24, 2.0))
    assert get_extractor(f"hear(module={name}, weights={weights})").identity != first.identity
    assert get_extractor(f"hear(module={name})").identity != first.identity
    hear_module(name, replacements={'__version__ = "1.0"': '__version__ = "1.1"'})
    assert "hear_tones 1.1" in get_extractor(f"hear(module={name}, weights={moved})").version
    assert get_extractor(f"hear(module={name}, weights={moved})").identity != first.identity
    # without a __version__ (a module of your own): a hash of its source
    unversioned = hear_module("hear_unversioned", replacements={'__version__ = "1.0"\n': ""})
    before = get_extractor(f"hear(module={unversioned})").version
    hear_module(unversioned, replacements={'__version__ = "1.0"\n': "", "1e-8": "1e-9"})
    after = get_extractor(f"hear(module={unversioned})").version
    assert before.startswith("hear_unversioned source-") and before != after

    # cached: the second run reads every file back without loading the model
    cache, paths = EmbeddingCache(tmp_path / "cache"), sorted(tone_task_dir.rglob("*.wav"))[:5]
    computed = extract_embeddings(paths, get_extractor(f"hear(module={name})"), cache=cache, progress=False)
    reader = get_extractor(f"hear(module={name})")
    cached = extract_embeddings(paths, reader, cache=cache, progress=False)
    assert reader._model is None
    for (a, ta), (b, tb) in zip(computed, cached):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ta, tb)


def test_weights_change_the_embeddings(hear_module, tmp_path, tones):
    name = hear_module("hear_tones")
    weights = tmp_path / "gains.npy"
    np.save(weights, np.full(24, np.e))
    plain, _ = get_extractor(f"hear(module={name})").extract(tones[0])
    weighted, _ = get_extractor(f"hear(module={name}, weights={weights})").extract(tones[0])
    np.testing.assert_allclose(weighted[:, :24], plain[:, :24] + 1, atol=1e-4)  # log(gain * band) = 1 + log(band)


def test_end_to_end_the_tone_classes_separate(hear_module, tone_task_dir, tmp_path):
    name = hear_module("hear_tones")
    results = ek.run_experiment(tone_task_dir, f"hear(module={name}, window=1.0, hop=0.5)", "svm", repetitions=2,
                                seed=0, cache=EmbeddingCache(tmp_path / "cache"), store=False, progress=False)
    assert len(results) == 2 and (results.accuracy > 80).all(), results.accuracy.tolist()  # chance: 33 %
    assert results.embedding[0] == f"hear(hop=0.5, module={name}, window=1.0)"


def test_tensorflow_module(hear_module, tones):
    """A tf.Module gets TensorFlow tensors and its TensorFlow outputs come back as the numpy module's numbers."""
    pytest.importorskip("tensorflow", reason="tensorflow is not installed (requirements.txt installs tensorflow-cpu)")
    base = hear_module("hear_tones")
    name = hear_module("hear_tones_tf", source=TF_MODULE.replace("{base}", base))
    assert validate_hear_module(name) == []
    expected, times = get_extractor(f"hear(module={base})").extract(tones[0])
    emb, tf_times = get_extractor(f"hear(module={name})").extract(tones[0])
    np.testing.assert_array_equal(emb, expected)
    np.testing.assert_allclose(tf_times, times, atol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="torch is not installed (optional, not a requirement); the numpy and TensorFlow HEAR "
                           "modules test the rest")
def test_torch_module(hear_module, tones):
    """A torch.nn.Module gets torch tensors (without gradients) and its tensors come back as the numpy module's numbers."""
    base = hear_module("hear_tones")
    name = hear_module("hear_tones_torch", source=TORCH_MODULE.replace("{base}", base))
    assert validate_hear_module(name) == []
    expected, times = get_extractor(f"hear(module={base})").extract(tones[0])
    emb, torch_times = get_extractor(f"hear(module={name})").extract(tones[0])
    np.testing.assert_array_equal(emb, expected)
    np.testing.assert_allclose(torch_times, times)


def test_extractors_survive_pickling_without_their_model(hear_module, tones):
    """A copy for another process (pickle) imports the module and loads the model itself; repr loads nothing."""
    import pickle

    extractor = get_extractor(f"hear(module={hear_module('hear_tones')}, window=1.0)")
    assert "model not loaded yet" in repr(extractor) and extractor._model is None
    emb, _ = extractor.extract(tones[2])
    copy = pickle.loads(pickle.dumps(extractor))
    assert copy._model is None and copy.identity == extractor.identity
    np.testing.assert_array_equal(copy.extract(tones[2])[0], emb)
    assert repr(copy) == "<HearExtractor hear(hop=1.0, module=hear_tones, window=1.0): 26 values every 1 s>"


def test_hear_check_command_says_valid_or_lists_the_problems(hear_module, capsys):
    from evalkit.cli import main

    assert main(["hear-check", hear_module("hear_tones_cli")]) == 0
    assert "hear_tones_cli: a valid HEAR 2021 module" in capsys.readouterr().out
    replacements, expected = BROKEN[sorted(BROKEN)[0]]
    name = hear_module("hear_broken_cli", replacements=replacements)
    assert main(["hear-check", name]) == 2
    out, err = capsys.readouterr()
    assert expected in out and err.count("\n") == 1 and "problem(s) with the HEAR 2021 API" in err
