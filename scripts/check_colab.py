"""Run the teaching notebook the way Google Colab runs it, from a fresh Python 3.13 venv, and say how long it took.

    python scripts/check_colab.py [--colab-tensorflow 2.20.0] [--colab-numpy 2.1.3] [--keep]

In a temporary folder: a venv of Python 3.13 (``scripts/interpreters.py find 3.13``) with only what Colab has before
any cell runs that matters here: ipykernel, papermill, the ``tensorflow`` distribution (Colab's, with CUDA) and a
numpy older than requirements.txt's, and a kernel whose start imports numpy (Colab's does). Then
notebooks/teaching.ipynb runs through that venv's papermill with ``make teach``'s quick parameters (the Makefile's
TEACH_PARAMS), ``EVALKIT_REPOSITORY`` pointing to this checkout (committed work only: the notebook's first cell
clones it) and ``EVALKIT_DATA`` inside the temporary folder: its first cell clones and installs
(scripts/install.py). If that cell stops with the restart message, papermill runs the notebook a second time, as a
user does after restarting the session.

Reports the install's minutes (the first cell), whether the restart message came, and the notebook's run minutes.
The temporary folder (venv, clone, data) is deleted afterwards unless ``--keep``. Exit status 1 if the notebook
fails. Needs a network to PyPI (several GB: two TensorFlow wheels) and make.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from install import RESTART  # noqa: E402 - the message the notebook's first cell raises
from interpreters import find  # noqa: E402

#: The kernel's name in the venv (not ``python3``: a user's own kernel of that name would be found first).
KERNEL = "evalkit-colab"
#: A TensorFlow that Colab plausibly ships, with a cp313 manylinux wheel on PyPI.
COLAB_TENSORFLOW = "2.20.0"
#: A numpy that Colab plausibly ships on Python 3.13 (2.1: the first with cp313 wheels), older than requirements.txt's.
COLAB_NUMPY = "2.1.3"


class CheckError(Exception):
    """A step of the check failed; one line."""


def run(command, step: str, **options) -> subprocess.CompletedProcess:
    """Run ``command``; a failure is a :class:`CheckError` naming ``step``."""
    done = subprocess.run([str(part) for part in command], **options)
    if done.returncode != 0:
        raise CheckError(f"check_colab: {step} failed (exit status {done.returncode})")
    return done


def teach_parameters() -> list[str]:
    """The Makefile's TEACH_PARAMS (``make teach``'s quick variant) as papermill arguments."""
    rule = "_teach_params: ; $(info $(TEACH_PARAMS))@:"
    done = run(["make", "-s", "--no-print-directory", "-C", ROOT, "--eval", rule, "_teach_params"],
               "reading TEACH_PARAMS from the Makefile", capture_output=True, text=True)
    return shlex.split(done.stdout.strip())


def colab_venv(folder: Path, tensorflow: str, numpy: str, preimport: list[str]) -> Path:
    """A Python 3.13 venv with what Colab has installed before the first cell: return its ``bin`` folder."""
    python, why = find("3.13")
    if python is None:
        raise CheckError(f"check_colab: no Python 3.13: {why}")
    venv = folder / "venv"
    run([python, "-m", "venv", venv], "making the venv")
    bin_dir = venv / "bin"
    pip = [bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "ipykernel", "papermill", f"tensorflow=={tensorflow}", f"numpy=={numpy}"],
        f"installing Colab's tensorflow=={tensorflow} and numpy=={numpy}")
    run([bin_dir / "python", "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL], "registering the kernel",
        stdout=subprocess.DEVNULL)
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("".join(f"import {name}\n" for name in preimport), encoding="utf-8")
    return bin_dir


def run_notebook(bin_dir: Path, folder: Path, output: Path, environment: dict) -> tuple[bool, dict]:
    """Run the teaching notebook with papermill in ``folder/content``: (whether it succeeded, the executed notebook)."""
    work = folder / "content"
    work.mkdir(exist_ok=True)
    done = subprocess.run([bin_dir / "papermill", ROOT / "notebooks" / "teaching.ipynb", output, "-k", KERNEL,
                           "--cwd", work, *teach_parameters()], env=environment)
    return done.returncode == 0, json.loads(output.read_text(encoding="utf-8")) if output.exists() else {}


def seconds(notebook: dict, cell: int | None = None) -> float:
    """The papermill duration of one code cell (by its index among the code cells: papermill puts Markdown cells
    that point to an error before the first cell), or of the whole notebook."""
    if cell is not None:
        code = [c for c in notebook.get("cells", []) if c["cell_type"] == "code"]
        return (code[cell]["metadata"].get("papermill", {}).get("duration") or 0.0) if cell < len(code) else 0.0
    return notebook.get("metadata", {}).get("papermill", {}).get("duration") or 0.0


def error_of(notebook: dict) -> str:
    """The first error's ``ename: evalue`` in an executed notebook, or ""."""
    for cell in notebook.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"{out['ename']}: {out['evalue']}"
    return ""


def check(folder: Path, tensorflow: str, numpy: str, preimport: list[str]) -> int:
    started = time.perf_counter()
    bin_dir = colab_venv(folder, tensorflow, numpy, preimport)
    print(f"check_colab: Colab's venv (Python 3.13, tensorflow=={tensorflow}, numpy=={numpy}) in "
          f"{(time.perf_counter() - started) / 60:.1f} min", flush=True)
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment.update(EVALKIT_REPOSITORY=f"file://{ROOT}", EVALKIT_DATA=str(folder / "data"),
                       IPYTHONDIR=str(folder / "ipython"), PATH=f"{bin_dir}{os.pathsep}{environment['PATH']}")
    ok, first = run_notebook(bin_dir, folder, folder / "teaching-1.ipynb", environment)
    restart = RESTART in error_of(first)
    install = seconds(first, 0)
    print(f"check_colab: the first cell installed in {install / 60:.1f} min; restart message: "
          f"{'yes' if restart else 'no'}", flush=True)
    if restart:
        ok, second = run_notebook(bin_dir, folder, folder / "teaching-2.ipynb", environment)
        print(f"check_colab: after the restart the notebook ran in {seconds(second) / 60:.1f} min (first cell "
              f"{seconds(second, 0):.1f} s)" + ("" if ok else f"; FAILED: {error_of(second)}"))
    else:
        print(f"check_colab: the notebook ran in {(seconds(first) - install) / 60:.1f} min after the install"
              + ("" if ok else f"; FAILED: {error_of(first)}"))
    print(f"check_colab: {'passed' if ok else 'FAILED'} in {(time.perf_counter() - started) / 60:.1f} min in all")
    return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--colab-tensorflow", default=COLAB_TENSORFLOW, metavar="VERSION",
                        help=f"the tensorflow that Colab has installed (default {COLAB_TENSORFLOW})")
    parser.add_argument("--colab-numpy", default=COLAB_NUMPY, metavar="VERSION",
                        help=f"the numpy that Colab has installed (default {COLAB_NUMPY})")
    parser.add_argument("--preimport", default="numpy", help="modules the kernel imports at its start, as Colab's "
                        "does (comma-separated; default numpy; '' for none)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (venv, clone, data, outputs)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="evalkit-colab-"))
    try:
        preimport = [name for name in args.preimport.split(",") if name]
        return check(folder, args.colab_tensorflow, args.colab_numpy, preimport)
    except CheckError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"check_colab: kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
