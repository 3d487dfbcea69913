"""The paper's embedding adapters: argument plumbing and output contract with the heavy package replaced by a
small fake module at the import boundary, the model each extractor owns (loaded once on first use, released by
``close()``), and the message a user gets without the package."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import evalkit as ek
from evalkit.embed import kumar, vggish


def openl3_frames(n_samples, hop_size):
    """Frames openl3 0.4.2 makes of n samples at 48 kHz with center=True (core._preprocess_audio_batch): half a
    window of silence in front, then padding up to the last hop that reaches the end."""
    frame, hop = 48000, int(hop_size * 48000)
    n = n_samples + frame // 2
    return 1 if n <= frame else 1 + int(np.ceil((n - frame) / hop))


@pytest.fixture
def fake_openl3(monkeypatch):
    """A stand-in for the openl3 package (0.4.2's call contract and framing) that records how it is called."""
    calls = {"load": [], "embed": []}
    models = types.SimpleNamespace()

    def load_audio_embedding_model(input_repr, content_type, embedding_size, frontend="kapre"):
        calls["load"].append((input_repr, content_type, embedding_size))
        return ("model", input_repr, content_type, embedding_size)

    def get_audio_embedding(audio, sr, model=None, input_repr=None, content_type="music", embedding_size=6144,
                            center=True, hop_size=0.1, batch_size=32, frontend="kapre", verbose=True):
        assert isinstance(audio, list) and isinstance(sr, list) and len(audio) == len(sr)  # list in, lists out
        assert verbose in (0, 1) and center in (True, False)  # what openl3 accepts
        calls["embed"].append({"n": len(audio), "srs": sr, "model": model, "hop": hop_size, "center": center})
        out, times = [], []
        for x, rate in zip(audio, sr):
            assert rate == 48000 and x.ndim == 1  # no resampling inside openl3
            n = openl3_frames(len(x), hop_size)
            out.append(np.random.default_rng(len(x)).standard_normal((n, model[3])))  # float64: cast by the adapter
            times.append(np.arange(n) * hop_size)
        return out, times

    models.load_audio_embedding_model = load_audio_embedding_model
    module = types.SimpleNamespace(models=models, get_audio_embedding=get_audio_embedding, __version__="0.4.2")
    monkeypatch.setitem(sys.modules, "openl3", module)
    return calls


def test_openl3_framing_of_the_fake_is_openl3s():
    # 2 s: 24000 + 96000 samples -> frames start every 4800 samples from 0 to 72000: 16, centred at 0 … 1.5 s
    assert openl3_frames(96000, 0.1) == 16
    assert openl3_frames(96001, 0.1) == 17  # one sample more: padded to one more hop
    assert openl3_frames(10, 0.1) == 1 and openl3_frames(24000, 0.1) == 1  # short: padded to one window


def test_openl3_plumbing_and_output_contract(fake_openl3, tone_task_dir, tmp_path):
    extractor = ek.get_extractor("openl3-env-6144")
    assert extractor.params() == {"content": "env", "input_repr": "mel256", "embedding_size": 6144, "hop": 0.1}
    assert extractor.sample_rate == 48000 and extractor.dim == 6144
    paths = sorted(tone_task_dir.rglob("*.wav"))[:3]  # 2 s tones at 16 kHz, resampled to 48 kHz on loading
    results = ek.extract_embeddings(paths, extractor, cache=ek.EmbeddingCache(tmp_path / "cache"), progress=False)
    for embeddings, times in results:
        assert embeddings.dtype == np.float32 and embeddings.shape == (16, 6144)
        assert times.dtype == np.float64 and np.allclose(times, np.arange(16) * 0.1)  # centres, last at 1.5 s
    assert fake_openl3["load"] == [("mel256", "env", 6144)]
    assert [c["n"] for c in fake_openl3["embed"]] == [3]  # one batched call for all files
    call = fake_openl3["embed"][0]
    assert call["srs"] == [48000] * 3 and call["hop"] == 0.1 and call["center"] is True
    assert call["model"] == ("model", "mel256", "env", 6144)  # the loaded model, not a configuration to load
    extractor.extract_batch([np.zeros(48000, np.float32)])
    assert extractor.model() is call["model"] and len(fake_openl3["load"]) == 1  # loaded once, on first use


def test_openl3_extractor_owns_its_model_and_close_releases_it(fake_openl3):
    extractor = ek.get_extractor("openl3")
    assert fake_openl3["load"] == []  # building loads nothing
    model = extractor.model()
    assert extractor.model() is model and len(fake_openl3["load"]) == 1
    extractor.close()
    assert extractor._model is None  # released
    assert extractor.model() is not model and len(fake_openl3["load"]) == 2  # loaded again when needed
    with ek.get_extractor("openl3") as other:  # another extractor has a model of its own
        other.extract(np.zeros(48000, np.float32))
        assert other._model is not None and len(fake_openl3["load"]) == 3
    assert other._model is None  # the with block closed it


def test_openl3_leaves_short_signals_to_openl3(fake_openl3):
    (embeddings, times), = ek.get_extractor("openl3").extract_batch([np.zeros(4800, dtype=np.float32)])
    assert embeddings.shape == (1, 512) and np.allclose(times, [0.0])
    assert ek.get_extractor("openl3").extract_batch([]) == []


def test_openl3_rejects_bad_arguments_before_loading_anything(fake_openl3):
    with pytest.raises(ValueError, match="embedding_size must be one of 512, 6144"):
        ek.get_extractor("openl3(embedding_size=256)")
    with pytest.raises(ValueError, match="content must be one of music, env"):
        ek.get_extractor("openl3(content=speech)")
    assert fake_openl3["load"] == []


def test_openl3_without_its_package_or_the_paper_interpreter_names_make_paper_env(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "openl3", None)  # makes `import openl3` fail; conftest hides any .venv-paper
    with pytest.raises(ImportError) as error:
        ek.get_extractor("openl3")
    assert "run `make paper-env`" in str(error.value) and "requirements-paper.txt" in str(error.value)
    assert "needs a network" in str(error.value) and "$EVALKIT_PAPER_PYTHON" in str(error.value)
    from evalkit import cli
    assert cli.main(["extract", "--task", "D3", "--embedding", "openl3"]) == 2
    err = capsys.readouterr().err
    assert "make paper-env" in err and len(err.strip().splitlines()) == 1


def vggish_frames(n_samples):
    """Frames the TF Hub VGGish makes of n samples at 16 kHz: STFT windows of 400 samples every 160, no padding,
    then complete patches of 96 windows every 96 (yamnet/features.py, which vggish_export_tfhub.py uses)."""
    windows = 1 + (n_samples - 400) // 160 if n_samples >= 400 else 0
    return 1 + (windows - 96) // 96 if windows >= 96 else 0


@pytest.fixture
def fake_hub(monkeypatch):
    """A stand-in for tensorflow_hub whose VGGish frames a 1-D float32 waveform as the real one does."""
    loads = []

    def load(handle):
        loads.append(handle)

        def vggish(waveform):
            assert waveform.ndim == 1 and waveform.dtype == np.float32  # the SavedModel's signature
            return np.tile(np.linspace(-3, 3, 128), (vggish_frames(len(waveform)), 1))

        return vggish

    monkeypatch.setitem(sys.modules, "tensorflow_hub", types.SimpleNamespace(load=load, __version__="0.15.0"))
    return loads


def released_postprocess(embeddings, pca_matrix, pca_means):
    """A restatement of vggish_postprocess.Postprocessor.postprocess (tensorflow/models, research/audioset)."""
    pca_applied = np.dot(pca_matrix, (embeddings.T - pca_means.reshape(-1, 1))).T
    clipped = np.clip(pca_applied, -2.0, 2.0)
    return ((clipped - -2.0) * (255.0 / (2.0 - -2.0))).astype(np.uint8)


def test_vggish_raw_and_post_processed_outputs(fake_hub, tone_task_dir, tmp_path):
    path = sorted(tone_task_dir.rglob("*.wav"))[0]  # 2 s -> 198 STFT windows -> two complete 0.96 s frames
    audio = ek.load_audio(path, 16000)
    raw, times = ek.get_extractor("vggish-raw").extract(audio)
    assert raw.shape == (2, 128) and raw.dtype == np.float32
    # frame k covers samples [15360 k, 15360 k + 15600): centred at 0.96 k + 0.4875 s
    assert times.dtype == np.float64 and np.allclose(times, [0.4875, 1.4475])
    np.savez(tmp_path / "pca.npz", pca_eigen_vectors=np.eye(128), pca_means=np.zeros(128))  # released: (128,)
    post, _ = ek.get_extractor(f"vggish(pca_params={tmp_path / 'pca.npz'})").extract(audio)
    assert post.dtype == np.float32 and post.min() == 0 and post.max() == 255  # clipped at ±2, 8-bit levels
    assert np.array_equal(post, released_postprocess(raw, np.eye(128), np.zeros(128)))
    assert fake_hub == [vggish.VGGISH_HUB_URL] * 2  # each extractor loaded its own model


def test_vggish_loads_its_model_once_and_close_releases_it(fake_hub):
    extractor = ek.get_extractor("vggish-raw")
    assert fake_hub == []  # building loads nothing
    for n in (16000, 32000):
        extractor.extract(np.zeros(n, dtype=np.float32))
    assert fake_hub == [vggish.VGGISH_HUB_URL]  # two extractions, one load
    extractor.close()
    assert extractor._model is None
    extractor.extract(np.zeros(16000, dtype=np.float32))
    assert len(fake_hub) == 2  # loaded again after close()


def test_vggish_pads_short_signals_to_one_frame(fake_hub):
    extractor = ek.get_extractor("vggish-raw")
    assert extractor.window_samples == 15600 and vggish_frames(15600) == 1 and vggish_frames(15599) == 0
    for n in (1000, 15360, 15599):  # 0.96 s is not enough: the last STFT window needs 25 ms
        embeddings, times = extractor.extract(np.zeros(n, dtype=np.float32))
        assert embeddings.shape == (1, 128) and np.allclose(times, [0.4875])


def test_vggish_post_processing_needs_the_released_pca_parameters(fake_hub, tmp_path):
    with pytest.raises(FileNotFoundError, match="vggish_pca_params.npz") as error:
        ek.get_extractor(f"vggish(pca_params={tmp_path / 'missing.npz'})")
    assert vggish.VGGISH_PCA_URL in str(error.value) and "vggish-raw" in str(error.value)
    np.savez(tmp_path / "other.npz", pca_eigen_vectors=np.eye(64), pca_means=np.zeros(64))
    with pytest.raises(ValueError, match="not the released"):
        ek.get_extractor(f"vggish(pca_params={tmp_path / 'other.npz'})")


def test_vggish_postprocess_is_the_released_one():
    rng = np.random.default_rng(0)
    x, vectors, means = rng.standard_normal((40, 128)), rng.standard_normal((128, 128)) * 0.1, rng.standard_normal(128)
    expected = released_postprocess(x, vectors, means)
    for m in (means, means[:, None]):
        got = vggish.vggish_postprocess(x, vectors, m)
        assert got.dtype == np.float32 and np.array_equal(got, expected)
    # the release truncates (uint8 cast), it does not round: 0 -> 127.5 -> 127, 1.999 -> 254.94 -> 254
    levels = vggish.vggish_postprocess(np.array([[0.0, 1.999, -2.5, 2.0] + [0.0] * 124]), np.eye(128),
                                                 np.zeros(128))
    assert levels[0, :4].tolist() == [127, 254, 0, 255]
    with pytest.raises(ValueError, match="do not fit"):
        vggish.vggish_postprocess(x[:, :64], vectors, means)


def fake_kumar_state(rng, prefix="module."):
    """A state dict shaped like the released weak_mxh64_1024 weights (random values, fake tensors)."""
    tensor = lambda a: types.SimpleNamespace(numpy=lambda: a)  # noqa: E731 - what torch.load returns, minimally
    state = {}
    for name, c_in, c_out, k, _ in kumar._KUMAR_CONVS:
        state[f"{prefix}{name}.0.weight"] = tensor(rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2 / (c_in * k * k)))
        state[f"{prefix}{name}.0.bias"] = tensor(np.zeros(c_out))
        for key, value in (("weight", np.ones(c_out)), ("bias", np.zeros(c_out)), ("running_mean", np.zeros(c_out)),
                           ("running_var", np.ones(c_out)), ("num_batches_tracked", np.array(0))):
            state[f"{prefix}{name}.1.{key}"] = tensor(value)
    return state


