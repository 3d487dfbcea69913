"""Screenshots of the built book: the index and every results page of ``_build/html`` into ``_build/screenshots/``.

Uses headless Chromium (``apt-get install chromium``, or set ``$CHROMIUM``). Usage::

    python scripts/screenshots.py [--html _build/html] [--out _build/screenshots] [--width 1280] [--height 6000]

Each page is captured at full width and up to ``--height`` pixels tall (long pages are cut), so a
reviewer can check how tables, figures and prose read without a browser.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = ["index.html", "book/introduction.html", "book/method.html", "book/results.html",
         "book/_generated/detailed_results.html", "book/_generated/results_tables.html",
         "book/_generated/confusion_matrices.html", "book/_generated/baseline_models.html",
         "book/_generated/learning_curve.html", "book/_generated/reproduction.html",
         "book/_generated/teaching.html", "book/rerun.html"]


def find_chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    sys.exit("screenshots: headless Chromium not found (apt-get install chromium, or set CHROMIUM=/path/to/chrome)")


def trim(target: Path) -> None:
    """Cut the blank stretch between the end of a short page's content and the footer (the capture is as tall
    as the window, and the theme pushes the footer to the bottom)."""
    try:
        import numpy as np
        from PIL import Image
    except ImportError:
        return
    with Image.open(target) as image:
        pixels = np.asarray(image.convert("RGB"))
    same = np.all(pixels[1:] == pixels[:-1], axis=(1, 2))  # row i+1 equals row i
    runs, start = [], None
    for i, flag in enumerate(same):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(same)))
    runs = [(a, b) for a, b in runs if b - a > 300]
    if runs:
        a, b = runs[-1]
        Image.fromarray(np.concatenate([pixels[: a + 40], pixels[b:]])).save(target)


def screenshot(chromium: str, url: str, target: Path, width: int, height: int) -> bool:
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                   f"--user-data-dir={profile}", f"--window-size={width},{height}", "--virtual-time-budget=5000",
                   f"--screenshot={target}", url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return done.returncode == 0 and target.exists() and target.stat().st_size > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", default=str(REPO / "_build" / "html"), help="the built book (default _build/html)")
    parser.add_argument("--out", default=str(REPO / "_build" / "screenshots"), help="output folder")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=10000, help="page height captured (long pages are cut)")
    parser.add_argument("--pages", nargs="*", default=None, help="pages relative to the HTML folder (default: index and results pages)")
    args = parser.parse_args()

    html, out = Path(args.html).resolve(), Path(args.out).resolve()
    if not (html / "index.html").exists():
        sys.exit(f"screenshots: {html / 'index.html'} not found; build the book first (make book)")
    out.mkdir(parents=True, exist_ok=True)
    chromium = find_chromium()
    failed = []
    for page in args.pages or PAGES:
        path = html / page
        if not path.exists():
            print(f"  missing page {page}")
            failed.append(page)
            continue
        target = out / (page.replace("/", "__").removesuffix(".html") + ".png")
        ok = screenshot(chromium, path.as_uri(), target, args.width, args.height)
        if ok:
            trim(target)
        print(f"  {'ok  ' if ok else 'FAIL'} {target.relative_to(out.parent) if out.parent in target.parents else target}")
        if not ok:
            failed.append(page)
    print(f"{len(args.pages or PAGES) - len(failed)} screenshots in {out}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
