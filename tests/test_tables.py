"""The book's HTML tables (evalkit.book.tables) on small hand-made frames whose numbers are known: the mean and the
spread under it, bold on the best per task and the best average, the Avg column, published rows under the rows they
face, the reproduction table's verdict marks, the claims table and plain frames."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

bs4 = pytest.importorskip("bs4")

from evalkit.book import tables  # noqa: E402
from evalkit.book.reference import load_paper_tables  # noqa: E402

# ------------------------------------------------------------------------------------------------
# Helpers: a results frame from a few numbers, a stand-in profile, the rendered table as text


def results_frame(spec: dict, *, fusion: str = "late", train_fraction: float = 0.8) -> pd.DataFrame:
    """``{row: (label, classifier, {task: [accuracy per repetition]})}`` as a results frame (one row per repetition)."""
    rows = []
    for row, (label, classifier, per_task) in spec.items():
        for task, accuracies in per_task.items():
            for repetition, accuracy in enumerate(accuracies):
                rows.append({"task": task, "row": row, "label": label, "classifier": classifier,
                             "classifier_name": classifier, "fusion": fusion, "train_fraction": train_fraction,
                             "repetition": repetition, "accuracy": float(accuracy),
                             "kind": "baseline" if label == "baseline" else "embedding"})
    return pd.DataFrame(rows)


#: 2 tasks × 2 rows × 3 repetitions. emb · SVM: D1 70/80/90 (mean 80, population std 8.16, sample std 10),
#: D2 60/60/60 (60 ± 0); baseline CNN: D1 75/75/78 (76 ± 1.41), D2 70/72/74 (72 ± 1.63).
#: Best: D1 emb (80), D2 baseline (72), Avg baseline (74 vs. 70).
SMALL = {
    "emb · SVM": ("emb", "svm", {"D1": [70, 80, 90], "D2": [60, 60, 60]}),
    "baseline CNN": ("baseline", "cnn", {"D1": [75, 75, 78], "D2": [70, 72, 74]}),
}


class StandIn:
    """The few attributes of a Profile the tables use: task names, table specs, task ids, paper_rows."""

    def __init__(self, task_ids=("D1", "D2"), table_specs=None, single_run=False):
        self.task_ids = list(task_ids)
        self.is_demo = all(t.startswith("D") and len(t) == 2 for t in self.task_ids)
        self.paper_rows = {}
        self.single_run = single_run
        self._specs = table_specs or {}

    def task(self, task_id):
        return SimpleNamespace(id=str(task_id), name=f"the task {task_id}")

    def table(self, table_id):
        return self._specs.get(table_id)


def _soup(markup: str):
    return bs4.BeautifulSoup(markup, "html.parser")


def _text(node) -> str:
    return " ".join(node.get_text(" ").split())


def _css_by_id(soup) -> dict:
    """CSS declarations of the cells styled by id in the table's <style> block."""
    out = {}
    for style in soup.find_all("style"):
        for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", style.get_text()):
            for selector in selectors.split(","):
                selector = selector.strip()
                if re.fullmatch(r"#T_\w+_row\d+_col\d+", selector):
                    out[selector[1:]] = out.get(selector[1:], "") + body.replace(" ", "").replace("\n", "")
    return out


def _grid(markup: str):
    """The only evalkit-table of ``markup``: header texts, and per body row the cells' (text, bold text, css)."""
    soup = _soup(markup)
    found = soup.select("table.evalkit-table")
    assert len(found) == 1, "expected one table of class evalkit-table"
    table = found[0]
    css = _css_by_id(soup)
    header = [_text(th) for th in table.select("thead th")]
    body = [[(_text(td), " ".join(b.get_text() for b in td.find_all("b")), css.get(td.get("id"), ""))
             for td in tr.find_all(["td", "th"])] for tr in table.select("tbody tr")]
    return header, body


def _texts(row):
    return [cell[0] for cell in row]


def _published_row(**values) -> pd.Series:
    base = {"table": "I", "row": "OSVM", "Avg": 91.3}
    base.update({f"T{i}": 80.0 + i for i in range(1, 7)})
    base.update(values)
    return pd.Series(base)


