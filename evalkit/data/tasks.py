"""Classification tasks: a name, ordered class names, and labelled audio files with recording groups.

A *group* is the recording a file was cut from (or the session, unit, speaker...). Splits keep all files
of a group on one side so that no recording leaks from training into test data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import MissingDataError, ParameterError, check_choice, warn, writable_folder
from .audio import AudioError, check_audio_file, is_audio_file

#: Files checked before a progress bar is shown.
CHECK_PROGRESS_FROM = 500


def compile_group_pattern(pattern) -> re.Pattern:
    """The compiled group pattern, or a :class:`~evalkit.config.ParameterError` saying why it cannot be one: it
    must compile and have a capture group (the part of the file name that names the recording)."""
    if not isinstance(pattern, str):
        raise ParameterError(f"group pattern must be a regular expression (text), not {pattern!r}")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ParameterError(f"group pattern {pattern!r} does not compile: {error}") from None
    if compiled.groups < 1:
        raise ParameterError(f"group pattern {pattern!r} has no capture group: put the part of the file name that "
                             "names the recording in parentheses, e.g. '^(.*)__' (rec07__2.wav: recording rec07)")
    return compiled


@dataclass(frozen=True)
class TaskCheck:
    """What :meth:`Task.check` found: every file usable, at least two recordings per class.

    Attributes
    ----------
    durations : np.ndarray, shape (n_files,)
        Seconds, in the order of :meth:`Task.files`.
    warnings : list of str
        Usable but odd files (silent, near silent, constant), one ``"path: what"`` each.
    """

    durations: np.ndarray
    warnings: list[str]


@dataclass(frozen=True)
class AudioFile:
    """One labelled file of a task."""

    path: Path
    label: str
    group: str


@dataclass
class Task:
    """A classification task.

    Parameters
    ----------
    id : str
        Short identifier (``"D2"``, ``"T4"``, or a folder name).
    name : str
        Human-readable description.
    classes : list of str
        Class names in display order (rows of confusion matrices).
    """

    id: str
    name: str
    classes: list[str]
    kind: str = "custom"
    _files: list[AudioFile] | None = field(default=None, repr=False)
    _check: TaskCheck | None = field(default=None, repr=False, compare=False)

    def files(self) -> list[AudioFile]:
        """All labelled files, sorted by path (deterministic order)."""
        if self._files is None:
            self._files = self._load_files()
        return self._files

    def _load_files(self) -> list[AudioFile]:  # pragma: no cover - overridden
        raise NotImplementedError

    def check(self, *, progress: bool = False) -> TaskCheck:
        """Check the whole task before any work: every file (readable, samples, finite values:
        :func:`~evalkit.data.audio.check_audio_file`) and at least two recordings per class. Every problem is
        reported at once; silent, near-silent and constant files are a one-line warning. Done once per task object.

        Raises
        ------
        AudioError
            Files that cannot be used (each named with its problem; class problems listed too).
        ParameterError
            A class with fewer than two recordings (named with its counts).
        """
        if self._check is not None:
            return self._check
        files = self.files()
        checks = [check_audio_file(f.path) for f in tqdm(files, desc=f"checking {self.id}", unit="file", leave=False,
                                                         disable=not progress or len(files) < CHECK_PROGRESS_FROM)]
        bad_files = [c.error for c in checks if c.error]
        problems = bad_files + self._class_problems()
        if problems:
            kind = AudioError if bad_files else ParameterError
            raise kind.with_problems(f"task {self.id}: {len(problems)} problem(s) in its {len(files)} files; nothing "
                                     "was computed", problems)
        odd = [f"{c.path.parent.name}/{c.path.name}: {c.warning}" for c in checks if c.warning]
        if odd:
            shown = "; ".join(odd[:3]) + ("; ..." if len(odd) > 3 else "")
            warn(f"task {self.id}: {len(odd)} of {len(files)} files are silent or constant (used as they are): {shown}")
        self._check = TaskCheck(durations=np.array([c.duration for c in checks]), warnings=odd)
        return self._check

    def _class_problems(self) -> list[str]:
        """A line per class that a train/test split cannot use (fewer than two recording groups)."""
        problems = []
        for label in self.classes:
            groups = [f.group for f in self.files() if f.label == label]
            if len(set(groups)) < 2:
                problems.append(f"class {label!r} has {len(groups)} file(s) in {len(set(groups))} recording group(s); "
                                "a train/test split needs at least two groups per class")
        return problems

    def prepare(self, progress: bool = True) -> "Task":
        """Make sure the audio is present: generates demo data (once); nothing to do for a folder. Returns the task."""
        return self

    @property
    def is_prepared(self) -> bool:
        """True when :meth:`files` can list the audio without generating anything."""
        return True


@dataclass
class FolderTask(Task):
    """Any folder with one sub-folder per class is a task (a researcher's own data).

    Parameters
    ----------
    root : path-like
        Folder whose sub-folders are the classes; files are found recursively inside each.
    group_pattern : str, optional
        Regular expression applied to the file name (without extension); its first group is the
        recording group. Default: each file is its own group. The demo data use ``"^(.*)__"``
        (``rec07__2.wav`` belongs to group ``rec07``). A pattern that does not compile, has no capture group or
        matches no file name is an error (:func:`compile_group_pattern`); one that matches only some names a warning
        with the counts (the others are groups of their own).
    classes : list of str, optional
        Class order; default: sub-folder names sorted. Listed classes without a folder raise an error.
    groups_span_classes : bool
        False (default): a recording group belongs to its class folder (``low/rec07`` and ``high/rec07`` are two
        recordings). True: the recording name alone is the group, so files of one recording filed under several
        class folders form one group, which a split keeps on one side (:func:`~evalkit.learn.splits.split_files`).
        Set it when one recording yields files of several classes; leave it off when recordings of different
        classes merely share names (``rec0`` in every class folder).
    """

    root: Path = Path(".")
    group_pattern: str | None = None
    groups_span_classes: bool = False

    @classmethod
    def from_folder(cls, root, *, group_pattern=None, classes=None, id=None, name=None, kind="folder",
                    groups_span_classes=False):
        root = Path(root).expanduser()
        if not root.is_dir():
            raise MissingDataError(f"task folder {root} does not exist")
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if classes is None:
            classes = found
        missing = [c for c in classes if c not in found]
        if missing:
            raise ParameterError(f"task folder {root}: class folder(s) missing: {', '.join(missing)} (found: {', '.join(found) or 'none'})")
        if len(classes) < 2:
            raise ParameterError(f"task folder {root}: needs at least two class sub-folders, found {found or 'none'}")
        return cls(id=id or root.name, name=name or f"folder task {root}", classes=list(classes), kind=kind,
                   root=root, group_pattern=group_pattern, groups_span_classes=groups_span_classes)

    def __post_init__(self):
        if self.group_pattern is not None:
            compile_group_pattern(self.group_pattern)  # a bad pattern is named before any file is listed
        check_choice(f"task {self.id}", "groups_span_classes", self.groups_span_classes, (False, True))

    def _load_files(self) -> list[AudioFile]:
        pattern = compile_group_pattern(self.group_pattern) if self.group_pattern is not None else None
        files, skipped, empty, unmatched = [], [], [], []
        for label in self.classes:
            class_dir = self.root / label
            class_files = []
            for path in sorted(class_dir.rglob("*")):
                if not path.is_file() or path.name.startswith("."):
                    continue
                if not is_audio_file(path):
                    skipped.append(path)
                    continue
                match = pattern.search(path.stem) if pattern is not None else None
                matched = bool(match and match.group(1))  # a group that took part and is not empty
                group = match.group(1) if matched else path.stem
                if pattern is not None and not matched:
                    unmatched.append(path)
                class_files.append(AudioFile(path=path, label=label,
                                             group=group if self.groups_span_classes else f"{label}/{group}"))
            if not class_files:
                empty.append(f"class folder {class_dir} contains no audio files")
            files.extend(class_files)
        if len(empty) == 1:
            raise ParameterError(f"task {self.id}: {empty[0]}")
        if empty:
            raise ParameterError.with_problems(f"task {self.id}: {len(empty)} of {len(self.classes)} classes have no "
                                               "audio files", empty)
        if skipped:
            shown = ", ".join(str(p) for p in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            warn(f"task {self.id}: ignored {len(skipped)} non-audio file(s): {shown}")
        if unmatched:
            self._report_unmatched(len(files), unmatched)
        return files

    def _report_unmatched(self, n_files: int, unmatched: list[Path]) -> None:
        """No file matched the group pattern: an error (each file its own group leaks recordings); some: a warning."""
        example = unmatched[0].stem
        if len(unmatched) == n_files:
            raise ParameterError(f"task {self.id}: group pattern {self.group_pattern!r} matches none of its {n_files} "
                                 f"file names (e.g. {example!r}): every file would be a recording group of its own")
        warn(f"task {self.id}: group pattern {self.group_pattern!r} matches {n_files - len(unmatched)} of {n_files} "
             f"file names; the other {len(unmatched)} (e.g. {example!r}) are each a recording group of their own")


@dataclass
class DemoTask(FolderTask):
    """A synthetic demo task (D1–D6), generated deterministically on first use (by default under
    ``<data>/demo/<generator version and parameters>``, see :func:`evalkit.data.registry.demo_task`).

    Parameters
    ----------
    seed : int
    files_per_class : int
        Files per class (rounded up to whole groups).
    files_per_group : int
        Files cut from one simulated recording.
    duration : float
        Seconds per file.
    """

    seed: int = 20
    files_per_class: int = 40
    files_per_group: int = 1
    duration: float = 3.0

    @property
    def generation_params(self) -> dict:
        """What determines the audio (:func:`evalkit.data.synth.demo_params`)."""
        from .synth import demo_params

        return demo_params(self.id, seed=self.seed, files_per_class=self.files_per_class,
                           files_per_group=self.files_per_group, duration=self.duration)

    def prepare(self, progress: bool = True) -> "DemoTask":
        from .synth import generate_demo_task

        if not self.is_prepared:
            writable_folder(self.root.parent, what="demo data folder")
        generate_demo_task(self.id, self.root.parent, seed=self.seed, files_per_class=self.files_per_class,
                           files_per_group=self.files_per_group, duration=self.duration, progress=progress)
        return self

    def _load_files(self) -> list[AudioFile]:
        if not self.is_prepared:
            raise MissingDataError(f"demo task {self.id} is not generated yet at {self.root}: call task.prepare() "
                                   f"(or run `evalkit extract --task {self.id} ...`, which generates it)")
        return super()._load_files()

    @property
    def is_prepared(self) -> bool:
        """True once the demo audio of these parameters has been generated completely."""
        from .synth import is_generated

        return is_generated(self.root, self.generation_params)
