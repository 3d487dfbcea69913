"""The bottom of the package: where data, caches, results and the shipped resources are, how components are
named (``NAME(key=value, ...)`` specs and the lazy registries), and the errors meant for users.

Every stage (``data`` → ``embed`` → ``learn`` → ``book``) imports from here; this module imports no stage.
All locations derive from one data folder: ``$EVALKIT_DATA`` if set, else the ``data/`` folder of the checkout this
package lives in, else ``~/.cache/evalkit``.
"""
from __future__ import annotations

import importlib
import inspect
import math
import os
import re
import tempfile
import warnings
from numbers import Integral, Real
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
    and keeps its traceback. An error about several things at once (every bad file of a task) is made with
    :meth:`with_problems`: a summary line and one line per problem.
    """

    #: The problems listed under the summary (one line each), empty for a one-line error.
    problems: tuple[str, ...] = ()

    @classmethod
    def with_problems(cls, summary: str, problems) -> "EvalkitError":
        """An error whose message is ``summary`` and then one ``  - problem`` line per problem.

        Examples
        --------
        >>> print(ParameterError.with_problems("task X: 2 problems", ["a.wav: empty", "b.wav: NaN"]))
        task X: 2 problems
          - a.wav: empty
          - b.wav: NaN
        """
        problems = tuple(str(p) for p in problems)
        error = cls("\n".join([summary, *(f"  - {p}" for p in problems)]))
        error.problems = problems
        return error


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


class EvalkitWarning(UserWarning):
    """Something a user should know that does not stop the work (a file the task ignores, a silent file, a group
    pattern that misses some files); issued with :func:`warn`, shown as one line."""


def warn(message: str) -> None:
    """Issue ``message`` as an :class:`EvalkitWarning` shown as one line, without a source line (the place in
    evalkit that noticed is of no use to the user); the command line prints ``evalkit <command>: warning: …``."""
    warnings.warn_explicit(" ".join(str(message).split()), EvalkitWarning, filename="evalkit", lineno=0,
                           module="evalkit", registry=_WARNED)


#: The warnings registry of :func:`warn`: under the default filter, the same message is shown once per process (a
#: book build checks one task for many configurations).
_WARNED: dict = {}


# ------------------------------------------------------------------------------------------------
# Checking parameters: every component checks its own, naming itself, the parameter, the value and the valid range


def _bound(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _valid_range(low, high, low_open: bool, high_open: bool) -> str:
    """``"in [0, 1)"``, ``"≥ 1"``, ``"> 0"``: the range of :func:`check_number` in words."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_bound(low)}, {_bound(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {_bound(low)}"
    if high is not None:
        return f"{'<' if high_open else '≤'} {_bound(high)}"
    return "finite"


def check_number(owner: str, name: str, value, *, low=None, high=None, low_open: bool = False,
                 high_open: bool = False, whole: bool = False, unit: str = ""):
    """``value`` as an int (``whole``) or float after checking that it is a finite number in the range.

    Parameters
    ----------
    owner : str
        What the parameter belongs to (``"mfcc"``, ``"d128"``), the start of the message; ``""`` for an option of
        the experiment itself (``repetitions``).
    name : str
        The parameter's name.
    value
        What was given (a spec's values arrive as int, float, bool or str).
    low, high : number, optional
        Bounds, inclusive unless ``low_open`` / ``high_open``.
    whole : bool
        The value must be an integer (``3``, not ``3.0``); returned as int.
    unit : str
        Appended to the range in the message (``"s"``, ``"Hz"``).

    Raises
    ------
    ParameterError
        ``"mfcc: n_mfcc must be a whole number in [1, 40], not 0"``.

    Examples
    --------
    >>> check_number("d128", "dropout", 0.5, low=0, high=1, high_open=True)
    0.5
    >>> check_number("mfcc", "n_mfcc", "abc", low=1, high=40, whole=True)
    Traceback (most recent call last):
    ...
    evalkit.config.ParameterError: mfcc: n_mfcc must be a whole number in [1, 40], not 'abc'
    """
    what = f"{'a whole number' if whole else 'a number'} {_valid_range(low, high, low_open, high_open)}"
    problem = ParameterError(f"{owner + ': ' if owner else ''}{name} must be {what}{' ' + unit if unit else ''}, "
                             f"not {value!r}")
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise problem
    if whole and not isinstance(value, Integral):  # 3.0 too: the caller's range() or Keras would refuse it
        raise problem
    if (low is not None and (value < low or (low_open and value == low))) or \
            (high is not None and (value > high or (high_open and value == high))):
        raise problem
    return int(value) if whole else float(value)


def check_choice(owner: str, name: str, value, choices):
    """``value`` if it is one of ``choices``, else a :class:`ParameterError` listing them."""
    if not any(c == value and isinstance(c, bool) == isinstance(value, bool) for c in choices):  # 1 is not True
        shown = ", ".join(str(c).lower() if isinstance(c, bool) else str(c) for c in choices)
        raise ParameterError(f"{owner + ': ' if owner else ''}{name} must be one of {shown}, not {value!r}")
    return value


def check_seed(owner: str, name: str, value):
    """A seed (``random_state``): None or a whole number in [0, 2**32 - 1] (what NumPy, scikit-learn and
    TensorFlow all accept)."""
    return None if value is None else check_number(owner, name, value, low=0, high=2**32 - 1, whole=True)


# ------------------------------------------------------------------------------------------------
# Locations


def data_dir() -> Path:
    """The data folder (generated demo audio, downloaded data, caches, results)."""
    if os.environ.get("EVALKIT_DATA"):
        return Path(os.environ["EVALKIT_DATA"]).expanduser()
    if REPO_ROOT is not None and (REPO_ROOT / "data").is_dir():
        return REPO_ROOT / "data"
    return Path.home() / ".cache" / "evalkit"


def writable_folder(path, *, what: str) -> Path:
    """``path`` as a folder that exists and takes files, created if needed, checked before any work writes there.

    Parameters
    ----------
    path : path-like
    what : str
        What the folder is for (``"data folder"``, ``"embedding cache"``), the start of the message.

    Raises
    ------
    ParameterError
        ``"data folder /proc/x cannot be created: No such file or directory"``: the path and the system's reason.

    Examples
    --------
    >>> import tempfile
    >>> writable_folder(Path(tempfile.mkdtemp()) / "a" / "b", what="cache").is_dir()
    True
    """
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError(f"{what} {path} cannot be created: {error.strerror or error}") from None
    try:  # a folder that exists may still refuse files (read-only mount, another owner)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".evalkit-write-", delete=True)
        probe.close()
    except OSError as error:
        raise ParameterError(f"{what} {path} cannot be written: {error.strerror or error}") from None
    return path


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
        """Build a component from a name or spec; keyword ``params`` override the spec's.

        Raises
        ------
        ParameterError
            A parameter the component does not take (the message lists those it takes) or one it needs is missing;
            checked against the factory's signature before it runs.
        """
        name, spec_params = self.resolve(spec)
        factory, given = self.factory(name), {**spec_params, **params}
        signature = inspect.signature(factory)
        takes = [p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        open_ended = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
        unknown = sorted(set(given) - set(takes))
        if unknown and not open_ended:
            raise ParameterError(f"{self.kind} {name!r} has no parameter {', '.join(map(repr, unknown))}; its "
                                 f"parameters: {', '.join(takes) or 'none'}")
        try:
            signature.bind(**given)
        except TypeError as error:  # a required parameter without a value
            raise ParameterError(f"{self.kind} {name!r}: {error}") from None
        return factory(**given)
