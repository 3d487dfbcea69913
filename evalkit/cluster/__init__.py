"""Scale-out on Dask: a local cluster of worker processes, or an existing cluster, for ``evalkit extract|run|book``.

::

    evalkit extract --task D2 --embedding musicnn --workers 2          # a local cluster: 2 processes, 1 thread each
    evalkit book --profile paper --scheduler tcp://10.0.0.1:8786       # a cluster that runs already (e.g. on SLURM)
    evalkit book --profile paper --scheduler tcp://10.0.0.1:8786 --gpu-workers   # one model per GPU

A :class:`Cluster` is what the stages submit their work to: :mod:`evalkit.embed.distributed` shards extraction by
file (the batches of the single-process run) and :mod:`evalkit.learn.distributed` the grid by configuration ×
repetition. Each worker loads a model once and keeps it for every task it runs (:mod:`evalkit.cluster.worker`);
every task writes what it finished to the embedding cache or the result store on disk and first looks there, so
a worker that dies loses only the task it was running, and a rerun recomputes nothing finished. Workers need the
same data folder (``$EVALKIT_DATA``) as the caller: the local ones inherit it, remote ones need a shared file system.

Dask is imported only when a cluster is started (this module imports it inside functions), so ``import evalkit``
and every command without ``--workers`` / ``--scheduler`` stay as fast as before. A Python script that starts a
local cluster needs an ``if __name__ == "__main__":`` guard: Dask starts its workers with ``multiprocessing``'s
*spawn* method, which imports the script again in every worker.
"""
from __future__ import annotations

import contextlib

from ..config import MissingPackageError, ParameterError

#: The Dask resource that stands for one GPU: GPU workers offer ``GPU=1``; tasks that load a model ask for it.
GPU = "GPU"
#: The thread-count variables of OpenMP, MKL and OpenBLAS, which local workers inherit from the caller unchanged.
BLAS_THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Seconds to wait for a scheduler to answer, and for the first worker of an existing cluster to connect.
CONNECT_TIMEOUT = 30


def add_cluster_arguments(parser) -> None:
    """Add ``--workers``, ``--threads-per-worker``, ``--scheduler`` and ``--gpu-workers`` to an argparse parser."""
    group = parser.add_argument_group("scale-out (Dask)")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="run on a local Dask cluster of N worker processes (default: one process, no Dask)")
    group.add_argument("--threads-per-worker", type=int, default=1, metavar="N",
                       help="compute threads per local worker (default 1: one model per worker, one task at a time)")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on an existing Dask cluster, e.g. tcp://10.0.0.1:8786 (workers share the data folder)")
    group.add_argument("--gpu-workers", action="store_true",
                       help="each worker holds one GPU (Dask resource GPU=1): tasks that load a model ask for one, so "
                            "each GPU holds one model; local workers see one GPU each (CUDA_VISIBLE_DEVICES)")


@contextlib.contextmanager
def cluster_from_args(args):
    """The :class:`Cluster` that parsed ``args`` ask for (see :func:`add_cluster_arguments`), or None without
    ``--workers`` and ``--scheduler`` (the single-process path); closed at the end of the ``with`` block."""
    with start_cluster(workers=getattr(args, "workers", None), scheduler=getattr(args, "scheduler", None),
                       threads_per_worker=getattr(args, "threads_per_worker", 1),
                       gpu_workers=getattr(args, "gpu_workers", False)) as cluster:
        yield cluster


def check_cluster_options(*, workers=None, scheduler=None, threads_per_worker: int = 1, gpu_workers: bool = False) -> None:
    """Raise :class:`~evalkit.config.ParameterError` naming the option when the options do not fit together."""
    if workers is not None and scheduler is not None:
        raise ParameterError("--workers and --scheduler exclude each other: start a local cluster or use an existing one")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParameterError(f"--workers must be a whole number of at least 1, not {workers!r}")
    if isinstance(threads_per_worker, bool) or not isinstance(threads_per_worker, int) or threads_per_worker < 1:
        raise ParameterError(f"--threads-per-worker must be a whole number of at least 1, not {threads_per_worker!r}")
    if threads_per_worker != 1 and workers is None:
        raise ParameterError("--threads-per-worker applies to a local cluster only: give --workers too")
    if gpu_workers and workers is None and scheduler is None:
        raise ParameterError("--gpu-workers needs a cluster: give --workers N or --scheduler ADDRESS")


