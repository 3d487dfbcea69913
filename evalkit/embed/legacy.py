"""The paper's legacy interpreter: where models run that the main interpreter's stack cannot run.

openl3 0.4.2 with kapre 0.3.6 needs TensorFlow <= 2.15 with Keras 2 (and Python 3.11 to install), while evalkit runs
on TensorFlow 2.21 with Keras 3 and Python 3.11 to 3.13. ``make paper-env`` makes a Python 3.11 venv, ``.venv-paper``
next to the checkout, with ``requirements-paper.txt`` and this evalkit; an extractor that cannot run its model here
runs it there, in a :class:`~evalkit.embed.worker.ModelWorker` started with that interpreter (the same protocol as
musicnn's worker: pickles of numpy arrays, which numpy 1.26 and 2 both read). ``$EVALKIT_PAPER_PYTHON`` names another
interpreter instead (an absolute path, or a command on PATH).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..config import REPO_ROOT, MissingPackageError

#: The environment variable naming the paper interpreter, and the venv ``make paper-env`` makes in the checkout.
PAPER_PYTHON_VARIABLE = "EVALKIT_PAPER_PYTHON"
PAPER_VENV = ".venv-paper"
PAPER_ENV_COMMAND = "make paper-env"
#: Seconds the interpreter gets to say a package's version (it starts without importing the package).
PROBE_TIMEOUT = 60.0


def venv_python(venv: Path) -> Path:
    """The interpreter of a venv (not resolved: a venv's python is a link whose target would leave the venv)."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def paper_python(what: str, package: str) -> tuple[str, str]:
    """(interpreter, where it was found) of the paper's legacy models: ``$EVALKIT_PAPER_PYTHON``, else the
    checkout's ``.venv-paper``.

    Raises
    ------
    MissingPackageError
        None is found, or the one named does not exist: one line naming ``make paper-env``.
    """
    named = os.environ.get(PAPER_PYTHON_VARIABLE, "").strip()
    if named:
        path = shutil.which(named) or named
        if not Path(path).is_file():
            raise MissingPackageError(f"the {what} embedding runs in the paper interpreter, but "
                                      f"${PAPER_PYTHON_VARIABLE} names {named}, which is not a file nor a command on "
                                      "PATH: make it with "
                                      f"`{PAPER_ENV_COMMAND}` or point ${PAPER_PYTHON_VARIABLE} at a Python with "
                                      "requirements-paper.txt")
        return path, f"${PAPER_PYTHON_VARIABLE}"
    if REPO_ROOT is not None and venv_python(REPO_ROOT / PAPER_VENV).is_file():
        return str(venv_python(REPO_ROOT / PAPER_VENV)), f"{PAPER_VENV} of the checkout"
    here = "%d.%d" % sys.version_info[:2]
    raise MissingPackageError(f"the {what} embedding needs the Python package '{package}', which is not installed in "
                              f"this Python {here} (or cannot run on its TensorFlow), and no paper interpreter was "
                              f"found: run `{PAPER_ENV_COMMAND}` (a Python 3.11 venv {PAPER_VENV} with "
                              "requirements-paper.txt; needs a network: openl3 downloads its model weights while it "
                              f"is installed), or set ${PAPER_PYTHON_VARIABLE} to such an interpreter")


def package_version(python: str, package: str, where: str) -> str:
    """The version of the distribution ``package`` in the interpreter ``python`` (read from its metadata, without
    importing it).

    Raises
    ------
    MissingPackageError
        The interpreter does not run or has no such package: one line naming it and ``make paper-env``.
    """
    script = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    try:
        done = subprocess.run([python, "-c", script, package], capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MissingPackageError(f"the paper interpreter {python} ({where}) does not run ({error}): remake it with "
                                  f"`{PAPER_ENV_COMMAND}`") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        reason = "has no package " + repr(package) if "PackageNotFoundError" in last else f"fails: {last[:200]}"
        raise MissingPackageError(f"the paper interpreter {python} ({where}) {reason}: install requirements-paper.txt "
                                  f"into it (`{PAPER_ENV_COMMAND}` does)")
    return done.stdout.strip()
