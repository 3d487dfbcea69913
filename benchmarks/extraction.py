"""Extraction throughput and classifier training time, measured side by side in one run.

First musicnn (``MTT_musicnn``, 1-s patches every second, as evalkit's ``musicnn`` embedding) over the same files,
in ``--rounds`` rounds whose order rotates (interleaved and repeated, so that a drift of the machine hits every
variant alike):

- whole commands, each in fresh processes with an empty cache: musicnn's own extractor (one call per file, as its
  README shows), ``evalkit extract`` in one process, ``evalkit extract --workers 2`` (a local Dask cluster of two
  processes, one model each), and ``evalkit extract --keep-warm`` whose warm model worker runs already (started
  before the rounds by one such command);
- the steady state, models loaded: one evalkit process with its model process running, its files read and written
  while the model runs (overlapped, the default) and one step after the other (plain); two warm Dask workers; and
  the model alone on log-mel patches in memory (no audio reading, no spectrograms, no cache);
- this CPU's 3×3-convolution peak (TensorFlow on every core, the best of a few layer shapes) and musicnn's FLOPs per
  audio second (TensorFlow's profiler), so that every throughput also reads as a share of the peak; and where the
  model's time goes (TensorFlow's trace of one call, by kind of operation).

The start-up of a command is its time minus the time its audio takes in the steady state (cold: a command that
loads its model; warm: one whose model runs in a warm worker). Figures are medians over the rounds (min–max beside
them). Then, for each offline extractor: seconds of audio per wall-clock second when extracting cold (empty cache)
one file per model call, cold in batches, and warm (from the cache); for the TFLite stand-ins (BirdNET, the speech
embedding) one file per call runs on one interpreter and a batch on two, each in its own thread, so the two columns
compare them side by side. Then the training time of each classifier on one task's embeddings. Usage::

    python benchmarks/extraction.py [--task D2] [--files 40] [--musicnn-files 24] [--rounds 3] [--batch-size 6]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from evalkit import EmbeddingCache, extract_embeddings, get_classifier, get_extractor, get_task
from evalkit.learn.calibration import conv_peak_gflops
from evalkit.learn.fusion import frame_table

EXTRACTORS = ["mfcc", "musicnn-mtt", "musicnn(layer=max_pool)", "spectrogram", "birdnet", "speech-embedding"]
CLASSIFIERS = [("mfcc", "svm"), ("musicnn-mtt", "svm"), ("musicnn-mtt", "d128"), ("musicnn-mtt", "d512"),
               ("cnn-input-t3", "cnn(epochs=5)")]
#: The musicnn model and patch length of the throughput comparison (evalkit's default ``musicnn`` embedding).
MUSICNN_MODEL, PATCH_SECONDS = "MTT_musicnn", 1.0
#: musicnn's own extractor, one call per file (its README's usage), with evalkit's patch length; files in argv.
OWN_EXTRACTOR = f"""
import sys
from musicnn.extractor import extractor
for path in sys.argv[1:]:
    extractor(path, model="{MUSICNN_MODEL}", input_length={PATCH_SECONDS}, extract_features=True)
"""


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


# ------------------------------------------------------------------------------------------------
# musicnn: whole commands, steady state, the model alone and the CPU's peak


def probe() -> dict:
    """In a process of its own (``--probe``): the CPU's 3×3-conv peak, musicnn's FLOPs per audio second, and the
    model alone on patches in memory, in the session evalkit's model process builds."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.perf_counter()
    import tensorflow as tf
    tf_import = time.perf_counter() - started
    peak = conv_peak_gflops()  # eager, before the musicnn session turns graph mode on (evalkit's own measurement)
    tf.compat.v1.disable_eager_execution()
    import librosa
    from musicnn import configuration, models

    from evalkit.embed.musicnn import _musicnn_session

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    frames = librosa.time_to_frames(PATCH_SECONDS, sr=16000, n_fft=512, hop_length=256) + 1  # as evalkit's patches
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, frames, configuration.N_MELS])
        with tf.name_scope("model"):
            models.define_model(x, tf.compat.v1.placeholder(tf.bool), MUSICNN_MODEL, len(configuration.MTT_LABELS))
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        flops = tf.compat.v1.profiler.profile(graph, options=options).total_float_ops

    run, load = timed(lambda: _musicnn_session(MUSICNN_MODEL))
    session, x, is_training, tensors = run.args  # the session of evalkit's model process
    patches = np.random.default_rng(0).random((96, frames, configuration.N_MELS), dtype=np.float32)
    fetches = dict(tensors)  # what one evalkit pass computes (all layers are cached)

    def run_model():
        for i in range(0, len(patches), 32):  # evalkit's batches of 32 patches
            session.run(fetches, feed_dict={x: patches[i:i + 32], is_training: False})

    run_model()
    model_seconds = min(timed(run_model)[1] for _ in range(3))
    trace = tf.compat.v1.RunMetadata()
    session.run(fetches, feed_dict={x: patches[:32], is_training: False}, run_metadata=trace,
                options=tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE))
    ops = {}
    for device in trace.step_stats.dev_stats:
        for node in device.node_stats:
            kind = node.timeline_label.split(" = ")[-1].split("(")[0].strip() or node.node_name
            ops[kind] = ops.get(kind, 0) + node.all_end_rel_micros
    model_alone = len(patches) * PATCH_SECONDS / model_seconds
    return {"peak_gflops": peak, "gflop_per_audio_second": flops / 1e9 / PATCH_SECONDS, "model_alone": model_alone,
            "tf_import": tf_import, "model_load": load, "threads": threads, "ops": ops}


