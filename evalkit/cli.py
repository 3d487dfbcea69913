"""Command line: ``evalkit tasks | embeddings | classifiers | cache | extract | run | data | book | warm``.

``evalkit run --task D2 --embedding musicnn-msd --classifier svm --fusion late --train-fraction 0.1`` prints a results
table (mean ± std of the balanced file-wise accuracy over repetitions). Errors the user can fix (every
:class:`~evalkit.config.EvalkitError`: unknown names, unusable files or parameters, missing data or packages) are
printed as one line with exit status 2; anything else is a bug in evalkit and keeps its traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings

from .book import NOTEBOOKS
from .cluster import add_cluster_arguments, check_cluster_options, cluster_from_args
from .config import EvalkitError, EvalkitWarning, check_number


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error of the command line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_task(parser):
    parser.add_argument("--task", required=True, help="task id (D1–D6 demo, T1–T6 paper) or a folder with one sub-folder per class")
    parser.add_argument("--group-pattern", default=None,
                        help="folder tasks: regular expression whose first group, matched on the file name, is the recording group")
    parser.add_argument("--groups-span-classes", action="store_true",
                        help="folder tasks: one recording name under several class folders is one recording group "
                             "(a split keeps all its files on one side); default: a group belongs to its class folder")


def _task(args):
    from .data.registry import get_task

    params = {"group_pattern": args.group_pattern} if args.group_pattern is not None else {}
    if args.groups_span_classes:
        params["groups_span_classes"] = True
    return get_task(args.task, **params)


def cmd_tasks(args) -> None:
    from .data.registry import list_tasks

    for task_id, name in list_tasks().items():
        print(f"{task_id:4s} {name}")
    print("\nAny folder with one sub-folder per class is a task too: --task path/to/folder")


def cmd_embeddings(args) -> None:
    from .embed.registry import available_extractors, get_extractor

    for name in available_extractors():
        try:
            extractor = get_extractor(name)
            print(f"{name:22s} {extractor.dim:6d} values every {extractor.hop:g} s  ({extractor.spec})")
        except EvalkitError as error:  # list it with the reason it is unavailable
            print(f"{name:22s} unavailable: {error}")
    print("\nParameters: NAME(key=value, ...), e.g. \"musicnn(model=MSD_musicnn, layer=max_pool)\"")


def cmd_classifiers(args) -> None:
    from .learn.registry import CLASSIFIERS

    for name in CLASSIFIERS.names():
        factory = CLASSIFIERS.factory(name)
        extra = ", ".join(f"{k}={v}" for k, v in CLASSIFIERS.defaults.get(name, {}).items())
        print(f"{name:8s} {factory.__name__}({extra})")
    print("\nParameters: NAME(key=value, ...), e.g. \"svm(C=0.1)\", \"d128(dropout=0.3)\"")


def cmd_extract(args) -> None:
    from .embed.cache import EmbeddingCache
    from .embed.distributed import extract_on_cluster
    from .embed.registry import get_extractor

    check_number("", "--batch-size", args.batch_size, low=1, whole=True)
    task = _task(args)
    with cluster_from_args(args) as cluster, get_extractor(args.embedding) as extractor:
        files = task.prepare().files()
        task.check(progress=True)  # every bad file named before any is embedded
        out = extract_on_cluster([f.path for f in files], extractor, cluster,
                                 cache=EmbeddingCache(args.cache) if args.cache else None, batch_size=args.batch_size)
    frames = sum(len(e) for e, _ in out)
    print(f"{task.id}: {len(files)} files, {frames} frames of {extractor.dim} values ({extractor.spec})")


def cmd_run(args) -> None:
    import pandas as pd

    from .book.summary import summarize
    from .embed.registry import get_extractor
    from .learn.distributed import run_experiment_on
    from .learn.experiments import check_experiment, check_options
    from .learn.store import ResultStore

    options = {"fusion": args.fusion, "pooling": args.pooling or "mean", "repetitions": args.repetitions,
               "seed": args.seed}
    for fraction in args.train_fraction:
        check_options(**options, train_fraction=fraction)
    task = _task(args)
    store = ResultStore(args.results) if args.results else None
    extractor = get_extractor(args.embedding) if args.embedding else None  # None: the classifier's own input
    try:
        for fraction in args.train_fraction:  # every share checked before the first is computed
            task, checked = check_experiment(task, extractor, args.classifier, **options, train_fraction=fraction)
            if extractor is None:
                extractor = checked  # the classifier's own input: one extractor for every share
        print(_run_estimate(task, extractor, args, options, store), file=sys.stderr, flush=True)
        with cluster_from_args(args) as cluster:
            tables = [run_experiment_on(cluster, task, extractor, args.classifier, **options, train_fraction=fraction,
                                        store=store)
                      for fraction in args.train_fraction]
    finally:
        if extractor is not None:
            extractor.close()
    print(summarize(pd.concat(tables, ignore_index=True)).to_string(index=False))


def _run_estimate(task, extractor, args, options, store) -> str:
    """The calibrated estimate of ``evalkit run``'s configurations (one per training share)."""
    from .learn.calibration import Calibration
    from .learn.distributed import Configuration
    from .learn.workload import Workload, describe_costs

    calibration = Calibration()
    workload = Workload(calibration, store=store)
    costs = [workload.configuration(Configuration(task, extractor, args.classifier, options["fusion"],
                                                  options["pooling"], fraction, 0.2, options["seed"],
                                                  options["repetitions"]))
             for fraction in args.train_fraction]
    return describe_costs(costs, calibration, total=len(costs))


