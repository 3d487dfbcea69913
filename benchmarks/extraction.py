"""Extraction throughput and classifier training time, measured side by side in one run.

Prints, for each offline extractor: seconds of audio per wall-clock second when extracting cold
(empty cache) one file per model call, cold in batches, and warm (from the cache); then the training
time of each classifier on one task's embeddings. Usage::

    python benchmarks/extraction.py [--task D2] [--files 40]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import soundfile as sf

from evalkit import EmbeddingCache, extract_embeddings, get_classifier, get_extractor, get_task
from evalkit.learn.fusion import frame_table

EXTRACTORS = ["mfcc", "musicnn-mtt", "musicnn(layer=max_pool)", "spectrogram"]
CLASSIFIERS = [("mfcc", "svm"), ("musicnn-mtt", "svm"), ("musicnn-mtt", "d128"), ("musicnn-mtt", "d512"),
               ("cnn-input-t3", "cnn(epochs=5)")]


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="D2", help="task whose files are used (default D2)")
    parser.add_argument("--files", type=int, default=40, help="number of files (default 40)")
    args = parser.parse_args()

    task = get_task(args.task).prepare()
    files = task.files()[:: max(1, len(task.files()) // args.files)][: args.files]
    paths = [f.path for f in files]
    seconds = sum(sf.info(str(p)).duration for p in paths)
    print(f"{len(paths)} files of {task.id}, {seconds:.0f} s of audio\n")
    print(f"{'extractor':34s} {'one by one':>12s} {'batched':>12s} {'cached':>12s}   (seconds of audio per second)")
    for spec in EXTRACTORS:
        extractor = get_extractor(spec)
        extractor.extract(np.zeros(extractor.window_samples, np.float32))  # load the model before timing
        with tempfile.TemporaryDirectory() as single_dir, tempfile.TemporaryDirectory() as batch_dir:
            _, single = timed(lambda: extract_embeddings(paths, extractor, cache=EmbeddingCache(single_dir),
                                                         batch_size=1, progress=False))
            _, batched = timed(lambda: extract_embeddings(paths, extractor, cache=EmbeddingCache(batch_dir),
                                                          batch_size=16, progress=False))
            _, warm = timed(lambda: extract_embeddings(paths, extractor, cache=EmbeddingCache(batch_dir),
                                                       batch_size=16, progress=False))
        cached = f"{seconds / warm:12.0f}" if extractor.cacheable else f"{'(not cached)':>12s}"
        print(f"{extractor.spec[:34]:34s} {seconds / single:12.1f} {seconds / batched:12.1f} {cached}")
        extractor.close()

    print(f"\n{'embedding':34s} {'classifier':14s} {'frames':>7s} {'fit (s)':>9s}")
    labels = np.array([f.label for f in files])
    for spec, classifier in CLASSIFIERS:
        extractor = get_extractor(spec)
        embeddings = [e for e, _ in extract_embeddings(paths, extractor, progress=False)]
        frames, index = frame_table(embeddings)
        model = get_classifier(classifier, random_state=0)
        if extractor.frame_shape is not None:
            model.set_params(input_shape=extractor.frame_shape)
        _, fit = timed(lambda: model.fit(frames, labels[index], groups=index))
        print(f"{extractor.spec[:34]:34s} {classifier:14s} {len(frames):7d} {fit:9.2f}")
        extractor.close()


if __name__ == "__main__":
    main()
