"""Compare two book builds: are the numbers the same, and if not, what moved?

    python scripts/compare_builds.py BEFORE AFTER                 # identical numbers? (exit 1 if not)
    python scripts/compare_builds.py --moved BEFORE AFTER         # what moved beyond one standard deviation
    python scripts/compare_builds.py --moved OLD NEW --before-data /elsewhere/data
    python scripts/compare_builds.py --record data/builds/NAME.json.gz BUILD --data DATA --note "machine ..."

BEFORE and AFTER are checkouts (or ``evalkit book --output`` folders) that each hold a built book
(``book/_generated/*.ipynb``); their data folders (``data/results``) are ``<root>/data`` unless ``--before-data`` /
``--after-data`` name them (an ``EVALKIT_DATA`` folder). Either may instead be a **build record** (``.json.gz``),
which ``--record`` writes: everything these comparisons read from a build (each stored repetition's accuracy and a
digest of each of its result fields, each notebook's glued values and table cells, the claims' verdicts) in a file
small enough to commit (``data/builds/``), so that a build can be compared with one made in another session, after
its data folder is gone.

Stored repetitions are paired by their **configuration** (task, embedding and its parameters, classifier spec,
fusion, pooling, training share, test share, seed) and repetition, not by the store's key digest: the key also holds
the fingerprint of the code and the package versions that computed it (and the CNN's arithmetic), which differ by
design between two builds of different code or on different stacks. Those provenance fields are reported, not compared.

Default mode (same code paths expected, e.g. after a refactor), compared exactly:

- every stored repetition: the same configurations on both sides, and per repetition the same accuracy, confusion
  matrix, per-file predictions and scores, training-set sizes and training histories (``fit_seconds`` is a timing),
  each field compared by the SHA-256 of its JSON text;
- every value glued for the book's prose (``{glue:text}`` numbers and texts) per notebook;
- the text of every table cell of every notebook output (HTML tags and whitespace ignored; markup may differ),
  except the provenance box, which names the commit, the date and the versions, and except measured times (a
  number of seconds, and the ratio of two, in the size claim's cost).

It prints what differs and exits 1 if anything does, 0 if the builds agree.

``--moved`` (a change that is expected to move numbers: another stack, another schedule): every claim's verdict on
both sides (from the reproduction page), and every table cell — a (task, embedding, classifier without its
parameters, fusion, pooling, training share) — whose mean accuracy over repetitions moved by more than one standard
deviation (the larger of the two sides'), or that only one side has. It always exits 0: it reports, the reader judges.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import statistics
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

#: Fields of a stored repetition that are not results: a timing, and the provenance of the code that computed it
#: (``results_version``: how stores before 14c7140 named their code's version).
IGNORED_FIELDS = {"fit_seconds", "code", "precision", "results_version"}
#: Measured times in table cells (the size claim quotes seconds of extraction and training and their ratio): timings,
#: which differ between two runs of the same build, so the default mode leaves them out of the comparison.
TIMINGS = re.compile(r"\d+(?:\.\d+)? s\b|A/B = \d+(?:\.\d+)?")
#: The claims table's first header cell (:func:`evalkit.book.tables.claims_html`) and its number of columns.
CLAIMS_HEADER, CLAIMS_COLUMNS = "claim and rule", 5


def configuration(config: dict) -> dict:
    """A stored configuration without its provenance: the code fingerprints and package versions (of the
    repetition and of its embedding) and the CNN's arithmetic."""
    plain = {k: v for k, v in config.items() if k not in IGNORED_FIELDS}
    if isinstance(plain.get("embedding"), dict):
        plain["embedding"] = {k: v for k, v in plain["embedding"].items() if k != "code"}
    return plain


