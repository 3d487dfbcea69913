"""Stored results never go stale: a result's key holds the code that computed it, the packages it ran on and the
arithmetic of the machine, so changed code is recomputed while comments and docstrings change nothing."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SVM_FIT = "        self.pipeline_.fit(np.asarray(X, dtype=np.float32), np.asarray(y))\n"

#: Runs one SVM repetition on a folder task with the evalkit on PYTHONPATH; prints the key and whether it trained.
RUN = """
import json, sys
import evalkit as ek
task, store, cache = sys.argv[1:4]
rows = ek.run_experiment(task, "mfcc(n_mfcc=13)", "svm", repetitions=1, store=ek.ResultStore(store),
                         cache=ek.EmbeddingCache(cache), progress=False)
print(json.dumps({"fit_seconds": rows.fit_seconds[0], "accuracy": rows.accuracy[0]}))
"""


def _copy_of_evalkit(folder: Path) -> Path:
    shutil.copytree(REPO / "evalkit", folder / "evalkit", ignore=shutil.ignore_patterns("__pycache__", "_resources"))
    return folder


def _run(source: Path, task: Path, store: Path, cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run([sys.executable, "-c", RUN, str(task), str(store), str(cache)], capture_output=True,
                          text=True, env=env, cwd=source, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _configurations(store: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(store.glob("*/*/config.json"))]


def test_changed_svm_code_is_recomputed_and_a_changed_comment_is_not(tone_task_dir, tmp_path):
    source = _copy_of_evalkit(tmp_path / "src")
    store, cache = tmp_path / "results", tmp_path / "cache"
    classifiers = source / "evalkit" / "learn" / "classifiers.py"
    original = classifiers.read_text()
    assert SVM_FIT in original, "the line this test changes has moved: update SVM_FIT"

    _run(source, tone_task_dir, store, cache)
    assert len(_configurations(store)) == 1

    # a comment and a docstring: the same code, so the stored repetition is reused
    classifiers.write_text(original.replace(SVM_FIT, "        # scaled, then fitted\n" + SVM_FIT)
                           .replace('"""', '"""Reworded. ', 1))
    _run(source, tone_task_dir, store, cache)
    assert len(_configurations(store)) == 1, "a comment or docstring made a stored result unusable"

    # the fitting code itself: a new configuration is computed beside the old one
    classifiers.write_text(original.replace(SVM_FIT, SVM_FIT.replace("np.float32", "np.float64")))
    _run(source, tone_task_dir, store, cache)
    keys = _configurations(store)
    assert len(keys) == 2, "changed SVM code reused a result computed by the old code"
    assert keys[0]["code"]["code"] != keys[1]["code"]["code"]
    assert {k: v for k, v in keys[0].items() if k != "code"} == {k: v for k, v in keys[1].items() if k != "code"}


def test_the_key_names_the_packages_and_the_arithmetic_a_result_was_computed_with(tone_task_dir):
    from evalkit.data.registry import get_task
    from evalkit.embed.registry import get_extractor
    from evalkit.learn.cnn import native_bfloat16
    from evalkit.learn.experiments import experiment_key

    task, extractor = get_task(tone_task_dir), get_extractor("mfcc")
    svm = experiment_key(task, extractor, "svm", "late", "mean", 0.8, 0.2, 0)
    assert svm["precision"] is None and "scikit-learn" in svm["code"]["packages"]
    assert "code" in json.loads(extractor.identity)  # the embedding's own code is in its identity, so in the key
    auto = experiment_key(task, get_extractor("cnn-input-t3"), "cnn", "late", "mean", 0.8, 0.2, 0)
    assert auto["precision"] == ("bfloat16" if native_bfloat16() else "float32")
    assert any(name.startswith("tensorflow") for name in auto["code"]["packages"])
    for precision in ("float32", "bfloat16"):  # the same network in two arithmetics: two keys
        fixed = experiment_key(task, get_extractor("cnn-input-t3"), f"cnn(precision={precision})", "late", "mean",
                               0.8, 0.2, 0)
        assert fixed["precision"] == precision
    assert auto["code"] != svm["code"]  # the CNN's module is part of its results' code, not of the SVM's


def test_a_results_code_follows_the_learn_modules_its_classifier_imports():
    from evalkit.learn import cnn
    from evalkit.provenance import code_fingerprint

    alone = code_fingerprint(cnn, within=("evalkit.nothing",))
    followed = code_fingerprint(cnn, within=("evalkit.learn",))
    assert alone["code"] != followed["code"]  # cnn imports classifiers and metrics, which decide its results too


@pytest.mark.parametrize("edit,same", [
    (lambda s: s.replace("return 2 * x", "return 2 * x  # doubled"), True),
    (lambda s: s.replace("def scale(x):\n", 'def scale(x):\n    """Twice x."""\n'), True),
    (lambda s: s.replace("return 2 * x", "return 3 * x"), False),
])
def test_a_module_digest_changes_with_its_code_only(tmp_path, edit, same):
    from evalkit.provenance import module_digest

    source = "import numpy\n\ndef scale(x):\n    return 2 * x\n"
    assert (module_digest(source) == module_digest(edit(source))) is same


def test_the_provenance_box_names_the_arithmetic_the_networks_were_trained_in():
    import pandas as pd

    from evalkit.book.display import provenance
    from evalkit.book.profiles import load_profile

    profile = load_profile("test")
    runs = pd.DataFrame({"task": ["D2"] * 4, "repetition": [0, 1, 2, 0], "precision": ["float32"] * 3 + [None]})
    assert provenance(profile, runs)["arithmetic"] == "networks trained in float32 (3 runs)"
    mixed = runs.assign(precision=["bfloat16", "float32", "float32", None])
    assert "bfloat16 (1 run)" in provenance(profile, mixed)["arithmetic"]
    assert "arithmetic" not in provenance(profile, runs.assign(precision=None))  # no network on the page