# ------------------------------------------------------------------------------------------------
# table_html


def test_cells_show_the_mean_and_the_population_std_under_it():
    header, body = _grid(tables.table_html(StandIn(), results_frame(SMALL)))
    assert header[0] == "configuration" and header[-1] == "Avg"
    assert _texts(body[0]) == ["emb · SVM", "80.0 ± 8.2", "60.0 ± 0.0", "70.0"]  # np.std: population, not 10.0
    assert _texts(body[1]) == ["baseline CNN", "76.0 ± 1.4", "72.0 ± 1.6", "74.0"]


def test_the_avg_column_is_the_mean_over_tasks_of_the_task_means():
    # unequal repetitions per task: the average of the task means (85 + 60) / 2, not the mean of all five runs (75)
    frame = results_frame({"r · SVM": ("r", "svm", {"D1": [80, 90], "D2": [60, 60, 60]})})
    _, body = _grid(tables.table_html(StandIn(), frame))
    assert _texts(body[0])[-1] == "72.5"


def test_bold_marks_the_best_per_task_and_the_best_average():
    _, body = _grid(tables.table_html(StandIn(), results_frame(SMALL)))
    emb, base = body
    assert [cell[1] for cell in emb[1:]] == ["80.0", "", ""]  # best on D1 only
    assert [cell[1] for cell in base[1:]] == ["", "72.0", "74.0"]  # best on D2 and best average
    assert emb[0][1] == base[0][1] == ""  # labels are never bold


def test_a_tie_is_bold_in_both_rows():
    frame = results_frame({"a · SVM": ("a", "svm", {"D1": [70, 90]}), "b · SVM": ("b", "svm", {"D1": [80, 80]})})
    _, body = _grid(tables.table_html(StandIn(("D1",)), frame))
    assert [row[1][1] for row in body] == ["80.0", "80.0"]


def test_a_single_repetition_says_1_run_instead_of_a_spread():
    frame = results_frame({"one · SVM": ("one", "svm", {"D1": [81.25], "D2": [70.0]})})
    _, body = _grid(tables.table_html(StandIn(), frame))
    assert _texts(body[0]) == ["one · SVM", "81.2 1 run", "70.0 1 run", "75.6"]
    assert "±" not in " ".join(_texts(body[0]))


def test_a_missing_cell_shows_a_dash():
    frame = results_frame({"a · SVM": ("a", "svm", {"D1": [70], "D2": [60]}), "b · SVM": ("b", "svm", {"D1": [80]})})
    _, body = _grid(tables.table_html(StandIn(), frame))
    assert _texts(body[1]) == ["b · SVM", "80.0 1 run", "–", "80.0"]


def test_demo_task_columns_name_the_paper_task_they_stand_in_for():
    frame = results_frame({"a · SVM": ("a", "svm", {"D1": [70], "T3": [60], "mytask": [50]})})
    markup = tables.table_html(StandIn(), frame, caption="Table I: <80 %>")
    header, _ = _grid(markup)
    assert header == ["configuration", "D1 (T1)", "T3", "mytask", "Avg"]
    soup = _soup(markup)
    table = soup.select_one("table.evalkit-table")
    assert _text(table.find("caption")) == "Table I: <80 %>"  # escaped, shown as written
    assert table.find("span", title="the task D1") is not None  # the task's name on hover


def test_the_published_row_sits_under_the_row_it_faces_and_looks_different():
    pub = _published_row(row="OSVM")
    markup = tables.table_html(StandIn(), results_frame(SMALL), published={"emb · SVM": pub})
    _, body = _grid(markup)
    assert [row[0][0] for row in body] == ["emb · SVM", "↳ paper's OSVM (other data)", "baseline CNN"]
    # D1 → T1 (81.0), D2 → T2 (82.0); the average over the two tasks shown, not the published Avg of six
    assert _texts(body[1]) == ["↳ paper's OSVM (other data)", "81.0", "82.0", "81.5"]
    # the published row looks unlike the profile's rows (whatever the style is), and alike in all its cells
    assert len({cell[2] for cell in body[1]}) == 1 and body[1][1][2] not in {cell[2] for cell in body[0] + body[2]}
    assert all(cell[1] == "" for cell in body[1])  # published numbers never take the bold of the profile's best


