"""The bottom of the package: where data, caches, results and the shipped resources are, how components are
named (``NAME(key=value, ...)`` specs and the lazy registries), and the errors meant for users.

Every stage (``data`` → ``embed`` → ``learn`` → ``book``) imports from here; this module imports no stage.
All locations derive from one data folder: ``$EVALKIT_DATA`` if set, else the ``data/`` folder of the checkout this
package lives in, else ``~/.cache/evalkit``.
"""
from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

__version__ = "0.2.0"
PACKAGE_DIR = Path(__file__).resolve().parent
#: The checkout this package was imported from, or None for an installed wheel.
REPO_ROOT: Path | None = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
#: Where a wheel carries the project's resources (profiles, manifests, reference tables, notebooks, book pages):
#: copies of the checkout's folders of the same names, made by ``setup.py`` when the wheel is built.
PACKAGED_RESOURCES = PACKAGE_DIR / "_resources"


# ------------------------------------------------------------------------------------------------
# Errors meant for users: the command line prints them in one line; anything else is a bug.


class EvalkitError(Exception):
    """Base class of every error a user can fix (a bad name, file, parameter or missing data or package).

    The command line prints its message as one line (exit status 2); every other exception is a bug in evalkit
    and keeps its traceback.
    """


class ParameterError(EvalkitError, ValueError):
    """A parameter, option or input that cannot be used; the message names it and what is valid."""


class MissingDataError(EvalkitError, FileNotFoundError):
    """Data (audio, a model's weights, a reference file) is not where it should be; the message says how to get it."""


class MissingPackageError(EvalkitError, ImportError):
    """An optional package is not installed; the message says which one and how to install it."""


class UnknownNameError(EvalkitError, KeyError):
    """An unknown task, embedding or classifier name; the message lists the valid ones."""

    def __init__(self, kind: str, name: str, valid):
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return self.args[0]


class WorkerError(EvalkitError, RuntimeError):
    """A model's worker process could not start or died; the message names the worker, its exit code or signal and
    the last lines it wrote to stderr (the audio it was given is not to blame)."""


# ------------------------------------------------------------------------------------------------
# Locations


def data_dir() -> Path:
    """The data folder (generated demo audio, downloaded data, caches, results)."""
    if os.environ.get("EVALKIT_DATA"):
        return Path(os.environ["EVALKIT_DATA"]).expanduser()
    if REPO_ROOT is not None and (REPO_ROOT / "data").is_dir():
        return REPO_ROOT / "data"
    return Path.home() / ".cache" / "evalkit"


def cache_dir() -> Path:
    """Embedding cache: ``<data>/cache/embeddings``."""
    return data_dir() / "cache" / "embeddings"


def results_dir() -> Path:
    """Experiment results: ``<data>/results``."""
    return data_dir() / "results"


def resource_path(relative: str) -> Path:
    """A shipped resource, e.g. ``"profiles/demo.yaml"``, ``"data/manifests/T1.yaml"``, ``"notebooks"``: from the
    checkout when evalkit runs from one, else from the copy inside the installed package."""
    if REPO_ROOT is not None and (REPO_ROOT / relative).exists():
        return REPO_ROOT / relative
    packaged = PACKAGED_RESOURCES / relative
    if packaged.exists():
        return packaged
    raise MissingDataError(f"evalkit resource {relative} is missing: neither a checkout ({REPO_ROOT}) nor the installed "
                           f"package ({PACKAGED_RESOURCES}) has it; reinstall evalkit")


# ------------------------------------------------------------------------------------------------
# Specs: NAME(key=value, ...)


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
    match = _SPEC.match(str(spec))
    if not match:
        raise ParameterError(f"cannot parse {spec!r}: expected NAME or NAME(key=value, ...)")
    name, body = match.group(1), match.group(2)
    params = {}
    for item in filter(None, (part.strip() for part in (body or "").split(","))):
        if "=" not in item:
            raise ParameterError(f"cannot parse {spec!r}: {item!r} is not key=value")
        key, value = item.split("=", 1)
        params[key.strip()] = parse_value(value)
    return name, params


def format_spec(name: str, params: dict) -> str:
    """Inverse of :func:`parse_spec`, with keys sorted (a stable, readable identity)."""
    if not params:
        return name
    return f"{name}(" + ", ".join(f"{k}={params[k]}" for k in sorted(params)) + ")"


# ------------------------------------------------------------------------------------------------
# Registries: names -> "module:attribute" strings, imported only when a name is used


class Registry:
    """An explicit table of named components with lazy factories.

    Parameters
    ----------
    kind : str
        What the names are (``"embedding"``, ``"classifier"``), for messages.
    factories : dict
        ``{name: "package.module:Factory"}``; the module is imported when the name is first built, so an optional
        package is needed only by the component that uses it.
    presets : dict, optional
        ``{short name: (name, {parameters})}``, e.g. ``{"musicnn-msd": ("musicnn", {"model": "MSD_musicnn"})}``.
    defaults : dict, optional
        ``{name: {parameters}}`` every build of ``name`` starts from (``"d128"``: ``{"hidden_units": 128}``).

    Examples
    --------
    >>> registry = Registry("thing", {"path": "pathlib:PurePosixPath"})
    >>> registry.build("path")
    PurePosixPath('.')
    """

    def __init__(self, kind: str, factories: dict[str, str], presets: dict | None = None, defaults: dict | None = None):
        self.kind, self.factories = kind, dict(factories)
        self.presets, self.defaults = dict(presets or {}), dict(defaults or {})

    def names(self) -> list[str]:
        """Every name :meth:`build` accepts (factories and presets), sorted."""
        return sorted(set(self.factories) | set(self.presets))

    def resolve(self, spec: str) -> tuple[str, dict]:
        """``(factory name, parameters)`` of a name or spec, presets expanded; unknown names raise."""
        name, params = parse_spec(spec)
        if name in self.presets:
            name, preset = self.presets[name]
            params = {**preset, **params}
        if name not in self.factories:
            raise UnknownNameError(self.kind, name, self.names())
        return name, {**self.defaults.get(name, {}), **params}

    def factory(self, name: str):
        """The class or callable registered under ``name`` (its module is imported now)."""
        module, _, attribute = self.factories[name].partition(":")
        return getattr(importlib.import_module(module), attribute)

    def build(self, spec: str, **params):
        """Build a component from a name or spec; keyword ``params`` override the spec's."""
        name, spec_params = self.resolve(spec)
        try:
            return self.factory(name)(**{**spec_params, **params})
        except TypeError as error:
            raise ParameterError(f"{self.kind} {name!r}: {error}") from None
