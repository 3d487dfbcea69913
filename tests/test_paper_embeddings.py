"""The paper's embedding adapters: argument plumbing and output contract with the heavy package replaced by a
small fake module at the import boundary, and the message a user gets without the package."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import evalkit as ek
from evalkit import paper_embeddings


@pytest.fixture
def fake_openl3(monkeypatch):
    """A stand-in for the openl3 package that records how it is called and returns frames like openl3 does."""
    calls = {"load": [], "embed": []}
    models = types.SimpleNamespace()

    def load_audio_embedding_model(input_repr, content_type, embedding_size):
        calls["load"].append((input_repr, content_type, embedding_size))
        return ("model", input_repr, content_type, embedding_size)

    def get_audio_embedding(audios, srs, model, hop_size, center, batch_size, verbose):
        calls["embed"].append({"n": len(audios), "srs": srs, "model": model, "hop": hop_size, "center": center})
        out, times = [], []
        for audio, sr in zip(audios, srs):
            n = 1 + int(len(audio) / sr / hop_size)  # centred frames: one per hop, the first at 0 s
            out.append(np.random.default_rng(len(audio)).standard_normal((n, model[3])))  # float64, like Keras
            times.append(np.arange(n) * hop_size)
        return out, times

    models.load_audio_embedding_model = load_audio_embedding_model
    module = types.SimpleNamespace(models=models, get_audio_embedding=get_audio_embedding, __version__="0.4.2")
    monkeypatch.setitem(sys.modules, "openl3", module)
    monkeypatch.setattr(paper_embeddings, "_OPENL3_MODELS", {})
    return calls


def test_openl3_plumbing_and_output_contract(fake_openl3, tone_task_dir, tmp_path):
    extractor = ek.get_extractor("openl3-env-6144")
    assert extractor.params() == {"content": "env", "input_repr": "mel256", "embedding_size": 6144, "hop": 0.1}
    assert extractor.sample_rate == 48000 and extractor.dim == 6144
    paths = sorted(tone_task_dir.rglob("*.wav"))[:3]  # 2 s tones at 16 kHz, resampled to 48 kHz on loading
    results = ek.extract_embeddings(paths, extractor, cache=ek.EmbeddingCache(tmp_path / "cache"), progress=False)
    for embeddings, times in results:
        assert embeddings.dtype == np.float32 and embeddings.shape == (21, 6144)
        assert times.dtype == np.float64 and np.allclose(np.diff(times), 0.1)
    assert fake_openl3["load"] == [("mel256", "env", 6144)]
    assert [c["n"] for c in fake_openl3["embed"]] == [3]  # one batched call for all files
    assert fake_openl3["embed"][0]["srs"] == [48000] * 3 and fake_openl3["embed"][0]["hop"] == 0.1
    ek.get_extractor("openl3(content=env, embedding_size=6144)").model()
    assert len(fake_openl3["load"]) == 1  # the model is loaded once per process and shared


def test_openl3_rejects_bad_arguments_before_loading_anything(fake_openl3):
    with pytest.raises(ValueError, match="embedding_size must be 512 or 6144"):
        ek.get_extractor("openl3(embedding_size=256)")
    with pytest.raises(ValueError, match="content must be 'music' or 'env'"):
        ek.get_extractor("openl3(content=speech)")
    assert fake_openl3["load"] == []


def test_openl3_without_its_package_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "openl3", None)  # makes `import openl3` fail
    with pytest.raises(ImportError) as error:
        ek.get_extractor("openl3")
    assert "pip install -r requirements-paper.txt" in str(error.value) and "needs a network" in str(error.value)
    from evalkit import cli
    assert cli.main(["extract", "--task", "D3", "--embedding", "openl3"]) == 2
    assert "requirements-paper.txt" in capsys.readouterr().err


@pytest.fixture
def fake_hub(monkeypatch):
    """A stand-in for tensorflow_hub whose VGGish returns one 128-vector per 0.96 s of 16 kHz audio."""
    loads = []

    def load(handle):
        loads.append(handle)
        return lambda waveform: np.tile(np.linspace(-3, 3, 128), (len(waveform) // 15360, 1))

    monkeypatch.setitem(sys.modules, "tensorflow_hub", types.SimpleNamespace(load=load, __version__="0.15.0"))
    monkeypatch.setattr(paper_embeddings, "_VGGISH_MODELS", {})
    return loads


def test_vggish_raw_and_post_processed_outputs(fake_hub, tone_task_dir, tmp_path):
    path = sorted(tone_task_dir.rglob("*.wav"))[0]  # 2 s -> two 0.96 s frames
    audio = ek.load_audio(path, 16000)
    raw, times = ek.get_extractor("vggish-raw").extract(audio)
    assert raw.shape == (2, 128) and raw.dtype == np.float32 and np.allclose(times, [0.48, 1.44])
    np.savez(tmp_path / "pca.npz", pca_eigen_vectors=np.eye(128), pca_means=np.zeros((128, 1)))
    post, _ = ek.get_extractor(f"vggish(pca_params={tmp_path / 'pca.npz'})").extract(audio)
    assert post.dtype == np.float32 and post.min() == 0 and post.max() == 255  # clipped at ±2, 8-bit levels
    assert np.allclose(post, np.round((np.clip(raw, -2, 2) + 2) * 255 / 4))
    assert fake_hub == [paper_embeddings.VGGISH_HUB_URL]  # loaded once, shared by both extractors


def test_vggish_post_processing_needs_the_released_pca_parameters(fake_hub, tmp_path):
    with pytest.raises(FileNotFoundError, match="vggish_pca_params.npz") as error:
        ek.get_extractor(f"vggish(pca_params={tmp_path / 'missing.npz'})")
    assert paper_embeddings.VGGISH_PCA_URL in str(error.value) and "vggish-raw" in str(error.value)


def test_vggish_postprocess_whitens_with_the_eigenvectors():
    rng = np.random.default_rng(0)
    x, vectors, means = rng.standard_normal((4, 128)), rng.standard_normal((128, 128)) * 0.1, rng.standard_normal(128)
    expected = np.round((np.clip((x - means) @ vectors.T, -2, 2) + 2) * 63.75)
    assert np.array_equal(paper_embeddings.vggish_postprocess(x, vectors, means[:, None]), expected)


def fake_kumar_state(rng, prefix="module."):
    """A state dict shaped like the released weak_mxh64_1024 weights (random values, fake tensors)."""
    tensor = lambda a: types.SimpleNamespace(numpy=lambda: a)  # noqa: E731 - what torch.load returns, minimally
    state = {}
    for name, c_in, c_out, k, _ in paper_embeddings._KUMAR_CONVS:
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
    monkeypatch.setattr(paper_embeddings, "_KUMAR_MODELS", {})
    weights = tmp_path / paper_embeddings.KUMAR_WEIGHTS
    weights.write_bytes(b"released weights stand-in")
    return weights, loads, state


def test_kumar_network_plumbing_and_output_contract(fake_torch):
    weights, loads, _ = fake_torch
    extractor = ek.get_extractor(f"kumar(weights={weights})")
    t = np.arange(4 * 44100) / 44100
    audio = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    embeddings, times = extractor.extract(audio)
    # 4 s -> 345 mel frames of 512 samples; 128-frame patches every 86 frames start at 0, 86 and 172
    assert embeddings.shape == (3, 1024) and embeddings.dtype == np.float32
    assert np.allclose(times, (np.array([0, 86, 172]) + 64) * 512 / 44100)
    assert np.all(embeddings >= 0) and embeddings.std() > 0  # averaged ReLU outputs of a working network
    extractor.extract(audio[:44100])  # shorter than a patch: zero-padded to one
    assert len(loads) == 1 and loads[0][1] == "cpu"  # the weights are read once per process


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