def cmd_cache(args) -> None:
    from .embed.cache import describe_cache

    rows = describe_cache()
    if not rows:
        print("the embedding cache is empty")
    for row in rows:
        print(f"{row['folder']:32s} {row['entries']:6d} files  {row.get('params', '')}")


def cmd_hear_check(args) -> None:
    from .config import ParameterError
    from .embed.hear_validation import validate_hear_module

    problems = validate_hear_module(args.module, weights=args.weights)
    for problem in problems:
        print(f"- {problem}")
    if problems:
        raise ParameterError(f"{args.module}: {len(problems)} problem(s) with the HEAR 2021 API (listed above)")
    print(f"{args.module}: a valid HEAR 2021 module")


def cmd_data_fetch(args) -> None:
    from .data.datasets import fetch

    for task_id in args.tasks:
        print(f"{task_id}: {fetch(task_id, progress=True)}")


def cmd_data_link(args) -> None:
    from .data.datasets import link

    print(f"{args.task.upper()} -> {link(args.task, args.path)}")


def cmd_data_check(args) -> None:
    from .data.datasets import PAPER_TASK_IDS, check

    for r in check(args.tasks or PAPER_TASK_IDS):  # load_manifest rejects unknown ids, listing the valid ones
        if r["status"] == "present":
            counts = ", ".join(f"{c} {n}" for c, n in r["per_class"].items())
            print(f"{r['task']}: present at {r['root']}: {r['files']} files in {r['groups']} recording groups ({counts})")
        else:
            print(f"{r['task']}: {r['status']}: {r['message']}")


def cmd_book(args) -> None:
    from .book.build import build_book, estimate_book

    if args.estimate:
        print(estimate_book(args.profile, only=args.only, root=args.output))
        return
    with cluster_from_args(args) as cluster:
        build_book(args.profile, force=args.force, output=args.output, html=not args.no_html, only=args.only,
                   cluster=cluster)


def cmd_warm(args) -> None:
    from .embed.warm import running_warm_workers, stop_warm_workers

    workers = stop_warm_workers() if args.stop else running_warm_workers()
    if not workers:
        print("no warm model worker runs")
    for entry in workers:
        print(f"{'stopped ' if args.stop else ''}{entry['name']}: pid {entry['pid']}, exits after {entry['idle']:g} s "
              f"idle, started {time.strftime('%H:%M:%S', time.localtime(entry['started']))} ({entry['socket']})")


def _add_keep_warm(parser) -> None:
    parser.add_argument("--keep-warm", type=float, nargs="?", const=300.0, default=None, metavar="SECONDS",
                        help="load models in warm workers that outlive this command, so that the next command with "
                             "the same model starts at once; they exit after SECONDS (default 300) without a caller "
                             "(sets EVALKIT_KEEP_WARM for this command's processes; `evalkit warm` lists them)")


