"""``evalkit book``: run the notebooks on a profile with papermill, then build the HTML book with Jupyter Book.

::

    evalkit book                      # demo profile -> _build/html/index.html
    evalkit book --profile paper      # the paper's data (see `evalkit data check`)
    evalkit book --profile my.yaml --force

Each notebook of :data:`NOTEBOOKS` is executed with ``profile`` set into ``book/_generated/<name>.ipynb``
(git-ignored). A notebook is skipped when nothing it depends on changed since its last successful run:
the notebook file, the profile, the evalkit sources, the task data, and the stored results it read
(every :meth:`evalkit.profiles.Profile.run` call is logged, so the build knows which result files a
notebook used). ``--force`` reruns every notebook; stored repetitions in ``data/results`` and cached
embeddings in ``data/cache`` are reused either way (delete them to recompute).

A failing notebook stops the build with its name, the cell and the error; the executed notebook with
the traceback stays in ``book/_generated/`` for inspection.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .config import REPO_ROOT

#: The book's notebooks in build order (the first ones compute what later ones reuse).
NOTEBOOKS = ["detailed_results", "results_tables", "confusion_matrices", "baseline_models", "learning_curve",
             "reproduction", "teaching"]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
GENERATED = Path("book") / "_generated"
#: Book sources copied when building into another folder (``--output``).
BOOK_SOURCES = ["_config.yml", "_toc.yml", "book"]


class BookError(RuntimeError):
    """The book could not be built; the message says which notebook, cell or step failed."""


def _say(message: str, end: str = "\n") -> None:
    print(message, end=end, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# What a notebook depends on


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def evalkit_source_hash() -> str:
    """Hash of the evalkit sources the notebooks use (every module except this build driver and the CLI)."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "evalkit").glob("*.py")):
        if path.name in ("book.py", "cli.py"):
            continue
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _data_fingerprint(profile) -> dict:
    """Fingerprint of each task's files (names, labels, sizes): new or changed data reruns the notebooks."""
    from .experiments import _task_fingerprint

    out = {}
    for task_id in profile.tasks:
        try:
            task = profile.task(task_id)
            if task.kind == "demo" and not (Path(task.root) / ".complete.json").exists():
                _say(f"generating demo data {task.id} into {task.root} (once) ...")
                task.prepare(progress=sys.stderr.isatty())
            out[str(task_id)] = _task_fingerprint(task)
        except Exception as error:  # noqa: BLE001 - the notebook will report the problem itself
            out[str(task_id)] = f"unavailable: {error}"
    return out


def _results_state(runs: list[dict]) -> dict:
    """Size and modification time of every stored repetition the logged runs read."""
    state = {}
    for run in runs:
        folder = run.get("folder")
        if not folder:
            return {"untracked": time.time()}  # cannot tell what was read: never skip
        for rep in range(int(run.get("repetitions", 0))):
            path = Path(folder) / f"rep-{rep:02d}.json"
            try:
                stat = path.stat()
                state[str(path)] = [stat.st_size, stat.st_mtime_ns]
            except OSError:
                state[str(path)] = None
    return state


def _inputs(name: str, notebook: Path, profile, parameters: dict, data: dict) -> dict:
    return {"notebook": _sha(notebook.read_bytes()), "profile": profile.fingerprint, "evalkit": evalkit_source_hash(),
            "parameters": parameters, "data": data}


def _is_current(stamp_path: Path, output: Path, inputs: dict) -> bool:
    if not stamp_path.exists() or not output.exists():
        return False
    try:
        stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        return False
    if stamp.get("inputs") != inputs:
        return False
    recorded = stamp.get("results", {})
    if "untracked" in recorded:
        return False
    for path, value in recorded.items():
        try:
            stat = Path(path).stat()
        except OSError:
            return False
        if value != [stat.st_size, stat.st_mtime_ns]:
            return False
    return True


# ------------------------------------------------------------------------------------------------
# Running the notebooks