def run_probe() -> dict:
    done = subprocess.run([sys.executable, __file__, "--probe"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"extraction benchmark: the probe failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def folder_task(files, root: Path) -> Path:
    """A folder task (one sub-folder per class) of links to ``files``, so that a command extracts just these."""
    for f in files:
        (root / f.label).mkdir(parents=True, exist_ok=True)
        (root / f.label / f.path.name).symlink_to(f.path.resolve())
    return root


def command_seconds(command: list[str]) -> float:
    """Wall time of one command; its output is dropped, a failure stops the benchmark with the command's stderr."""
    done, seconds = timed(lambda: subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                 text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}))
    if done.returncode != 0:
        sys.exit(f"extraction benchmark: {' '.join(command[:6])} ... failed:\n{done.stderr[-2000:]}")
    return seconds


def musicnn_throughput(task, n_files: int, rounds: int, batch_size: int) -> None:
    from evalkit.cluster import start_cluster
    from evalkit.embed.distributed import extract_on_cluster
    from evalkit.embed.warm import stop_warm_workers

    files = task.files()[:: max(1, len(task.files()) // n_files)][:n_files]
    paths = [f.path for f in files]
    audio = sum(sf.info(str(p)).duration for p in paths)
    spec = f"musicnn(model={MUSICNN_MODEL}, layer=penultimate, window={PATCH_SECONDS:g}, hop={PATCH_SECONDS:g})"
    print(f"musicnn ({MUSICNN_MODEL}, {PATCH_SECONDS:g}-s patches) on {len(paths)} files of {task.id}, {audio:.0f} s "
          f"of audio; {rounds} rounds, interleaved; evalkit: {batch_size} files per model call and per Dask task "
          f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start)\n")
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        scratch = Path(scratch)
        # warm workers of this benchmark only, stopped at its end (others' keep running)
        os.environ["XDG_RUNTIME_DIR"] = str(scratch)
        stack.callback(stop_warm_workers)
        folder = folder_task(files, scratch / "task")
        evalkit = [sys.executable, "-m", "evalkit", "extract", "--task", str(folder), "--embedding", spec,
                   "--batch-size", str(batch_size)]
        commands = {"musicnn's own extractor, file by file": [sys.executable, "-c", OWN_EXTRACTOR, *map(str, paths)],
                    "evalkit extract, one process": evalkit,
                    "evalkit extract --workers 2": evalkit + ["--workers", "2"],
                    "evalkit extract --keep-warm (warm worker)": evalkit + ["--keep-warm", "600"]}
        steady = ["one process, overlapped", "one process, plain", "2 Dask workers"]
        seconds = {name: [] for name in [*commands, *steady]}
        probes = []
        _, warm_first = timed(lambda: command_seconds(commands["evalkit extract --keep-warm (warm worker)"]
                                                      + ["--cache", str(scratch / "warm-first")]))
        # The steady state: one extractor whose model process runs, and a cluster whose two workers hold a model.
        extractor = stack.enter_context(get_extractor(spec))
        _, model_start = timed(lambda: extractor.extract(np.zeros(extractor.window_samples, np.float32)))
        cluster, cluster_start = timed(lambda: stack.enter_context(start_cluster(workers=2)))
        _, warm_start = timed(lambda: extract_on_cluster(paths[:4], extractor, cluster, progress=False,
                                                         cache=EmbeddingCache(scratch / "warm"), batch_size=1))
        in_process = {
            "one process, overlapped": lambda cache: extract_embeddings(paths, extractor, cache=cache,
                                                                        batch_size=batch_size, progress=False),
            "one process, plain": lambda cache: extract_embeddings(paths, extractor, cache=cache, prefetch=False,
                                                                   batch_size=batch_size, progress=False),
            "2 Dask workers": lambda cache: extract_on_cluster(paths, extractor, cluster, cache=cache,
                                                               batch_size=batch_size, progress=False)}
        for r in range(rounds):
            variants = [*commands, *in_process, "probe"]
            for n, name in enumerate(variants[r % len(variants):] + variants[:r % len(variants)]):
                cache = scratch / f"{n}-round-{r}"  # empty: each variant extracts every file
                if name == "probe":
                    probes.append(run_probe())
                elif name in commands:
                    command = commands[name] + (["--cache", str(cache)] if name.startswith("evalkit") else [])
                    seconds[name].append(command_seconds(command))
                else:
                    seconds[name].append(timed(lambda: in_process[name](EmbeddingCache(cache)))[1])

    peak = statistics.median(p["peak_gflops"] for p in probes)
    gflop = statistics.median(p["gflop_per_audio_second"] for p in probes)
    speed = {name: [audio / s for s in values] for name, values in seconds.items()}
    model_alone = "the model alone (patches in memory)"
    speed[model_alone] = [p["model_alone"] for p in probes]
    steady_of = {"evalkit extract, one process": "one process, overlapped",
                 "evalkit extract --workers 2": "2 Dask workers",
                 "evalkit extract --keep-warm (warm worker)": "one process, overlapped"}
    peaks = ", ".join(f"{p['peak_gflops']:.0f}" for p in probes)
    print(f"this CPU: 3x3-conv peak {peak:.0f} GFLOP/s (TensorFlow, {probes[0]['threads']} threads; rounds: {peaks}); "
          f"musicnn: {gflop:.3f} GFLOP per audio second\n")
    print(f"{'':46s} {'audio-s/s':>10s} {'(min-max)':>14s} {'% of peak':>10s} {'start-up (s)':>13s}")
    for title, names in (("whole commands (fresh processes, empty cache)", list(commands)),
                         ("steady state (models loaded)", [*steady, model_alone])):
        print(title)
        for name in names:
            values = speed[name]
            median = statistics.median(values)
            startup = ""
            if name in steady_of:
                startup = f"{statistics.median(seconds[name]) - audio / statistics.median(speed[steady_of[name]]):13.1f}"
            print(f"  {name:44s} {median:10.1f} {f'{min(values):.1f}-{max(values):.1f}':>14s} "
                  f"{100 * median * gflop / peak:9.1f}% {startup}")
    ops = {}
    for p in probes:
        for kind, micros in p["ops"].items():
            ops[kind] = ops.get(kind, 0) + micros
    total = sum(ops.values())
    shares = ", ".join(f"{kind.lstrip('_')} {100 * micros / total:.0f} %"
                       for kind, micros in sorted(ops.items(), key=lambda item: -item[1])[:5])
    print(f"where the model's time goes (TensorFlow trace, 32 patches, summed over threads): {shares}")
    print(f"start-up parts: TensorFlow import {statistics.median(p['tf_import'] for p in probes):.1f} s and musicnn "
          f"model load {statistics.median(p['model_load'] for p in probes):.1f} s (in a model process); evalkit's "
          f"model process, started and first call: {model_start:.1f} s; the first --keep-warm command (starts the "
          f"warm worker): {warm_first:.1f} s; a local 2-worker Dask cluster: {cluster_start:.1f} s to start, then "
          f"{warm_start:.1f} s until both workers hold a model (4 files, one per task); load average "
          f"{os.getloadavg()[0]:.1f} at the end\n")


# ------------------------------------------------------------------------------------------------


def main() -> None:
    if sys.argv[1:] == ["--probe"]:
        print(json.dumps(probe()))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="D2", help="task whose files are used (default D2)")
    parser.add_argument("--files", type=int, default=40, help="number of files (default 40)")
    parser.add_argument("--musicnn-files", type=int, default=24,
                        help="files of the musicnn throughput comparison (default 24)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the musicnn comparison (default 3)")
    parser.add_argument("--batch-size", type=int, default=6,
                        help="evalkit's files per model call and per Dask task in the musicnn comparison (default 6: "
                             "24 files make 4 tasks, 2 per worker)")
    args = parser.parse_args()

    task = get_task(args.task).prepare()
    musicnn_throughput(task, args.musicnn_files, args.rounds, args.batch_size)

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
