"""Where finished repetitions live: the one owner of the results folder's layout.

``<root>/<task id>/<16 hex of the configuration key>/config.json`` holds the key (everything that determines a
result: task files, embedding identity, classifier, fusion, training share, test share, seed, results version) and
``rep-NN.json`` one finished repetition. Files are written atomically, so an interrupted run leaves whole
repetitions only, and a rerun computes just the missing ones.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..config import results_dir, writable_folder


def key_digest(key: dict) -> str:
    """16 hex of the SHA-256 of a configuration key (sorted JSON)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def write_json_atomic(path: Path, data) -> None:
    """Write JSON to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResultStore:
    """Finished repetitions of experiment configurations on disk.

    Parameters
    ----------
    root : path-like, optional
        Results folder; default :func:`evalkit.config.results_dir` (``<data>/results``).

    Examples
    --------
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> key = {"task": "D2", "seed": 0}
    >>> store.save(key, 0, {"accuracy": 80.0})
    >>> store.load(key, 0)["accuracy"], store.stored(key, 3)
    (80.0, [0])
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else results_dir()

    def check_writable(self) -> "ResultStore":
        """This store, after checking that its folder can be created and written (a one-line
        :class:`~evalkit.config.ParameterError` naming the folder and the reason, before any work)."""
        writable_folder(self.root, what="results folder")
        return self

    def folder(self, key: dict) -> Path:
        """The folder of one configuration."""
        return self.root / str(key["task"]) / key_digest(key)

    def path(self, key: dict, repetition: int) -> Path:
        """The file of one repetition."""
        return self.folder(key) / f"rep-{int(repetition):02d}.json"

    def load(self, key: dict, repetition: int) -> dict | None:
        """A stored repetition, or None when it has not finished yet."""
        path = self.path(key, repetition)
        return json.loads(path.read_text()) if path.exists() else None

    def save(self, key: dict, repetition: int, row: dict) -> None:
        """Store a finished repetition (and, once, the configuration's key)."""
        config = self.folder(key) / "config.json"
        if not config.exists():
            write_json_atomic(config, key)
        write_json_atomic(self.path(key, repetition), row)

    def stored(self, key: dict, repetitions: int) -> list[int]:
        """Which of the repetitions ``0 … repetitions - 1`` are stored."""
        return [rep for rep in range(int(repetitions)) if self.path(key, rep).exists()]

    def state(self, key: dict, repetitions: int) -> dict[str, list | None]:
        """Size and modification time of each repetition's file (None when missing): what a reader depended on."""
        out = {}
        for rep in range(int(repetitions)):
            path = self.path(key, rep)
            try:
                stat = path.stat()
                out[str(path)] = [stat.st_size, stat.st_mtime_ns]
            except OSError:
                out[str(path)] = None
        return out