@contextlib.contextmanager
def start_cluster(*, workers: int | None = None, scheduler=None, threads_per_worker: int = 1,
                  gpu_workers: bool = False):
    """Start a local Dask cluster or connect to an existing one; yield a :class:`Cluster` (None without either).

    Parameters
    ----------
    workers : int, optional
        Worker processes of a local cluster.
    scheduler : str or dask cluster, optional
        Address of an existing cluster's scheduler (``tcp://host:8786``), or a cluster object (e.g. a
        ``dask_jobqueue.SLURMCluster``).
    threads_per_worker : int
        Compute threads of each local worker (1: one task at a time per model).
    gpu_workers : bool
        Each worker holds one GPU: local workers offer the resource ``GPU=1`` and see one GPU each; tasks that load
        a model ask for ``GPU=1``, so no GPU holds two models. An existing cluster's workers must offer it (``dask
        worker ADDRESS --resources GPU=1``).
    """
    check_cluster_options(workers=workers, scheduler=scheduler, threads_per_worker=threads_per_worker,
                          gpu_workers=gpu_workers)
    if workers is None and scheduler is None:
        yield None
        return
    cluster = Cluster.start(workers=workers, scheduler=scheduler, threads_per_worker=threads_per_worker,
                            gpu_workers=gpu_workers)
    try:
        yield cluster
    finally:
        cluster.close()


def _require_distributed():
    try:
        import distributed
    except ImportError as error:
        raise MissingPackageError(f"--workers and --scheduler need the Python package 'distributed' ({error}): "
                                  "pip install -r requirements.txt (dask[distributed])") from None
    return distributed


class Cluster:
    """A Dask client, the local cluster it started (if any), and how evalkit submits work to it.

    Build one with :func:`start_cluster` (or ``Cluster(client)`` around a client of your own).
    """

    def __init__(self, client, *, local=None, gpu_workers: bool = False):
        self.client, self.local, self.gpu_workers = client, local, bool(gpu_workers)
        from .worker import WorkerModels

        # Every worker, also one that joins or restarts later, keeps its models in this plugin.
        client.register_plugin(WorkerModels(gpu=self.gpu_workers))

    @classmethod
    def start(cls, *, workers=None, scheduler=None, threads_per_worker: int = 1, gpu_workers: bool = False) -> "Cluster":
        distributed = _require_distributed()
        if workers is not None:
            import dask

            # Dask sets OMP/MKL/OpenBLAS to one thread in its workers (and in this process's environment, which the
            # caller's later subprocesses inherit). BLAS results depend on its thread count in the last bits, so the
            # workers keep this process's setting: their caches and results equal the single-process run's.
            with dask.config.set({f"distributed.nanny.pre-spawn-environ.{name}": None for name in BLAS_THREADS}):
                local = distributed.LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                                                 processes=True, dashboard_address=":0",
                                                 resources={GPU: 1} if gpu_workers else None)
            try:
                return cls(distributed.Client(local), local=local, gpu_workers=gpu_workers)
            except BaseException:
                local.close()
                raise
        where = getattr(scheduler, "scheduler_address", scheduler)
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise ParameterError(f"--scheduler {where}: cannot connect to a Dask scheduler there ({error})") from None
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            if gpu_workers and not any(GPU in (w.get("resources") or {})
                                       for w in client.scheduler_info()["workers"].values()):
                raise ParameterError(f"--gpu-workers: no worker of the cluster at {where} offers the resource {GPU} "
                                     f"(start them with: dask worker {where} --resources {GPU}=1)")
        except (OSError, TimeoutError) as error:
            client.close()
            raise ParameterError(f"--scheduler {where}: no worker connected within {CONNECT_TIMEOUT} s ({error})") from None
        except BaseException:
            client.close()
            raise
        return cls(client, gpu_workers=gpu_workers)

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    def submit(self, function, *args, key: str, model: bool = False, **kwargs):
        """Submit ``function(*args, **kwargs)`` as the task ``key`` (named after its work, so two clients of one
        cluster that ask for the same work share it); ``model``: it loads a model, so on GPU workers it asks for one
        GPU."""
        resources = {GPU: 1} if model and self.gpu_workers else None
        return self.client.submit(function, *args, key=key, resources=resources, pure=False, **kwargs)

    def results(self, futures):
        """Yield the result of each future as it finishes (each released at once, so a worker that dies later owes
        nothing); an error in a task is raised here after the other tasks were given the chance to finish."""
        distributed = _require_distributed()
        failure = None
        for future in distributed.as_completed(list(futures)):
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - the first failure is raised once the rest finished
                failure = failure or error
                continue
            finally:
                future.release()
            yield result
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Close the client and stop the local cluster (an existing cluster keeps running); again: nothing."""
        client, local, self.local = self.client, self.local, None
        if client.status not in ("closed", "closing"):
            client.close()
        if local is not None:
            local.close()

    def __repr__(self) -> str:
        where = "local" if self.local is not None else self.client.scheduler.address
        return f"<Cluster {where}: {self.n_workers} workers{', GPU workers' if self.gpu_workers else ''}>"


__all__ = ["GPU", "Cluster", "add_cluster_arguments", "check_cluster_options", "cluster_from_args", "start_cluster"]
