"""What decides a stored embedding or result besides its parameters: the code that computes it and the packages
that code runs on.

:func:`code_fingerprint` is part of every embedding's cache identity and every result's store key, so that changed
code is recomputed instead of served from disk; no version number has to be bumped by hand. It covers the modules
that define the given objects and, transitively, the evalkit modules those import at their top level (lazily
imported ones are optional paths, e.g. the demo synthesis behind a task name), each read as its syntax tree without
docstrings, so that comments, docstrings and formatting change nothing. It adds the versions of the installed
third-party packages these modules import anywhere (a newer scikit-learn or TensorFlow may compute other numbers).
``evalkit.config`` is left out: it names, locates and checks things, which decides whether a configuration runs,
not what it computes. A class defined where Python keeps no source (a notebook cell, an interactive session) is
known by its module's name only: edits to it are not seen, so such a researcher's results belong in a store of
their own (``ResultStore(folder)``) or in a module file.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import sys
from pathlib import Path

#: Modules whose changes never change a number (see the module docstring).
NOT_COMPUTING = frozenset({"evalkit.config", "evalkit.provenance"})


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def module_digest(source: str) -> str:
    """SHA-256 (hex) of a module's syntax tree without docstrings: the same for the same code whatever its comments,
    docstrings and formatting.

    Examples
    --------
    >>> module_digest("x = 1  # one") == module_digest("x = (1)"), module_digest("x = 1") == module_digest("x = 2")
    (True, False)
    """
    return hashlib.sha256(ast.dump(_without_docstrings(ast.parse(source))).encode()).hexdigest()


def _imported(node, package: str) -> list[str]:
    """The absolute module names an import statement names (``from . import x`` names ``package.x``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


@functools.lru_cache(maxsize=None)
def _module_facts(name: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """``(digest of the module's code, evalkit modules it imports at top level, third-party packages it imports)``;
    read from its file, not imported."""
    try:
        spec = importlib.util.find_spec(name)
    except ValueError:  # __main__ of a script or a notebook has no spec
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        module = sys.modules.get(name)  # defined in __main__ or a notebook: the source inspect can find, if any
        try:
            source = inspect.getsource(module) if module is not None else None
        except (OSError, TypeError):
            source = None
        if source is None:
            return f"no source: {name}", (), ()
        package = getattr(module, "__package__", None) or ""
    else:
        with open(spec.origin, encoding="utf-8") as handle:
            source = handle.read()
        package = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
    tree = ast.parse(source)
    digest = module_digest(source)
    top_level = {target for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                 for target in _imported(node, package)}
    anywhere = {target for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for target in _imported(node, package)}
    ours = tuple(sorted(t for t in top_level if t.startswith("evalkit") and t in _evalkit_modules()))
    roots = {t.split(".")[0] for t in anywhere}
    theirs = tuple(sorted(r for r in roots if r not in sys.stdlib_module_names and r not in ("evalkit", "__future__")))
    return digest, ours, theirs


@functools.lru_cache(maxsize=1)
def _evalkit_modules() -> frozenset[str]:
    """Every module of the evalkit package, by dotted name (``from .x import y`` names a module only if it is one),
    read from its folder (nothing imported)."""
    package_dir = Path(__file__).resolve().parent
    names = set()
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if "_resources" not in parts:
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _versions(packages) -> dict[str, str]:
    """``{distribution: version}`` of the installed distributions that provide these top-level packages."""
    found = {}
    for package in packages:
        for distribution in _distributions().get(package, []):
            try:
                found[distribution] = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
    return dict(sorted(found.items()))


@functools.lru_cache(maxsize=None)
def _fingerprint_of_modules(names: tuple[str, ...], within: tuple[str, ...] | None) -> dict:
    seen, todo, digests, packages = set(), list(names), {}, set()
    while todo:
        name = todo.pop()
        if name in seen or name in NOT_COMPUTING:
            continue
        seen.add(name)
        digest, ours, theirs = _module_facts(name)
        digests[name] = digest
        packages.update(theirs)
        todo.extend(m for m in ours if within is None or m.startswith(within))
    code = hashlib.sha256(json.dumps(sorted(digests.items())).encode()).hexdigest()[:16]
    return {"code": code, "packages": _versions(packages)}


def code_fingerprint(*objects, within: tuple[str, ...] | None = None) -> dict:
    """What the code behind ``objects`` is: a digest of its modules and the versions of the packages they use.

    Parameters
    ----------
    *objects : class, function, module or instance
        Each stands for the module that defines it and, for a class (or an instance's class), the modules of its
        base classes.
    within : tuple of str, optional
        Follow imports only into evalkit modules whose names start with one of these (``("evalkit.learn",)``): the
        stages below have identities of their own in the key (a task's files, an embedding's identity).

    Returns
    -------
    dict
        ``{"code": 16 hex, "packages": {distribution: version}}``; equal for equal code whatever its comments,
        docstrings or formatting, and computed once per process.

    Examples
    --------
    >>> from evalkit.learn.classifiers import LinearSVM
    >>> fingerprint = code_fingerprint(LinearSVM)
    >>> len(fingerprint["code"]), "scikit-learn" in fingerprint["packages"]
    (16, True)
    """
    names = set()
    for item in objects:
        if inspect.ismodule(item):
            names.add(item.__name__)
            continue
        if inspect.isclass(item):
            targets = item.__mro__
        elif inspect.isfunction(item):
            targets = (item,)
        else:
            targets = type(item).__mro__
        names.update(t.__module__ for t in targets if t.__module__ != "builtins")
    return _fingerprint_of_modules(tuple(sorted(names)), within)
