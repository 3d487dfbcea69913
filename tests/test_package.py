"""The package installs: a wheel built from this checkout, installed into a virtual environment of its own where
neither the checkout nor its editable install can be seen, carries every module and resource and runs.

The environment borrows the dependencies of this one (a ``.pth`` file naming its site-packages: the paths it lists
are added, but their own ``.pth`` files, among them the editable install's finder, are not run), so the test needs
no download and takes seconds; ``pip install`` puts the wheel and its ``evalkit`` command into it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import write_tone_task

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(wheel, venv bin folder)``: ``pip wheel .`` installed into a fresh virtual environment."""
    tmp = tmp_path_factory.mktemp("wheel")
    # from a copy of the sources: an in-tree build would also pack whatever an earlier build left in build/lib
    source = tmp / "source"
    generated = shutil.ignore_patterns("__pycache__", "_resources", "_generated", "*.egg-info")

    def ignore(folder, names):  # the checkout's own generated folders, and data/ but for what it ships
        top = {".git", ".venv", "build", "_build"} if Path(folder) == REPO else set()
        kept_data = {"manifests", "reference"} if Path(folder) == REPO / "data" else set(names)
        return (top | set(generated(folder, names)) | (set(names) - kept_data)) & set(names)

    shutil.copytree(REPO, source, ignore=ignore)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(tmp / "dist")], capture_output=True, text=True, cwd=tmp)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp / "dist").glob("evalkit-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "-q", str(wheel)], capture_output=True, text=True, cwd=tmp)
    assert install.returncode == 0, install.stderr[-2000:]
    return wheel, venv / "bin"


def _environment(data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "EVALKIT_DATA": str(data)}


def _evalkit(bin_folder: Path, cwd: Path, *args, data: Path, timeout=600):
    return subprocess.run([str(bin_folder / "evalkit"), *args], capture_output=True, text=True, cwd=cwd,
                          env=_environment(data), timeout=timeout)


def test_the_wheel_carries_every_package_and_the_resources(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = sorted(str(p.parent.relative_to(REPO)) for p in (REPO / "evalkit").rglob("__init__.py")
                      if "_resources" not in p.parts)
    for package in packages:
        assert f"{package}/__init__.py" in names, f"the wheel lacks the package {package}"
    for resource in ["profiles/demo.yaml", "profiles/paper.yaml", "profiles/test.yaml", "data/manifests/T4.yaml",
                     "data/reference/paper_tables.csv", "data/reference/paper_confusion_openl3_svm_late.csv",
                     "notebooks/results_tables.ipynb", "book/introduction.md", "_toc.yml", "_config.yml"]:
        assert f"evalkit/_resources/{resource}" in names, f"the wheel lacks {resource}"


def test_the_installed_command_runs_outside_the_checkout(installed, tmp_path):
    _, bin_folder = installed
    data = tmp_path / "data"
    probe = subprocess.run([str(bin_folder / "python"), "-c",
                            "import evalkit, evalkit.config as c; print(c.REPO_ROOT, evalkit.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=_environment(data))
    root, where = probe.stdout.split()
    assert root == "None" and where.startswith(str(bin_folder.parent)), probe.stdout  # the wheel, not the checkout
    tasks = _evalkit(bin_folder, tmp_path, "tasks", data=data)
    assert tasks.returncode == 0, tasks.stderr[-2000:]
    assert "T4   Operational states of electric engines" in tasks.stdout
    check = _evalkit(bin_folder, tmp_path, "data", "check", "T4", data=data)
    assert check.returncode == 0 and "T4: missing" in check.stdout and "zenodo" in check.stdout.lower()
    folder = write_tone_task(tmp_path / "my_task")
    done = _evalkit(bin_folder, tmp_path, "run", "--task", str(folder), "--embedding", "mfcc", "--repetitions", "2",
                    data=data)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list((data / "results").glob("*/*/rep-*.json"))) == 2  # the runs were computed and stored


@pytest.mark.slow
def test_an_installed_wheel_builds_the_test_book_outside_the_checkout(installed, tmp_path):
    _, bin_folder = installed
    data = Path(os.environ["EVALKIT_DATA"])  # the tests' data folder: results shared with the test book
    done = _evalkit(bin_folder, tmp_path, "book", "--profile", "test", "--output", str(tmp_path / "book"),
                    data=data, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    page = tmp_path / "book" / "_build" / "html" / "book" / "_generated" / "results_tables.html"
    assert page.exists() and "Table I:" in page.read_text()
