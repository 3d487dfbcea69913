import numpy as np
import pytest

from evalkit.embed.cache import EmbeddingCache, extract_embeddings
from evalkit.embed.handcrafted import MFCCExtractor


class CountingMFCC(MFCCExtractor):
    """MFCCs that count how many signals they really computed."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.computed = 0

    def extract_batch(self, audios):
        self.computed += len(audios)
        return super().extract_batch(audios)


def _paths(task_dir):
    return sorted(task_dir.rglob("*.wav"))


def test_miss_then_hit(tone_task_dir, tmp_path):
    cache, paths = EmbeddingCache(tmp_path), _paths(tone_task_dir)
    extractor = CountingMFCC()
    first = extract_embeddings(paths, extractor, cache=cache, batch_size=5, progress=False)
    assert extractor.computed == len(paths)
    second = extract_embeddings(paths, extractor, cache=cache, progress=False)
    assert extractor.computed == len(paths)  # nothing recomputed
    for (a, ta), (b, tb) in zip(first, second):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ta, tb)
    # another parameter set is another cache identity
    other = CountingMFCC(n_mfcc=13)
    extract_embeddings(paths[:2], other, cache=cache, progress=False)
    assert other.computed == 2 and cache.folder(other) != cache.folder(extractor)


def test_interrupted_extraction_resumes_where_it_stopped(tone_task_dir, tmp_path):
    cache, paths = EmbeddingCache(tmp_path), _paths(tone_task_dir)

    class Interrupted(CountingMFCC):
        def extract_batch(self, audios):
            if self.computed >= 8:
                raise KeyboardInterrupt
            return super().extract_batch(audios)

    with pytest.raises(KeyboardInterrupt):
        extract_embeddings(paths, Interrupted(), cache=cache, batch_size=4, progress=False)
    resumed = CountingMFCC()
    extract_embeddings(paths, resumed, cache=cache, batch_size=4, progress=False)
    assert resumed.computed == len(paths) - 8


def test_interrupted_write_leaves_no_entry(tone_task_dir, tmp_path, monkeypatch):
    cache, extractor = EmbeddingCache(tmp_path), MFCCExtractor()
    emb, times = np.ones((2, extractor.dim), np.float32), np.array([0.5, 1.0])

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError):
        cache.put(extractor, "ab" * 32, emb, times)
    monkeypatch.undo()
    assert cache.get(extractor, "ab" * 32) is None
    assert not list(cache.folder(extractor).rglob("*.tmp"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "tamper"])
def test_corrupt_entry_is_detected_and_recomputed(tone_task_dir, tmp_path, damage):
    cache, paths = EmbeddingCache(tmp_path), _paths(tone_task_dir)[:3]
    extractor = CountingMFCC()
    reference = extract_embeddings(paths, extractor, cache=cache, progress=False)
    entry = sorted(cache.folder(extractor).rglob("*.npz"))[0]
    if damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:100])
    elif damage == "garbage":
        entry.write_bytes(b"\0" * 500)
    else:  # valid file, wrong values: caught by the checksum
        with np.load(entry) as data:
            stored = dict(data)
        stored["embeddings"] = stored["embeddings"] + 1
        np.savez(entry, **stored)
    with pytest.warns(UserWarning, match="corrupt cache entry"):
        again = extract_embeddings(paths, extractor, cache=cache, progress=False)
    assert extractor.computed == 4
    for (a, _), (b, _) in zip(reference, again):
        np.testing.assert_array_equal(a, b)


def test_no_cache_and_uncacheable_extractors_write_nothing(tone_task_dir, tmp_path):
    from evalkit.embed.handcrafted import SpectrogramPatches

    paths = _paths(tone_task_dir)[:2]
    extract_embeddings(paths, MFCCExtractor(), cache=False, progress=False)
    out = extract_embeddings(paths, SpectrogramPatches(), cache=EmbeddingCache(tmp_path), progress=False)
    assert not list(tmp_path.rglob("*.npz"))
    assert out[0][0].shape[1] == SpectrogramPatches().dim


# ------------------------------------------------------------------------------------------------
# What extraction cost: recorded with each entry, read back by extraction_cost


def _tones(folder, seconds, sr=22050):
    """One file of a tone per duration in ``seconds``."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, duration in enumerate(seconds):
        t = np.arange(int(round(duration * sr))) / sr
        sf.write(folder / f"tone{n}.wav", (0.3 * np.sin(2 * np.pi * (220 + 50 * n) * t)).astype(np.float32), sr)
        paths.append(folder / f"tone{n}.wav")
    return paths


