"""The package's shape, read from the source with ``ast``: stages import only downward (config < provenance < cluster < data < embed
< learn < book < cli), no module imports itself back through others, every ``evalkit`` import names a module that exists,
and no module grows past 400 lines.

Imports are collected everywhere in a module (inside functions too, where the optional and heavy ones live),
relative imports are resolved, and the lazy ``"evalkit.module:Class"`` factories of the registries count as the
imports they become. ``evalkit/__init__.py`` and ``__main__.py`` sit on top of everything and are exempt.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "evalkit"
STAGES = ("config", "provenance", "cluster", "data", "embed", "learn", "book", "cli")
MAX_LINES = 400
_FACTORY = re.compile(r"(evalkit(?:\.\w+)+):\w+")


def module_files(package_dir: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of a package (a package's ``__init__`` under its own name)."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if "_resources" in parts:  # copies made when a wheel is built
            continue
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, modules) -> list[tuple[int, str]]:
    """``(line, imported module)`` of every import of the package's modules in one module, relative ones resolved;
    ``from X import y`` imports ``X.y`` when that is a module, else ``X``. Imports of other packages are left out."""
    root = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            found += [(node.lineno, f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
                      for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (match := _FACTORY.fullmatch(node.value)):
            found.append((node.lineno, match.group(1)))  # a registry's lazy factory: imported when built
    return [(line, target) for line, target in found if target == root or target.startswith(root + ".")]


def import_graph(package_dir: Path) -> tuple[dict[str, Path], dict[str, list[tuple[int, str]]]]:
    modules = module_files(package_dir)
    return modules, {name: imports(name, path, modules) for name, path in modules.items()}


def stage(name: str) -> int | None:
    """Position of a module's stage in :data:`STAGES`; None for the package itself and ``__main__`` (on top)."""
    parts = name.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return None
    return STAGES.index(parts[1]) if parts[1] in STAGES else -1


def missing_modules(package_dir: Path) -> list[str]:
    modules, graph = import_graph(package_dir)
    return [f"{modules[name].relative_to(package_dir.parent)}:{line} imports {target}, which does not exist"
            for name, edges in graph.items() for line, target in edges if target not in modules]


def upward_imports(package_dir: Path) -> list[str]:
    modules, graph = import_graph(package_dir)
    problems = [f"{name} belongs to no stage of {STAGES}" for name in modules if stage(name) == -1]
    for name, edges in graph.items():
        if stage(name) is None:
            continue
        for line, target in edges:
            if target in modules and (stage(target) is None or stage(target) > stage(name)):
                where = STAGES[stage(target)] if stage(target) is not None else "the top"
                problems.append(f"{modules[name].relative_to(package_dir.parent)}:{line} ({STAGES[stage(name)]}) "
                                f"imports {target} ({where})")
    return problems


def import_cycles(package_dir: Path) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself): Tarjan."""
    modules, graph = import_graph(package_dir)
    edges = {name: sorted({t for _, t in targets if t in modules}) for name, targets in graph.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                cycles.append(sorted(component))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return cycles


def oversized(package_dir: Path, limit: int = MAX_LINES) -> list[str]:
    modules = module_files(package_dir)
    counts = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules.items()}
    return [f"{modules[name].relative_to(package_dir.parent)}: {n} lines"
            for name, n in sorted(counts.items(), key=lambda item: -item[1]) if n > limit]


# ------------------------------------------------------------------------------------------------
# evalkit


def test_every_evalkit_import_names_an_existing_module():
    assert missing_modules(PACKAGE_DIR) == []


def test_stages_import_only_downward():
    assert upward_imports(PACKAGE_DIR) == []


def test_no_import_cycles():
    assert import_cycles(PACKAGE_DIR) == []


def test_no_module_is_longer_than_400_lines():
    assert oversized(PACKAGE_DIR) == []


def test_the_checks_see_every_stage_and_the_imports_inside_functions():
    modules, graph = import_graph(PACKAGE_DIR)
    assert {stage(name) for name in modules} == set(range(len(STAGES))) | {None}
    targets = {target for _, target in graph["evalkit.cli"]}
    assert {"evalkit.config", "evalkit.data.registry", "evalkit.embed.registry", "evalkit.learn.experiments",
            "evalkit.book.build"} <= targets  # cli imports most of them inside its command functions
    assert "evalkit.embed.handcrafted" in {t for _, t in graph["evalkit.embed.registry"]}  # lazy factories count


# ------------------------------------------------------------------------------------------------
# The checks themselves, on a small package with one of each problem


def test_the_checks_find_upward_imports_cycles_missing_modules_and_long_modules(tmp_path):
    package = tmp_path / "evalkit"
    files = {
        "__init__.py": "from .learn import fit\n",
        "config.py": "",
        "cluster.py": "",
        "data/__init__.py": "",
        "data/tasks.py": "def files():\n    from ..learn.fit import fit  # upward, inside a function\n",
        "embed/__init__.py": "",
        "embed/a.py": "from . import b\n",
        "embed/b.py": "from .a import x\nREGISTRY = {'c': 'evalkit.embed.c:C'}\n",
        "embed/c.py": "import evalkit.embed.gone\n",
        "learn/__init__.py": "",
        "learn/fit.py": "from ..data import tasks\nimport evalkit\n" + "\n" * 400,
        "other.py": "",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    assert sorted(import_cycles(package)) == [["evalkit", "evalkit.data.tasks", "evalkit.learn.fit"],
                                              ["evalkit.embed.a", "evalkit.embed.b"]]
    assert missing_modules(package) == ["evalkit/embed/c.py:1 imports evalkit.embed.gone, which does not exist"]
    assert upward_imports(package) == [
        f"evalkit.other belongs to no stage of {STAGES}",
        "evalkit/data/tasks.py:2 (data) imports evalkit.learn.fit (learn)",
        "evalkit/learn/fit.py:2 (learn) imports evalkit (the top)",
    ]
    assert oversized(package) == ["evalkit/learn/fit.py: 402 lines"]
