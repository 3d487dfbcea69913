"""The results book, built once per session on the reduced `test` profile (profiles/test.yaml) into a temporary
folder: every page of the table of contents exists, the results pages carry their tables, figures and provenance,
internal links resolve, and no notebook cell produced an error.

The build runs every notebook through papermill and jupyter-book (a few minutes on 2 cores when nothing is
cached; results and embeddings are kept in data/_test between runs).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

pytest.importorskip("papermill")
pytest.importorskip("jupyter_book")
bs4 = pytest.importorskip("bs4")

from evalkit.book.build import NOTEBOOKS, build_book, run_notebooks  # noqa: E402
from evalkit.config import REPO_ROOT  # noqa: E402

#: Results pages and what each must contain at least: (evalkit tables, figures).
RESULTS_PAGES = {
    "detailed_results": (0, 3),
    "results_tables": (5, 0),
    "confusion_matrices": (0, 3),
    "baseline_models": (1, 1),
    "learning_curve": (0, 1),
    "reproduction": (1, 1),
    "teaching": (0, 4),
}


def _soup(path: Path):
    return bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _toc_files() -> list[str]:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


@pytest.mark.slow
def test_every_page_of_the_table_of_contents_exists(book):
    _, html = book
    files = _toc_files()
    assert len(files) >= 13
    for name in NOTEBOOKS:
        assert f"book/_generated/{name}" in files
    for file in files:
        page = html / f"{file}.html"
        assert page.exists() and page.stat().st_size > 2000, f"missing page {page}"
    assert (html / "index.html").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RESULTS_PAGES))
def test_results_pages_have_tables_figures_and_provenance(book, name):
    _, html = book
    page = html / "book" / "_generated" / f"{name}.html"
    soup = _soup(page)
    text = soup.get_text(" ")
    tables, figures = RESULTS_PAGES[name]
    assert len(soup.select("table.evalkit-table")) >= tables, f"{name}: too few result tables"
    images = [img for img in soup.find_all("img") if "_images" in img.get("src", "")]
    assert len(images) >= figures, f"{name}: {len(images)} figures, expected at least {figures}"
    for img in images:
        target = (page.parent / unquote(img["src"])).resolve()
        assert target.exists() and target.stat().st_size > 1000, f"{name}: image {img['src']} missing or empty"
    assert "Provenance" in text and "git commit" in text and "profile" in text
    assert "test" in soup.select_one(".evalkit-provenance").get_text(), f"{name}: provenance names no profile"
    assert "{glue" not in text, f"{name}: a glue reference was not resolved"


@pytest.mark.slow
def test_tables_set_published_numbers_beside_the_demo_rows(book):
    _, html = book
    soup = _soup(html / "book" / "_generated" / "results_tables.html")
    text = soup.get_text(" ")
    for table_id in ("I", "II", "III", "IV", "V"):
        assert f"Table {table_id}:" in text
    assert "paper's OSVM" in text and "paper's Basel." in text  # orientation rows on the demo stand-ins
    table = next(t for t in soup.select("table.evalkit-table") if "Table I:" in t.get_text(" "))
    header = [cell.get_text(" ", strip=True) for cell in table.select("thead tr")[-1].find_all(["th", "td"])]
    rows = [row.find_all(["th", "td"]) for row in table.select("tbody tr")]
    ours = [cells for cells in rows if not cells[0].get_text(strip=True).startswith("↳")]  # not the published rows
    assert len(ours) >= 2 and len(header) >= 3
    for column in range(1, len(header)):  # every task and the average: its best value in bold, and only that
        values = [(float(re.match(r"[\d.]+", c[column].get_text(" ", strip=True)).group()), c[column].find("b"))
                  for c in ours if re.match(r"[\d.]+", c[column].get_text(" ", strip=True))]
        best = max(value for value, _ in values)
        bold = [value for value, mark in values if mark is not None]
        assert bold and all(abs(value - best) < 0.051 for value in bold), (header[column], values)
        assert all(mark is not None for value, mark in values if value == best), (header[column], values)


@pytest.mark.slow
def test_prose_numbers_are_glued_from_results(book):
    _, html = book
    intro = _soup(html / "book" / "introduction.html")
    pasted = intro.select(".pasted-text")
    assert pasted
    for node in pasted:
        value = node.get_text().strip()
        assert value and value.lower() != "nan", f"introduction: empty pasted number {value!r}"
    # page 1 names the best pre-trained embedding of the results (the handcrafted reference is not ranked)
    from evalkit.book.pages import detailed_results, training_domains
    from evalkit.book.profiles import resolve_profile

    P = resolve_profile("test")
    values = detailed_results(P).values
    text = " ".join(intro.get_text(" ").split())
    assert training_domains(P)[values["detailed_best"]] is not None, values["detailed_best"]
    assert f"{values['detailed_best']} , at {values['detailed_best_avg']:.1f} %" in text, text[:2000]
    assert f"{values['detailed10_best']} , at {values['detailed10_best_avg']:.1f} %" in text, text[:2000]


@pytest.mark.slow
def test_every_glued_value_is_pasted_by_a_page_and_every_pasted_value_is_glued(book):
    root, _ = book
    glued = set()
    for name in NOTEBOOKS:
        notebook = json.loads((root / "book" / "_generated" / f"{name}.ipynb").read_text())
        glued |= {f"{name}::{o['metadata']['scrapbook']['name']}" for c in notebook["cells"]
                  for o in c.get("outputs", []) if "scrapbook" in o.get("metadata", {})}
    pasted = set()
    for page in (REPO_ROOT / "book").glob("*.md"):
        pasted |= {f"{notebook}::{name}" for notebook, name in
                   re.findall(r"\{glue(?::\w+)?\}`_generated/(\w+)\.ipynb::(\w+)", page.read_text())}
    assert pasted and glued == pasted, {"glued, pasted nowhere": glued - pasted, "pasted, never glued": pasted - glued}


@pytest.mark.slow
def test_no_broken_internal_links(book):
    _, html = book
    broken = []
    pages = [p for p in html.rglob("*.html") if "_static" not in p.parts]
    for page in pages:
        for link in _soup(page).find_all("a", href=True):
            href = link["href"]
            parsed = urlparse(href)
            if parsed.scheme or href.startswith(("mailto:", "javascript:")) or not parsed.path:
                continue
            target = (page.parent / unquote(parsed.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(html)} -> {href}")
            elif parsed.fragment and target.suffix == ".html":
                if _soup(target).find(id=parsed.fragment) is None:
                    broken.append(f"{page.relative_to(html)} -> {href} (no anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:20])


@pytest.mark.slow
def test_no_notebook_cell_produced_an_error(book):
    root, html = book
    for name in NOTEBOOKS:
        notebook = json.loads((root / "book" / "_generated" / f"{name}.ipynb").read_text())
        for cell in notebook["cells"]:
            for output in cell.get("outputs", []):
                assert output.get("output_type") != "error", f"{name}: error output {output.get('ename')}"
                assert "Traceback" not in "".join(output.get("text", "")), f"{name}: traceback in a cell's output"
        page = (html / "book" / "_generated" / f"{name}.html").read_text()
        assert "output_error" not in page and "Traceback" not in page, f"{name}.html shows an error"
        assert "IPython.core.display" not in page, f"{name}.html shows an object's repr instead of its content"
        # downloadable from the book: no path of the build machine
        assert notebook["metadata"]["papermill"]["input_path"] == f"notebooks/{name}.ipynb"
        assert str(root) not in json.dumps(notebook["metadata"]), f"{name}: a build path in the notebook's metadata"


@pytest.mark.slow
def test_a_second_build_skips_every_notebook(book):
    root, _ = book
    records = run_notebooks("test", root=root)
    assert [r["status"] for r in records] == ["skipped"] * len(NOTEBOOKS)


# ------------------------------------------------------------------------------------------------
# Profiles and the build driver (fast)


def test_named_profiles_load_and_validate():
    from evalkit.book.profiles import load_profile

    for name in ("demo", "test"):
        profile = load_profile(name)
        assert profile.name == name and profile.is_demo
        assert set(profile.tables) == {"I", "II", "III", "IV", "V"}
        for table_id in profile.tables:
            spec = profile.table(table_id)
            assert set(spec["embeddings"]) <= set(profile.embeddings)
    paper = load_profile("paper")
    assert not paper.is_demo and paper.tasks == ["T1", "T2", "T3", "T4", "T5", "T6"]


@pytest.mark.parametrize("change,message", [
    ({"tablez": {}}, "unknown key(s) tablez"),
    ({"tables": {"I": {"embeddings": ["nope"]}}}, "unknown embedding label 'nope'"),
    ({"classifiers": ["forest"]}, "unknown classifier 'forest'"),
    ({"embeddings": {"x": "nosuchnet"}}, "unknown embedding 'nosuchnet'"),
    ({"learning_curve": {"train_fractions": [0.9]}}, "training share"),
    ({"baseline": {"D9": {"embedding": "spectrogram", "classifier": "cnn"}}}, "baseline.D9"),
    ({"claims": {"embedding": "nope"}}, "claims.embedding: unknown embedding label 'nope'"),
    ({"claims": {"classifier": "d512"}}, "claims.classifier: 'd512' is not one of the profile's classifiers"),
    ({"claims": {"best": "svm"}}, "unknown key(s) best"),
])
def test_profile_errors_name_the_key_and_the_valid_choices(tmp_path, change, message):
    from evalkit.book.profiles import ProfileError, load_profile

    data = yaml.safe_load((REPO_ROOT / "profiles" / "test.yaml").read_text())
    data.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_profile(path)


def test_a_failing_notebook_stops_the_build_naming_notebook_cell_and_error(tmp_path):
    import nbformat

    from evalkit.book.build import BookError, _run_notebook

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                               nbformat.v4.new_code_cell("# a comment\nraise ValueError('boom')")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(notebook, str(path))
    with pytest.raises(BookError) as error:
        _run_notebook(path, tmp_path / "out.ipynb", {})
    text = str(error.value)
    assert "broken.ipynb failed in cell 2 (`raise ValueError('boom')`)" in text and "ValueError: boom" in text
    assert str(tmp_path / "out.ipynb") in text  # where the traceback is kept


def test_a_missing_task_folder_stops_the_build_before_any_work(tmp_path):
    """The preflight lists it with the build's other problems (evalkit.book.preflight.check_profile)."""
    from evalkit.book.build import BookError

    data = yaml.safe_load((REPO_ROOT / "profiles" / "test.yaml").read_text())
    data.update(tasks=[str(tmp_path / "no-such-folder")], task_params={}, baseline=None, teaching=None)
    for spec in data["tables"].values():
        spec["baseline"] = False
    data["learning_curve"]["baseline"] = False
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(BookError, match="cannot run; 1 thing\\(s\\) missing or wrong:\n  - task .*no-such-folder"):
        build_book(path, output=tmp_path / "book", only=["detailed_results"], html=False)
    assert not (tmp_path / "book" / "book" / "_generated" / "detailed_results.ipynb").exists()


