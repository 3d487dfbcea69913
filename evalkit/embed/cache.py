"""On-disk embedding cache and batched, resumable extraction over files.

Layout: ``<cache root>/<extractor name>-<12 hex of its identity>/<2 hex>/<audio sha256>.npz``, plus an
``extractor.json`` per extractor folder saying what produced the entries. Each entry stores the
embeddings, the frame times and a checksum; it is written to a temporary file and renamed, so an
interrupted run leaves either a whole entry or none, and the next run resumes with the missing files.
An entry that fails to load or to match its checksum is reported, deleted and recomputed.

An entry written by :func:`extract_embeddings` also records what it cost: ``extract_seconds``, its share of the pass's
wall-clock seconds, and ``audio_seconds``, the seconds of audio it embeds (:meth:`EmbeddingCache.cost`,
:func:`evalkit.embed.costs.extraction_cost`). Entries written before these were recorded are used as they are;
their cost reads as not measured.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.audio import AudioError, file_hash, load_audio
from ..config import EvalkitError, cache_dir, check_number, writable_folder
from .base import Extractor


def _checksum(emb: np.ndarray, times: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(emb).tobytes())
    digest.update(np.ascontiguousarray(times).tobytes())
    return digest.hexdigest()


class EmbeddingCache:
    """Embeddings on disk, keyed by extractor identity and audio content hash.

    Parameters
    ----------
    root : path-like, optional
        Cache folder; default :func:`evalkit.config.cache_dir`.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir()

    def check_writable(self) -> "EmbeddingCache":
        """This cache, after checking that its folder can be created and written (a one-line
        :class:`~evalkit.config.ParameterError` naming the folder and the reason, before any work)."""
        writable_folder(self.root, what="embedding cache")
        return self

    def folder(self, extractor: Extractor) -> Path:
        key = hashlib.sha256(extractor.identity.encode()).hexdigest()[:12]
        return self.root / f"{extractor.name}-{key}"

    def path(self, extractor: Extractor, audio_hash: str) -> Path:
        return self.folder(extractor) / audio_hash[:2] / f"{audio_hash}.npz"

    def get(self, extractor: Extractor, audio_hash: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Cached ``(embeddings, times)``, or None when missing or corrupt (a corrupt entry is deleted)."""
        path = self.path(extractor, audio_hash)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as entry:
                emb, times, checksum = entry["embeddings"], entry["times"], str(entry["checksum"])
            if emb.ndim != 2 or emb.shape[1] != extractor.dim or len(times) != len(emb) or _checksum(emb, times) != checksum:
                raise ValueError("shape or checksum mismatch")
        except Exception as error:  # noqa: BLE001 - any unreadable entry is recomputed
            warnings.warn(f"corrupt cache entry {path} ({error}); recomputing it", stacklevel=2)
            path.unlink(missing_ok=True)
            return None
        return emb, times

    def cost(self, extractor: Extractor, audio_hash: str) -> tuple[float, float] | None:
        """The ``(extract_seconds, audio_seconds)`` an entry records, or None: no entry, an unreadable one, or one
        written before extraction times were recorded (its embeddings stay valid: only the cost is not measured)."""
        path = self.path(extractor, audio_hash)
        try:
            with np.load(path, allow_pickle=False) as entry:
                if not {"extract_seconds", "audio_seconds"} <= set(entry.files):
                    return None
                return float(entry["extract_seconds"]), float(entry["audio_seconds"])
        except Exception:  # noqa: BLE001 - missing or unreadable: get() reports and recomputes a corrupt entry
            return None

    def put(self, extractor: Extractor, audio_hash: str, emb: np.ndarray, times: np.ndarray, *,
            extract_seconds: float | None = None, audio_seconds: float | None = None) -> None:
        """Store one entry atomically (temporary file in the same folder, then rename).

        Parameters
        ----------
        extractor : Extractor
        audio_hash : str
            The audio's content hash (:func:`~evalkit.data.audio.file_hash`): with the extractor's identity, the key.
        emb, times : np.ndarray
            ``(n_frames, dim)`` embeddings and ``(n_frames,)`` frame times in seconds.
        extract_seconds, audio_seconds : float, optional
            The wall-clock seconds its extraction took and the seconds of audio it embeds, recorded beside the
            embeddings (both or neither; not part of the key or the checksum).
        """
        path = self.path(extractor, audio_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        info = self.folder(extractor) / "extractor.json"
        if not info.exists():
            _atomic_write_bytes(info, extractor.identity.encode())
        emb = np.ascontiguousarray(emb, dtype=np.float32)
        times = np.ascontiguousarray(times, dtype=np.float64)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            cost = {} if extract_seconds is None or audio_seconds is None else {
                "extract_seconds": np.array(float(extract_seconds)), "audio_seconds": np.array(float(audio_seconds))}
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, embeddings=emb, times=times, checksum=np.array(_checksum(emb, times)), **cost)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def extract_embeddings(paths, extractor: Extractor, *, cache: EmbeddingCache | None | bool = None,
                       batch_size: int = 16, progress: bool = True,
                       prefetch: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """Frame-wise embeddings of audio files, computed once and then read from the cache.

    Parameters
    ----------
    paths : sequence of path-like
        Audio files.
    extractor : Extractor
    cache : EmbeddingCache, None or False
        None: the default cache; False: no caching. Extractors with ``cacheable = False`` skip it.
    batch_size : int
        Files per model call, at least 1.
    progress : bool
        Show a tqdm progress bar.
    prefetch : bool
        Overlap the reading around the model with the model: a thread reads and prepares
        (:meth:`~evalkit.embed.base.Extractor.prepare`) the next batch and another writes the cache entries of
        the last one while the model computes this one. False: one step after the other in this thread. The
        results are the same.

    Returns
    -------
    list of (embeddings, times)
        One ``(n_frames, dim)`` float32 array and ``(n_frames,)`` times in seconds per file.

    Raises
    ------
    ParameterError
        ``batch_size`` is not a whole number ≥ 1 (checked before any file is read).
    AudioError
        A file cannot be used (the message names it). Entries finished before it stay cached.

    Notes
    -----
    Each new cache entry records its share of the pass's wall-clock seconds (each batch's seconds since the previous
    one finished: reading, preparing, the model call and, on the first batch, loading the model; divided among the
    batch's files by their seconds of audio) and its seconds of audio: :func:`evalkit.embed.costs.extraction_cost`
    reads them back. The entries of related extractors computed in the same pass (other layers of one network) record
    the same seconds: the one pass computed them all.
    """
    batch_size = check_number("extract_embeddings", "batch_size", batch_size, low=1, whole=True)
    paths = [Path(p) for p in paths]
    use_cache = cache is not False and extractor.cacheable
    store = (cache if isinstance(cache, EmbeddingCache) else EmbeddingCache()) if use_cache else None
    results: list = [None] * len(paths)
    hashes = [file_hash(p) if store and p.is_file() else None for p in paths]
    todo = []
    for i, (path, digest) in enumerate(zip(paths, hashes)):
        hit = store.get(extractor, digest) if digest else None
        if hit is None:
            todo.append(i)
        else:
            results[i] = hit
    if todo and store is not None:
        store.check_writable()
    batches = [todo[start:start + batch_size] for start in range(0, len(todo), batch_size)]

    durations: dict[int, float] = {}  # seconds of audio of each file read

    def read(batch: list[int]) -> tuple[list[int], list, Exception | None]:
        """The files of ``batch`` read and prepared: (their indices, the prepared inputs, the error of the file that
        stopped the batch or None)."""
        prepared = []
        for i in batch:
            try:
                audio = load_audio(paths[i], extractor.sample_rate)
                durations[i] = len(audio) / extractor.sample_rate
                prepared.append(extractor.prepare(audio))
            except AudioError as error:
                return batch[:len(prepared)], prepared, error  # the files read before it are finished first
            except EvalkitError:
                raise
            except Exception as error:
                raise RuntimeError(f"{extractor.spec} failed on {paths[i]}: {error}") from error
        return batch, prepared, None

    def write(batch: list[int], produced: list, seconds: list[float]) -> None:
        for n, (producer, outputs) in enumerate(produced):
            for i, (emb, times), spent in zip(batch, outputs, seconds):
                if n == 0 or not store.path(producer, hashes[i]).exists():
                    store.put(producer, hashes[i], emb, times, extract_seconds=spent, audio_seconds=durations[i])

    bar = tqdm(total=len(paths), initial=len(paths) - len(todo), desc=f"{extractor.spec}", unit="file",
               disable=not progress, leave=False)
    with _Overlap(prefetch) as overlap, bar:
        clock = time.perf_counter()
        reading = overlap.read(read, batches[0]) if batches else None
        for k in range(len(batches)):
            batch, prepared, failure = reading.result()
            if failure is None and k + 1 < len(batches):
                reading = overlap.read(read, batches[k + 1])  # while the model computes this batch
            if prepared:
                produced = _run_extractor(extractor, prepared, [paths[i] for i in batch], store)
                for i, (emb, times) in zip(batch, produced[0][1]):
                    results[i] = (emb, times)
                finished = time.perf_counter()
                seconds = _shares(finished - clock, [durations[i] for i in batch])
                clock = finished
                if store is not None:
                    overlap.write(write, batch, produced, seconds)
                bar.update(len(batch))
            if failure is not None:
                raise failure
    return results


def _shares(seconds: float, durations: list[float]) -> list[float]:
    """``seconds`` of one batch divided among its files in proportion to their seconds of audio."""
    total = sum(durations)
    return [seconds * (d / total if total > 0 else 1 / len(durations)) for d in durations]


class _Done:
    """The result of a step run at once (the plain path), with the interface of a future."""

    def __init__(self, function, *args):
        self._result = function(*args)

    def result(self):
        return self._result


class _Overlap:
    """Where :func:`extract_embeddings` reads and writes: in a reader and a writer thread (``prefetch``) or in the
    caller's thread. At most one batch is read ahead and two wait to be written, so memory stays bounded."""

    WRITES_PENDING = 2

    def __init__(self, prefetch: bool):
        from concurrent.futures import ThreadPoolExecutor

        self.pools = [ThreadPoolExecutor(1, thread_name_prefix=f"extract-{role}") for role in ("read", "write")] \
            if prefetch else None
        self.writes: list = []

    def read(self, function, *args):
        return self.pools[0].submit(function, *args) if self.pools else _Done(function, *args)

    def write(self, function, *args) -> None:
        self.writes.append(self.pools[1].submit(function, *args) if self.pools else _Done(function, *args))
        while len(self.writes) > self.WRITES_PENDING:
            self.writes.pop(0).result()  # raises a failed write here

    def finish_writing(self) -> None:
        while self.writes:
            self.writes.pop(0).result()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.pools:
            self.pools[0].shutdown(wait=True, cancel_futures=True)
        try:
            self.finish_writing()  # what the model computed is kept, also when the run stops with an error
        except Exception:
            if exc[0] is None:
                raise  # else the error that stopped the run is the one to report
        finally:
            if self.pools:
                self.pools[1].shutdown(wait=True)


def _run_extractor(extractor: Extractor, prepared, paths, store) -> list[tuple[Extractor, list]]:
    """One batched model call on inputs of :meth:`~Extractor.prepare`, with errors naming the files and a check for
    non-finite output.

    With a cache, the extractors :meth:`~Extractor.related` to this one (other layers of the same
    network) come from the same pass and are returned after it, to be cached as well.
    """
    try:
        produced = extractor.extract_prepared(prepared, related=store is not None)
    except EvalkitError:
        raise  # says what is wrong itself (e.g. a model worker that died, a missing package), which is not the audio
    except Exception as error:
        names = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        raise RuntimeError(f"{extractor.spec} failed on {names}: {error}") from error
    checked = []
    for producer, outputs in produced:
        rows = []
        for path, (emb, times) in zip(paths, outputs):
            if not np.all(np.isfinite(emb)):
                raise AudioError(f"{path}: {producer.spec} produced NaN or infinite values")
            rows.append((emb.astype(np.float32, copy=False), np.asarray(times, dtype=np.float64)))
        checked.append((producer, rows))
    return checked


def describe_cache(cache: EmbeddingCache | None = None) -> list[dict]:
    """One dict per cached extractor: its identity and number of entries (for ``evalkit cache``)."""
    cache = cache or EmbeddingCache()
    rows = []
    for folder in sorted(cache.root.glob("*-*")) if cache.root.exists() else []:
        info = folder / "extractor.json"
        identity = json.loads(info.read_text()) if info.exists() else {}
        rows.append({"folder": folder.name, **identity, "entries": sum(1 for _ in folder.glob("*/*.npz"))})
    return rows
