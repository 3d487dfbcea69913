"""The same work on two or more software stacks (interpreters with their venvs), side by side in one run.

Issue 24's "no interpreter may be slower": each stack runs, in a fresh process of its own interpreter and on the
same evalkit code (this checkout, on ``PYTHONPATH``), what a build's calibration measures — the CPU's 3×3-convolution
peak, a training step of each baseline CNN on its real input shape, seconds per audio-second of each demo embedding
model, a classifier fit — in ``--rounds`` rounds whose order rotates, so that a drift of the machine hits every stack
alike. It prints each figure's median over the rounds (min–max beside it) and its ratio to the first stack as
*speed* (the first stack's time over this one's: below 1 means slower). Usage::

    python benchmarks/stacks.py --stack 2023=/path/to/old/.venv/bin/python --stack 3.11=.venv/bin/python \\
        --stack 3.12=.venv-3.12/bin/python [--env 3.11:TF_USE_LEGACY_KERAS=1] [--rounds 3] [--json out.json]

The same interpreter may appear twice under two labels, one with ``--env LABEL:NAME=VALUE`` (e.g. Keras 2 through
tf-keras beside Keras 3, on one TensorFlow).

Every stack must be able to import this checkout's evalkit (numpy 1 or 2, TensorFlow 2.15 or newer).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The baseline CNNs of the demo and paper profiles, each on the input its tasks give it.
CNNS = [("cnn", "cnn-input-t3"), ("cnn", "cnn-input-t1"), ("cnn-han", "cnn-input-han")]
#: The demo profile's embedding models (musicnn in its worker process, the TFLite stand-ins, MFCCs).
EXTRACTORS = ["mfcc", "musicnn-mtt", "birdnet", "speech-embedding"]
CLASSIFIERS = ["svm", "d128"]

#: What one stack measures (runs in that stack's interpreter); prints one JSON object.
MEASURE = """
import json, platform, sys
import numpy, tensorflow as tf
from evalkit import get_extractor
from evalkit.learn import calibration as c
what = json.loads(sys.argv[1])
out = {"python": platform.python_version(), "numpy": numpy.__version__, "tensorflow": tf.__version__,
       "keras": getattr(tf.keras, "__version__", "?"), "conv peak GFLOP/s": c.conv_peak_gflops()}
for spec, inputs in what["cnns"]:
    shape = get_extractor(inputs).frame_shape
    out[f"{spec} step s ({inputs}, calibration)"] = c.measure_cnn(spec, shape)["step"]
    # over 40 steps (20 per epoch), with a real fit's share of the per-epoch work: the calibration's few steps put
    # that work on the step (its earlier 4 differed by up to 1.5x between rounds)
    out[f"{spec} step s ({inputs}, 40 steps)"] = c.measure_cnn(spec, shape, batches=20)["step"]
for name in what["extractors"]:
    out[f"{name} s per audio-s"] = c.measure_extractor(get_extractor(name))["per_audio_second"]
for spec in what["classifiers"]:
    out[f"{spec} fit s"] = c.measure_classifier(spec)["fit"]
print("RESULT " + json.dumps(out))
"""


def measure(python: str, what: dict, extra_env: dict | None = None) -> dict:
    """One round of :data:`MEASURE` in a fresh process of ``python``, with ``extra_env`` added to its environment."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", **(extra_env or {}))
    done = subprocess.run([python, "-c", MEASURE, json.dumps(what)], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"stacks.py: {python} failed: {tail}")
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", required=True, metavar="LABEL=PYTHON",
                        help="a stack to measure, by its venv's interpreter; the first is the reference")
    parser.add_argument("--env", action="append", default=[], metavar="LABEL:NAME=VALUE",
                        help="an environment variable for one stack's processes (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    args = parser.parse_args(argv)
    stacks = []
    for item in args.stack:
        label, sep, python = item.partition("=")
        if not sep or not Path(python).is_file():
            parser.error(f"--stack {item!r}: give LABEL=PATH to an interpreter that exists")
        stacks.append((label, python))
    envs = {label: {} for label, _ in stacks}
    for item in args.env:
        label, _, assignment = item.partition(":")
        name, sep, value = assignment.partition("=")
        if label not in envs or not sep or not name:
            parser.error(f"--env {item!r}: give LABEL:NAME=VALUE for a label of --stack ({', '.join(envs)})")
        envs[label][name] = value
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    what = {"cnns": CNNS, "extractors": EXTRACTORS, "classifiers": CLASSIFIERS}
    rounds = {label: [] for label, _ in stacks}
    for r in range(args.rounds):
        order = stacks[r % len(stacks):] + stacks[:r % len(stacks)]
        for label, python in order:
            print(f"round {r + 1}/{args.rounds}: {label} ({python})", file=sys.stderr, flush=True)
            rounds[label].append(measure(python, what, envs[label]))
    first = stacks[0][0]
    print(f"Stacks (the same evalkit code, {ROOT}):")
    for label, _ in stacks:
        one = rounds[label][0]
        extra = "".join(f", {name}={value}" for name, value in envs[label].items())
        print(f"  {label}: Python {one['python']}, numpy {one['numpy']}, TensorFlow {one['tensorflow']}, "
              f"Keras {one.get('keras', '?')}{extra}")
    keys = [k for k in rounds[first][0] if k not in ("python", "numpy", "tensorflow", "keras")]
    width = 34  # a cell: "median (min-max)" and, beside the reference, the speed
    header = f"{'median over %d rounds (min-max)' % args.rounds:44}" + "".join(f"{label:>{width}}" for label, _ in stacks)
    print(header)
    for key in keys:
        row = f"{key:44}"
        reference = statistics.median(r[key] for r in rounds[first])
        for label, _ in stacks:
            values = [r[key] for r in rounds[label]]
            median = statistics.median(values)
            # higher is better for the peak, lower for the times: speed = how much faster than the first stack
            speed = median / reference if "GFLOP" in key else reference / median
            cell = f"{median:.4g} ({min(values):.3g}-{max(values):.3g})"
            row += f" {cell:>{width - 8}} {speed:5.2f}x" if label != first else f"{cell:>{width}}"
        print(row)
    print(f"(x = speed relative to {first}: its time over this stack's, the peak as is; below 1 is slower)")
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
