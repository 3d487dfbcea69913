"""Compare two book builds: are the numbers the same?

    python scripts/compare_builds.py BEFORE AFTER

BEFORE and AFTER are checkouts (or folders) that each hold a built book (``book/_generated/*.ipynb``) and their data
folder (``data/results``). Compared:

- every stored repetition (``data/results/<task>/<key digest>/rep-NN.json``): the same key digests on both sides
  (so the configuration keys are identical), and per repetition the same accuracy, confusion matrix, per-file
  predictions and scores, training-set sizes and training histories (``fit_seconds`` is a timing, not a result);
- every value glued for the book's prose (``{glue:text}`` numbers and texts) per notebook;
- the text of every table cell of every notebook output (HTML tags and whitespace ignored; markup may differ),
  except the provenance box, which names the commit, the date and the versions.

Prints what differs and exits 1 if anything does, 0 if the builds agree.
"""
from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

IGNORED_FIELDS = {"fit_seconds"}


def _reps(root: Path) -> dict[str, dict]:
    results = root / "data" / "results"
    return {str(p.relative_to(results)): json.loads(p.read_text()) for p in sorted(results.glob("*/*/rep-*.json"))}


class _Cells(HTMLParser):
    """Text of each table cell of an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.cells, self.current = [], None

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self.current = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.current is not None:
            self.cells.append(" ".join("".join(self.current).split()))
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current.append(data)


def _notebook_numbers(path: Path) -> tuple[dict, list[str]]:
    notebook = json.loads(path.read_text())
    glued, cells = {}, []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            scrap = output.get("metadata", {}).get("scrapbook")
            if scrap:
                glued[scrap["name"]] = "".join(data.get("text/plain", ""))
            elif "text/html" in data and "evalkit-provenance" not in "".join(data["text/html"]):
                parser = _Cells()  # (the provenance box names the commit, date and versions: it differs by design)
                parser.feed("".join(data["text/html"]))
                cells += [c for c in parser.cells if c]
    return glued, cells


def _normalise(cells: list[str]) -> list[str]:
    """Cell texts without marks added for readers (✓ / ✗), whose presence is markup, not a number."""
    return [re.sub(r"\s*[✓✗]\s*", " ", c).strip() for c in cells]


def compare(before: Path, after: Path) -> list[str]:
    problems = []
    old, new = _reps(before), _reps(after)
    for key in sorted(set(old) ^ set(new)):
        problems.append(f"repetition only {'before' if key in old else 'after'}: {key}")
    for key in sorted(set(old) & set(new)):
        a = {k: v for k, v in old[key].items() if k not in IGNORED_FIELDS}
        b = {k: v for k, v in new[key].items() if k not in IGNORED_FIELDS}
        for field in sorted(set(a) | set(b)):
            if a.get(field) != b.get(field):
                problems.append(f"{key}: {field} differs")
    print(f"repetitions: {len(old)} before, {len(new)} after, {len(set(old) & set(new))} in both")
    for notebook in sorted((before / "book" / "_generated").glob("*.ipynb")):
        other = after / "book" / "_generated" / notebook.name
        if not other.exists():
            problems.append(f"{notebook.name}: missing after")
            continue
        (glued_a, cells_a), (glued_b, cells_b) = _notebook_numbers(notebook), _notebook_numbers(other)
        for name in sorted(set(glued_a) | set(glued_b)):
            if glued_a.get(name) != glued_b.get(name):
                problems.append(f"{notebook.name}: glued {name}: {glued_a.get(name)!r} -> {glued_b.get(name)!r}")
        cells_a, cells_b = _normalise(cells_a), _normalise(cells_b)
        only_a = [c for c in cells_a if c not in cells_b]
        only_b = [c for c in cells_b if c not in cells_a]
        if only_a or only_b:
            problems.append(f"{notebook.name}: table cells differ: {only_a[:5]} -> {only_b[:5]}")
        print(f"{notebook.name}: {len(glued_a)} glued values, {len(cells_a)} table cells compared")
    return problems


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    problems = compare(Path(args[0]), Path(args[1]))
    for line in problems:
        print("DIFFERS:", line)
    print("the builds agree" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