def test_a_direct_comparison_on_all_six_tasks_shows_the_published_average():
    spec = {"o · SVM": ("o", "svm", {f"T{i}": [80.0] for i in range(1, 7)})}
    pub = _published_row(row="OSVM", Avg=91.3)
    _, body = _grid(tables.table_html(StandIn([f"T{i}" for i in range(1, 7)]), results_frame(spec),
                                      published={"o · SVM": pub}, direct=True))
    assert _texts(body[1]) == ["↳ published: OSVM", "81.0", "82.0", "83.0", "84.0", "85.0", "86.0", "91.3"]


def test_a_task_without_paper_counterpart_shows_a_dash_in_the_published_row():
    frame = results_frame({"a · SVM": ("a", "svm", {"D1": [70], "mytask": [60]})})
    _, body = _grid(tables.table_html(StandIn(), frame, published={"a · SVM": _published_row()}))
    assert _texts(body[1]) == ["↳ paper's OSVM (other data)", "81.0", "–", "81.0"]


def test_extra_rows_follow_the_table_with_their_published_row():
    extra = pd.DataFrame([{"D1": 90.0, "D2": 70.0, "Avg": 80.0}], index=["best late fusion"])
    markup = tables.table_html(StandIn(), results_frame(SMALL), extra_rows=extra,
                               published={"best late fusion": _published_row(row="BestLF")})
    _, body = _grid(markup)
    assert [row[0][0] for row in body] == ["emb · SVM", "baseline CNN", "best late fusion",
                                           "↳ paper's BestLF (other data)"]
    assert _texts(body[2]) == ["best late fusion", "90.0", "70.0", "80.0"]
    assert body[2][1][2] not in {cell[2] for cell in body[0] + body[1]}  # a summary row looks unlike measured ones
    assert all(cell[1] == "" for cell in body[2])


def test_profile_table_iii_puts_the_best_late_fusion_per_task_under_the_early_rows():
    late = results_frame({"a · SVM · late": ("a", "svm", {"D1": [90], "D2": [50]}),
                          "b · SVM · late": ("b", "svm", {"D1": [60], "D2": [80]})}, fusion="late")
    early = results_frame({"a · SVM · early": ("a", "svm", {"D1": [70], "D2": [40]}),
                           "b · SVM · early": ("b", "svm", {"D1": [50], "D2": [75]})}, fusion="early")
    profile = StandIn(table_specs={"III": {"train_fraction": 0.8, "embeddings": ["a", "b"]}})
    markup = tables.profile_table_html(profile, "III", pd.concat([late, early], ignore_index=True))
    header, body = _grid(markup)
    labels = [row[0][0] for row in body]
    assert "a · SVM · late" not in labels and "b · SVM · late" not in labels
    assert labels.index("best late fusion") > labels.index("b · SVM · early")
    best_late = body[labels.index("best late fusion")]
    assert _texts(best_late) == ["best late fusion", "90.0", "80.0", "85.0"]  # max per task, then their mean
    caption = _text(_soup(markup).find("caption"))
    assert caption == ("Table III: early vs. late fusion (80 % training data); each cell: the mean, and under it "
                       "± the standard deviation over 1 repetition")


def test_table_section_of_a_missing_table_says_so():
    assert "does not define Table IV" in tables.table_section_html(StandIn(), "IV", pd.DataFrame())
    text = tables.table_section_html(StandIn(single_run=True), "V", None)
    assert "a single run has one embedding" in text


def test_table_section_has_the_profile_table_and_the_published_one_folded():
    profile = StandIn(table_specs={"I": {"train_fraction": 0.8, "embeddings": ["emb"]}})
    soup = _soup(tables.table_section_html(profile, "I", results_frame(SMALL)))
    assert len(soup.select("table.evalkit-table")) == 2
    details = soup.find("details")
    assert details is not None and details.find("table") is not None
    assert "not comparable with the demo data" in _text(details.find("summary"))


