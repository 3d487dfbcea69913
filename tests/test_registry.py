"""Every name the registries list resolves, in a fresh interpreter (nothing imported or faked by other tests): it
builds, or raises MissingPackageError naming the missing package and how to install it; never UnknownNameError.
And the command line reports a missing package in one line."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from importlib.util import find_spec

import pytest

from conftest import write_tone_task

RESOLVE_ALL = textwrap.dedent("""
    import json
    import re
    from importlib.util import find_spec

    from evalkit.config import MissingDataError, MissingPackageError
    from evalkit.embed.registry import EMBEDDINGS
    from evalkit.learn.registry import CLASSIFIERS

    out = {}
    for registry in (EMBEDDINGS, CLASSIFIERS):
        for name in registry.names():
            try:
                built = registry.build(name)
                out[f"{registry.kind} {name}"] = {"built": type(built).__name__}
            except MissingPackageError as error:
                package = next(iter(re.findall(r"'([A-Za-z_][A-Za-z0-9_]*)'", str(error))), None)
                out[f"{registry.kind} {name}"] = {"missing": str(error), "package": package,
                                                 "installed": package is not None and find_spec(package) is not None}
            except MissingDataError as error:
                out[f"{registry.kind} {name}"] = {"data": str(error)}
            except Exception as error:
                out[f"{registry.kind} {name}"] = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(out))
""")


def fresh_python(*args, env=None, cwd=None, timeout=120):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    done = fresh_python("-c", RESOLVE_ALL, env={"EVALKIT_DATA": str(tmp_path_factory.mktemp("data"))})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_embedding_and_classifier_name_builds_or_names_its_missing_package(resolved):
    from evalkit.embed.registry import EMBEDDINGS
    from evalkit.learn.registry import CLASSIFIERS

    expected = {f"embedding {n}" for n in EMBEDDINGS.names()} | {f"classifier {n}" for n in CLASSIFIERS.names()}
    assert set(resolved) == expected
    assert len(EMBEDDINGS.presets) >= 7 and all(f"embedding {p}" in resolved for p in EMBEDDINGS.presets)
    for key, outcome in resolved.items():
        assert "error" not in outcome, f"{key}: {outcome['error']}"  # never UnknownNameError or anything else
        if "missing" in outcome:
            # the message names a package that really is missing, and says how to install it (OpenL3's: the command
            # that makes the paper interpreter it runs in)
            assert outcome["package"] and not outcome["installed"], f"{key}: {outcome['missing']}"
            assert re.search(r"pip install|make paper-env", outcome["missing"]), f"{key}: {outcome['missing']}"
        elif "data" in outcome:  # only with the package installed: then the message says where the files go
            assert re.search(r"download|put it at", outcome["data"]), f"{key}: {outcome['data']}"
    for key in ("embedding mfcc", "embedding spectrogram", "classifier svm", "classifier d128", "classifier d512",
                "classifier cnn", "classifier cnn-han"):
        assert "built" in resolved[key], f"{key}: {resolved[key]}"  # no optional package behind these


def test_a_preset_resolves_like_its_spelled_out_spec():
    from evalkit.embed.registry import EMBEDDINGS

    for preset, (name, params) in EMBEDDINGS.presets.items():
        assert EMBEDDINGS.resolve(preset) == (name, {**EMBEDDINGS.defaults.get(name, {}), **params})
        assert name in EMBEDDINGS.factories, preset


@pytest.mark.skipif(find_spec("tensorflow_hub") is not None, reason="tensorflow_hub is installed here")
def test_extract_without_the_package_is_one_line_naming_it(tmp_path):
    task = write_tone_task(tmp_path / "tones", classes=("a", "b"), groups=2, files_per_group=1, duration=0.5)
    done = fresh_python("-m", "evalkit", "extract", "--task", str(task), "--embedding", "vggish-raw",
                        env={"EVALKIT_DATA": str(tmp_path / "data")}, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("evalkit extract: error:") and "'tensorflow_hub'" in lines[0]
    assert "pip install" in lines[0] and done.stdout == ""
