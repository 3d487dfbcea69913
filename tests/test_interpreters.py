"""scripts/interpreters.py, which the Makefile asks which interpreters this machine has (``make test-all`` runs the fast
tier on the other supported ones) and whether a venv fits PYTHON (``make PYTHON=python3.13 book`` never reuses a venv
made by another interpreter). Interpreters are faked by small shell scripts that answer the probe."""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from conftest import load_script

ROOT = Path(__file__).resolve().parent.parent


load = load_script


interpreters = load("interpreters")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fake interpreters are shell scripts")


def fake_python(path: Path, version: str | None, stderr: str = "") -> Path:
    """An executable that answers the probe as Python ``version`` would, or fails with ``stderr``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"echo {version}" if version else f"echo '{stderr}' >&2; exit 127"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """An empty PATH folder and an empty pyenv root, both of this test."""
    bin_dir, pyenv = tmp_path / "bin", tmp_path / "pyenv"
    bin_dir.mkdir()
    (pyenv / "versions").mkdir(parents=True)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    return bin_dir, pyenv / "versions"


def test_the_supported_interpreters_are_those_the_requirements_are_checked_for():
    assert interpreters.SUPPORTED == load("check_platforms").PYTHONS
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == f">={interpreters.SUPPORTED[0]}"


def test_this_interpreter_passes_the_probe():
    assert interpreters.probe(sys.executable) == ("%d.%d" % sys.version_info[:2], "")


def test_path_first_then_the_newest_pyenv_version(machine):
    bin_dir, versions = machine
    assert interpreters.find("3.12") == (None, "no python3.12 on PATH nor in pyenv's versions folder")
    fake_python(versions / "3.12.1" / "bin" / "python3.12", "3.12")
    newest = fake_python(versions / "3.12.10" / "bin" / "python3.12", "3.12")  # 10 > 1: compared as numbers
    assert interpreters.find("3.12") == (str(newest), "")
    on_path = fake_python(bin_dir / "python3.12", "3.12")
    assert interpreters.find("3.12") == (str(on_path), "")


def test_a_pyenv_shim_that_does_not_run_is_skipped_for_the_real_interpreter(machine):
    bin_dir, versions = machine
    fake_python(bin_dir / "python3.13", None, "pyenv: python3.13: command not found")
    path, why = interpreters.find("3.13")
    assert path is None and "pyenv shim of a version that is not active" in why
    real = fake_python(versions / "3.13.0" / "bin" / "python3.13", "3.13")
    assert interpreters.find("3.13") == (str(real), "")


def test_others_says_what_it_found_and_what_it_skipped(machine, capsys):
    bin_dir, versions = machine
    tested = fake_python(bin_dir / "python3.11", "3.11")
    real = fake_python(versions / "3.12.1" / "bin" / "python3.12", "3.12")
    assert interpreters.main(["others", "--except", str(tested)]) == 0
    out, err = capsys.readouterr()
    assert out == f"3.12 {real}\n"  # what the Makefile reads: VERSION PATH
    assert f"found Python 3.12: {real}" in err
    assert "skipped Python 3.13: no python3.13 on PATH nor in pyenv's versions folder" in err
    assert "3.11" not in out  # the interpreter the whole suite ran on
    assert interpreters.main(["others", "--except", str(tested), "--only", f"3.11 {real}"]) == 0
    out, err = capsys.readouterr()
    assert out == f"3.12 {real}\n" and "skipped Python 3.11" in err


def venv(folder: Path, version: str) -> Path:
    folder.mkdir()
    (folder / "pyvenv.cfg").write_text(f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {version}\n")
    return folder


def test_a_venv_is_never_reused_by_another_interpreter(machine, tmp_path):
    bin_dir, _ = machine
    python313 = str(fake_python(bin_dir / "python3.13", "3.13"))
    old = venv(tmp_path / ".venv", "3.11.7")
    problem = interpreters.check_venv(old, python313, explicit=True, goals="book")
    assert problem == (f"make: {old} is a Python 3.11 venv, but PYTHON={python313} is Python 3.13: give it a venv of "
                       f"its own (make PYTHON={python313} VENV=.venv-3.13 book) or remove {old} (rm -rf {old}) to "
                       "remake it")
    assert "\n" not in problem
    assert interpreters.check_venv(old, python313, explicit=False, goals="book") == ""  # no PYTHON: .venv as it is
    assert interpreters.check_venv(venv(tmp_path / "v313", "3.13.0"), python313, explicit=True, goals="book") == ""
    assert interpreters.check_venv(tmp_path / "none", python313, explicit=True, goals="book") == ""  # made next


def test_an_unsupported_or_broken_interpreter_is_named_with_what_to_do(machine, tmp_path):
    bin_dir, versions = machine
    python310 = str(fake_python(bin_dir / "python3.10", "3.10"))
    problem = interpreters.check_venv(tmp_path / ".venv", python310, explicit=False, goals="book")
    assert problem == (f"make: PYTHON={python310} is Python 3.10; evalkit supports Python 3.11, 3.12, 3.13: choose "
                       "one, e.g. make PYTHON=python3.13 book")
    fake_python(bin_dir / "python3.13", None, "pyenv: python3.13: command not found")
    real = fake_python(versions / "3.13.0" / "bin" / "python3.13", "3.13")
    problem = interpreters.check_venv(tmp_path / ".venv", "python3.13", explicit=True, goals="test")
    assert problem.startswith("make: PYTHON=python3.13 cannot make a venv: ")
    assert problem.endswith(f"Python 3.13 is at {real}: make PYTHON={real} test")


def test_the_makefile_runs_the_check_before_making_a_venv_and_names_the_other_interpreters_variable():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml setup.py scripts/install.py | check-python" in makefile
    assert "OTHER_PYTHONS ?= auto" in makefile and "scripts/interpreters.py others" in makefile
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.rstrip().endswith("\nmake test-all")  # CI runs the README's command, which tests the other interpreters
