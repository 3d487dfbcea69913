"""The quick look: a reduced demo profile that computes something for every page and says on page 1 what it leaves
out."""
from __future__ import annotations

from evalkit.book import NOTEBOOK_SECTIONS
from evalkit.book.display import build_banner
from evalkit.book.plan import plan, section_runs
from evalkit.book.profiles import load_profile


def test_the_quick_profile_gives_every_page_runs_from_fewer_tasks_than_the_demo():
    quick, demo = load_profile("quick"), load_profile("demo")
    assert set(quick.tasks) < set(demo.tasks)
    for page, sections in NOTEBOOK_SECTIONS.items():
        needs = [s for s in sections if section_runs(demo, s)]
        assert all(section_runs(quick, s) for s in needs if s != "vggish"), page
    assert sum(r.repetitions for r in plan(quick)) < sum(r.repetitions for r in plan(demo)) / 4


def test_page_one_of_a_reduced_profile_quotes_what_it_leaves_out():
    quick, demo = load_profile("quick"), load_profile("demo")
    assert quick.description.strip() in build_banner(quick)
    assert demo.description.strip() not in build_banner(demo)  # the demo itself leaves nothing out
