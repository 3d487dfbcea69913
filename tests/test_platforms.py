"""The requirements' environment markers (requirements.txt, requirements-nodeps.txt): every supported platform and
interpreter gets exactly one version of every package, the one the registry has a wheel of (scripts/check_platforms.py
asks the registry; the fast tests check the markers offline against the wheels that are known to be missing, the slow
one asks the registry). The check can fail: the requirements of 2023 (tests/data/requirements-2023.txt, TensorFlow
2.15 and numpy 1.26 everywhere) fail it, offline and online."""
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import load_script

ROOT = Path(__file__).resolve().parent.parent
check_platforms = load_script("check_platforms")
DATA = ROOT / "tests" / "data"
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


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-nodeps.txt"])
@pytest.mark.parametrize("target,python", TARGETS)
def test_every_target_gets_one_pin_of_every_package(name, target, python):
    found = pins(name, target, python)
    # TensorFlow comes as one of two distributions, none on macOS x86_64 with 3.13 (nor tf-keras then); LiteRT has no
    # current wheel for macOS x86_64 (evalkit falls back to tf.lite there)
    no_tensorflow = target == "macos-x86_64" and python == "3.13"
    expected = all_packages(name) - {"tensorflow", "tensorflow-cpu"} - ({"tf-keras"} if no_tensorflow else set())
    expected -= {"ai-edge-litert"} if target == "macos-x86_64" else set()
    assert expected <= set(found), f"{target} Python {python} gets no pin of {sorted(expected - set(found))}"
    if name == "requirements.txt":
        assert len({"tensorflow", "tensorflow-cpu"} & set(found)) == (0 if no_tensorflow else 1)


@pytest.mark.parametrize("target,python,expected", [
    ("linux-x86_64", "3.13", {"tensorflow-cpu": "==2.21.0", "numpy": "==2.5.5", "librosa": "==1.0.1"}),
    ("linux-aarch64", "3.12", {"tensorflow": "==2.21.0", "numpy": "==2.5.5"}),
    ("macos-arm64", "3.11", {"tensorflow": "==2.21.0", "numpy": "==2.4.6", "librosa": "==0.11.0"}),
    ("macos-x86_64", "3.12", {"tensorflow": "==2.16.2", "numpy": "==1.26.4", "pandas": "==2.3.3", "scipy": "==1.17.1"}),
    ("windows-amd64", "3.13", {"tensorflow-cpu": "==2.21.0", "ai-edge-litert": "==2.3.0"}),
])
def test_the_markers_pick_the_versions_the_registry_has_wheels_of(target, python, expected):
    found = pins("requirements.txt", target, python)
    assert {key: found.get(key) for key in expected} == expected


def test_tf_keras_follows_tensorflow():
    for target, python in TARGETS:
        tensorflow = {**pins("requirements.txt", target, python)}
        version = tensorflow.get("tensorflow", tensorflow.get("tensorflow-cpu"))
        keras = pins("requirements-nodeps.txt", target, python).get("tf-keras")
        assert (version is None) == (keras is None), (target, python)
        if version:
            assert version.split(".")[:2] == keras.split(".")[:2], (target, python, version, keras)


#: Wheels that PyPI does not have, read from the registry for issue 24 (pip install --dry-run --only-binary=:all:
#: --platform ... --python-version ...): (package, version) -> whether ``(target, python)`` lacks it.
NO_WHEEL = {
    ("tensorflow-cpu", "2.15.1"):
        lambda target, python: target not in ("linux-x86_64", "windows-amd64") or python >= "3.12",
    ("tensorflow-cpu", "2.21.0"): lambda target, python: target not in ("linux-x86_64", "windows-amd64"),
    ("tensorflow", "2.21.0"): lambda target, python: target == "macos-x86_64",
    ("tensorflow", "2.16.2"): lambda target, python: python >= "3.13",
    ("numpy", "1.26.4"): lambda target, python: python >= "3.13",
    ("numpy", "2.5.5"): lambda target, python: python < "3.12",
    ("librosa", "1.0.1"): lambda target, python: python < "3.12",
    ("ai-edge-litert", "2.3.0"): lambda target, python: target == "macos-x86_64",
}


def missing_wheels(path: Path) -> list[tuple[str, str, str]]:
    """(target, python, package==version) of every pin of ``path`` that :data:`NO_WHEEL` knows to have no wheel for
    the target its markers give it to."""
    problems = []
    for target, python in TARGETS:
        environment = check_platforms.marker_environment(target, python)
        for line in check_platforms.requirements_for(path, environment):
            requirement = Requirement(line)
            version = str(requirement.specifier).removeprefix("==")
            lacks = NO_WHEEL.get((requirement.name, version))
            if lacks is not None and lacks(target, python):
                problems.append((target, python, f"{requirement.name}=={version}"))
    return problems


def test_the_current_requirements_ask_for_no_missing_wheel():
    assert missing_wheels(ROOT / "requirements.txt") == []


def test_the_requirements_of_2023_fail_the_check():
    problems = missing_wheels(DATA / "requirements-2023.txt")
    assert ("macos-arm64", "3.11", "tensorflow-cpu==2.15.1") in problems
    assert ("linux-x86_64", "3.13", "numpy==1.26.4") in problems
    assert {python for _, python, _ in problems} == {"3.11", "3.12", "3.13"}  # no interpreter is spared


def registry_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_the_registry_rejects_2023_and_resolves_today(capsys):
    """scripts/check_platforms.py, as it asks PyPI, on the two targets that 2023's pins fail (metadata only)."""
    if not registry_reachable():
        pytest.skip("the package index https://pypi.org is not reachable (scripts/check_platforms.py asks it)")
    targets = ["--platform", "macos-arm64", "--python", "3.11"]
    assert check_platforms.main([str(DATA / "requirements-2023.txt"), *targets, "--jobs", "1"]) == 1
    assert "tensorflow-cpu" in capsys.readouterr().out
    assert check_platforms.main([str(DATA / "requirements-2023.txt"), "--platform", "linux-x86_64", "--python", "3.13",
                                 "--jobs", "1"]) == 1
    assert "numpy" in capsys.readouterr().out
    current = [str(ROOT / "requirements.txt"), "--no-deps", str(ROOT / "requirements-nodeps.txt")]
    assert check_platforms.main([*current, *targets, "--jobs", "1"]) == 0


def test_pyproject_installs_tensorflow_as_requirements_txt_does():
    """``pip install evalkit[demo]`` takes the same TensorFlow distribution per target as requirements.txt (none where
    it has none), and requires-python starts at the oldest interpreter the requirements are checked for."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == f">={check_platforms.PYTHONS[0]}"
    assert not any("<2" in dependency for dependency in project["dependencies"])  # numpy 2 is allowed
    demo = [Requirement(line) for line in project["optional-dependencies"]["demo"]]
    for target, python in TARGETS:
        environment = check_platforms.marker_environment(target, python)
        chosen = {r.name for r in demo if r.marker is None or r.marker.evaluate(environment)}
        pinned = set(pins("requirements.txt", target, python))
        assert chosen & {"tensorflow", "tensorflow-cpu"} == pinned & {"tensorflow", "tensorflow-cpu"}, (target, python)
        assert ("ai-edge-litert" in chosen) == ("ai-edge-litert" in pinned), (target, python)
