"""Install evalkit and its tested requirements into the Python that runs this script: the one install routine of
``make setup`` (in its venv) and of the teaching notebook's first cell (on Colab, or in a bare Jupyter).

    python scripts/install.py

Three ``pip install --quiet`` steps, in this order: requirements.txt; requirements-nodeps.txt with ``--no-deps`` (see
its comments); this checkout with ``--no-deps --no-build-isolation -e``. Standard library only (requirement markers
are evaluated with ``packaging``, or with pip's vendored copy of it where ``packaging`` is not installed).

One environment is handled apart: Google Colab pre-installs the ``tensorflow`` distribution (with CUDA), while
requirements.txt asks for ``tensorflow-cpu`` on Linux x86_64; both would write the one ``tensorflow`` package. Where
``tensorflow`` is installed and ``tensorflow-cpu`` is not, ``tensorflow`` is installed at the version that
requirements.txt pins for ``tensorflow-cpu`` instead (:func:`tensorflow_replacement`), and one line says so.

A failing step prints one line naming it and its requirements file (pip's own message is above it), no traceback,
and the script exits with status 1; in the notebook, the cell fails with that line.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
#: The message the notebook raises when the kernel still holds packages that the install replaced.
RESTART = "installed; restart the session (Runtime → Restart session) and run all again"


class InstallError(Exception):
    """A pip step failed; the message is one line naming the step and its requirements file."""


def _packaging():
    """``(Requirement, canonicalize_name)`` from ``packaging``, or from pip's vendored copy where it is not installed."""
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.utils import canonicalize_name
    return Requirement, canonicalize_name


def canonical(name: str) -> str:
    """A distribution's name as pip compares them (``Tensorflow_CPU`` -> ``tensorflow-cpu``)."""
    return _packaging()[1](name)


def installed_distributions() -> dict[str, str]:
    """``{canonical name: version}`` of the distributions this interpreter has."""
    importlib.invalidate_caches()
    return {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions() if d.metadata["Name"]}


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a requirements file, without comments and blank lines."""
    lines = (line.split(" #")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def tensorflow_replacement(lines, installed, environment: dict | None = None) -> tuple[str, str] | None:
    """``(line, replacement)`` when the ``tensorflow`` distribution is installed and ``tensorflow-cpu`` is not (Colab):
    the ``tensorflow-cpu`` line of requirements.txt that applies here and ``tensorflow==<its version>``; else None.

    Parameters
    ----------
    lines : list of str
        Requirement lines (:func:`requirement_lines`).
    installed : collection of str
        The installed distributions' names (:func:`installed_distributions`).
    environment : dict, optional
        Marker variables to evaluate the lines for (default: this interpreter and platform).

    Examples
    --------
    >>> lines = ['tensorflow-cpu==2.21.0; sys_platform == "linux"', 'tensorflow==2.21.0; sys_platform == "darwin"']
    >>> tensorflow_replacement(lines, {"tensorflow", "numpy"}, {"sys_platform": "linux"})
    ('tensorflow-cpu==2.21.0; sys_platform == "linux"', 'tensorflow==2.21.0')
    >>> tensorflow_replacement(lines, {"tensorflow", "tensorflow-cpu"}, {"sys_platform": "linux"}) is None
    True
    """
    names = {canonical(name) for name in installed}
    if "tensorflow" not in names or "tensorflow-cpu" in names:
        return None
    Requirement, _ = _packaging()
    for line in lines:
        requirement = Requirement(line)
        if canonical(requirement.name) != "tensorflow-cpu":
            continue
        if requirement.marker is None or requirement.marker.evaluate(environment):
            versions = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            return line, f"tensorflow=={versions[0]}" if versions else "tensorflow"
    return None


def _pip(arguments: list[str], step: str) -> None:
    done = subprocess.run([sys.executable, *PIP, *arguments])
    if done.returncode != 0:
        raise InstallError(f"install.py: pip failed (exit status {done.returncode}) at {step}; its message is above")


def install(root: Path = ROOT) -> None:
    """Install the requirements, the no-deps packages and the checkout ``root`` (editable) into this interpreter.

    Raises
    ------
    InstallError
        A pip step failed (one line; pip's message is printed above it).
    """
    requirements = root / "requirements.txt"
    lines = requirement_lines(requirements)
    replacement = tensorflow_replacement(lines, installed_distributions())
    with tempfile.TemporaryDirectory(prefix="evalkit-install-") as folder:
        if replacement:
            old, new = replacement
            print(f"install.py: installing {new} instead of {old.split(';')[0]} (requirements.txt): the `tensorflow` "
                  "distribution is installed (Colab's) and two distributions would write one tensorflow package")
            requirements = Path(folder) / "requirements.txt"
            requirements.write_text("\n".join(new if line == old else line for line in lines) + "\n", encoding="utf-8")
        _pip(["-r", str(requirements)], "step 1 of 3, the requirements of requirements.txt")
    _pip(["--no-deps", "-r", str(root / "requirements-nodeps.txt")],
         "step 2 of 3, the --no-deps packages of requirements-nodeps.txt")
    _pip(["--no-deps", "--no-build-isolation", "-e", str(root)], f"step 3 of 3, evalkit itself (-e {root})")


def stale_imports(before: dict[str, str], after: dict[str, str], modules=None) -> list[str]:
    """The modules imported in this interpreter (``modules``, default ``sys.modules``) whose distribution the install
    replaced with another version (``before`` and ``after``: :func:`installed_distributions`): this process keeps
    running the old code, so a kernel must restart."""
    modules = sys.modules if modules is None else modules
    changed = {name for name, version in after.items() if before.get(name) not in (None, version)}
    imported = {name.split(".")[0] for name in modules}
    return sorted(module for module, owners in importlib.metadata.packages_distributions().items()
                  if module in imported and any(canonical(owner) in changed for owner in owners))


def install_in_kernel(root) -> None:
    """The teaching notebook's install (Colab, a bare Jupyter): :func:`install` the checkout ``root``, put it on
    ``sys.path`` (an editable install is found only by interpreters started after it), and stop with :data:`RESTART`
    if this kernel had already imported a package that the install replaced (numpy, on Colab)."""
    before = installed_distributions()
    install(Path(root))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    stale = stale_imports(before, installed_distributions())
    if stale:
        raise RuntimeError(f"{RESTART} (replaced while imported: {', '.join(stale)})")


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    try:
        install()
    except InstallError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
