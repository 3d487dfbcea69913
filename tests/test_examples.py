"""Examples are tests: every fenced ``bash`` and ``python`` block of README.md and of the book's rerun page
(book/rerun.md) runs as written (the test-all tier: ``slow``; the documents' markers are checked in the fast tier).

A Python block runs as a script file, ``python example.py`` (no main guard: how a researcher runs it); a shell block
with ``bash -e example.sh``. Both run in a temporary working folder that holds links to what the commands name from
the checkout (``.venv``, ``notebooks``, ``profiles``, the requirements files), with ``.venv/bin`` first on PATH, no
network (every proxy variable points at a closed port) and ``EVALKIT_DATA`` at

- the tests' data folder (``data/_test``) for blocks that run notebooks (papermill): they start kernels and train
  CNN baselines, take minutes the first time and reuse the stored results afterwards;
- for every other block, a data folder of its own whose ``demo`` audio and embedding cache are those of the tests'
  data folder (generated and extracted once, not once per block) and whose results start empty, so each block really
  trains (a script that starts the musicnn worker without a main guard, the trap of issue 12, is
  tests/test_extractors.py's).

A block can be marked in its document with an HTML comment on the line before its fence,
``<!-- example: OPTION; OPTION ... -->``, where OPTION is one of

- ``skip (reason)``: the block is not run (e.g. ``make book``, which CI runs);
- ``needs-network`` / ``needs-paper-data``: each command runs on its own, without the network and without the paper's
  data, and must succeed or stop with evalkit's one-line error (exit status 2, ``evalkit ...: error: ...``, no
  traceback); a Python block must succeed or end with an :class:`evalkit.EvalkitError` (its last line);
- ``not-run "TEXT" (reason)``: the commands containing TEXT are left out (e.g. a whole profile's notebook);
- ``my-data PATH``: PATH stands for the reader's folder of audio, one sub-folder per class: the test puts a small
  folder task there (a relative PATH in the working folder; an absolute PATH is replaced in the commands by the small
  folder, as the reader replaces it by theirs).

``pip install`` commands are never run, marked or not: they would change the environment of the tests (and with
the network cut pip still installs what it finds in a local wheel folder or cache).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "book/rerun.md")
LANGUAGES = {"bash": "shell", "sh": "shell", "shell": "shell", "python": "python"}
#: What the documents' commands name from the checkout, linked into the working folder (``.venv`` is this Python's).
LINKED = ("notebooks", "profiles", "requirements.txt", "requirements-nodeps.txt", "requirements-paper.txt")
CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens, so every download fails at once
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*example:\s*(?P<options>.*?)\s*-->$")
OPTION = re.compile(r'^(?P<name>[a-z-]+)(?:\s+(?:"(?P<quoted>[^"]*)"|(?P<word>[^\s"(]+)))?\s*(?:\((?P<reason>.*)\))?$')
#: Option → (takes an argument, needs a reason).
OPTIONS = {"skip": (False, True), "needs-network": (False, False), "needs-paper-data": (False, False),
           "not-run": (True, True), "my-data": (True, False)}
ERROR_LINE = re.compile(r"^evalkit [\w-]+: error: \S", re.MULTILINE)
#: The last line of a Python traceback that ends in one of evalkit's errors (all live in evalkit's modules).
EVALKIT_ERROR = re.compile(r"^evalkit(\.\w+)+Error: \S")
NEVER_RUN = re.compile(r"(^|[\s/])pip3?\s+install\b")


@dataclass(frozen=True)
class Example:
    """One fenced block: where it is, its language, its code and the options of its marker."""

    document: str
    line: int
    language: str
    code: str
    options: tuple = field(default=())  # ((name, argument, reason), ...)

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"

    def arguments(self, name: str) -> list[str]:
        return [argument for option, argument, _ in self.options if option == name]

    def has(self, name: str) -> bool:
        return any(option == name for option, _, _ in self.options)

    @property
    def notebooks(self) -> bool:
        """The block runs notebooks (papermill): it uses the tests' data folder, whose results it reuses."""
        return "papermill" in self.code


def parse_options(text: str, where: str) -> tuple:
    options = []
    for item in filter(None, (part.strip() for part in re.split(r";(?![^(]*\))", text))):  # not inside (reasons)
        match = OPTION.match(item)
        assert match and match["name"] in OPTIONS, f"{where}: unknown example option {item!r}; known: {sorted(OPTIONS)}"
        argument = match["quoted"] if match["quoted"] is not None else match["word"]
        takes_argument, needs_reason = OPTIONS[match["name"]]
        assert (argument is not None) == takes_argument, f"{where}: {match['name']} takes {'an' if takes_argument else 'no'} argument"
        assert match["reason"] or not needs_reason, f"{where}: {match['name']} needs a reason in parentheses"
        options.append((match["name"], argument, match["reason"]))
    return tuple(options)


def read_examples(document: str) -> list[Example]:
    """The fenced shell and Python blocks of a document, with the options of the marker on the line before each."""
    lines = (REPO_ROOT / document).read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        marker = MARKER.match(lines[i - 1].strip()) if i else None
        if fence.group(1) in LANGUAGES:
            options = parse_options(marker["options"], f"{document}:{i}") if marker else ()
            found.append(Example(document, i + 1, LANGUAGES[fence.group(1)], "\n".join(lines[i + 1:end]) + "\n", options))
        i = end + 1
    return found