@pytest.fixture
def fake_torch(monkeypatch, tmp_path):
    loads = []
    state = fake_kumar_state(np.random.default_rng(0))

    def load(path, map_location):
        loads.append((path, map_location))
        return state

    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(load=load))
    weights = tmp_path / kumar.KUMAR_WEIGHTS
    weights.write_bytes(b"released weights stand-in")
    return weights, loads, state


def authors_log_mel(audio):
    """The front end of the authors' feat_extractor.py at 44.1 kHz (librosa < 0.9 padded centred frames by
    reflection), time first."""
    import librosa

    mel = librosa.feature.melspectrogram(y=audio, sr=44100, n_fft=1024, hop_length=512, n_mels=128, pad_mode="reflect")
    return librosa.power_to_db(mel).T


def tone(seconds, sr=44100):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)


def test_kumar_network_plumbing_and_output_contract(fake_torch):
    weights, loads, _ = fake_torch
    extractor = ek.get_extractor(f"kumar(weights={weights})")
    audio = tone(4)
    embeddings, times = extractor.extract(audio)
    # 4 s -> 345 mel frames of 512 samples; 128-frame patches every 86.13 frames start at 0, 86 and 172
    assert embeddings.shape == (3, 1024) and embeddings.dtype == np.float32
    assert times.dtype == np.float64 and np.allclose(times, (np.array([0, 86, 172]) + 63.5) * 512 / 44100)
    assert np.all(embeddings >= 0) and embeddings.std() > 0  # averaged ReLU outputs of a working network
    short, short_times = extractor.extract(audio[:44100])  # shorter than a patch: zero-padded to one
    assert short.shape == (1, 1024) and np.allclose(short_times, 63.5 * 512 / 44100)
    assert len(loads) == 1 and loads[0][1] == "cpu"  # two extractions, the weights read once
    extractor.close()
    assert extractor._model is None  # the network is released
    again, _ = extractor.extract(audio)
    assert len(loads) == 2 and np.array_equal(again, embeddings)  # rebuilt from the weights: the same network