class SlowMFCC(CountingMFCC):
    """MFCCs whose model call takes at least ``delay`` seconds per batch."""

    delay = 0.2

    def extract_batch(self, audios):
        import time

        time.sleep(self.delay)
        return super().extract_batch(audios)


@pytest.mark.parametrize("prefetch", [True, False])
def test_extraction_records_its_wall_clock_seconds_and_the_seconds_of_audio(tmp_path, prefetch):
    import time

    from evalkit import extraction_cost
    from evalkit.data.audio import file_hash

    durations = [0.5, 1.0, 2.5, 1.5, 0.75]
    paths, cache, extractor = _tones(tmp_path / "audio", durations), EmbeddingCache(tmp_path / "cache"), SlowMFCC()
    started = time.perf_counter()
    extract_embeddings(paths, extractor, cache=cache, batch_size=2, progress=False, prefetch=prefetch)
    wall = time.perf_counter() - started
    recorded = [cache.cost(extractor, file_hash(p)) for p in paths]
    assert [audio for _, audio in recorded] == pytest.approx(durations, abs=1e-3)
    assert all(seconds > 0 for seconds, _ in recorded)
    # three batches of at least 0.2 s each, shared among their files by seconds of audio, within the call's wall time
    assert 3 * SlowMFCC.delay <= sum(seconds for seconds, _ in recorded) <= wall
    assert recorded[2][0] / recorded[3][0] == pytest.approx(2.5 / 1.5)  # one batch: 2.5 s and 1.5 s of audio
    cost = extraction_cost(paths, extractor, cache=cache)
    assert (cost.measured, cost.files) == (5, 5) and cost.audio_seconds == pytest.approx(sum(durations), abs=1e-3)
    assert cost.per_audio_second == pytest.approx(sum(s for s, _ in recorded) / sum(durations))
    assert cost.text().startswith(f"{cost.per_audio_second:.3g} s per audio-second (measured on 5 of 5 files)")


def test_an_entry_cached_before_costs_were_recorded_is_used_and_its_cost_is_not_measured(tmp_path):
    from evalkit.data.audio import file_hash
    from evalkit.embed.costs import extraction_cost

    paths, cache = _tones(tmp_path / "audio", [1.0, 2.0]), EmbeddingCache(tmp_path / "cache")
    extractor = CountingMFCC()
    reference = extract_embeddings(paths, extractor, cache=cache, progress=False)
    old = cache.path(extractor, file_hash(paths[0]))
    with np.load(old) as data:  # as an entry of an earlier version: embeddings, times and checksum only
        np.savez(old, **{key: data[key] for key in ("embeddings", "times", "checksum")})
    again = extract_embeddings(paths, extractor, cache=cache, progress=False)
    assert extractor.computed == 2  # nothing recomputed
    np.testing.assert_array_equal(again[0][0], reference[0][0])
    assert cache.cost(extractor, file_hash(paths[0])) is None
    cost = extraction_cost(paths, extractor, cache=cache)
    assert (cost.measured, cost.files) == (1, 2) and cost.audio_seconds == pytest.approx(2.0, abs=1e-3)
    assert extraction_cost(paths[:1], extractor, cache=cache).text() == "not measured"
    assert extraction_cost([tmp_path / "missing.wav"], extractor, cache=cache).text() == "not measured"
