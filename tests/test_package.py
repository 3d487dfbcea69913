"""The package carries its resources: a wheel built from this checkout runs outside it."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``pip wheel .`` and the wheel unpacked into a folder of its own (no checkout on its path)."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(tmp / "dist")], capture_output=True, text=True, cwd=tmp)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp / "dist").glob("evalkit-*.whl"))
    target = tmp / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return wheel, target


def _evalkit(target: Path, cwd: Path, *args, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, "-m", "evalkit", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def test_the_wheel_carries_profiles_manifests_reference_tables_notebooks_and_pages(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for resource in ["profiles/demo.yaml", "profiles/paper.yaml", "profiles/test.yaml", "data/manifests/T4.yaml",
                     "data/reference/paper_tables.csv", "data/reference/paper_confusion_openl3_svm_late.csv",
                     "notebooks/results_tables.ipynb", "book/introduction.md", "_toc.yml", "_config.yml"]:
        assert f"evalkit/_resources/{resource}" in names, f"the wheel lacks {resource}"


def test_an_installed_wheel_lists_tasks_and_checks_data_outside_the_checkout(installed, tmp_path):
    _, target = installed
    probe = subprocess.run([sys.executable, "-c", "import evalkit.config as c; print(c.REPO_ROOT, c.PACKAGE_DIR)"],
                           capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)})
    assert probe.stdout.split()[0] == "None" and str(target) in probe.stdout  # the wheel, not this checkout
    tasks = _evalkit(target, tmp_path, "tasks")
    assert tasks.returncode == 0 and "T4   Operational states of electric engines" in tasks.stdout
    check = _evalkit(target, tmp_path, "data", "check", "T4")
    assert check.returncode == 0 and "T4: missing" in check.stdout and "zenodo" in check.stdout.lower()


@pytest.mark.slow
def test_an_installed_wheel_builds_the_test_book_outside_the_checkout(installed, tmp_path):
    _, target = installed
    done = _evalkit(target, tmp_path, "book", "--profile", "test", "--output", str(tmp_path / "book"), timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    html = tmp_path / "book" / "_build" / "html"
    assert (html / "book" / "_generated" / "results_tables.html").exists()
    assert "Table I:" in (html / "book" / "_generated" / "results_tables.html").read_text()
