"""Wall time of a cold and a warm book build, measured side by side in one run.

Cold: an empty data folder (no demo audio, no cached embeddings, no stored results) and an empty book folder, so
everything is generated, extracted, trained and rendered. Warm: the same command again right after, with
everything cached. Usage::

    python benchmarks/book_build.py                    # demo profile (what `make book` builds)
    python benchmarks/book_build.py --profile test     # the reduced profile: a few minutes
    python benchmarks/book_build.py --keep /tmp/bench  # keep the data and the book for a look
    python benchmarks/book_build.py --workers 2        # build on a local Dask cluster of 2 processes

It prints the total of each build, the training time of each classifier (from the results store), the time of
every notebook (from the build's stamps) and the rest (audio generation, extraction, scoring, start-up), so a slow
step shows up. The builds run in child processes (`python -m evalkit book`), with ``EVALKIT_DATA`` pointing at the
benchmark's own data folder; the repository's ``data/`` is not touched.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build(profile: str, data: Path, output: Path, log: Path, options: list[str]) -> float:
    """One ``evalkit book`` run with the command-line ``options``; returns its wall time in seconds (the build's
    output goes to ``log``)."""
    env = {**os.environ, "EVALKIT_DATA": str(data), "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    with open(log, "a") as handle:
        command = [sys.executable, "-m", "evalkit", "book", "--profile", profile, "--output", str(output), *options]
        done = subprocess.run(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"book_build: the build failed (exit status {done.returncode}); see {log}")
    return seconds


def notebook_seconds(output: Path) -> dict[str, float]:
    """Seconds each notebook took in the last build that ran it (from ``book/_generated/.stamps``)."""
    from evalkit.book import NOTEBOOKS

    stamps = output / "book" / "_generated" / ".stamps"
    return {name: json.loads((stamps / f"{name}.json").read_text())["seconds"] for name in NOTEBOOKS
            if (stamps / f"{name}.json").exists()}


def training_seconds(data: Path) -> dict[str, tuple[int, float]]:
    """``{classifier: (fits, seconds)}`` of every repetition the build stored (``fit_seconds`` of the results store
    under ``data/results``), most time first; a classifier's name is its spec up to the first parenthesis."""
    totals: dict[str, list] = {}
    for config in data.glob("results/**/config.json"):
        name = str(json.loads(config.read_text())["classifier"]).split("(")[0]
        for rep in config.parent.glob("rep-*.json"):
            entry = totals.setdefault(name, [0, 0.0])
            entry[0] += 1
            entry[1] += float(json.loads(rep.read_text()).get("fit_seconds") or 0.0)
    return {name: (n, seconds) for name, (n, seconds) in sorted(totals.items(), key=lambda kv: -kv[1][1])}


def seconds_of(text: str) -> float:
    """Seconds of a duration as estimates print it (``"1 h 05 min"``, ``"4 min 10 s"``, ``"12 s"``)."""
    units = {"h": 3600, "min": 60, "s": 1}
    return float(sum(int(value) * units[unit] for value, unit in re.findall(r"(\d+) (h|min|s)\b", text)))


def estimated(log: Path) -> dict[str, float]:
    """The build's own estimate, as it printed it before working: the computing (its total line) and the rendering."""
    found = {}
    for line in log.read_text().splitlines():
        words = line.split()
        if words[:1] == ["total"] and "configurations to compute" in line:
            found.setdefault("computing", seconds_of(line.split("to compute", 1)[1]))
        elif words[:1] == ["rendering"]:
            found.setdefault("rendering", seconds_of(line.split("HTML" if "HTML" in line else ")", 1)[-1]))
    return found


def minutes(seconds: float) -> str:
    return f"{seconds / 60:5.1f} min ({seconds:6.0f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="demo", help="profile to build (default demo)")
    parser.add_argument("--keep", default=None, help="folder for the benchmark's data and book (default: temporary)")
    parser.add_argument("--workers", type=int, default=None,
                        help="build with `evalkit book --workers N` (a local Dask cluster of N processes)")
    args = parser.parse_args()
    options = [] if args.workers is None else ["--workers", str(args.workers)]

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="book-bench-"))
    data, output, log = root / "data", root / "book", root / "build.log"
    for folder in (data, output):
        shutil.rmtree(folder, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    print(f"book build benchmark: profile {args.profile}{' '.join(['', *options])}, {os.cpu_count()} CPU cores, Python "
          f"{platform.python_version()}; build output in {log}", flush=True)
    try:
        cold = build(args.profile, data, output, log, options)
        per_notebook = notebook_seconds(output)
        training = training_seconds(data)
        print(f"cold (nothing cached):    {minutes(cold)}", flush=True)
        print("  training, per classifier (fits, time):")
        for name, (fits, seconds) in training.items():
            print(f"    {name:20s} {fits:4d} fits, {minutes(seconds)}")
        print("  rendering, per notebook:")
        for name, seconds in per_notebook.items():
            print(f"    {name:20s} {minutes(seconds)}")
        rest = cold - sum(seconds for _, seconds in training.values()) - sum(per_notebook.values())
        print(f"  everything else (demo audio, extraction, scoring, start-up, HTML): {minutes(rest)}", flush=True)
        estimate = estimated(log)
        if estimate:
            total = sum(estimate.values())
            print(f"  the build's estimate before it started: {minutes(total)} "
                  f"({', '.join(f'{k} {v:.0f} s' for k, v in estimate.items())}); estimate / cold {total / cold:.2f} "
                  "(the cold time also holds the demo audio and this machine's calibration, which it does not estimate)")
        warm = build(args.profile, data, output, log, options)
        print(f"warm (everything cached): {minutes(warm)}")
        print(f"warm / cold: {warm / cold:.3f}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