def test_the_published_table_of_a_users_folder_is_not_captioned_as_demo_data():
    profile = StandIn(task_ids=("my_sounds",), table_specs={"I": {"train_fraction": 0.8, "embeddings": ["emb"]}})
    frame = results_frame(SMALL)
    frame["task"] = "my_sounds"
    summary = _text(_soup(tables.table_section_html(profile, "I", frame)).find("details").find("summary"))
    assert "not comparable with your data" in summary and "demo" not in summary


# ------------------------------------------------------------------------------------------------
# paper_table_html, claims_html, frame_html


def test_paper_table_shows_the_published_numbers_with_the_best_in_bold():
    header, body = _grid(tables.paper_table_html("I", caption="Published Table I"))
    paper = load_paper_tables()
    table = paper[paper["table"] == "I"].reset_index(drop=True)
    assert header == ["row", "embedding", "classifier", "fusion", "T1", "T2", "T3", "T4", "T5", "T6", "Avg"]
    assert [row[0][0] for row in body] == list(table["row"])
    osvm = body[list(table["row"]).index("OSVM")]
    assert _texts(osvm)[1:4] == ["openl3 (music, 512)", "svm", "late"]
    assert osvm[4][1] == "84.5" and osvm[-1][1] == "91.3"  # best T1 and best average of Table I
    basel = body[list(table["row"]).index("Basel.")]
    assert basel[-1] == ("91.2", "", "")  # second best average: not bold
    for column in range(4, 11):  # one bold cell per column unless tied, always the column's maximum
        values = table[header[column]]
        bold = [float(row[column][1]) for row in body if row[column][1]]
        assert bold and all(np.isclose(b, values.max()) for b in bold)


def test_claims_table_shows_each_claim_its_rule_and_both_verdicts():
    claims = pd.DataFrame([
        {"claim": "c1", "statement": "one <two>", "source": "Table I", "rule": "A − B ≥ −2 points", "paper": "91.3 vs. 91.2",
         "holds in the paper": "holds", "this profile": "no Table I", "holds here": "not testable"},
        {"claim": "c2", "statement": "s", "source": "x", "rule": "A − B > 0 points", "paper": "a", "holds in the paper": "holds",
         "this profile": "b", "holds here": "does not hold"},
        {"claim": "c3", "statement": "t", "source": "x", "rule": "A − B > 0 points", "paper": "a", "holds in the paper": "holds",
         "this profile": "c", "holds here": "inconclusive"},
    ])
    header, body = _grid(tables.claims_html(claims, side_name="demo (stand-ins, synthetic data)"))
    assert header[3].startswith("demo (stand-ins, synthetic data)")
    assert _texts(body[0]) == ["c1 “one <two>” (Table I) holds if A − B ≥ −2 points", "91.3 vs. 91.2", "holds",
                               "no Table I", "not testable"]
    assert _texts(body[1]) == ["c2 “s” (x) holds if A − B > 0 points", "a", "holds", "b", "does not hold"]
    assert body[0][0][1] == "c1"  # the claim's name in bold
    styles = {body[i][4][2] for i in range(3)} | {body[1][2][2]}
    assert len(styles) == 4 and all(styles)  # the four verdicts are styled, each differently


def test_frame_html_formats_floats_and_escapes_text():
    frame = pd.DataFrame({"name": ["a<b", "c"], "n": [3, 4], "value": [1.25, float("nan")]},
                         index=pd.Index(["r1", "r2"], name="key"))
    header, body = _grid(tables.frame_html(frame, caption="A & B"))
    assert header == ["key", "name", "n", "value"]
    assert [_texts(row) for row in body] == [["r1", "a<b", "3", "1.2"], ["r2", "c", "4", "–"]]
    header, body = _grid(tables.frame_html(frame, index=False))
    assert header == ["name", "n", "value"]
    header, _ = _grid(tables.frame_html(frame.rename_axis(None)))  # an unnamed index is not shown
    assert header == ["name", "n", "value"]