def test_notebooks_are_thin():
    """Each notebook: the parameters cell, one setup call, then package calls and prose; no definitions. The teaching
    notebook starts with its install cell (Colab; tests/test_colab.py)."""
    import ast

    for name in NOTEBOOKS:
        notebook = json.loads((REPO_ROOT / "notebooks" / f"{name}.ipynb").read_text())
        code = [("".join(c["source"]), c["metadata"].get("tags", [])) for c in notebook["cells"] if c["cell_type"] == "code"]
        if name == "teaching":
            assert "install_in_kernel" in code[0][0], "teaching: the first cell is not the install cell"
            code = code[1:]
        assert "parameters" in code[0][1], f"{name}: the first code cell is not the parameters cell"
        assert f'ek.notebook(profile, page="{name}"' in code[1][0], f"{name}: the second cell is not the setup call"
        for source, _ in code:
            tree = ast.parse(source)
            defined = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
            assert not defined, f"{name}: defines {type(defined[0]).__name__} in a cell: {source[:80]!r}"
            assert "filterwarnings" not in source, f"{name}: changes warning filters"
        if name != "teaching":  # the teaching chapter writes the steps out by hand on purpose
            assert max(len(s.splitlines()) for s, _ in code[2:]) <= 3, f"{name}: a cell holds page logic"
            # numbers in prose come from show_markdown outputs: a notebook run on its own shows no glue markup
            prose = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
            assert "{glue" not in prose, f"{name}: a Markdown cell pastes a glued value"


