"""The candidate requirements' environment markers (requirements-next*.txt, issue 24): every supported platform and
interpreter gets exactly one version of every package, the one the registry has a wheel of (scripts/check_platforms.py
asks the registry; this checks the markers offline)."""
import importlib.util
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_platforms", ROOT / "scripts" / "check_platforms.py")
check_platforms = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_platforms)
TARGETS = [(target, python) for target in check_platforms.PLATFORMS for python in check_platforms.PYTHONS]


def pins(name: str, target: str, python: str) -> dict[str, str]:
    environment = check_platforms.marker_environment(target, python)
    found = {}
    for line in check_platforms.requirements_for(ROOT / name, environment):
        requirement = Requirement(line)
        assert requirement.name not in found, f"{name}: two pins of {requirement.name} for {target} {python}"
        found[requirement.name] = str(requirement.specifier)
    return found


def all_packages(name: str) -> set[str]:
    return {Requirement(line.split(";")[0]).name for line in (ROOT / name).read_text().splitlines()
            if line.strip() and not line.startswith(("#", "-"))}


@pytest.mark.parametrize("name", ["requirements-next.txt", "requirements-next-nodeps.txt"])
@pytest.mark.parametrize("target,python", TARGETS)
def test_every_target_gets_one_pin_of_every_package(name, target, python):
    found = pins(name, target, python)
    # TensorFlow comes as one of two distributions, none on macOS x86_64 with 3.13 (nor tf-keras then); LiteRT has no
    # current wheel for macOS x86_64 (evalkit falls back to tf.lite there)
    no_tensorflow = target == "macos-x86_64" and python == "3.13"
    expected = all_packages(name) - {"tensorflow", "tensorflow-cpu"} - ({"tf-keras"} if no_tensorflow else set())
    expected -= {"ai-edge-litert"} if target == "macos-x86_64" else set()
    assert expected <= set(found), f"{target} Python {python} gets no pin of {sorted(expected - set(found))}"
    if name == "requirements-next.txt":
        assert len({"tensorflow", "tensorflow-cpu"} & set(found)) == (0 if no_tensorflow else 1)


@pytest.mark.parametrize("target,python,expected", [
    ("linux-x86_64", "3.13", {"tensorflow-cpu": "==2.21.0", "numpy": "==2.5.5", "librosa": "==1.0.1"}),
    ("linux-aarch64", "3.12", {"tensorflow": "==2.21.0", "numpy": "==2.5.5"}),
    ("macos-arm64", "3.11", {"tensorflow": "==2.21.0", "numpy": "==2.4.6", "librosa": "==0.11.0"}),
    ("macos-x86_64", "3.12", {"tensorflow": "==2.16.2", "numpy": "==1.26.4", "pandas": "==2.3.3", "scipy": "==1.17.1"}),
    ("windows-amd64", "3.13", {"tensorflow-cpu": "==2.21.0", "ai-edge-litert": "==2.3.0"}),
])
def test_the_markers_pick_the_versions_the_registry_has_wheels_of(target, python, expected):
    found = pins("requirements-next.txt", target, python)
    assert {key: found.get(key) for key in expected} == expected


def test_tf_keras_follows_tensorflow():
    for target, python in TARGETS:
        tensorflow = {**pins("requirements-next.txt", target, python)}
        version = tensorflow.get("tensorflow", tensorflow.get("tensorflow-cpu"))
        keras = pins("requirements-next-nodeps.txt", target, python).get("tf-keras")
        assert (version is None) == (keras is None), (target, python)
        if version:
            assert version.split(".")[:2] == keras.split(".")[:2], (target, python, version, keras)
