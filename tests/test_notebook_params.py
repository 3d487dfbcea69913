"""Every notebook of notebooks/ honours every parameter of its parameters cell when it runs on its own (papermill,
outside jupyter-book): each is run with a non-default value of each parameter, and its output must show it.

The parameters cell of every notebook offers ``profile``, ``task``, ``embedding``, ``classifier``, ``repetitions``,
``baseline`` and ``group_pattern``; the teaching notebook also ``train_fractions`` and ``cnn_epochs`` (a test of their
own). One run per notebook sets all of them but ``profile`` to non-default values on a folder of the user's data (a
task the tests write: three classes of tones, 20 recordings of two files each); a second run per notebook sets
``profile`` to the shipped reduced profile ``test``, which overrides the others. Standalone runs must show values as
text, never ``{glue:...}`` markup, and a user's folder must read as "your data", never as demo data.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evalkit.book import NOTEBOOKS
from evalkit.config import REPO_ROOT

from conftest import write_tone_task

papermill = pytest.importorskip("papermill", reason="papermill (requirements.txt) runs the notebooks")

#: The values the notebooks' parameters cell holds (checked against the notebooks below).
DEFAULTS = {"profile": None, "task": "D2", "embedding": "musicnn", "classifier": "svm", "repetitions": 3,
            "baseline": True, "group_pattern": None}
#: The teaching notebook's own: the lesson's task, and the budget of its quick variant (``make teach``).
TEACHING_DEFAULTS = {**DEFAULTS, "task": "D3", "train_fractions": None, "cnn_epochs": None}
#: A non-default value of each parameter but ``profile`` (its own test): cheap ones, so a run takes seconds.
CHANGED = {"embedding": "mfcc(n_mfcc=13)", "classifier": "d128", "repetitions": 2, "baseline": False,
           "group_pattern": "^(.*)__"}
#: The tone task: 3 classes × 20 recordings × 2 files of 1 s (the 10 % share still has two recordings per class).
RECORDINGS_PER_CLASS, FILES_PER_RECORDING = 20, 2


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    return write_tone_task(tmp_path_factory.mktemp("mine") / "my_sounds", groups=RECORDINGS_PER_CLASS,
                           files_per_group=FILES_PER_RECORDING, duration=1.0)


def run_notebook(name: str, folder: Path, parameters: dict) -> dict:
    """Execute ``notebooks/<name>.ipynb`` with papermill in ``folder``; return the executed notebook."""
    output = folder / f"{name}.ipynb"
    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / f"{name}.ipynb"), str(output), kernel_name="python3",
                               progress_bar=False, cwd=str(folder), parameters=parameters)
    return json.loads(output.read_text())


def shown_text(notebook: dict) -> str:
    """What a reader of the executed notebook sees: its Markdown cells and every output (text, Markdown, HTML)."""
    parts = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"]
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for kind in ("text/markdown", "text/html", "text/plain"):
                parts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def provenance_rows(text: str) -> dict:
    """``{row: value}`` of the provenance box in the shown text (the first one: every page shows the same)."""
    import bs4

    start = text.find("<details class='evalkit-provenance'")
    assert start >= 0, "no provenance box"
    # parsed from the box on: a text/plain repr before it (``<IPython.core.display.HTML object>``) reads as a tag
    box = bs4.BeautifulSoup(text[start:], "html.parser").select_one(".evalkit-provenance")
    return {row.th.get_text(strip=True): row.td.get_text(" ", strip=True) for row in box.select("tr") if row.th}


def errors(notebook: dict) -> list:
    return [o for c in notebook["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.fixture(scope="module")
def runs_on_my_folder(user_folder, tmp_path_factory):
    """``{notebook: shown text}``, each notebook run once with every parameter but ``profile`` changed (lazily)."""
    done = {}

    def get(name):
        if name not in done:
            folder = tmp_path_factory.mktemp(name)
            notebook = run_notebook(name, folder, {"task": str(user_folder), **CHANGED})
            assert not errors(notebook), f"{name}: {errors(notebook)[0]['evalue']}"
            bare = [o for c in notebook["cells"] for o in c.get("outputs", [])
                    if "IPython.core.display" in "".join(o.get("data", {}).get("text/plain", ""))
                    and not any("".join(v) for k, v in o["data"].items() if k != "text/plain")]
            assert not bare, f"{name}: an empty display shows only the object's repr: {bare[0]['data']}"
            done[name] = shown_text(notebook)
        return done[name]

    return get


def test_every_notebook_offers_the_same_parameters_with_the_defaults_tested_here():
    for name in NOTEBOOKS:
        notebook = json.loads((REPO_ROOT / "notebooks" / f"{name}.ipynb").read_text())
        cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
        values = {}
        exec("".join(cell["source"]), {}, values)  # noqa: S102 - the notebook's own parameters cell
        assert values == (TEACHING_DEFAULTS if name == "teaching" else DEFAULTS), name
        assert not any(str(v).startswith("/") for v in values.values()), f"{name}: an absolute path as a parameter"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_on_its_own_honours_every_parameter(name, runs_on_my_folder, user_folder):
    text = runs_on_my_folder(name)
    n_files = 3 * RECORDINGS_PER_CLASS * FILES_PER_RECORDING
    # task: the user's folder, named as such and read as the user's data, never as the demo's
    assert f"folder task {user_folder}" in text
    assert "demo data" not in text and "demo profile" not in text, "a user's folder is described as demo data"
    assert "Demo data: stand-ins" not in text and "This is a demo build" not in text
    # group_pattern: 2 files per recording, so half as many recordings as files
    assert f"{n_files} files from {n_files // FILES_PER_RECORDING} recordings" in text
    assert "recordings by the group pattern &#x27;^(.*)__&#x27;" in text or "group pattern '^(.*)__'" in text
    # embedding: its spec and its dimension (6 × 13 values)
    assert "mfcc(n_mfcc=13)" in text and "78 values per frame" in text
    # classifier, repetitions and baseline, in the provenance box every page shows
    provenance = provenance_rows(text)
    assert provenance["classifiers"] == "d128" and provenance["baseline"] == "none"
    assert provenance["repetitions"].startswith("2 ")
    # standalone: values as text, never glue markup
    assert not re.search(r"\{glue(:\w+)?\}", text), "glue markup in a standalone run"


@pytest.mark.slow
def test_detailed_results_names_the_classifier_and_the_missing_baseline(runs_on_my_folder):
    text = runs_on_my_folder("detailed_results")
    assert "Here the classifier is a network with one dense hidden layer of 128 units (D128)" in text
    assert "each bar is the mean over 2 repetitions" in text and "trains no CNN baseline" in text
    assert "linear SVM" not in text  # the default classifier is not claimed
    assert "With the D128 and 80 % training data" in text and "mean ± standard deviation over 2 repetitions" in text


@pytest.mark.slow
def test_results_tables_caption_the_published_tables_for_the_users_data(runs_on_my_folder):
    text = runs_on_my_folder("results_tables")
    assert "the paper's data T1–T6, not comparable with your data" in text
    assert "not comparable with the demo data" not in text
    assert "mfcc(n_mfcc=13) · D128" in text and "± the standard deviation over 2 repetitions" in text


@pytest.mark.slow
def test_the_learning_curve_leaves_out_shares_the_folder_cannot_fill_and_says_so(runs_on_my_folder):
    text = runs_on_my_folder("learning_curve")
    # 20 recordings per class, 4 of them for testing: 5 % of 40 files is 2 files of one recording
    assert "trained on 10, 20, 40 and 80 % of the data" in text
    assert "The shares of 5 % are left out: they leave some class of this task with fewer than two training" in text
    assert "Each point is the mean over 2 repetitions." in text
    assert "this profile's learning curve has no baseline" in text


@pytest.mark.slow
def test_the_teaching_notebook_uses_its_classifier_repetitions_and_no_cnn(runs_on_my_folder):
    text = runs_on_my_folder("teaching")
    assert "d128: " in text and "training files" in text  # the hand-written classifier is the parameter's
    assert "this profile has no baseline CNN" in text
    assert "This run trains no CNN from scratch (`baseline` is off)" in text  # exercise 3 without a CNN
    assert not re.search(r"(?<![\w+/])nan(?![\w+/])", text), "a missing number shown as nan"
    assert "D128 on mfcc(n_mfcc=13)" in text  # the table of section 5


@pytest.mark.slow
def test_the_teaching_notebook_uses_its_training_shares_and_cnn_epoch_limit(user_folder, tmp_path):
    """The quick variant's parameters: the lesson's CNN is trained with the epoch limit asked for (and the page says it
    ended there), and part 5 shows exactly the shares asked for."""
    notebook = run_notebook("teaching", tmp_path, {"task": str(user_folder), "group_pattern": "^(.*)__",
                                                   "embedding": "mfcc(n_mfcc=13)", "repetitions": 1,
                                                   "train_fractions": [0.2, 0.8], "cnn_epochs": 2})
    assert not errors(notebook), errors(notebook)[0]["evalue"]
    text = shown_text(notebook)
    assert "The CNN (`cnn(epochs=2)`) reaches " in text and "after 2 epochs" in text
    assert "It ended at its limit of 2 epochs, not by early stopping" in text
    table = next(o["data"]["text/html"] for c in notebook["cells"] if "tables.frame_html(S.table)" in "".join(c["source"])
                 for o in c["outputs"] if "text/html" in o.get("data", {}))
    rows = re.findall(r"<t[hd][^>]*>(\d+) %</t[hd]>", "".join(table))
    assert rows == ["20", "80"], rows
    assert "With 20 % of the data, the SVM on mfcc(n_mfcc=13) reaches" in text  # exercise 3: the smallest share
    assert not re.search(r"\{glue(:\w+)?\}", text)


def test_the_teaching_budget_parameters_are_checked_before_any_work(tmp_path, monkeypatch):
    import evalkit as ek

    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path))  # nothing there: an error must come before any data is needed
    for params, message in [({"train_fractions": [0.9]}, "teaching: train_fractions must be a number in (0, 0.8], not 0.9"),
                            ({"train_fractions": "[0.1,"}, "teaching: train_fractions must be a list of training shares"),
                            ({"train_fractions": []}, "teaching: train_fractions must list at least one training share"),
                            ({"cnn_epochs": 0}, "teaching: cnn_epochs must be a whole number ≥ 1, not 0")]:
        with pytest.raises(ek.ParameterError, match=re.escape(message)):
            ek.notebook(None, page="teaching", **params)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["learning_curve", "reproduction"])
def test_the_profile_parameter_overrides_the_single_run(name, tmp_path):
    """``-p profile test``: the shipped reduced profile, named by its name (no path of this machine), with its own
    tasks (the demo stand-ins D2 and D4) and repetitions, whatever the other parameters say."""
    notebook = run_notebook(name, tmp_path, {"profile": "test", "task": "/nowhere", "embedding": "mfcc(n_mfcc=13)"})
    assert not errors(notebook), errors(notebook)[0]["evalue"]
    text = shown_text(notebook)
    assert "profile <b>test</b>" in text and "profiles/test.yaml" in text
    assert "D2: " in text and "D4: " in text and "/nowhere" not in text
    assert "Demo data: stand-ins" in text  # the test profile runs the demo stand-ins, and says so
    assert not re.search(r"\{glue(:\w+)?\}", text)