def test_kumar_patches_are_the_authors_log_mel_on_a_one_second_grid(fake_torch):
    weights, _, _ = fake_torch
    extractor = ek.get_extractor(f"kumar(weights={weights})")
    audio = tone(30)
    patches, times = extractor.patches(audio)
    mel = authors_log_mel(audio)
    starts = np.round(np.arange(len(patches)) * 44100 / 512).astype(int)
    assert patches.shape == (len(starts), 128, 128, 1) and patches.dtype == np.float32
    next_start = int(np.round(len(patches) * 44100 / 512))
    assert len(patches) == 29 and starts[-1] + 128 <= len(mel) < next_start + 128  # every patch that fits
    for patch, start in zip(patches, starts):
        assert np.allclose(patch[..., 0], mel[start:start + 128], atol=1e-3)  # time first, frequency second
    # patch k starts at the frame nearest to k s: no drift (86 frames a hop would be 0.16 s early at 27 s)
    assert np.all(np.abs(times - (63.5 * 512 / 44100) - np.arange(len(times))) <= 256 / 44100)
    short, _ = extractor.patches(audio[:1000])
    padded = np.concatenate([audio[:1000], np.zeros(127 * 512 - 1000, dtype=np.float32)])
    assert short.shape == (1, 128, 128, 1) and np.allclose(short[0, ..., 0], authors_log_mel(padded), atol=1e-3)


