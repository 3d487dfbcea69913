"""Where the project keeps data, caches and results, and how components are named.

All locations derive from one data folder: ``$EVALKIT_DATA`` if set, else the ``data/`` folder of
the repository this package lives in, else ``~/.cache/evalkit``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data folder (manifests, generated demo audio, caches, results)."""
    if os.environ.get("EVALKIT_DATA"):
        return Path(os.environ["EVALKIT_DATA"]).expanduser()
    if (REPO_ROOT / "data").is_dir():
        return REPO_ROOT / "data"
    return Path.home() / ".cache" / "evalkit"


def cache_dir() -> Path:
    """Embedding cache: ``<data>/cache/embeddings``."""
    return data_dir() / "cache" / "embeddings"


def results_dir() -> Path:
    """Experiment results: ``<data>/results``."""
    return data_dir() / "results"


def parse_value(text: str):
    """Turn ``"3"``, ``"0.5"``, ``"true"``, ``"none"`` or ``"a,b"`` into int, float, bool, None or str."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


_SPEC = re.compile(r"^\s*([A-Za-z0-9_\-\.]+)\s*(?:\((.*)\))?\s*$")


def parse_spec(spec: str) -> tuple[str, dict]:
    """Split a component spec such as ``"musicnn(model=MSD_musicnn, layer=max_pool)"``.

    Returns
    -------
    name : str
    params : dict
        Keyword arguments, values converted with :func:`parse_value`.
    """
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"cannot parse {spec!r}: expected NAME or NAME(key=value, ...)")
    name, body = match.group(1), match.group(2)
    params = {}
    for item in filter(None, (part.strip() for part in (body or "").split(","))):
        if "=" not in item:
            raise ValueError(f"cannot parse {spec!r}: {item!r} is not key=value")
        key, value = item.split("=", 1)
        params[key.strip()] = parse_value(value)
    return name, params


def format_spec(name: str, params: dict) -> str:
    """Inverse of :func:`parse_spec`, with keys sorted (a stable, readable identity)."""
    if not params:
        return name
    return f"{name}(" + ", ".join(f"{k}={params[k]}" for k in sorted(params)) + ")"


class UnknownNameError(KeyError):
    """An unknown task, embedding or classifier name; the message lists the valid ones."""

    def __init__(self, kind: str, name: str, valid):
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return self.args[0]
