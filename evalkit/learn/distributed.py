"""The grid on a Dask cluster, sharded by configuration × repetition: the same result store as the single-process run.

For every configuration (task × embedding × classifier × fusion × training share) whose repetitions are not all
stored, the embeddings are first extracted on the cluster, sharded by file (:mod:`evalkit.embed.distributed`); then
each missing repetition is one task that runs :func:`~evalkit.learn.experiments.run_experiment` for that repetition
alone on the worker (its extractor built once per worker, its embeddings read from the cache) and stores it where
the single-process run stores it, with the same seed, split and key. Every task first looks in the store and the
cache, so a task that Dask runs again after a worker died recomputes nothing finished.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from tqdm import tqdm

from ..config import ParameterError
from ..data.registry import get_task
from ..embed.base import Extractor
from ..embed.cache import EmbeddingCache
from ..embed.distributed import extractor_reference, missing_files, submit_extraction, worker_extractor
from ..embed.registry import get_extractor
from .experiments import FUSIONS, experiment_key, run_experiment, task_fingerprint
from .registry import get_classifier
from .store import ResultStore, key_digest


@dataclass(frozen=True)
class Configuration:
    """One configuration of the grid and how many repetitions it needs (seeds ``seed`` … ``seed + repetitions - 1``).

    ``task`` is a :class:`~evalkit.data.tasks.Task` (prepared by the caller), ``extractor`` an
    :class:`~evalkit.embed.base.Extractor`; the rest as for :func:`~evalkit.learn.experiments.run_experiment`.
    """

    task: object
    extractor: Extractor
    classifier: str
    fusion: str = "late"
    pooling: str = "mean"
    train_fraction: float = 0.8
    test_size: float = 0.2
    seed: int = 0
    repetitions: int = 1


class OneRepetition(ResultStore):
    """A result store in which every repetition but ``repetition`` counts as finished, so that
    :func:`~evalkit.learn.experiments.run_experiment` computes exactly that one and stores it under ``root``."""

    def __init__(self, root, repetition: int):
        super().__init__(root)
        self.repetition = int(repetition)

    def load(self, key: dict, repetition: int) -> dict | None:
        if int(repetition) != self.repetition:
            return {"repetition": int(repetition)}  # another task's: not computed here, not read by anyone
        return super().load(key, repetition)


def is_network(classifier: str) -> bool:
    """True for a classifier trained by epochs (a Keras network, which uses a GPU when it sees one)."""
    return "epochs" in get_classifier(classifier).get_params()


def _run_repetition(task, reference, identity: str, classifier: str, fusion: str, pooling: str,
                    train_fraction: float, test_size: float, seed: int, repetition: int, cache_root: str,
                    store_root: str, *extracted) -> str:
    """A task: compute and store one repetition (``extracted``: the extraction tasks it waits for)."""
    extractor, _ = worker_extractor(reference, identity)
    # The embeddings come from the cache the extraction tasks filled: the model is not called here.
    run_experiment(task, extractor, classifier, fusion=fusion, pooling=pooling, train_fraction=train_fraction,
                   test_size=test_size, repetitions=repetition + 1, seed=seed, cache=EmbeddingCache(cache_root),
                   store=OneRepetition(store_root, repetition), progress=False)
    return f"{task.id} {extractor.spec} {classifier} {fusion} {train_fraction:g} rep {repetition}"


def compute_on_cluster(cluster, configurations, *, cache: EmbeddingCache | None = None,
                       store: ResultStore | None = None, batch_size: int = 16, progress: bool = True) -> int:
    """Compute every missing repetition of ``configurations`` on ``cluster``; return how many were computed.

    Parameters
    ----------
    cluster : evalkit.cluster.Cluster
    configurations : iterable of Configuration
        Their tasks must be prepared (demo audio generated) before: workers only read them.
    cache, store
        Default: the default embedding cache and result store (``<data>/cache/embeddings``, ``<data>/results``);
        the workers must see the same folders.
    batch_size : int
        Files per extraction task (and per model call).
    """
    cache = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache()
    store = store if isinstance(store, ResultStore) else ResultStore()
    fingerprints: dict[int, str] = {}
    extraction: dict[tuple, list] = {}
    jobs = []
    for config in configurations:
        task, extractor = config.task, config.extractor
        if config.fusion not in FUSIONS:
            raise ParameterError(f"fusion must be one of {FUSIONS}, not {config.fusion!r}")
        network = is_network(config.classifier)  # also fails on an unknown classifier before any work
        if id(task) not in fingerprints:
            fingerprints[id(task)] = task_fingerprint(task)
        key = experiment_key(task, extractor, config.classifier, config.fusion, config.pooling, config.train_fraction,
                             config.test_size, config.seed, fingerprint=fingerprints[id(task)])
        todo = sorted(set(range(config.repetitions)) - set(store.stored(key, config.repetitions)))
        if not todo:
            continue
        files = (id(task), extractor.identity)
        if files not in extraction:
            paths = [f.path for f in task.files()]
            extraction[files] = submit_extraction(cluster, missing_files(paths, extractor, cache), extractor,
                                                  cache=cache, batch_size=batch_size)
        reference = extractor_reference(extractor)
        for rep in todo:
            jobs.append(cluster.submit(
                _run_repetition, task, reference, extractor.identity, config.classifier, config.fusion,
                config.pooling, float(config.train_fraction), float(config.test_size), int(config.seed), rep,
                str(cache.root), str(store.root), *extraction[files],
                key=f"evalkit-run-{task.id}-{key_digest({**key, 'store': str(store.root)})}-rep{rep:02d}",
                model=network))
    shards = [future for futures in extraction.values() for future in futures]
    with tqdm(total=len(jobs), desc=f"grid on {cluster.n_workers} workers", unit="repetition",
              disable=not progress or not jobs) as bar:
        for done in cluster.results(shards + jobs):
            if isinstance(done, str):
                bar.set_postfix_str(done, refresh=False)
                bar.update(1)
    return len(jobs)


def run_experiment_on(cluster, task, embedding=None, classifier: str = "svm", *, fusion: str = "late",
                      pooling: str = "mean", train_fraction: float = 0.8, test_size: float = 0.2,
                      repetitions: int = 5, seed: int = 0, cache: EmbeddingCache | None | bool = None,
                      store: ResultStore | None | bool = None, progress: bool = True,
                      batch_size: int = 16) -> pd.DataFrame:
    """:func:`~evalkit.learn.experiments.run_experiment` with the missing repetitions computed on ``cluster``.

    The parameters and the returned frame are :func:`~evalkit.learn.experiments.run_experiment`'s; ``cluster`` None
    (or no cache or no store, where the workers could leave nothing for the caller) runs it in this process.
    """
    direct = dict(fusion=fusion, pooling=pooling, train_fraction=train_fraction, test_size=test_size,
                  repetitions=repetitions, seed=seed, cache=cache, store=store, progress=progress,
                  batch_size=batch_size)
    task = get_task(task)
    spec = embedding if embedding is not None else getattr(get_classifier(classifier), "default_input", None)
    if cluster is None or cache is False or store is False or spec is None:
        return run_experiment(task, embedding, classifier, **direct)  # also says what is wrong without an embedding
    if repetitions < 1:
        raise ParameterError(f"repetitions must be at least 1, not {repetitions}")
    extractor = get_extractor(spec)
    try:
        task.prepare(progress=progress)
        compute_on_cluster(cluster, [Configuration(task, extractor, classifier, fusion, pooling, train_fraction,
                                                   test_size, seed, repetitions)],
                           cache=cache, store=store, batch_size=batch_size, progress=progress)
        return run_experiment(task, extractor, classifier, **direct)  # every repetition is stored: read them back
    finally:
        if extractor is not embedding:
            extractor.close()
