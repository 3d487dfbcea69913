"""The calibrated estimate against the truth: a profile computed cold, on all the threads and on one.

For each setting (``2t``: every core this process may use; ``1t``: ``taskset -c 0``) a child process with an empty
data folder of its own generates the profile's demo audio (set-up, timed apart), calibrates this machine (timed
apart: the cost of the first estimate on a machine), prints the estimate of the profile's plan per stage, computes the
plan cold (everything the book's notebooks read), and records the cost-weighted progress bar's ETA after every
configuration. The parent prints, per setting, the estimate against the actual time of each stage and in total, and
the ETA at 10 %, 25 % and 50 % of the (estimated) work against the time that was actually left then. The notebooks
and the HTML are not part of the estimate (they only render) and not of the time. Usage::

    python benchmarks/estimate.py                      # the test profile, 2 threads and 1 thread
    python benchmarks/estimate.py --profile quick --settings 2t
    python benchmarks/estimate.py --keep /tmp/estimate # keep the data folders

Per-stage actual times: CNN training and classifier fits are the ``fit_seconds`` (fit and scoring) of the stored
repetitions; embedding extraction is the rest of the compute time (reading, embedding, caching, splits, start-up).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETTINGS = {"2t": [], "1t": ["taskset", "-c", "0"]}
SHARES = (0.10, 0.25, 0.50)


def child(profile_name: str) -> dict:
    """In the setting's process: set-up, calibration, estimate, the cold computation and the ETA record."""
    from evalkit.book.plan import compute, missing, plan, run_costs
    from evalkit.book.profiles import load_profile
    from evalkit.learn.calibration import Calibration
    from evalkit.learn.workload import STAGES, describe_costs

    profile = load_profile(profile_name)
    with profile:
        runs = plan(profile)
        started = time.perf_counter()
        for task in profile.tasks:
            profile.task(task).prepare(progress=False)
        setup = time.perf_counter() - started
        started = time.perf_counter()
        calibration = Calibration()
        costs = run_costs(profile, missing(profile, runs), calibration, models_stay_loaded=True)
        calibrating = time.perf_counter() - started
        print(describe_costs(costs, calibration, total=len(runs)), file=sys.stderr, flush=True)
        record = []
        started = time.perf_counter()
        compute(profile, runs, progress=False, on_progress=lambda *values: record.append(values),
                calibration=calibration)
        actual = time.perf_counter() - started
        warm = sum(c.total for c in run_costs(profile, runs, calibration))
    fits = fit_seconds(Path(os.environ["EVALKIT_DATA"]))
    return {"machine": calibration.describe(), "setup": setup, "calibration": calibrating, "actual": actual,
            "estimate": {stage: sum(c.seconds[stage] for c in costs) for stage in STAGES},
            "actual_stages": {"classifier fits": fits["other"], "CNN training": fits["cnn"],
                              "embedding extraction": actual - fits["other"] - fits["cnn"]},
            "record": record, "warm_estimate": warm}


def fit_seconds(data: Path) -> dict:
    """Seconds of fitting and scoring stored by the repetitions: CNNs and the other classifiers."""
    out = {"cnn": 0.0, "other": 0.0}
    for config in data.glob("results/**/config.json"):
        kind = "cnn" if str(json.loads(config.read_text())["classifier"]).startswith("cnn") else "other"
        for rep in config.parent.glob("rep-*.json"):
            out[kind] += float(json.loads(rep.read_text()).get("fit_seconds") or 0.0)
    return out


def eta_at(record, actual: float, share: float):
    """``(share done, ETA, actual time left)`` at the first configuration that finished ``share`` of the work."""
    for done, total, elapsed, eta in record:
        if done >= share * total:
            return done / total, eta, actual - elapsed
    return None


def report(setting: str, result: dict) -> None:
    actual, estimate = result["actual"], result["estimate"]
    print(f"\n{setting}: {result['machine']}")
    print(f"  set-up (demo audio) {result['setup']:.0f} s; calibration and estimate {result['calibration']:.0f} s "
          "(measured once per machine and thread count)")
    print(f"  {'stage':22s} {'estimate':>9s} {'actual':>9s} {'est/act':>8s}")
    for stage, seconds in estimate.items():
        real = result["actual_stages"][stage]
        print(f"  {stage:22s} {seconds:8.0f}s {real:8.0f}s {seconds / real if real else float('nan'):8.2f}")
    total = sum(estimate.values())
    print(f"  {'total (compute)':22s} {total:8.0f}s {actual:8.0f}s {total / actual:8.2f}")
    for share in SHARES:
        point = eta_at(result["record"], actual, share)
        if point is None:
            continue
        done, eta, left = point
        print(f"  ETA at {100 * share:3.0f} % (first at {100 * done:4.1f} %): {eta:6.0f} s, actually left {left:6.0f} s, "
              f"ratio {eta / left if left else float('nan'):.2f}")
    print(f"  estimate of the same plan afterwards (everything stored and cached): {result['warm_estimate']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="test", help="profile to compute (default test)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--keep", default=None, help="folder for the settings' data folders (default: temporary)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.profile)))
        return
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="estimate-bench-"))
    print(f"estimate benchmark: profile {args.profile}, settings {', '.join(args.settings)}, started "
          f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}", flush=True)
    try:
        for setting in args.settings:
            data = root / setting
            shutil.rmtree(data, ignore_errors=True)
            data.mkdir(parents=True)
            env = {**os.environ, "EVALKIT_DATA": str(data), "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
            command = [*SETTINGS[setting], sys.executable, str(Path(__file__).resolve()), "--child",
                       "--profile", args.profile]
            with open(root / f"{setting}.log", "w") as log:
                done = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
            if done.returncode != 0:
                sys.exit(f"estimate: the {setting} run failed (exit status {done.returncode}); see {root / setting}.log")
            report(setting, json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