EXAMPLES = [example for document in DOCUMENTS for example in read_examples(document)]


def commands(code: str) -> list[str]:
    """The commands of a shell block: lines joined at trailing backslashes, without blank and comment lines."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def fresh_data(folder: Path) -> Path:
    """A data folder whose demo audio and embedding cache are the tests' (each embedding is extracted once per test
    run, by whichever block or test needs it first) and whose results start empty, so every block trains."""
    tests_data = Path(os.environ["EVALKIT_DATA"])  # set by conftest.py
    folder.mkdir()
    for shared in ("demo", "cache"):
        (tests_data / shared).mkdir(parents=True, exist_ok=True)
        (folder / shared).symlink_to(tests_data / shared, target_is_directory=True)
    return folder


def working_folder(example: Example, root: Path, my_data: Path) -> tuple[Path, str]:
    """The folder an example runs in, and its code with absolute ``my-data`` paths replaced by ``my_data``."""
    (root / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    for name in LINKED:
        if (REPO_ROOT / name).exists():
            (root / name).symlink_to(REPO_ROOT / name)
    code = example.code
    for path in example.arguments("my-data"):
        assert path in code, f"{example.id}: my-data {path} does not occur in the block"
        if os.path.isabs(path):
            code = code.replace(path, str(my_data))
        else:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).symlink_to(my_data, target_is_directory=True)
    return root, code


def environment(data: Path) -> dict:
    env = dict(os.environ, EVALKIT_DATA=str(data), PATH=f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ['PATH']}")
    for name in ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy"):
        env[name] = env[name.upper()] = CLOSED_PORT
    env["no_proxy"] = env["NO_PROXY"] = "localhost,127.0.0.1"  # kernels talk to their notebook runner locally
    env.pop("PYTHONPATH", None)  # the documented commands run with the installed evalkit
    return env


def run(command: list[str], cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def my_data_dir(tmp_path_factory):
    """The reader's folder in the examples: tones in 3 classes of 30 one-file recordings, enough for the 10 % share
    the documents use (at least two training recordings per class)."""
    from conftest import write_tone_task

    return write_tone_task(tmp_path_factory.mktemp("my_data") / "task", groups=30, files_per_group=1)


@pytest.mark.slow  # each block runs as written: it extracts, trains and starts kernels (seconds to minutes each)
@pytest.mark.parametrize("example", [pytest.param(e, id=e.id) for e in EXAMPLES])
def test_example_runs_as_written(example, tmp_path, my_data_dir):
    skipped = [reason for name, _, reason in example.options if name == "skip"]
    if skipped:
        pytest.skip(f"{example.id} is marked skip: {skipped[0]}")
    data = Path(os.environ["EVALKIT_DATA"]) if example.notebooks else fresh_data(tmp_path / "data")
    (tmp_path / "work").mkdir()
    cwd, code = working_folder(example, tmp_path / "work", my_data_dir)
    env, timeout = environment(data), 3600 if example.notebooks else 900
    checked_for_error = example.has("needs-network") or example.has("needs-paper-data")
    if example.language == "python":
        (cwd / "example.py").write_text(code)
        done = run([sys.executable, "example.py"], cwd, env, timeout)
        last = (done.stderr.strip().splitlines() or [""])[-1]
        if checked_for_error and done.returncode:
            assert EVALKIT_ERROR.match(last), f"{example.id} did not end in an evalkit error:\n{tail(done.stderr)}"
        else:
            assert done.returncode == 0, f"{example.id} failed:\n{tail(done.stderr)}"
        return
    left_out = example.arguments("not-run")
    kept = [c for c in commands(code) if not any(text in c for text in left_out) and not NEVER_RUN.search(c)]
    for text in left_out:
        assert any(text in c for c in commands(code)), f"{example.id}: not-run {text!r} matches no command"
    if checked_for_error:
        for command in kept:  # each on its own: it succeeds, or stops with evalkit's one-line error
            done = run(["bash", "-e", "-c", command], cwd, env, timeout)
            assert done.returncode in (0, 2), f"{example.id}: `{command}` exited with {done.returncode}:\n{tail(done.stderr)}"
            assert "Traceback" not in done.stderr, f"{example.id}: `{command}` failed with a traceback:\n{tail(done.stderr)}"
            if done.returncode == 2:
                assert ERROR_LINE.search(done.stderr), f"{example.id}: `{command}` gave no error line:\n{tail(done.stderr)}"
        return
    (cwd / "example.sh").write_text(code if kept == commands(code) else "\n".join(kept) + "\n")
    done = run(["bash", "-e", "example.sh"], cwd, env, timeout)
    assert done.returncode == 0, f"{example.id} failed (exit status {done.returncode}):\n{tail(done.stderr)}"


def test_the_documents_have_examples_and_every_marker_sits_on_a_fence():
    assert len([e for e in EXAMPLES if e.document == "README.md"]) >= 5
    assert any(e.language == "python" for e in EXAMPLES) and any(e.document == "book/rerun.md" for e in EXAMPLES)
    for document in DOCUMENTS:
        lines = (REPO_ROOT / document).read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if MARKER.match(line.strip()):
                assert i + 1 < len(lines) and FENCE.match(lines[i + 1]), f"{document}:{i + 1}: marker not before a fence"
                parse_options(MARKER.match(line.strip())["options"], f"{document}:{i + 1}")