def test_learning_curve_table_shows_single_runs_without_a_spread():
    import pandas as pd

    from evalkit.book.summary import curve_table

    runs = pd.DataFrame({"label": ["mfcc", "mfcc", "baseline"], "train_fraction": [0.1, 0.1, 0.1],
                         "repetition": [0, 1, 0], "accuracy": [50.0, 60.0, 30.0], "task": ["D2"] * 3})
    table = curve_table(runs)
    assert table.loc["mfcc", "10 %"] == "55.0 ± 5.0"
    assert table.loc["baseline", "10 %"] == "30.0 (1 run)"


def test_notebooks_get_shipped_profiles_by_name_so_downloads_carry_no_machine_path(tmp_path):
    from evalkit.book.build import notebook_profile_parameter
    from evalkit.book.profiles import load_profile

    assert notebook_profile_parameter(load_profile("demo")) == "demo"
    assert notebook_profile_parameter(load_profile("paper")) == "paper"
    own = tmp_path / "mine.yaml"
    own.write_text((REPO_ROOT / "profiles" / "test.yaml").read_text())  # named "test" inside, but not the shipped file
    assert notebook_profile_parameter(load_profile(own)) == str(own.resolve())


def _teaching_markdown() -> str:
    notebook = json.loads((REPO_ROOT / "notebooks" / "teaching.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")


def test_the_lesson_states_learning_goals_and_a_timing_plan_of_45_minutes():
    """The teaching chapter is a 45-minute class: numbered learning goals, and a timing plan whose parts follow each
    other without a gap and add up to 45 minutes."""
    text = _teaching_markdown()
    assert "45-minute" in text and "**Learning goals.**" in text
    goals = text.split("**Learning goals.**")[1].split("**Timing plan")[0]
    assert len(re.findall(r"^\d+\. ", goals, flags=re.M)) >= 3
    parts = [(int(a), int(b)) for a, b in re.findall(r"^\| (\d+)–(\d+) \|", text, flags=re.M)]
    assert parts and parts[0][0] == 0 and parts[-1][1] == 45, parts
    assert all(b == a for (_, b), (a, _) in zip(parts, parts[1:])), f"gaps or overlaps in the timing plan: {parts}"
    assert sum(b - a for a, b in parts) == 45
    assert "(45 min)" in text


def test_make_teach_runs_the_lesson_with_parameters_the_notebook_accepts():
    """`make teach`'s quick variant: its papermill parameters are parameters of the teaching notebook, and they pass the
    lesson's checks (shares, CNN epoch limit) without touching any data."""
    import shlex

    from evalkit.book.pages import _lesson_budget
    from evalkit.book.profiles import resolve_profile

    makefile = (REPO_ROOT / "Makefile").read_text()
    variables = dict(re.match(r"^(\w+) \?= (.*)$", line).groups() for line in makefile.splitlines()
                     if re.match(r"^TEACH_\w+ \?= ", line))
    words = shlex.split(variables["TEACH_PARAMS"].replace("$(TEACH_CNN_EPOCHS)", variables["TEACH_CNN_EPOCHS"]))
    params = {}
    i = 0
    while i < len(words):
        if words[i] == "-p":
            params[words[i + 1]] = yaml.safe_load(words[i + 2])
            i += 3
        else:
            assert words[i] == "-y", words[i]
            params.update(yaml.safe_load(words[i + 1]))
            i += 2
    notebook = json.loads((REPO_ROOT / "notebooks" / "teaching.ipynb").read_text())
    cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))  # after the install
    defaults = {}
    exec("".join(cell["source"]), {}, defaults)  # noqa: S102 - the notebook's parameters cell
    assert set(params) <= set(defaults), set(params) - set(defaults)
    assert params["repetitions"] == 1 and len(params["train_fractions"]) == 2 and params["cnn_epochs"] >= 1
    P = resolve_profile(None, task=defaults["task"], repetitions=params["repetitions"])
    _lesson_budget(P, train_fractions=params["train_fractions"], cnn_epochs=params["cnn_epochs"])
    assert P.teaching_config()["train_fractions"] == sorted(params["train_fractions"])
    assert f"epochs={params['cnn_epochs']}" in P.baseline_config(defaults["task"])["classifier"]


def test_the_lessons_task_names_its_classes_in_words():
    """D3 (the lesson's task) and T3 name their class folders SP, CH, SS and IN: figures and tables say the words."""
    from evalkit.book.figures import class_name

    assert [class_name(c) for c in ("SP", "CH", "SS", "IN")] == ["speech", "choir", "solo singing", "instrumental"]
