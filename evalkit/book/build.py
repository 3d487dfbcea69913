"""``evalkit book``: run the notebooks on a profile with papermill, then build the HTML book with Jupyter Book.

::

    evalkit book                      # demo profile -> _build/html/index.html
    evalkit book --profile paper      # the paper's data (see `evalkit data check`)
    evalkit book --profile my.yaml --force

First every configuration of the profile's :func:`~evalkit.book.plan.plan` is computed (one progress bar over
configurations; finished repetitions are kept in the result store, so an interrupted build resumes). Then each
notebook of :data:`NOTEBOOKS` is executed with ``profile`` set into ``book/_generated/<name>.ipynb`` (git-ignored),
:data:`NOTEBOOK_WORKERS` at a time, each in its own kernel: the notebooks only read and render. A notebook is
skipped when nothing it depends on changed since its last successful run: the notebook file, the profile, the
evalkit sources, the task data, and the stored results of its sections (:data:`~evalkit.book.plan.NOTEBOOK_SECTIONS`).
``--force`` reruns every notebook; stored repetitions in ``data/results`` and cached embeddings in ``data/cache``
are reused either way (delete them to recompute).

A failing notebook stops the build with its name, the cell and the error; the executed notebook with the traceback
stays in ``book/_generated/`` for inspection.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..config import PACKAGE_DIR, REPO_ROOT, EvalkitError, data_dir, resource_path
from . import NOTEBOOK_SECTIONS, NOTEBOOKS
from ..learn.calibration import Calibration
from .plan import compute, describe_cost, missing, plan, results_state
from .preflight import check_profile, describe_estimate, estimate
from .profiles import load_profile, profile_path
from .rendering import NOTEBOOK_WORKERS, describe_rendering

GENERATED = Path("book") / "_generated"
#: Book sources copied when building outside the checkout (``--output``, or an installed package).
BOOK_SOURCES = ["_config.yml", "_toc.yml", "book"]


class BookError(EvalkitError, RuntimeError):
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
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        if relative in ("book/build.py", "cli.py"):
            continue
        digest.update(relative.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _data_fingerprint(profile) -> dict:
    """Fingerprint of each task's files (names, labels, sizes): new or changed data reruns the notebooks."""
    return {str(task_id): profile.fingerprint_of(task_id) for task_id in profile.tasks}


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


#: ipykernel sometimes logs "Task was destroyed but it is pending!" for its own control task when papermill shuts
#: it down; harmless, but it reads like a failure in the build's output. Errors of the notebook's cells are
#: reported by papermill, not through this logger.
_QUIET_ASYNCIO = "--IPKernelApp.exec_lines=import logging; logging.getLogger('asyncio').setLevel(logging.CRITICAL)"


def notebook_profile_parameter(profile) -> str:
    """The ``profile`` parameter the notebooks get: a shipped profile by its name (``"demo"``), so that a downloaded
    notebook carries no path of this machine; any other profile file by its absolute path."""
    try:
        if profile.path and profile.path.resolve() == profile_path(profile.name).resolve():
            return profile.name
    except EvalkitError:  # a profile file whose name is not a shipped profile
        pass
    return str(profile.path.resolve()) if profile.path else profile.name


