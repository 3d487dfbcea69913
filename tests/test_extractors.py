"""Extractors on real audio: shapes, frame times, determinism; musicnn with its shipped checkpoints."""
import importlib.util

import numpy as np
import pytest

from evalkit import get_extractor, load_audio
from evalkit.embed.musicnn import MUSICNN_LAYERS

needs_musicnn = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                   reason="musicnn is not installed (make setup installs it with --no-deps)")


@pytest.fixture(scope="module")
def signals(tone_task_dir):
    """Two recordings of the lowest and two of the highest class of the tone task, 2.0 s each."""
    paths = [tone_task_dir / label / f"rec{g}__0.wav" for label in ("low", "high") for g in (0, 1)]
    return [load_audio(p, 16000) for p in paths]


@pytest.mark.parametrize("n", [1, 33, 34, 35, 50, 51, 100])
def test_frame_gives_every_complete_frame_or_one_short_one(n):
    """The framing of the texture windows and spectrogram patches (librosa.util.frame) against explicit slicing:
    frames of 34 steps every 16 that fit, and one frame of everything when the input is shorter."""
    from evalkit.embed.base import frame

    x = np.random.default_rng(n).standard_normal((5, n)).astype(np.float32)
    expected = np.stack([x[:, s:s + 34] for s in range(0, max(n - 34, 0) + 1, 16)])
    np.testing.assert_array_equal(frame(x, 34, 16, axis=-1), expected)
    np.testing.assert_array_equal(frame(x.T, 34, 16, axis=0), expected.transpose(0, 2, 1))  # time first


def test_mfcc_shapes_times_and_determinism(signals):
    extractor = get_extractor("mfcc")
    emb, times = extractor.extract(signals[0])
    assert emb.dtype == np.float32 and emb.shape == (3, 120)  # 1-s windows every 0.5 s in 2 s
    np.testing.assert_allclose(times, [0.5, 1.0, 1.5])
    again, _ = get_extractor("mfcc").extract(signals[0])
    np.testing.assert_array_equal(emb, again)


