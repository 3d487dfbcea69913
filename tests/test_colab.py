"""The teaching notebook on Colab: its "Open in Colab" button (from _config.yml's repository), its first cell, which
installs evalkit where it is missing and does nothing where it is installed, and scripts/install.py, the one install
routine of ``make setup`` and that cell (Colab's ``tensorflow`` replaces requirements.txt's ``tensorflow-cpu``).
Nothing is installed here: pip is faked. scripts/check_colab.py runs the real thing (minutes, network)."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import load_script
from evalkit.book import display

ROOT = Path(__file__).resolve().parent.parent
LINUX = {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": "3.13"}


install = load_script("install", module_name="evalkit_install")


def teaching_cells() -> list[dict]:
    return json.loads((ROOT / "notebooks" / "teaching.ipynb").read_text(encoding="utf-8"))["cells"]


def write_config(folder: Path, url: str, branch: str | None = "main") -> Path:
    path = folder / "_config.yml"
    path.write_text(yaml.safe_dump({"title": "t", "repository": {"url": url, **({"branch": branch} if branch else {})}}))
    return path


# ------------------------------------------------------------------------------------------------
# The button


def test_the_colab_url_follows_the_configured_repository_and_branch(tmp_path):
    config = write_config(tmp_path, "https://github.com/someone/fork.git", "lesson")
    assert display.colab_url("teaching", config=config) == \
        "https://colab.research.google.com/github/someone/fork/blob/lesson/notebooks/teaching.ipynb"
    html = display.colab_button_html("teaching", config=config)
    assert "Open in Colab" in html and "github/someone/fork/blob/lesson/notebooks/teaching.ipynb" in html
    assert display.colab_url("teaching", config=write_config(tmp_path, "https://github.com/a/b/", None)) == \
        "https://colab.research.google.com/github/a/b/blob/main/notebooks/teaching.ipynb"


def test_a_repository_outside_github_gets_no_button(tmp_path):
    config = write_config(tmp_path, "https://gitlab.com/someone/fork")
    assert display.colab_url("teaching", config=config) is None
    assert display.colab_button_html("teaching", config=config) == ""


def test_the_shipped_config_gives_the_button_of_its_repository():
    repository = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    owner_name = repository["url"].removeprefix("https://github.com/")
    assert display.colab_url("teaching") == (f"https://colab.research.google.com/github/{owner_name}/blob/"
                                             f"{repository['branch']}/notebooks/teaching.ipynb")


def test_the_teaching_notebook_shows_the_button_after_its_title_and_the_chapter_page_links_it():
    cells = teaching_cells()
    title = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown")
    assert "".join(cells[title]["source"]).startswith("# Teaching")
    assert 'display.colab_button_html("teaching")' in "".join(cells[title + 1]["source"])
    assert "remove-input" in cells[title + 1]["metadata"]["tags"]
    assert "Open in Colab" in (ROOT / "book" / "teaching.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# The notebook's first cell


def install_cell() -> str:
    return "".join(teaching_cells()[0]["source"])


def test_the_first_cell_installs_and_hides_in_the_book_before_the_parameters():
    cells = teaching_cells()
    assert cells[0]["metadata"]["tags"] == ["remove-cell"] and "install_in_kernel" in install_cell()
    assert "parameters" in cells[1]["metadata"]["tags"], "papermill injects after the parameters cell"


def test_the_first_cells_default_repository_is_config_yml_s():
    url = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]
    assert f'os.environ.get("EVALKIT_REPOSITORY", "{url}")' in install_cell()


def test_the_first_cell_does_nothing_where_evalkit_is_importable(tmp_path, monkeypatch):
    """No git, no pip, no clone: it costs nothing in a local run and in ``evalkit book``."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"the install cell ran a command: {args}")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", refuse)
    started = time.perf_counter()
    exec(install_cell(), {})  # noqa: S102 - the notebook's own cell
    assert time.perf_counter() - started < 1 and not (tmp_path / "embeddings-20").exists()


# ------------------------------------------------------------------------------------------------
# scripts/install.py