def _relative_papermill_paths(executed: Path, name: str) -> None:
    """Replace the absolute paths papermill records in an executed notebook (it is downloadable from the book) by
    the notebook's place in the repository and its own name."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    record = nb.metadata.get("papermill", {})
    record.update(input_path=f"notebooks/{name}", output_path=name)
    nbformat.write(nb, executed)


@contextlib.contextmanager
def _kernel_environment():
    """The environment of the kernels started inside: they import the evalkit of this checkout (installed or not)
    and TensorFlow logs errors only. Set once around all notebooks (the environment is the process's: notebooks
    run at the same time must not each set and restore it)."""
    previous = {key: os.environ.get(key) for key in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}
    if REPO_ROOT is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), previous["PYTHONPATH"]]))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_notebook(notebook: Path, output: Path, parameters: dict) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        # the kernel starts in the output's folder through nbclient's resources, not papermill's cwd (a chdir of
        # the whole process, which notebooks run at the same time would undo for each other)
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3",
                                   progress_bar=False, start_timeout=120,
                                   resources={"metadata": {"path": str(output.parent)}},
                                   extra_arguments=["--IPKernelApp.log_level=ERROR", _QUIET_ASYNCIO])
        _relative_papermill_paths(output, notebook.name)
    except PapermillExecutionError as error:
        source = next((line.strip() for line in (error.source or "").splitlines()
                       if line.strip() and not line.strip().startswith("#")), "")
        raise BookError(f"notebook {notebook.name} failed in cell {error.exec_count} (`{source[:80]}`): "
                        f"{error.ename}: {error.evalue}\n  the executed notebook with the full traceback: {output}") from None


def _tidy(output: Path) -> None:
    """Hide the parameter cells in the book (the provenance box on each page says what was run)."""
    import nbformat

    nb = nbformat.read(str(output), as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            cell.setdefault("metadata", {}).setdefault("tags", []).append("remove-cell")
    nbformat.write(nb, str(output))


def default_root() -> Path:
    """Where the book is built by default: the checkout, or ``<data>/book`` for an installed package."""
    return REPO_ROOT if REPO_ROOT is not None else data_dir() / "book"


def _prepare_root(output: Path | None) -> Path:
    """The folder the book is built in: the checkout, or a copy of the book sources in ``output`` (by default
    ``<data>/book`` when evalkit is an installed package)."""
    if output is None and REPO_ROOT is not None:
        return REPO_ROOT
    output = Path(output or default_root()).resolve()
    output.mkdir(parents=True, exist_ok=True)
    for name in BOOK_SOURCES:
        source, target = resource_path(name), output / name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("_generated"))
        else:
            shutil.copy2(source, target)
    return output


def _preflight(profile) -> None:
    """Stop before any work if data, packages or models are missing, listing every problem at once."""
    problems = check_profile(profile)
    if problems:
        raise BookError(f"profile {profile.name} cannot run; {len(problems)} thing(s) missing or wrong:\n"
                        + "\n".join(f"  - {p}" for p in problems)
                        + "\n  (see `evalkit data check` and requirements-paper.txt)")


def run_notebooks(profile="demo", *, force: bool = False, root: Path | None = None, only=None,
                  cluster=None) -> list[dict]:
    """Compute the profile's plan (on ``cluster``, an :class:`evalkit.cluster.Cluster`, when given), then execute
    the book's notebooks on it into ``<root>/book/_generated``; return one record per notebook."""
    profile = load_profile(profile)
    root = Path(root or default_root())
    generated = root / GENERATED
    stamps = generated / ".stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    parameters = {"profile": notebook_profile_parameter(profile)}
    unknown = sorted(set(only or []) - set(NOTEBOOKS))
    if unknown:
        raise BookError(f"unknown notebook(s) {', '.join(unknown)}; valid: {', '.join(NOTEBOOKS)}")
    names = [n for n in NOTEBOOKS if not only or n in only]
    _say(f"evalkit book: profile {profile.name} ({profile.path or 'built in'}), {len(names)} notebooks -> {generated}")
    _preflight(profile)
    with profile:
        runs = plan(profile, sorted({s for name in names for s in NOTEBOOK_SECTIONS[name]}))
        for task in profile.tasks:
            profile.task(task).prepare(progress=sys.stderr.isatty())
        _say("work of this profile (finished work is reused):\n" + describe_estimate(estimate(profile, runs)))
        with _kernel_environment():  # the kernel timed for the estimate imports the evalkit the notebooks will
            _say("rendering, after the computing below (estimate on this machine):\n"
                 + describe_rendering(Calibration(), _to_render(profile, names, root, parameters)))
        started = time.perf_counter()
        computed = compute(profile, runs, progress=True, cluster=cluster)
        if cluster is not None:  # the notebooks only read what was computed: free the workers' cores and memory
            cluster.close()
        if computed:
            _say(f"computed {computed} of {len(runs)} configurations in {time.perf_counter() - started:.0f} s")
        data = _data_fingerprint(profile)
        notebook_dir = resource_path("notebooks")
        records, todo = {}, []
        for i, name in enumerate(names, 1):
            notebook = notebook_dir / f"{name}.ipynb"
            if not notebook.exists():
                raise BookError(f"notebook {notebook} is missing")
            stamp = stamps / f"{name}.json"
            inputs = _inputs(name, notebook, profile, parameters, data)
            prefix = f"[{i}/{len(names)}] {name}"
            if not force and _is_current(stamp, generated / f"{name}.ipynb", inputs):
                _say(f"{prefix}: unchanged, skipped")
                records[name] = {"notebook": name, "status": "skipped", "seconds": 0.0}
            else:
                todo.append((prefix, name, notebook, stamp, inputs,
                             results_state(profile, plan(profile, NOTEBOOK_SECTIONS[name]))))

        def execute(prefix, name, notebook, stamp, inputs, state):
            output = generated / f"{name}.ipynb"
            _say(f"{prefix}: running ...")
            stamp.unlink(missing_ok=True)
            started = time.perf_counter()
            _run_notebook(notebook, output, parameters)
            _tidy(output)
            seconds = time.perf_counter() - started
            stamp.write_text(json.dumps({"inputs": inputs, "results": state, "seconds": seconds,
                                         "finished": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
            _say(f"{prefix}: done in {seconds:.0f} s")
            return {"notebook": name, "status": "ran", "seconds": seconds}

        with _kernel_environment(), ThreadPoolExecutor(max_workers=NOTEBOOK_WORKERS) as pool:
            futures = {job[1]: pool.submit(execute, *job) for job in todo}
            try:
                for name, future in futures.items():
                    records[name] = future.result()
            except BaseException:  # the first failure stops the build; notebooks already running finish
                for future in futures.values():
                    future.cancel()
                raise
    return [records[name] for name in names]


def estimate_book(profile="demo", *, only=None, root: Path | None = None) -> str:
    """What ``evalkit book`` would compute, and what it would cost on this machine, without computing it: the work
    counts and the calibrated estimate per stage (:func:`~evalkit.book.plan.describe_cost`; this machine's unit
    costs are measured first where missing, a few seconds each), and of rendering the notebooks that will run and
    the HTML (:mod:`evalkit.book.rendering`; ``root``: where the book is built, default :func:`default_root`). Demo audio not generated yet is generated (the
    estimate needs the files' durations); nothing is embedded, trained or stored."""
    profile = load_profile(profile)
    names = [n for n in NOTEBOOKS if not only or n in only]
    with profile:
        runs = plan(profile, sorted({s for name in names for s in NOTEBOOK_SECTIONS[name]}))
        for task in profile.tasks:
            profile.task(task).prepare(progress=sys.stderr.isatty())
        calibration = Calibration()
        with _kernel_environment():  # (as in run_notebooks)
            rendering = describe_rendering(calibration, _to_render(profile, names, Path(root or default_root()),
                                                                   {"profile": notebook_profile_parameter(profile)}))
        return ("work of this profile (finished work is reused):\n" + describe_estimate(estimate(profile, runs))
                + "\n" + describe_cost(profile, runs, calibration) + "\n" + rendering)


def _to_render(profile, names, root: Path, parameters: dict) -> list[int]:
    """The configurations each notebook that the build will run reads: those not run since their inputs changed,
    and those with configurations still to compute (their results will change)."""
    data, generated, left = _data_fingerprint(profile), root / GENERATED, []
    for name in names:
        runs = plan(profile, NOTEBOOK_SECTIONS[name])
        inputs = _inputs(name, resource_path("notebooks") / f"{name}.ipynb", profile, parameters, data)
        if missing(profile, runs) or not _is_current(generated / ".stamps" / f"{name}.json",
                                                    generated / f"{name}.ipynb", inputs):
            left.append(len(runs))
    return left


def book_title(profile, title: str) -> str:
    """The book's title for a profile: on the demo profile it says, in the sidebar of every page, that the data and
    the models are stand-ins."""
    if profile.is_demo:
        return f"{title} (demo: synthetic data, stand-in models)"
    return title if profile.name == "paper" else f"{title} (profile {profile.name})"


def _profile_config(root: Path, profile) -> Path:
    """``_config.yml`` with the title of :func:`book_title`, written to ``book/_generated/`` (not tracked by git)."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = book_title(profile, config["title"])
    path = root / GENERATED / "_config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def build_html(root: Path | None = None, *, everything: bool = False, profile=None) -> Path:
    """Build the HTML book with Jupyter Book (notebooks are not executed again); return ``_build/html``.

    ``everything`` rebuilds every page (needed when notebooks changed: other pages paste their numbers); with a
    ``profile``, the book's title says what kind of build it is (:func:`book_title`)."""
    root = Path(root or default_root())
    config = ["--config", str(_profile_config(root, load_profile(profile)))] if profile is not None else []
    command = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
               "build", str(root)] + config + (["--all"] if everything else [])
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


def build_book(profile="demo", *, force: bool = False, output=None, html: bool = True, only=None,
               cluster=None) -> Path:
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
    only : list of str, optional
        Run only these notebooks.
    cluster : evalkit.cluster.Cluster, optional
        Compute the plan on this Dask cluster (``--workers`` / ``--scheduler``); None: in this process.
    """
    root = _prepare_root(output)
    started = time.perf_counter()
    records = run_notebooks(profile, force=force, root=root, only=only, cluster=cluster)
    ran = any(r["status"] == "ran" for r in records)
    target = build_html(root, everything=ran, profile=profile) if html else root / "_build" / "html"
    _say(f"evalkit book: finished in {time.perf_counter() - started:.0f} s")
    return target