@contextlib.contextmanager
def _keep_warm(args):
    """Check ``--keep-warm`` or ``$EVALKIT_KEEP_WARM`` before any work, and pass the option on to the processes
    this command starts (notebook kernels, model workers) through the environment, for this command only (``main``
    may run several commands in one interpreter, e.g. in tests)."""
    from .embed.warm import ENV, keep_warm_seconds

    before = os.environ.get(ENV)
    if getattr(args, "keep_warm", None) is not None:
        os.environ[ENV] = f"{keep_warm_seconds(args.keep_warm, name='--keep-warm'):g}"
    else:
        keep_warm_seconds()  # the environment's value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


def _add_data(sub) -> None:
    paper_ids = ("T1", "T2", "T3", "T4", "T5", "T6")
    data = sub.add_parser("data", help="the paper's data sets T1–T6: fetch, link or check them")
    actions = data.add_subparsers(dest="data_command", required=True)
    fetch = actions.add_parser("fetch", help="download (resumable, checksum-verified) and unpack tasks")
    fetch.add_argument("tasks", nargs="+", type=str.upper, choices=paper_ids, metavar="TASK")
    fetch.set_defaults(func=cmd_data_fetch)
    link = actions.add_parser("link", help="use a copy you already have (recorded in data/local.yaml)")
    link.add_argument("task", type=str.upper, choices=paper_ids, metavar="TASK")
    link.add_argument("path")
    link.set_defaults(func=cmd_data_link)
    check = actions.add_parser("check", help="report per task what is present, missing or wrong")
    check.add_argument("tasks", nargs="*", type=str.upper, metavar="TASK", help="default: T1 … T6")
    check.set_defaults(func=cmd_data_check)