def torch_weak_mxh64_1024(torch):
    """A PyTorch statement of weak_mxh64_1024 (network_architectures.py of anuragkr90/weak_feature_extractor)
    with the authors' feature read-out (extractor.featExtractor at 'layer18', then feat_extractor.getFeat's
    avg_pool2d over the whole map)."""
    nn = torch.nn

    def block(c_in, c_out, kernel, padding):
        return nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=kernel, padding=padding), nn.BatchNorm2d(c_out), nn.ReLU())

    class WeakMxh64(nn.Module):
        def __init__(self, n_classes=527):
            super().__init__()
            channels = [(1, 16), (16, 16), None, (16, 32), (32, 32), None, (32, 64), (64, 64), None, (64, 128),
                        (128, 128), None, (128, 256), (256, 256), None, (256, 512), None]
            for i, c in enumerate(channels, start=1):  # layer1 … layer17: 3 x 3 conv blocks and max pooling
                setattr(self, f"layer{i}", nn.MaxPool2d(2) if c is None else block(*c, 3, 1))
            self.layer18 = block(512, 1024, 2, 0)
            self.layer19 = nn.Sequential(nn.Conv2d(1024, n_classes, kernel_size=1), nn.Sigmoid())

        def features(self, x):  # x: (n, 1, time, frequency)
            for i in range(1, 19):
                x = getattr(self, f"layer{i}")(x)
            return nn.functional.avg_pool2d(x, kernel_size=x.shape[2:]).flatten(1)

    return WeakMxh64()


