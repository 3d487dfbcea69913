"""Two single-core processes against one process on every core: does splitting CNN training pay on a small machine?

For each baseline architecture (the authors' paper CNN on D3, Han et al.'s network on D2) the same two training
runs are timed twice, side by side in one run of this script:

- **one process, all cores**: ``evalkit run --repetitions 2`` (TensorFlow uses every core this process may use);
- **two processes, one core each**: ``taskset -c 0`` and ``taskset -c 1``, one repetition each, started together.

The fits have a fixed number of epochs (``epochs = min_epochs``: no early stopping), so both settings do the same
work; the spectrogram patches are extracted first (a warm-up run) so that only training is timed. A ratio above 1
means the two single-core processes finish sooner. Needs 2 cores (``taskset``, Linux). Usage::

    python benchmarks/processes.py                       # both architectures, 8 epochs
    python benchmarks/processes.py --arch paper --epochs 4

The runs use ``$EVALKIT_DATA`` if set (demo audio there is reused), else a temporary data folder (its demo audio is
generated first, about a minute); their results go to a temporary folder that is deleted afterwards.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Architecture → (demo task, spectrogram input, classifier name) as the demo profile trains it.
ARCHITECTURES = {"paper": ("D3", "cnn-input-t3", "cnn"), "han": ("D2", "cnn-input-han", "cnn-han")}


def run(arguments: list[str], *, results: Path, env: dict, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    command = [*prefix, sys.executable, "-m", "evalkit", "run", *arguments, "--results", str(results)]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(*processes: subprocess.Popen) -> None:
    for process in processes:
        _, error = process.communicate()
        if process.returncode != 0:
            sys.exit(f"processes: a run failed (exit status {process.returncode}):\n{error[-2000:]}")


def measure(arch: str, epochs: int, env: dict, scratch: Path) -> tuple[float, float]:
    """Seconds of two fits in one all-core process, and of one fit each in two single-core processes."""
    task, embedding, classifier = ARCHITECTURES[arch]
    spec = f"{classifier}(epochs={epochs}, min_epochs={epochs})"
    common = ["--task", task, "--embedding", embedding, "--classifier", spec]
    finish(run([*common, "--repetitions", "1", "--seed", "100"], results=scratch / f"{arch}-warm", env=env))
    started = time.perf_counter()
    finish(run([*common, "--repetitions", "2", "--seed", "0"], results=scratch / f"{arch}-one", env=env))
    one = time.perf_counter() - started
    started = time.perf_counter()
    finish(*(run([*common, "--repetitions", "1", "--seed", str(core)], results=scratch / f"{arch}-two-{core}",
                 env=env, prefix=("taskset", "-c", str(core))) for core in (0, 1)))
    return one, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    parser.add_argument("--epochs", type=int, default=8, help="epochs of every fit (default 8)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, not {args.epochs}")
    if shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2:
        sys.exit("processes: needs taskset and at least 2 cores this process may use")
    scratch = Path(tempfile.mkdtemp(prefix="evalkit-processes-"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.setdefault("EVALKIT_DATA", str(scratch / "data"))
    try:
        from evalkit.learn.calibration import conv_peak_gflops

        print(f"this CPU: {len(os.sched_getaffinity(0))} cores, TensorFlow fp32 3x3-conv peak "
              f"{conv_peak_gflops():.0f} GFLOP/s; {args.epochs} epochs per fit, data {env['EVALKIT_DATA']}")
        for arch in args.arch:
            one, two = measure(arch, args.epochs, env, scratch)
            print(f"{arch:6s} two fits: one process on all cores {one:6.1f} s, two single-core processes "
                  f"{two:6.1f} s; ratio {one / two:.2f} (above 1: the single-core processes win)", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