class _Progress:
    """Tails the run log a notebook's kernel appends to and reports the configurations it computes."""

    def __init__(self, log: Path, label: str):
        self.log, self.label, self.stop = log, label, threading.Event()
        self.tty = sys.stderr.isatty()
        self.computed, self.loaded, self.offset = 0, 0, 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self._poll()
        if self.tty:
            _say("\r\033[K", end="")

    def _poll(self):
        try:
            with open(self.log) as handle:
                handle.seek(self.offset)
                lines = handle.readlines()
                self.offset = handle.tell()
        except OSError:
            return
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("started"):
                message = f"    computing {entry['what']} ({entry['repetitions']}×) ..."
                if self.tty:
                    _say(f"\r\033[K{message[:150]}", end="")
                else:
                    _say(message)
            elif entry.get("computed"):
                self.computed += 1
                message = f"    computed {entry['what']} ({entry['repetitions']}×, {entry['seconds']:.0f} s)"
                if self.tty:
                    _say(f"\r\033[K{message[:150]}", end="")
                else:
                    _say(message)
            else:
                self.loaded += 1

    def _run(self):
        while not self.stop.wait(1.0):
            self._poll()


#: ipykernel sometimes logs "Task was destroyed but it is pending!" for its own control task when papermill shuts
#: it down; harmless, but it reads like a failure in the build's output. Errors of the notebook's cells are
#: reported by papermill, not through this logger.
_QUIET_ASYNCIO = "--IPKernelApp.exec_lines=import logging; logging.getLogger('asyncio').setLevel(logging.CRITICAL)"


def _run_notebook(notebook: Path, output: Path, parameters: dict, log: Path, label: str) -> "_Progress":
    import papermill
    from papermill.exceptions import PapermillExecutionError

    previous = {key: os.environ.get(key) for key in ("EVALKIT_RUN_LOG", "PYTHONPATH")}
    os.environ["EVALKIT_RUN_LOG"] = str(log)
    # the kernel imports the evalkit of this checkout, installed or not
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), previous["PYTHONPATH"]]))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with _Progress(log, label) as progress:
            papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3",
                                       progress_bar=False, cwd=str(output.parent), start_timeout=120,
                                       extra_arguments=["--IPKernelApp.log_level=ERROR", _QUIET_ASYNCIO])
        return progress
    except PapermillExecutionError as error:
        source = next((line.strip() for line in (error.source or "").splitlines()
                       if line.strip() and not line.strip().startswith("#")), "")
        raise BookError(f"notebook {notebook.name} failed in cell {error.exec_count} (`{source[:80]}`): "
                        f"{error.ename}: {error.evalue}\n  the executed notebook with the full traceback: {output}") from None
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _tidy(output: Path) -> None:
    """Hide the parameter cells in the book (the provenance box on each page says what was run)."""
    import nbformat

    nb = nbformat.read(str(output), as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            cell.setdefault("metadata", {}).setdefault("tags", []).append("remove-cell")
    nbformat.write(nb, str(output))


def _prepare_root(output: Path | None) -> Path:
    """The folder the book is built in: the repository, or a copy of the book sources in ``output``."""
    if output is None:
        return REPO_ROOT
    output = Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    for name in BOOK_SOURCES:
        source, target = REPO_ROOT / name, output / name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("_generated"))
        else:
            shutil.copy2(source, target)
    return output


def _preflight(profile) -> None:
    """Stop before any work if data, packages or models are missing, listing every problem at once."""
    from .paper import check_profile

    problems = check_profile(profile)
    if problems:
        raise BookError(f"profile {profile.name} cannot run; {len(problems)} thing(s) missing or wrong:\n"
                        + "\n".join(f"  - {p}" for p in problems)
                        + "\n  (see `evalkit data check` and requirements-paper.txt)")


