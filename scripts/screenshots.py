"""Screenshots of the built book: every page of ``_build/html`` (the table of contents) into ``_build/screenshots/``.

Uses headless Chromium (``apt-get install chromium``, or set ``$CHROMIUM``). Usage::

    python scripts/screenshots.py [--html _build/html] [--out _build/screenshots] [--width 1280] [--height 10000]
                                  [--dark] [--scrolled] [--pages PAGE ...]

Each page is captured at ``--width`` CSS pixels (390: a phone) and up to ``--height`` pixels tall (long pages are
cut), in the light theme or, with ``--dark``, in the dark one (the browser asks for a dark colour scheme, which the
book's theme follows), so a reviewer can check how tables, figures and prose read without a browser. With
``--scrolled`` every wide output is scrolled to its right end first (on a phone: is the row-name column still in
view?). File names end in ``-<width>-<light|dark>[-scrolled].png``.
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


def toc_pages(toc: Path = REPO / "_toc.yml") -> list[str]:
    """Every page of the book's table of contents (``_toc.yml``), as HTML paths relative to the build folder."""
    import yaml

    data = yaml.safe_load(toc.read_text())

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                yield entry["file"] + ".html"
            yield from walk(entry.get("sections"))

    return [data["root"] + ".html", *walk(data.get("chapters"))]


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


#: Appended to a copy of a page for ``--scrolled``: scroll every box that scrolls sideways (tables of evalkit in
#: notebook outputs, the theme's boxes around Markdown tables) to its right end.
SCROLL_SCRIPT = ("<script>window.addEventListener('load', () => document.querySelectorAll('div.cell_output, "
                 "div.cell_output *, .pst-scrollable-table-container').forEach(element => { "
                 "if (element.scrollWidth > element.clientWidth) element.scrollLeft = element.scrollWidth; }));</script>")


def scrolled_copy(path: Path) -> Path:
    """A copy of the page next to it (so that its relative links work) that scrolls its wide outputs right."""
    copy = path.with_name(f".scrolled-{path.name}")
    copy.write_text(path.read_text(encoding="utf-8").replace("</body>", SCROLL_SCRIPT + "</body>"), encoding="utf-8")
    return copy


#: Headless Chromium lays a page out at least this wide (CSS pixels), whatever ``--window-size`` says, and a
#: narrower capture would show the left part of a wider layout: narrower widths are shown in an iframe of that width.
MIN_WINDOW_WIDTH = 500


def framed_copy(path: Path, width: int, height: int) -> Path:
    """A page next to ``path`` that shows it in an iframe ``width`` CSS pixels wide (its own viewport, so the book's
    phone layout applies)."""
    frame = path.with_name(f".framed-{path.name}")
    frame.write_text(f"<!DOCTYPE html><html><body style='margin:0'><iframe src='{path.name}' style='border:0;"
                     f"width:{width}px;height:{height}px;display:block'></iframe></body></html>", encoding="utf-8")
    return frame


def screenshot(chromium: str, path: Path, target: Path, width: int, height: int, dark: bool = False) -> bool:
    """Capture the page ``path`` ``width`` CSS pixels wide and ``height`` tall into the PNG ``target``."""
    framed = framed_copy(path, width, height) if width < MIN_WINDOW_WIDTH else None
    try:
        with tempfile.TemporaryDirectory() as profile:
            # preferredColorScheme: 0 = dark, 1 = light (Blink's enum); the theme's "auto" mode follows it
            scheme = f"--blink-settings=preferredColorScheme={0 if dark else 1}"
            command = [chromium, scheme, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                       "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                       f"--user-data-dir={profile}", f"--window-size={max(width, MIN_WINDOW_WIDTH)},{height}",
                       "--virtual-time-budget=5000", f"--screenshot={target}", (framed or path).as_uri()]
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        if framed:
            framed.unlink()
    ok = done.returncode == 0 and target.exists() and target.stat().st_size > 0
    if ok and framed:
        from PIL import Image

        with Image.open(target) as image:
            cropped = image.crop((0, 0, width, image.height))
        cropped.save(target)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", default=str(REPO / "_build" / "html"), help="the built book (default _build/html)")
    parser.add_argument("--out", default=str(REPO / "_build" / "screenshots"), help="output folder")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=10000, help="page height captured (long pages are cut)")
    parser.add_argument("--dark", action="store_true", help="the dark colour scheme (default: light)")
    parser.add_argument("--scrolled", action="store_true", help="wide outputs scrolled to their right end")
    parser.add_argument("--pages", nargs="*", default=None,
                        help="pages relative to the HTML folder (default: every page of _toc.yml), e.g. teaching.html of "
                             "`make teach` with --html _build/teach")
    args = parser.parse_args()

    html, out = Path(args.html).resolve(), Path(args.out).resolve()
    if not args.pages and not (html / "index.html").exists():
        sys.exit(f"screenshots: {html / 'index.html'} not found; build the book first (make book)")
    out.mkdir(parents=True, exist_ok=True)
    chromium = find_chromium()
    failed = []
    pages = args.pages or toc_pages()
    suffix = f"-{args.width}-{'dark' if args.dark else 'light'}{'-scrolled' if args.scrolled else ''}"
    for page in pages:
        path = html / page
        if not path.exists():
            print(f"  missing page {page}")
            failed.append(page)
            continue
        target = out / (page.replace("/", "__").removesuffix(".html") + suffix + ".png")
        shown = scrolled_copy(path) if args.scrolled else path
        try:
            ok = screenshot(chromium, shown, target, args.width, args.height, dark=args.dark)
        finally:
            if shown != path:
                shown.unlink()
        if ok:
            trim(target)
        print(f"  {'ok  ' if ok else 'FAIL'} {target.relative_to(out.parent) if out.parent in target.parents else target}")
        if not ok:
            failed.append(page)
    print(f"{len(pages) - len(failed)} screenshots in {out}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