# ------------------------------------------------------------------------------------------------
# reproduction_html


def _numbers(comparable: bool) -> pd.DataFrame:
    rows = [
        # within: |84.0 - 84.5| = 0.5 ≤ 3; outside: |90.0 - 97.0| = 7 > max(2 · 1.5, 3)
        {"table": "I", "row": "openl3 · SVM", "published row": "OSVM", "task": "T1", "paper task": "T1",
         "published": 84.5, "mean": 84.0, "std": 1.0, "n": 3, "difference": -0.5, "within": True},
        {"table": "I", "row": "openl3 · SVM", "published row": "OSVM", "task": "T2", "paper task": "T2",
         "published": 97.0, "mean": 90.0, "std": 1.5, "n": 3, "difference": -7.0, "within": False},
        {"table": "II", "row": "baseline CNN", "published row": "Basel.", "task": "T1", "paper task": "T1",
         "published": 53.0, "mean": 55.0, "std": 0.0, "n": 1, "difference": 2.0, "within": True},
    ]
    return pd.DataFrame(rows).assign(comparable=comparable)


def test_reproduction_marks_cells_within_and_outside_the_tolerance():
    header, body = _grid(tables.reproduction_html(_numbers(True)))
    assert header == ["table · published row / this profile's row", "T1", "T2"]
    assert _texts(body[0]) == ["I · OSVM openl3 · SVM", "84.0 ✓ ± 1.0 84.5", "90.0 ✗ ± 1.5 97.0"]
    assert _texts(body[1]) == ["II · Basel. baseline CNN", "55.0 ✓ 1 run 53.0", "–"]
    within, outside = body[0][1][2], body[0][2][2]
    assert "background" in within and "background" in outside and within != outside
    assert body[1][1][2] == within  # the same verdict, the same colour
    for css in (within, outside):  # not the green / red pair colour-blind readers cannot tell apart
        assert not re.search(r"#e6f4ea|#fdecea|green|red\b", css)


def test_reproduction_on_other_data_has_neither_marks_nor_colours():
    header, body = _grid(tables.reproduction_html(_numbers(False)))
    assert _texts(body[0]) == ["I · OSVM openl3 · SVM", "84.0 ± 1.0 84.5", "90.0 ± 1.5 97.0"]
    assert all(cell[2] == "" for row in body for cell in row)


def test_reproduction_header_names_the_paper_task_of_a_stand_in():
    numbers = _numbers(False).assign(task=["D1", "D2", "D1"])
    header, _ = _grid(tables.reproduction_html(numbers))
    assert header[1:] == ["D1 (T1)", "D2 (T2)"]


def test_reproduction_without_counterparts_says_so():
    assert "No row of this profile has a published counterpart" in tables.reproduction_html(_numbers(True).iloc[:0])


# ------------------------------------------------------------------------------------------------
# The markup the book relies on


def test_every_table_carries_the_book_class_and_renders_the_same_twice():
    frame = results_frame(SMALL)
    renders = [lambda: tables.table_html(StandIn(), frame), lambda: tables.paper_table_html("V"),
               lambda: tables.reproduction_html(_numbers(True)), lambda: tables.frame_html(frame)]
    for render in renders:
        first = render()
        assert _soup(first).select("table.evalkit-table"), "the book's CSS styles table.evalkit-table"
        assert render() == first  # the same table, the same HTML (a rebuild does not change the pages)


def test_pandas_styler_options_of_a_notebook_do_not_change_the_tables():
    frame = results_frame(SMALL)
    expected = tables.table_html(StandIn(), frame)
    with pd.option_context("styler.format.escape", "html", "styler.format.decimal", ",",
                           "styler.format.thousands", ".", "styler.render.max_columns", 2,
                           "styler.render.max_rows", 1, "styler.format.na_rep", "n/a"):
        assert tables.table_html(StandIn(), frame) == expected