def test_kumar_keras_network_equals_the_pytorch_reference(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch", reason="the optional PyTorch cross-check of the Kumar network needs torch "
                                                "(pip install torch, CPU wheel); the fake-based tests run without it")
    torch.manual_seed(0)
    net = torch_weak_mxh64_1024(torch).eval()
    with torch.no_grad():  # batch-norm statistics other than the identity, so layout and eps matter
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5), module.bias.normal_(0, 0.1)
                module.running_mean.normal_(0, 0.1), module.running_var.uniform_(0.01, 1.0)
    weights = tmp_path / kumar.KUMAR_WEIGHTS
    # saved as the release was, from nn.DataParallel: every key prefixed with "module."
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, weights)
    extractor = ek.get_extractor(f"kumar(weights={weights})")

    audio = tone(4)
    mel = authors_log_mel(audio)  # (345 frames, 128 bands)
    embeddings, _ = extractor.extract(audio)
    starts = [0, 86, 172]
    with torch.no_grad():
        expected = net.features(torch.tensor(np.stack([mel[s:s + 128] for s in starts])[:, None], dtype=torch.float32))
    expected = expected.numpy()
    assert embeddings.shape == expected.shape == (3, 1024) and expected.std() > 0
    np.testing.assert_allclose(embeddings, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())

    # the whole file at once, as the authors run it: 345 x 128 is not square, so a time / frequency mix-up shows
    with torch.no_grad():
        whole = net.features(torch.tensor(mel[None, None], dtype=torch.float32)).numpy()
    keras_whole = extractor.model()(mel[None, :, :, None].astype(np.float32), training=False).numpy()
    np.testing.assert_allclose(keras_whole, whole, rtol=1e-3, atol=1e-4 * np.abs(whole).max())


def test_kumar_rejects_weights_of_another_network(fake_torch):
    weights, _, state = fake_torch
    state["module.layer18.0.weight"] = types.SimpleNamespace(numpy=lambda: np.zeros((1024, 512, 3, 3)))
    with pytest.raises(ValueError, match=r"layer18.0.weight has shape \(1024, 512, 3, 3\)"):
        ek.get_extractor(f"kumar(weights={weights})").model()


def test_kumar_without_torch_or_weights_says_what_to_get(monkeypatch, tmp_path, fake_torch):
    with pytest.raises(FileNotFoundError, match="mx-h64-1024_0d3-1.17.pkl") as error:
        ek.get_extractor(f"kumar(weights={tmp_path / 'nowhere.pkl'})")
    assert "anuragkr90/weak_feature_extractor" in str(error.value)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="requirements-paper.txt"):
        ek.get_extractor("kumar")