def run_notebooks(profile="demo", *, force: bool = False, root: Path | None = None, only=None) -> list[dict]:
    """Execute the book's notebooks on ``profile`` into ``<root>/book/_generated``; return one record per notebook."""
    from .profiles import load_profile

    profile = load_profile(profile)
    root = Path(root or REPO_ROOT)
    generated = root / GENERATED
    stamps = generated / ".stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    parameters = {"profile": str(profile.path.resolve()) if profile.path else profile.name}
    names = [n for n in NOTEBOOKS if not only or n in only]
    unknown = sorted(set(only or []) - set(NOTEBOOKS))
    if unknown:
        raise BookError(f"unknown notebook(s) {', '.join(unknown)}; valid: {', '.join(NOTEBOOKS)}")
    _say(f"evalkit book: profile {profile.name} ({profile.path or 'built in'}), {len(names)} notebooks -> {generated}")
    _preflight(profile)
    data = _data_fingerprint(profile)
    from .paper import compute_estimate, describe_estimate

    _say("work of this profile (finished work is reused):\n" + describe_estimate(compute_estimate(profile)))
    records = []
    for i, name in enumerate(names, 1):
        notebook = NOTEBOOK_DIR / f"{name}.ipynb"
        if not notebook.exists():
            raise BookError(f"notebook {notebook} is missing")
        output = generated / f"{name}.ipynb"
        stamp = stamps / f"{name}.json"
        inputs = _inputs(name, notebook, profile, parameters, data)
        prefix = f"[{i}/{len(names)}] {name}"
        if not force and _is_current(stamp, output, inputs):
            _say(f"{prefix}: unchanged, skipped")
            records.append({"notebook": name, "status": "skipped", "seconds": 0.0})
            continue
        _say(f"{prefix}: running ...")
        stamp.unlink(missing_ok=True)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "runs.jsonl"
            log.touch()
            progress = _run_notebook(notebook, output, parameters, log, name)
            runs = [entry for entry in map(json.loads, filter(str.strip, log.read_text().splitlines()))
                    if not entry.get("started")]
        _tidy(output)
        seconds = time.perf_counter() - started
        stamp.write_text(json.dumps({"inputs": inputs, "results": _results_state(runs), "seconds": seconds,
                                     "finished": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
        computed = progress.computed if progress else 0
        _say(f"{prefix}: done in {seconds:.0f} s ({len(runs)} configurations, {computed} computed)")
        records.append({"notebook": name, "status": "ran", "seconds": seconds, "configurations": len(runs)})
    return records


def build_html(root: Path | None = None, *, everything: bool = False) -> Path:
    """Build the HTML book with Jupyter Book (notebooks are not executed again); return ``_build/html``.

    ``everything`` rebuilds every page (needed when notebooks changed: other pages paste their numbers)."""
    root = Path(root or REPO_ROOT)
    command = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
               "build", str(root)] + (["--all"] if everything else [])
    _say("building HTML with jupyter-book ...")
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=str(root))
    text = done.stdout + done.stderr
    warnings = [line for line in text.splitlines() if "WARNING" in line]
    if done.returncode != 0 or "Traceback" in text and "Exception occurred" in text:
        tail = "\n".join(text.strip().splitlines()[-25:])
        raise BookError(f"jupyter-book build failed (exit status {done.returncode}):\n{tail}")
    html = root / "_build" / "html"
    for line in warnings[:20]:
        _say(f"  {line.strip()}")
    _say(f"HTML built in {time.perf_counter() - started:.0f} s ({len(warnings)} warnings): {html / 'index.html'}")
    return html


def build_book(profile="demo", *, force: bool = False, output=None, html: bool = True, only=None) -> Path:
    """Run the notebooks (skipping unchanged ones) and build the HTML; return the HTML folder.

    Parameters
    ----------
    profile : str, path or Profile
        ``"demo"``, ``"paper"``, ``"test"`` or a profile YAML file.
    force : bool
        Rerun every notebook (stored results and cached embeddings are still reused).
    output : path, optional
        Build a copy of the book sources in this folder (``<output>/_build/html``) instead of the repository.
    html : bool
        Build the HTML after running the notebooks.
    """
    root = _prepare_root(output)
    started = time.perf_counter()
    records = run_notebooks(profile, force=force, root=root, only=only)
    ran = any(r["status"] == "ran" for r in records)
    target = build_html(root, everything=ran) if html else root / "_build" / "html"
    _say(f"evalkit book: finished in {time.perf_counter() - started:.0f} s")
    return target


def cmd_book(args) -> None:
    try:
        build_book(args.profile, force=args.force, output=args.output, html=not args.no_html, only=args.only)
    except BookError as error:
        print(f"evalkit book: error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def register_cli(subparsers) -> None:
    """Add ``evalkit book`` to the command line."""
    book = subparsers.add_parser(
        "book", help="run the notebooks on a profile and build the results book (HTML)",
        description="Run every notebook of notebooks/ on a profile with papermill (unchanged notebooks are "
                    "skipped) and build the HTML book into _build/html with jupyter-book.")
    book.add_argument("--profile", default="demo",
                      help="demo (default: demo data, no network), paper (the paper's data), test (a quick "
                           "reduced run) or the path of a profile YAML file")
    book.add_argument("--force", action="store_true",
                      help="rerun every notebook even if nothing changed (stored results and embeddings are reused)")
    book.add_argument("--only", nargs="+", metavar="NOTEBOOK", help=f"run only these notebooks ({', '.join(NOTEBOOKS)})")
    book.add_argument("--no-html", action="store_true", help="run the notebooks but do not build the HTML")
    book.add_argument("--output", default=None,
                      help="build a copy of the book in this folder instead of the repository (<output>/_build/html)")
    book.set_defaults(func=cmd_book)
