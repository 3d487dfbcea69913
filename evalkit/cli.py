"""Command line: ``evalkit tasks | embeddings | classifiers | extract | run | cache``.

``evalkit run --task D2 --embedding musicnn-msd --classifier svm --fusion late --train-fraction 0.1``
prints a results table (mean ± std of the balanced file-wise accuracy over repetitions). Errors the
user can fix (unknown names, unusable files, too few files) are printed as one line, exit status 2.
"""
from __future__ import annotations

import argparse
import sys

from .audio import AudioError
from .config import UnknownNameError


def _add_task(parser):
    parser.add_argument("--task", required=True, help="task id (D1–D6 demo, T1–T6 paper) or a folder with one sub-folder per class")
    parser.add_argument("--group-pattern", default=None,
                        help="folder tasks: regular expression whose first group, matched on the file name, is the recording group")


def _task(args):
    from .tasks import get_task

    params = {"group_pattern": args.group_pattern} if args.group_pattern else {}
    return get_task(args.task, **params)


def cmd_tasks(args) -> None:
    from .tasks import list_tasks

    for task_id, name in list_tasks().items():
        print(f"{task_id:4s} {name}")
    print("\nAny folder with one sub-folder per class is a task too: --task path/to/folder")


def cmd_embeddings(args) -> None:
    from .embeddings import EXTRACTOR_PRESETS, available_extractors, get_extractor

    for name in available_extractors():
        try:
            extractor = get_extractor(name)
            print(f"{name:22s} {extractor.dim:6d} values every {extractor.hop:g} s  ({extractor.spec})")
        except Exception as error:  # noqa: BLE001 - list it with the reason it is unavailable
            print(f"{name:22s} unavailable: {error}")
    print("\nParameters: NAME(key=value, ...), e.g. \"musicnn(model=MSD_musicnn, layer=max_pool)\"")
    del EXTRACTOR_PRESETS


def cmd_classifiers(args) -> None:
    from .classifiers import CLASSIFIERS

    for name, (cls, defaults) in CLASSIFIERS.items():
        extra = ", ".join(f"{k}={v}" for k, v in defaults.items())
        print(f"{name:8s} {cls.__name__}({extra})")
    print("\nParameters: NAME(key=value, ...), e.g. \"svm(C=0.1)\", \"d128(dropout=0.3)\"")


def cmd_extract(args) -> None:
    from .cache import EmbeddingCache, extract_embeddings
    from .embeddings import get_extractor

    task = _task(args)
    extractor = get_extractor(args.embedding)
    files = task.files()
    out = extract_embeddings([f.path for f in files], extractor, cache=EmbeddingCache(args.cache) if args.cache else None,
                             batch_size=args.batch_size)
    frames = sum(len(e) for e, _ in out)
    print(f"{task.id}: {len(files)} files, {frames} frames of {extractor.dim} values ({extractor.spec})")


def cmd_run(args) -> None:
    from .experiments import run_experiment
    from .report import summarize

    task = _task(args)
    tables = []
    for fraction in args.train_fraction:
        tables.append(run_experiment(task, args.embedding, args.classifier, fusion=args.fusion, pooling=args.pooling,
                                     train_fraction=fraction, repetitions=args.repetitions, seed=args.seed,
                                     results_dir=args.results or None))
    import pandas as pd

    summary = summarize(pd.concat(tables, ignore_index=True))
    print(summary.to_string(index=False))


def cmd_cache(args) -> None:
    from .cache import describe_cache

    rows = describe_cache()
    if not rows:
        print("the embedding cache is empty")
    for row in rows:
        print(f"{row['folder']:32s} {row['entries']:6d} files  {row.get('params', '')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evalkit", description=__doc__.split("\n\n")[0],
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
    extract.set_defaults(func=cmd_extract)

    run = sub.add_parser("run", help="train and test a classifier on a task's embeddings; print mean ± std accuracy")
    _add_task(run)
    run.add_argument("--embedding", required=True, help="embedding name or spec, see `evalkit embeddings`")
    run.add_argument("--classifier", default="svm", help="svm, d128, d512, cnn, cnn-han (default svm), see `evalkit classifiers`")
    run.add_argument("--fusion", default="late", choices=["late", "early"],
                     help="late: average frame-wise class scores per file; early: pool frames per file first (default late)")
    run.add_argument("--pooling", default="mean", choices=["mean", "mean+std"], help="early fusion pooling (default mean)")
    run.add_argument("--train-fraction", type=float, nargs="+", default=[0.8],
                     help="share(s) of the data set used for training, e.g. 0.8 0.1 (default 0.8; the test set is always 20 %%)")
    run.add_argument("--repetitions", type=int, default=5, help="runs with seeds seed, seed+1, ... (default 5)")
    run.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    run.add_argument("--results", default=None, help="results folder (default data/results); finished runs are reused")
    run.set_defaults(func=cmd_run)

    for register in _EXTENSIONS:
        register(sub)
    return parser


#: Sub-command registrars of other modules (book, data), each taking the sub-parser collection.
_EXTENSIONS: list = []


def _load_extensions() -> None:
    for module in ("book", "paper"):
        try:
            mod = __import__(f"evalkit.{module}", fromlist=["register_cli"])
        except ImportError:
            continue
        if hasattr(mod, "register_cli") and mod.register_cli not in _EXTENSIONS:
            _EXTENSIONS.append(mod.register_cli)


def main(argv=None) -> int:
    _load_extensions()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UnknownNameError, AudioError, FileNotFoundError, ValueError, ImportError) as error:
        print(f"evalkit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished work is kept and reused on the next run", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
