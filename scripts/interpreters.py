"""Which Python interpreters evalkit supports, where they are on this machine, and whether a venv matches one.

The Makefile's helper (standard library only, so any ``python3`` runs it):

    python scripts/interpreters.py find 3.11                 # the path of a working Python 3.11, or exit status 1
    python scripts/interpreters.py others --except .venv/bin/python   # the other supported ones: "VERSION PATH" lines
    python3 scripts/interpreters.py check-venv .venv --python python3.13 --explicit --goals "book"

An interpreter is looked for as ``pythonX.Y`` on PATH, then in pyenv's versions folder (``$PYENV_ROOT/versions`` or
``~/.pyenv/versions``, the newest X.Y.*). A candidate counts only if it runs and can make a venv: a pyenv *shim* on
PATH runs only when its version is active, and Debian's python3.X without python3.X-venv cannot make one. ``others``
says on stderr which versions it found and which it skipped and why.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

#: The supported interpreters (scripts/check_platforms.py resolves the requirements for the same ones).
SUPPORTED = ("3.11", "3.12", "3.13")
#: What a candidate must do: say its version and have venv with pip (ensurepip).
PROBE = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"


def probe(python: str) -> tuple[str | None, str]:
    """(``"X.Y"``, "") if ``python`` runs and can make a venv with pip, else (None, why not)."""
    try:
        done = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"{python} does not start ({error.__class__.__name__})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        if "No module named" in last:
            return None, f"{python} has no venv/ensurepip module ({last}; on Debian: apt install python3.X-venv)"
        if "pyenv" in done.stderr:
            return None, f"{python} is a pyenv shim of a version that is not active"
        return None, f"{python} fails: {last[:120]}"
    return done.stdout.strip(), ""


def pyenv_candidates(version: str) -> list[Path]:
    """``pythonX.Y`` of pyenv's installed X.Y.* versions, newest first."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    if root.is_dir():
        for folder in root.iterdir():
            match = re.fullmatch(re.escape(version) + r"\.(\d+)", folder.name)
            if match and (folder / "bin" / f"python{version}").exists():
                found.append((int(match.group(1)), folder / "bin" / f"python{version}"))
    return [path for _, path in sorted(found, reverse=True)]


def find(version: str) -> tuple[str | None, str]:
    """(path of a working Python ``version``, "") or (None, why none was found)."""
    tried = []
    candidates = [shutil.which(f"python{version}")] + [str(path) for path in pyenv_candidates(version)]
    for candidate in filter(None, candidates):
        found, why = probe(candidate)
        if found == version:
            return candidate, ""
        tried.append(why or f"{candidate} is Python {found}")
    if not tried:
        return None, f"no python{version} on PATH nor in pyenv's versions folder"
    return None, "; ".join(tried)


def venv_version(venv: Path) -> str | None:
    """``"X.Y"`` of the Python a venv was made with (its pyvenv.cfg), None if there is no venv."""
    config = venv / "pyvenv.cfg"
    if not config.is_file():
        return None
    for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2])
    return None


def check_venv(venv: Path, python: str, explicit: bool, goals: str) -> str:
    """"" if ``make`` may use ``venv`` with the interpreter ``python`` (the Makefile's PYTHON), else the one-line reason
    why not.

    With PYTHON given (``explicit``), an existing venv must be of that Python version: ``make PYTHON=python3.13 book``
    never runs in a venv that another interpreter made. Without it, an existing venv is used as it is (PYTHON is not
    even run); a new one must be made by a supported interpreter that runs.
    """
    made = venv_version(venv)
    goals = goals.strip() or "setup"
    if made is not None and not explicit:
        return ""
    here, why = probe(python)
    if here is None:
        named = re.search(r"python(\d+\.\d+)$", python)
        path = find(named.group(1))[0] if named else None
        hint = f"; Python {named.group(1)} is at {path}: make PYTHON={path} {goals}" if path else ""
        return f"make: PYTHON={python} cannot make a venv: {why}{hint}"
    if here not in SUPPORTED:
        return (f"make: PYTHON={python} is Python {here}; evalkit supports Python {', '.join(SUPPORTED)}: "
                f"choose one, e.g. make PYTHON=python{SUPPORTED[-1]} {goals}")
    if made is not None and made != here:
        return (f"make: {venv} is a Python {made} venv, but PYTHON={python} is Python {here}: give it a venv of its "
                f"own (make PYTHON={python} VENV=.venv-{here} {goals}) or remove {venv} (rm -rf {venv}) to remake it")
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("find", help="print the path of a working Python X.Y")
    one.add_argument("version", choices=SUPPORTED)
    others = commands.add_parser("others", help="the supported interpreters other than one: 'VERSION PATH' lines")
    others.add_argument("--except", dest="exclude", required=True, metavar="PYTHON",
                        help="the interpreter already tested (its version is left out)")
    others.add_argument("--only", default="", help="interpreters or versions to use instead of looking for them")
    venv = commands.add_parser("check-venv", help="exit 2 with one line if the venv does not fit this interpreter")
    venv.add_argument("venv", type=Path)
    venv.add_argument("--python", default=sys.executable, help="the Makefile's PYTHON, as the user named it")
    venv.add_argument("--explicit", action="store_true", help="PYTHON was given (command line or environment)")
    venv.add_argument("--goals", default="", help="the make goals, for the message")
    args = parser.parse_args(argv)

    if args.command == "find":
        path, why = find(args.version)
        print(path or f"no working Python {args.version}: {why}", file=sys.stdout if path else sys.stderr)
        return 0 if path else 1
    if args.command == "check-venv":
        problem = check_venv(args.venv, args.python, args.explicit, args.goals)
        if problem:
            print(problem, file=sys.stderr)
        return 2 if problem else 0
    tested, why = probe(args.exclude)
    if tested is None:
        print(f"interpreters: {why}", file=sys.stderr)
        return 2
    wanted = args.only.split() or [version for version in SUPPORTED if version != tested]
    for item in wanted:
        if re.fullmatch(r"\d+\.\d+", item):
            version, (path, why) = item, find(item)
        else:  # a path or a command name given by the user
            path, (version, why) = item, probe(item)
            version = version or item
        if path and version == tested:
            print(f"skipped Python {version} ({path}): the interpreter the whole suite ran on", file=sys.stderr)
        elif path and version not in SUPPORTED:
            print(f"skipped {path}: Python {version} is not supported ({', '.join(SUPPORTED)})", file=sys.stderr)
        elif path:
            print(f"found Python {version}: {path}", file=sys.stderr)
            print(f"{version} {path}")
        else:
            print(f"skipped Python {version}: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
