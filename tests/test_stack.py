"""The code that lets evalkit run on both stacks: TensorFlow 2.15 / Keras 2 / numpy 1 and TensorFlow >= 2.16 /
Keras 3 / numpy 2 / LiteRT (issue 24)."""
import importlib.util
import sys

import numpy as np
import pytest

from evalkit.config import MissingPackageError


def loud_square_wave(seconds=2.0, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.99 * np.sign(np.sin(2 * np.pi * 110 * t))).astype(np.float32)


def test_musicnn_front_end_stays_finite_on_loud_audio_and_scales_in_float32():
    """musicnn's log-mel rounds the mel power to float16; scaled by 10000 in float16 (numpy 2's promotion of
    ``10000 * float16``) the loud bins overflow to inf and the network returns NaN."""
    import librosa

    from evalkit.embed.musicnn import log_mel_patches

    audio = loud_square_wave()
    patches = log_mel_patches(audio, window=1.0, hop=1.0)
    mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    assert float(mel.max()) > 65504 / 10000  # loud enough that 10000 * mel would not fit in float16
    assert patches.dtype == np.float32 and np.isfinite(patches).all()
    expected = np.log10(np.float32(10000) * mel.astype(np.float16).astype(np.float32) + np.float32(1))
    np.testing.assert_array_equal(patches[0], expected[:len(patches[0])])


def test_musicnn_on_keras_3_without_tf_keras_says_what_to_install(monkeypatch):
    from evalkit.embed import musicnn

    monkeypatch.setattr(musicnn, "_tensorflow_version", lambda: (2, 21))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf_keras" else real_find_spec(name, *a))
    if real_find_spec("musicnn") is None:
        pytest.skip("musicnn is not installed (requirements-nodeps.txt)")
    with pytest.raises(MissingPackageError, match=r"TensorFlow 2\.21 \(Keras 3\).*pip install tf-keras"):
        musicnn.MusicnnExtractor()
    monkeypatch.setattr(musicnn, "_tensorflow_version", lambda: (2, 15))  # Keras 2 builds the graph itself
    musicnn.MusicnnExtractor().close()


def test_the_tflite_runtime_is_litert_where_installed_else_tensorflows(monkeypatch):
    from evalkit.embed.birdnet import tflite_interpreter_class

    found = tflite_interpreter_class()
    if importlib.util.find_spec("ai_edge_litert") is not None:
        assert found.__module__.startswith("ai_edge_litert")
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # as if not installed: import fails
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    import tensorflow as tf

    assert tflite_interpreter_class() is tf.lite.Interpreter