def test_spectrogram_patches_are_the_authors_inputs(signals):
    """Peak normalisation, log(1 + |STFT|) on mel bands (T3) or the linear bins (T1), (time, frequency) patches
    every patch_hop frames: floor((frames - (patch - patch_hop)) / patch_hop) of them."""
    import librosa

    t3 = get_extractor("cnn-input-t3")
    audio = load_audio_like(np.tile(signals[0], 2), 22050)  # 4.0 s
    emb, times = t3.extract(audio)
    frames = 1 + len(audio) // 342  # centred STFT frames
    assert t3.frame_shape == (140, 80) and emb.shape == ((frames - (140 - 7)) // 7, 140 * 80)
    expected = np.log1p(librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=11025)
                        @ np.abs(librosa.stft(audio / np.abs(audio).max(), n_fft=1024, hop_length=342))).T
    np.testing.assert_allclose(emb[1].reshape(140, 80), expected[7:147], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(times, (np.arange(len(emb)) * 7 + 69.5) * 342 / 22050)
    np.testing.assert_allclose(t3.extract(0.1 * audio)[0], emb, rtol=1e-4, atol=1e-5)  # the peak is divided out
    t1 = get_extractor("cnn-input-t1")
    emb, _ = t1.extract(load_audio_like(np.tile(signals[0], 2), 12000))
    assert t1.frame_shape == (34, 257) and emb.shape == ((1 + 48000 // 512 - 17) // 17, 34 * 257)
    short, _ = get_extractor("cnn-input-han").extract(load_audio_like(signals[0][:8000], 22050))  # 0.5 s: padded
    assert short.shape == (1, 43 * 128)
    with pytest.raises(ValueError, match="bins=300"):
        get_extractor("spectrogram(kind=linear, bins=300)")


def load_audio_like(audio, rate):
    from evalkit.data.audio import resample

    return resample(audio, 16000, rate)


@needs_musicnn
@pytest.mark.parametrize("layer", ["penultimate", "max_pool"])
def test_musicnn_shapes_times_and_determinism(signals, layer):
    extractor = get_extractor(f"musicnn(layer={layer})")
    try:
        out = extractor.extract_batch(signals)
        again = extractor.extract_batch(signals[:1])
    finally:
        extractor.close()
    emb, times = out[0]
    assert emb.dtype == np.float32 and emb.shape == (2, MUSICNN_LAYERS[layer])  # 1-s patches, 1-s hop, 2 s
    np.testing.assert_allclose(times, [0.5, 1.5], atol=0.02)
    assert np.all(np.isfinite(emb)) and emb.std() > 0
    np.testing.assert_allclose(again[0][0], emb, rtol=1e-5, atol=1e-6)
    # the classes differ: the file means of the two classes lie further apart than the files of one class
    means = np.array([e.mean(axis=0) for e, _ in out])
    low, high = means[:2], means[2:]
    between = np.linalg.norm(low.mean(axis=0) - high.mean(axis=0))
    within = max(np.linalg.norm(low[0] - low[1]), np.linalg.norm(high[0] - high[1]))
    assert between > 1.5 * within, (between, within)


@needs_musicnn
def test_musicnn_pads_short_input_with_silence_to_one_window(signals):
    with get_extractor("musicnn-msd") as msd:
        emb, times = msd.extract(signals[0][:4000])  # 0.25 s -> padded to one 1-s window
        padded, _ = msd.extract(np.concatenate([signals[0][:4000], np.zeros(12000, np.float32)]))
        worker = msd._model
        assert worker is not None and worker.running
    assert msd._model is None and not worker.running  # the end of the with block stopped the worker process
    assert emb.shape == (1, 200) and times.tolist() == [0.5]
    np.testing.assert_array_equal(emb, padded)


@needs_musicnn
def test_musicnn_does_not_break_keras_training_in_the_same_process(signals):
    import tensorflow as tf

    from evalkit import BaselineCNN

    extractor = get_extractor("musicnn")
    try:
        extractor.extract(signals[0])
    finally:
        extractor.close()
    assert tf.executing_eagerly()  # the worker process disabled eager execution, not this one
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 16 * 8)).astype(np.float32)
    y = np.repeat(["a", "b"], 12)
    X[y == "b"] += 1.0
    model = BaselineCNN(input_shape=(16, 8), epochs=2, random_state=0).fit(X, y)
    assert model.predict_proba(X).shape == (24, 2)


@needs_musicnn
def test_other_layers_of_one_musicnn_pass_are_cached_too(tone_task_dir, tmp_path):
    from evalkit import EmbeddingCache, extract_embeddings

    cache, paths = EmbeddingCache(tmp_path), sorted(tone_task_dir.rglob("*.wav"))[:2]
    penultimate = get_extractor("musicnn")
    try:
        first = extract_embeddings(paths, penultimate, cache=cache, progress=False)
    finally:
        penultimate.close()
    max_pool = get_extractor("musicnn(layer=max_pool)")

    def no_model(*args, **kwargs):
        raise AssertionError("max_pool should come from the cache")

    max_pool._worker = no_model
    from_cache = extract_embeddings(paths, max_pool, cache=cache, progress=False)
    assert from_cache[0][0].shape == (2, 753)
    np.testing.assert_array_equal(from_cache[0][1], first[0][1])  # same frames


@needs_musicnn
def test_musicnn_runs_from_a_script_without_a_main_guard(tmp_path):
    """Issue 12: the worker is not started by multiprocessing's spawn, which re-imported an unguarded script in the
    worker, where it ran again and died."""
    import subprocess
    import sys

    script = tmp_path / "ex.py"
    script.write_text("import numpy as np\nimport evalkit as ek\n\nprint('top level ran', flush=True)\n"
                      "emb, times = ek.get_extractor('musicnn-msd').extract(np.zeros(32000, np.float32))\n"
                      "print(emb.shape, times.round(1).tolist())\n")
    done = subprocess.run([sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["top level ran", "(2, 200) [0.5, 1.5]"]


@needs_musicnn
def test_a_dead_musicnn_worker_is_named_in_one_line_instead_of_the_audio(tone_task_dir, tmp_path):
    import os
    import signal

    from evalkit import EmbeddingCache, extract_embeddings
    from evalkit.config import WorkerError

    paths = sorted(tone_task_dir.rglob("*.wav"))[:2]
    with get_extractor("musicnn") as extractor:
        extractor.extract(np.zeros(16000, np.float32))
        pid = extractor._model.pid
        os.kill(pid, signal.SIGKILL)  # as the system does when it runs out of memory
        extractor._model._channel.process.wait(timeout=30)
        with pytest.raises(WorkerError) as caught:
            extract_embeddings(paths, extractor, cache=EmbeddingCache(tmp_path), progress=False)
        message = str(caught.value)
        assert message.startswith(f"model worker musicnn MTT_musicnn (pid {pid}, ") and "\n" not in message
        assert "signal SIGKILL" in message and str(paths[0]) not in message
        again = extract_embeddings(paths, extractor, cache=EmbeddingCache(tmp_path), progress=False)  # a new worker
        assert again[0][0].shape == (2, 200) and extractor._model.pid != pid


def test_musicnn_without_its_package_says_what_to_install(monkeypatch):
    import sys

    from evalkit.config import MissingPackageError

    monkeypatch.setitem(sys.modules, "musicnn", None)  # as if not installed
    with pytest.raises(MissingPackageError, match=r"'musicnn'.*pip install --no-deps musicnn==0.1.0"):
        get_extractor("musicnn-msd")
