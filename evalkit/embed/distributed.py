"""Extraction on a Dask cluster, sharded by file: the same cache entries as :func:`~evalkit.embed.cache.extract_embeddings`.

The files whose entries are missing are cut into the batches the single-process run makes (``batch_size`` files in
file order), one task each. A task runs :func:`~evalkit.embed.cache.extract_embeddings` on its batch with the
worker's extractor, built once per worker (:func:`evalkit.cluster.worker.worker_model`), and writes the entries
itself; only a count travels back. So a worker that dies loses at most the batch it was running, a task that Dask
runs again finds its entries cached, and the caller reads the embeddings from the cache as a single-process run
would. Extractors that are not cached (``cacheable = False``, the CNNs' spectrogram patches) are computed in the
caller: sending their frames back would cost more than computing them.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from tqdm import tqdm

from ..config import ParameterError
from ..data.audio import file_hash
from .base import Extractor
from .cache import EmbeddingCache, extract_embeddings
from .registry import EMBEDDINGS, get_extractor


def extractor_reference(extractor: Extractor):
    """What a worker builds its copy of ``extractor`` from: its spec when the registry knows its name (no model
    travels), else the extractor itself (pickled: an extractor of your own, with no model loaded yet)."""
    return extractor.spec if extractor.name in EMBEDDINGS.names() else extractor


def uses_model(extractor: Extractor) -> bool:
    """True for a pre-trained model (on GPU workers its tasks ask for a GPU); False for handcrafted features."""
    return extractor.training_domain is not None


def worker_extractor(reference, identity: str):
    """In a task: ``(extractor, lock)``, this worker's extractor of ``identity``, built once from ``reference``."""
    from ..cluster.worker import worker_model  # imports Dask: only on a worker

    extractor, lock = worker_model(f"extractor {identity}", lambda: get_extractor(reference))
    if extractor.identity != identity:
        raise ParameterError(f"{extractor.spec}: a worker rebuilt it from its spec with another identity "
                             f"({extractor.identity} instead of {identity}); pass an extractor that its spec rebuilds")
    return extractor, lock


def _extract_shard(reference, identity: str, paths: list[str], cache_root: str, batch_size: int) -> int:
    """A task: cache the entries of ``paths`` (one batch) with this worker's extractor; return how many files."""
    extractor, lock = worker_extractor(reference, identity)
    with lock:  # one call at a time per model, also on a worker with several threads
        extract_embeddings(paths, extractor, cache=EmbeddingCache(cache_root), batch_size=batch_size, progress=False)
    return len(paths)


def missing_files(paths, extractor: Extractor, cache: EmbeddingCache) -> list[str]:
    """The files (in order) whose entries ``cache`` lacks; none for an extractor that is not cached."""
    if not extractor.cacheable:
        return []
    paths = [Path(p) for p in paths]
    return [str(p) for p in paths if not (p.is_file() and cache.path(extractor, file_hash(p)).exists())]


def submit_extraction(cluster, files, extractor: Extractor, *, cache: EmbeddingCache, batch_size: int = 16) -> list:
    """Submit one task per batch of ``batch_size`` of ``files`` (see :func:`missing_files`); return their futures,
    each giving its number of files."""
    reference, futures = extractor_reference(extractor), []
    for start in range(0, len(files), batch_size):
        batch = files[start:start + batch_size]
        digest = hashlib.sha256("\n".join([extractor.identity, str(cache.root), *batch]).encode()).hexdigest()[:16]
        futures.append(cluster.submit(_extract_shard, reference, extractor.identity, batch, str(cache.root),
                                      batch_size, key=f"evalkit-extract-{extractor.name}-{digest}",
                                      model=uses_model(extractor)))
    return futures


def extract_on_cluster(paths, extractor: Extractor, cluster=None, *, cache: EmbeddingCache | None | bool = None,
                       batch_size: int = 16, progress: bool = True) -> list:
    """:func:`~evalkit.embed.cache.extract_embeddings` with the missing entries computed on ``cluster``.

    Parameters
    ----------
    paths : sequence of path-like
    extractor : Extractor
    cluster : evalkit.cluster.Cluster or None
        None: the single-process :func:`~evalkit.embed.cache.extract_embeddings`.
    cache, batch_size, progress
        As for :func:`~evalkit.embed.cache.extract_embeddings`; ``batch_size`` files make one task.

    Returns
    -------
    list of (embeddings, times)
        One ``(n_frames, dim)`` float32 array and ``(n_frames,)`` times in seconds per file, read from the cache.
    """
    if cluster is not None and cache is not False and extractor.cacheable:
        cache = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache()
        todo = missing_files(paths, extractor, cache)
        futures = submit_extraction(cluster, todo, extractor, cache=cache, batch_size=batch_size)
        with tqdm(total=len(paths), initial=len(paths) - len(todo), desc=f"{extractor.spec} on {cluster.n_workers} workers",
                  unit="file", disable=not progress or not todo, leave=False) as bar:
            for done in cluster.results(futures):
                bar.update(done)
    return extract_embeddings(paths, extractor, cache=cache, batch_size=batch_size, progress=False)