def _add_book(sub) -> None:
    book = sub.add_parser(
        "book", help="compute a profile's results, run the notebooks on them and build the results book (HTML)",
        description="Compute every configuration of a profile (resumable), run every notebook of notebooks/ on it with "
                    "papermill (unchanged notebooks are skipped) and build the HTML book into _build/html with "
                    "jupyter-book.")
    book.add_argument("--profile", default="demo",
                      help="demo (default: demo data, no network), quick (a look at every page from a subset of "
                           "the demo), paper (the paper's data), test (the test suite's reduced run; its numbers mean "
                           "nothing) or the path of a profile YAML file")
    book.add_argument("--force", action="store_true",
                      help="rerun every notebook even if nothing changed (stored results and embeddings are reused)")
    book.add_argument("--only", nargs="+", metavar="NOTEBOOK", help=f"run only these notebooks ({', '.join(NOTEBOOKS)})")
    book.add_argument("--no-html", action="store_true", help="run the notebooks but do not build the HTML")
    book.add_argument("--estimate", action="store_true",
                      help="print the work left and what it will cost on this machine (calibrated here in a few "
                           "seconds, kept per machine), then stop: nothing is computed or stored")
    book.add_argument("--output", default=None,
                      help="build a copy of the book in this folder instead of the checkout (<output>/_build/html)")
    _add_keep_warm(book)
    add_cluster_arguments(book)
    book.set_defaults(func=cmd_book)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="evalkit", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tasks", help="list the registered tasks").set_defaults(func=cmd_tasks)
    sub.add_parser("embeddings", help="list the embeddings (extractors) and their sizes").set_defaults(func=cmd_embeddings)
    sub.add_parser("classifiers", help="list the classifiers").set_defaults(func=cmd_classifiers)
    sub.add_parser("cache", help="show what the embedding cache holds").set_defaults(func=cmd_cache)

    extract = sub.add_parser("extract", help="extract (and cache) the embeddings of a task's files")
    _add_task(extract)
    extract.add_argument("--embedding", required=True, help="embedding name or spec, see `evalkit embeddings`")
    extract.add_argument("--batch-size", type=int, default=16, help="files per model call (default 16)")
    extract.add_argument("--cache", default=None, help="cache folder (default data/cache/embeddings)")
    _add_keep_warm(extract)
    add_cluster_arguments(extract)
    extract.set_defaults(func=cmd_extract)

    run = sub.add_parser("run", help="train and test a classifier on a task's embeddings; print mean ± std accuracy")
    _add_task(run)
    run.add_argument("--embedding", default=None,
                     help="embedding name or spec, see `evalkit embeddings`; default: the classifier's own input "
                          "(the CNNs' spectrogram patches, e.g. cnn-input-t3 for cnn); required for svm, d128, d512")
    run.add_argument("--classifier", default="svm", help="svm, d128, d512, cnn, cnn-han (default svm), see `evalkit classifiers`")
    run.add_argument("--fusion", default="late", choices=["late", "early"],
                     help="late: average frame-wise class scores per file; early: pool frames per file first (default late)")
    run.add_argument("--pooling", default=None, choices=["mean", "mean+std"],
                     help="early fusion: how frames are pooled per file (default mean)")
    run.add_argument("--train-fraction", type=float, nargs="+", default=[0.8],
                     help="share(s) of the data set used for training, e.g. 0.8 0.1 (default 0.8; the test set is always 20 %%)")
    run.add_argument("--repetitions", type=int, default=5, help="runs with seeds seed, seed+1, ... (default 5)")
    run.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    run.add_argument("--results", default=None, help="results folder (default data/results); finished runs are reused")
    _add_keep_warm(run)
    add_cluster_arguments(run)
    run.set_defaults(func=cmd_run)

    hear = sub.add_parser("hear-check", help="check a HEAR 2021 API module as the HEAR validator does")
    hear.add_argument("module", help="importable module name, e.g. hear21passt.base")
    hear.add_argument("--weights", default=None, help="weights file passed to the module's load_model")
    hear.set_defaults(func=cmd_hear_check)

    warm = sub.add_parser("warm", help="list (or stop) the warm model workers of --keep-warm")
    warm.add_argument("--stop", action="store_true", help="ask every warm model worker of this user to exit")
    warm.set_defaults(func=cmd_warm)

    _add_data(sub)
    _add_book(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _print_error(command: str, error: EvalkitError) -> None:
    """The error in one line; an error about several things, a summary line and one line per problem."""
    message = str(error)
    if error.problems:
        lines = [message.split("\n")[0], *(f"  - {_one_line(p)}" for p in error.problems)]
        print(f"evalkit {command}: error: " + "\n".join(lines), file=sys.stderr)
    elif command == "book" and "\n" in message:  # the book's preflight lists every problem on its own line
        print(f"evalkit book: error: {message}", file=sys.stderr)
    else:
        print(f"evalkit {command}: error: {_one_line(message)}", file=sys.stderr)


def _warning_printer(command: str, show):
    """``warnings.showwarning`` that prints evalkit's own warnings as ``evalkit <command>: warning: …``."""
    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, EvalkitWarning):
            print(f"evalkit {command}: warning: {_one_line(message)}", file=file or sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)
    return showwarning


#: Commands that write into the data folder (generated audio, caches, results, downloads).
WRITING_COMMANDS = {"extract", "run", "book", "data fetch", "data link"}


def _check_storage(args) -> None:
    """Every folder a command will write to takes files: checked before any work (one line naming the folder)."""
    from .config import data_dir, writable_folder

    command = " ".join(filter(None, [args.command, getattr(args, "data_command", None)]))
    if command not in WRITING_COMMANDS:
        return
    writable_folder(data_dir(), what="data folder" + (" ($EVALKIT_DATA)" if os.environ.get("EVALKIT_DATA") else ""))
    for option, what in (("cache", "embedding cache (--cache)"), ("results", "results folder (--results)"),
                         ("output", "book folder (--output)")):
        if getattr(args, option, None):
            writable_folder(getattr(args, option), what=what)


def main(argv=None) -> int:
    """Run ``evalkit`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status (2: an error the user can
    fix, printed in one line)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed in one line
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer(args.command, warnings.showwarning)
        try:
            with _keep_warm(args):
                if hasattr(args, "workers"):  # before any data are generated or read
                    check_cluster_options(workers=args.workers, scheduler=args.scheduler,
                                          threads_per_worker=args.threads_per_worker, gpu_workers=args.gpu_workers)
                _check_storage(args)
                args.func(args)
        except EvalkitError as error:
            _print_error(args.command, error)
            return 2
        except KeyboardInterrupt:
            print("interrupted; finished work is kept and reused on the next run", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