def _digest(value) -> str:
    """SHA-256 of a stored value's JSON text (keys sorted): equal digests, equal values."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:24]


def _reps(data: Path) -> dict[str, dict]:
    """``{configuration and repetition as text: {"accuracy": ..., "fields": {field: digest}}}`` of a data folder's
    result store (the embedding's code fingerprint and the ignored fields left out)."""
    reps = {}
    for path in sorted((data / "results").glob("*/*/rep-*.json")):
        rep = json.loads(path.read_text())
        config = configuration(json.loads((path.parent / "config.json").read_text()))
        fields = {k: v for k, v in rep.items() if k not in IGNORED_FIELDS}
        if isinstance(fields.get("embedding"), dict):
            fields["embedding"] = configuration({"embedding": fields["embedding"]})["embedding"]
        reps[json.dumps({**config, "repetition": rep.get("repetition", path.stem)}, sort_keys=True)] = {
            "accuracy": float(rep["accuracy"]), "fields": {k: _digest(v) for k, v in sorted(fields.items())}}
    return reps


def _label(identity: str) -> str:
    """A short readable name of a paired repetition or cell for the report."""
    config = json.loads(identity)
    embedding = config.get("embedding")
    if isinstance(embedding, dict):
        params = ", ".join(f"{k}={v}" for k, v in sorted((embedding.get("params") or {}).items())
                           if k not in ("window", "hop"))
        embedding = embedding.get("name", "?") + (f"({params})" if params else "")
    parts = [config.get("task"), embedding, config.get("classifier"), config.get("fusion"),
             f"{100 * float(config.get('train_fraction', 0)):.0f} %"]
    if config.get("pooling") and config.get("fusion") == "early":
        parts.insert(4, config["pooling"])
    text = " · ".join(str(p) for p in parts)
    return text + (f" · rep {config['repetition']}" if "repetition" in config else "")


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


def _tables(path: Path) -> tuple[dict, list[list[str]]]:
    """The glued values of a notebook and the cell texts of each HTML output (the provenance box left out)."""
    notebook = json.loads(path.read_text())
    glued, tables = {}, []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            scrap = output.get("metadata", {}).get("scrapbook")
            if scrap:
                glued[scrap["name"]] = "".join(data.get("text/plain", ""))
            elif "text/html" in data and "evalkit-provenance" not in "".join(data["text/html"]):
                parser = _Cells()  # (the provenance box names the commit, date and versions: it differs by design)
                parser.feed("".join(data["text/html"]))
                tables.append([c for c in parser.cells if c])
    return glued, tables


def _normalise(cells: list[str]) -> list[str]:
    """Cell texts without marks added for readers (✓ / ✗), whose presence is markup, not a number."""
    return [re.sub(r"\s*[✓✗]\s*", " ", c).strip() for c in cells]


def claims(root: Path) -> dict[str, str]:
    """``{claim: verdict on this build's data}`` from the claims table of the build's reproduction page."""
    path = root / "book" / "_generated" / "reproduction.ipynb"
    if not path.exists():
        return {}
    for table in _tables(path)[1]:
        if table and table[0] == CLAIMS_HEADER:
            rows = table[CLAIMS_COLUMNS:]
            return {row[0].split("“")[0].strip(): row[-1] for row in
                    (rows[i:i + CLAIMS_COLUMNS] for i in range(0, len(rows) - CLAIMS_COLUMNS + 1, CLAIMS_COLUMNS))}
    return {}


def load(root: Path, data: Path | None = None) -> dict:
    """What the comparisons read from a build: a build record file as it was written, or from a built checkout
    (``root``) and its data folder (``data``, default ``root/data``).

    Returns ``{"repetitions": {identity: {"accuracy", "fields"}}, "notebooks": {name: {"glued", "cells"}},
    "claims": {claim: verdict}}`` (a record also has ``"record"``, ``"commit"`` and ``"note"``).
    """
    if root.is_file():
        with gzip.open(root, "rt") as stream:
            return json.load(stream)
    notebooks = {}
    for notebook in sorted((root / "book" / "_generated").glob("*.ipynb")):
        glued, tables = _tables(notebook)
        notebooks[notebook.name] = {"glued": glued, "cells": _normalise([c for table in tables for c in table])}
    return {"repetitions": _reps(data or root / "data"), "notebooks": notebooks, "claims": claims(root)}


def record(root: Path, output: Path, *, data: Path | None = None, note: str = "") -> dict:
    """Write the build record of ``root`` (and ``data``) to ``output`` (gzip-compressed JSON); returns it."""
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    build = {"record": 1, "commit": commit.stdout.strip() if commit.returncode == 0 else None, "note": note,
             **load(root, data)}
    output.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(output, "wb", mtime=0) as stream:  # (mtime 0: the same build gives the same bytes)
        stream.write(json.dumps(build, sort_keys=True, separators=(",", ":")).encode())
    return build


def compare(before: dict, after: dict) -> list[str]:
    """Every difference of numbers between two builds as :func:`load` returns them (empty: they agree)."""
    problems = []
    old, new = before["repetitions"], after["repetitions"]
    for key in sorted(set(old) ^ set(new)):
        problems.append(f"repetition only {'before' if key in old else 'after'}: {_label(key)}")
    for key in sorted(set(old) & set(new)):
        a, b = old[key]["fields"], new[key]["fields"]
        for field in sorted(set(a) | set(b)):
            if a.get(field) != b.get(field):
                problems.append(f"{_label(key)}: {field} differs")
    print(f"repetitions: {len(old)} before, {len(new)} after, {len(set(old) & set(new))} in both")
    for name, notebook in before["notebooks"].items():
        other = after["notebooks"].get(name)
        if other is None:
            problems.append(f"{name}: missing after")
            continue
        glued_a, glued_b = notebook["glued"], other["glued"]
        for key in sorted(set(glued_a) | set(glued_b)):
            if glued_a.get(key) != glued_b.get(key):
                problems.append(f"{name}: glued {key}: {glued_a.get(key)!r} -> {glued_b.get(key)!r}")
        cells_a, cells_b = ([TIMINGS.sub("(time)", c) for c in side["cells"]] for side in (notebook, other))
        only_a = [c for c in cells_a if c not in cells_b]
        only_b = [c for c in cells_b if c not in cells_a]
        if only_a or only_b:
            problems.append(f"{name}: table cells differ: {only_a[:5]} -> {only_b[:5]}")
        print(f"{name}: {len(glued_a)} glued values, {len(notebook['cells'])} table cells compared")
    return problems


def cells(build: dict) -> dict[str, list[float]]:
    """``{table cell: accuracies of its repetitions}``; a cell is a configuration with the classifier's name
    without its parameters (a CNN with another schedule is the same cell), without the digest of the task's file
    list (the same task with more or fewer files is the same cell) and without the repetition."""
    out: dict[str, list[float]] = {}
    for identity, rep in build["repetitions"].items():
        config = json.loads(identity)
        config.pop("repetition")
        config.pop("task_files", None)
        config["classifier"] = str(config.get("classifier", "")).split("(")[0]
        out.setdefault(json.dumps(config, sort_keys=True), []).append(rep["accuracy"])
    return out


def moved(before: dict, after: dict) -> list[str]:
    """The report of ``--moved``: claims' verdicts side by side, then the cells that moved beyond one std."""
    lines = []
    verdicts_a, verdicts_b = before["claims"], after["claims"]
    lines.append(f"claims ({len(verdicts_a)} before, {len(verdicts_b)} after):")
    for claim in dict.fromkeys([*verdicts_a, *verdicts_b]):
        a, b = verdicts_a.get(claim, "—"), verdicts_b.get(claim, "—")
        lines.append(f"  {'  ' if a == b else '* '}{claim}: {a} -> {b}")
    old, new = cells(before), cells(after)
    moves = []
    for cell in sorted(set(old) | set(new)):
        if cell not in old or cell not in new:
            moves.append(f"  only {'before' if cell in old else 'after'}: {_label(cell)}")
            continue
        a, b = old[cell], new[cell]
        sd = max(statistics.stdev(a) if len(a) > 1 else 0.0, statistics.stdev(b) if len(b) > 1 else 0.0)
        shift = statistics.fmean(b) - statistics.fmean(a)
        if abs(shift) > sd:
            # the store keeps accuracies in percent
            moves.append(f"  {_label(cell)}: {statistics.fmean(a):.1f} -> {statistics.fmean(b):.1f} "
                         f"({shift:+.1f} points; larger std {sd:.1f}; repetitions {len(a)} -> {len(b)})")
    lines.append(f"table cells: {len(set(old) & set(new))} on both sides, {len(moves)} moved beyond one std or on "
                 "one side only:")
    return lines + moves


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="a built checkout or a build record (with --record: the build)")
    parser.add_argument("after", type=Path, nargs="?", help="a built checkout or a build record")
    parser.add_argument("--moved", action="store_true", help="report what moved beyond one std (always exits 0)")
    parser.add_argument("--before-data", type=Path, help="BEFORE's data folder (default BEFORE/data)")
    parser.add_argument("--after-data", type=Path, help="AFTER's data folder (default AFTER/data)")
    parser.add_argument("--record", type=Path, metavar="FILE",
                        help="write BEFORE's build record to FILE (.json.gz) instead of comparing")
    parser.add_argument("--data", type=Path, help="with --record: the build's data folder (default BUILD/data)")
    parser.add_argument("--note", default="", help="with --record: what to say of the build (machine, conv peak)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.record is not None:
        if args.after is not None or args.moved:
            parser.error("--record takes one build and compares nothing")
        if not str(args.record).endswith(".json.gz"):
            parser.error(f"--record {args.record}: a build record's name ends in .json.gz")
    elif args.after is None:
        parser.error("two builds to compare are needed (or --record FILE with one)")
    elif args.data is not None or args.note:
        parser.error("--data and --note describe the build --record writes; to compare, use --before-data/--after-data")
    for name in ("before", "after", "before_data", "after_data", "data"):
        path = getattr(args, name)
        if path is None:
            continue
        if name in ("before", "after") and path.is_file() and args.record is None:
            if not str(path).endswith(".json.gz"):
                parser.error(f"{name} {path} is a file but not a build record (.json.gz)")
            if getattr(args, f"{name}_data") is not None:
                parser.error(f"{name} {path} is a build record: it holds its data, --{name}-data does not apply")
        elif not path.is_dir():
            parser.error(f"{name.replace('_', '-')} {path} is not a folder")
        elif name in ("before", "after") and not (path / "book" / "_generated").is_dir():
            parser.error(f"{name} {path} holds no built book (book/_generated): build it or name a record")
    if args.record is not None:
        build = record(args.before, args.record, data=args.data, note=args.note)
        print(f"{args.record}: {len(build['repetitions'])} repetitions, {len(build['notebooks'])} notebooks, "
              f"{len(build['claims'])} claims ({args.record.stat().st_size / 1e3:.0f} kB)")
        return 0
    builds = []
    for name in ("before", "after"):
        path = getattr(args, name)
        try:
            build = load(path, getattr(args, f"{name}_data"))
        except (OSError, EOFError, ValueError) as error:  # not gzip, cut short, not JSON
            parser.error(f"{name} {path} is not a readable build record: {error}")
        if path.is_file() and build.get("record") != 1:
            parser.error(f"{name} {path}: a build record of format {build.get('record')!r}; this script reads format 1")
        builds.append(build)
    before, after = builds
    if args.moved:
        print("\n".join(moved(before, after)))
        return 0
    problems = compare(before, after)
    for line in problems:
        print("DIFFERS:", line)
    print("the builds agree" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