def test_colabs_tensorflow_replaces_tensorflow_cpu_at_its_pinned_version():
    lines = install.requirement_lines(ROOT / "requirements.txt")
    cpu = next(line for line in lines if line.startswith("tensorflow-cpu=="))
    version = cpu.split(";")[0].split("==")[1]
    assert install.tensorflow_replacement(lines, {"tensorflow", "numpy"}, LINUX) == (cpu, f"tensorflow=={version}")
    assert install.tensorflow_replacement(lines, {"Tensorflow_CPU", "tensorflow"}, LINUX) is None  # a venv of ours
    assert install.tensorflow_replacement(lines, {"numpy"}, LINUX) is None  # a fresh venv
    # where requirements.txt asks for `tensorflow` itself, there is no tensorflow-cpu line to replace
    assert install.tensorflow_replacement(lines, {"tensorflow"}, {**LINUX, "platform_machine": "aarch64"}) is None


class FakePip:
    """subprocess.run for pip: records each command (and a copy of the requirements file it reads)."""

    def __init__(self, fail_at: int | None = None):
        self.commands, self.requirements, self.fail_at = [], [], fail_at

    def __call__(self, command, *args, **kwargs):
        self.commands.append(command[1:])
        if "-r" in command:
            self.requirements.append(Path(command[command.index("-r") + 1]).read_text(encoding="utf-8"))
        failed = self.fail_at is not None and len(self.commands) == self.fail_at
        return subprocess.CompletedProcess(command, 1 if failed else 0)


def test_the_install_runs_make_setups_three_pip_steps_and_replaces_the_tensorflow_line(monkeypatch):
    pip = FakePip()
    monkeypatch.setattr(install.subprocess, "run", pip)
    monkeypatch.setattr(install, "installed_distributions", lambda: {"tensorflow": "2.20.0"})
    install.install(ROOT)
    head = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    assert [command[:5] for command in pip.commands] == [head] * 3
    assert pip.commands[1][5:] == ["--no-deps", "-r", str(ROOT / "requirements-nodeps.txt")]
    assert pip.commands[2][5:] == ["--no-deps", "--no-build-isolation", "-e", str(ROOT)]
    first = pip.requirements[0].splitlines()
    if install.tensorflow_replacement(install.requirement_lines(ROOT / "requirements.txt"), {"tensorflow"}):
        assert not any(line.startswith("tensorflow-cpu") for line in first)
        assert any(line.startswith("tensorflow==") and ";" not in line for line in first)


def test_a_failing_pip_step_is_one_line_naming_the_step_and_the_file(monkeypatch, capsys):
    monkeypatch.setattr(install.subprocess, "run", FakePip(fail_at=2))
    assert install.main([]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("install.py: pip failed (exit status 1) at step 2 of 3, the --no-deps packages of "
                   "requirements-nodeps.txt; its message is above")


def test_a_kernel_that_imported_a_replaced_package_must_restart(monkeypatch):
    before, after = {"numpy": "2.0.2", "pandas": "2.2.2"}, {"numpy": "2.5.5", "pandas": "2.2.2", "evalkit": "0.2.0"}
    assert install.stale_imports(before, after, modules={"numpy": None, "numpy.linalg": None}) == ["numpy"]
    assert install.stale_imports(before, after, modules={"pandas": None}) == []  # pandas kept its version
    assert install.stale_imports(before, before, modules={"numpy": None}) == []


def test_the_makefile_installs_through_the_script():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(BIN)/python scripts/install.py\n" in makefile
    assert "pip install --quiet --disable-pip-version-check -r requirements.txt" not in makefile


@pytest.mark.skipif(shutil.which("make") is None, reason="check_colab reads TEACH_PARAMS through make")
def test_the_colab_check_runs_the_notebook_with_make_teachs_parameters():
    check_colab = load_script("check_colab")
    words = check_colab.teach_parameters()
    assert words[:3] == ["-p", "repetitions", "1"] and "train_fractions: [0.1, 0.8]" in words  # quoted -y survives
    assert check_colab.RESTART == install.RESTART
