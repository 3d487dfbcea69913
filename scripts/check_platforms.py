"""Does a requirements file resolve to wheels on every supported platform and Python? Asks the package registry only.

For each target (platform x interpreter) the requirements' environment markers are evaluated for that target (pip
evaluates them for the machine it runs on, whatever ``--platform`` says), and the lines that apply are resolved by

    pip install --dry-run --ignore-installed --only-binary=:all: --platform TAG... --python-version X.Y --target DIR

which reads the wheels' metadata from the index without downloading them (``pip download`` with the same options
would fetch them). The markers of the packages' own dependencies are still evaluated by pip for this machine.

Usage::

    python scripts/check_platforms.py requirements.txt [--no-deps requirements-nodeps.txt] [--python 3.13]

Exit status 1 if any target does not resolve; one line per target either way. The requirements of 2023
(tests/data/requirements-2023.txt: TensorFlow 2.15, numpy 1.26) fail it: macOS arm64 has no tensorflow-cpu
2.15.1, Python 3.13 no numpy 1.26.4.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

#: The supported platforms: marker environment and the wheel platform tags pip may use there (newest first; pip
#: itself adds older macOS versions and the legacy manylinux aliases).
PLATFORMS = {
    "linux-x86_64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
                     [f"manylinux_2_{minor}_x86_64" for minor in (35, 34, 31, 28, 27, 24, 17, 12, 5)]
                     + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]),
    "linux-aarch64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix"},
                      [f"manylinux_2_{minor}_aarch64" for minor in (35, 34, 31, 28, 27, 24, 17)] + ["manylinux2014_aarch64"]),
    "macos-arm64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
                    ["macosx_14_0_arm64"]),
    "macos-x86_64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64", "os_name": "posix"},
                     ["macosx_14_0_x86_64"]),
    "windows-amd64": ({"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
                      ["win_amd64"]),
}
PYTHONS = ("3.11", "3.12", "3.13")


def marker_environment(target: str, python: str) -> dict:
    """The PEP 508 marker environment of a CPython ``python`` (``"3.12"``) on the platform ``target``."""
    environment, _ = PLATFORMS[target]
    return {**environment, "python_version": python, "python_full_version": f"{python}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "implementation_version": f"{python}.0", "platform_release": "", "platform_version": ""}


def requirements_for(path: Path, environment: dict) -> list[str]:
    """The requirement lines of ``path`` whose markers hold in ``environment``, without their markers (options such
    as ``-c`` are not followed: the files here list every pin themselves)."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or Marker(str(requirement.marker)).evaluate(environment):
            requirement.marker = None
            lines.append(str(requirement))
    return lines


def resolve(lines: list[str], target: str, python: str, *, deps: bool) -> tuple[bool, str]:
    """Whether pip finds wheels for ``lines`` (and, with ``deps``, their dependencies) for the target; the last line
    of pip's complaint if not."""
    _, tags = PLATFORMS[target]
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "requirements.txt"
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                   "--only-binary=:all:", "--python-version", python, "--target", str(Path(folder) / "target"),
                   "--disable-pip-version-check", *[f"--platform={tag}" for tag in tags], "-r", str(listing)]
        if not deps:
            command.insert(command.index("--dry-run"), "--no-deps")
        # the machine's pip configuration may add constraints or local indexes that are not the registry's
        environment = {**os.environ, "PIP_CONSTRAINT": "", "PIP_FIND_LINKS": "", "PIP_EXTRA_INDEX_URL": ""}
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
    if done.returncode == 0:
        return True, ""
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    if "The conflict is caused by:" in lines:  # the requirements that cannot go together, not the list of lines
        start = lines.index("The conflict is caused by:") + 1
        return False, "conflict: " + "; ".join(line for line in lines[start:start + 4] if not line.startswith("To fix"))
    complaints = ([line for line in lines if "Could not find a version" in line or "No matching distribution" in line]
                  or [line for line in lines if line.startswith("ERROR")] or lines[-1:] or ["pip failed"])
    return False, complaints[0][:300]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("requirements", type=Path, help="resolved with the packages' dependencies")
    parser.add_argument("--no-deps", type=Path, action="append", default=[], metavar="FILE",
                        help="resolved without dependencies (the packages installed with pip --no-deps)")
    parser.add_argument("--python", action="append", choices=PYTHONS, help="only these interpreters (default: all)")
    parser.add_argument("--platform", action="append", choices=list(PLATFORMS), help="only these platforms")
    parser.add_argument("--jobs", type=int, default=4, help="targets resolved at once (pip mostly waits for the index)")
    args = parser.parse_args(argv)
    print(f"# {args.requirements} (+ --no-deps {', '.join(map(str, args.no_deps)) or 'none'}), "
          f"checked from {platform.system()} {platform.machine()}, pip of Python {platform.python_version()}")

    def check(target_python):
        target, python = target_python
        environment = marker_environment(target, python)
        ok, why = resolve(requirements_for(args.requirements, environment), target, python, deps=True)
        for nodeps in args.no_deps:
            if ok:
                ok, why = resolve(requirements_for(nodeps, environment), target, python, deps=False)
        print(f"{target:14} Python {python}: {'ok' if ok else 'FAILS  ' + why}", flush=True)
        return ok

    targets = [(target, python) for python in args.python or PYTHONS for target in args.platform or PLATFORMS]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(check, targets))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
