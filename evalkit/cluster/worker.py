"""Inside a Dask worker: the models it holds, loaded once and kept for every task it runs.

:class:`WorkerModels` is a Dask worker plugin that :class:`~evalkit.cluster.Cluster` registers on every worker
(also on those that join or restart later). A task asks for its model with :func:`worker_model`, which builds it
on the worker's first request and returns the same one afterwards, with a lock that keeps two threads of one worker
from calling one model at once. When the worker stops, the plugin closes its models (a model's own worker process
ends with it). On GPU workers of a local cluster the plugin also makes each worker see one GPU, its own number,
before any model is loaded.

This module imports Dask at the top: only the workers of a cluster and :class:`~evalkit.cluster.Cluster` import it.
"""
from __future__ import annotations

import os
import threading

from distributed import WorkerPlugin, get_worker

PLUGIN_NAME = "evalkit-models"


def visible_device(worker_name) -> str | None:
    """The GPU a local worker sees (``CUDA_VISIBLE_DEVICES``): the worker's number; None for a named remote worker,
    whose launcher chose its GPU."""
    return str(worker_name) if isinstance(worker_name, int) or str(worker_name).isdigit() else None


class WorkerModels(WorkerPlugin):
    """The models of one worker, ``{key: (model, lock)}``; ``gpu``: the workers hold one GPU each."""

    name = PLUGIN_NAME
    idempotent = True  # a second client of the same cluster reuses the models the workers hold (warm workers)

    def __init__(self, gpu: bool = False):
        self.gpu = bool(gpu)
        self.models: dict = {}
        self._lock = threading.Lock()

    def __getstate__(self):  # sent to the workers without models or locks
        return {"gpu": self.gpu}

    def __setstate__(self, state):
        self.__init__(**state)

    def setup(self, worker) -> None:
        # A worker keeps its models for the cluster's life: warm model workers (EVALKIT_KEEP_WARM, inherited from
        # the caller) would make the workers of one cluster share, and take turns on, one model.
        os.environ.pop("EVALKIT_KEEP_WARM", None)
        device = visible_device(worker.name)
        if self.gpu and device is not None and "CUDA_VISIBLE_DEVICES" not in os.environ:
            os.environ["CUDA_VISIBLE_DEVICES"] = device  # before any model imports a GPU library

    def model(self, key: str, build):
        """``(model, lock)``: the model ``build()`` made on this worker's first request for ``key``."""
        with self._lock:
            if key not in self.models:
                self.models[key] = (build(), threading.Lock())
            return self.models[key]

    def teardown(self, worker) -> None:
        models, self.models = self.models, {}
        for model, _ in models.values():
            close = getattr(model, "close", None)
            if close is not None:
                close()


def worker_model(key: str, build):
    """In a task: ``(model, lock)`` of this worker for ``key``, built with ``build()`` on first use."""
    return get_worker().plugins[PLUGIN_NAME].model(key, build)


def worker_models(dask_worker=None) -> list[str]:
    """The keys of the models a worker holds: this task's worker, or ``dask_worker`` (``client.run(worker_models)``)."""
    return sorted((dask_worker or get_worker()).plugins[PLUGIN_NAME].models)
