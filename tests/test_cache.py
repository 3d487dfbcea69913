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
