"""Classification tasks: a name, ordered class names, and labelled audio files with recording groups.

A *group* is the recording a file was cut from (or the session, unit, speaker...). Splits keep all files
of a group on one side so that no recording leaks from training into test data.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MissingDataError, ParameterError
from .audio import is_audio_file


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

    def files(self) -> list[AudioFile]:
        """All labelled files, sorted by path (deterministic order)."""
        if self._files is None:
            self._files = self._load_files()
        return self._files

    def _load_files(self) -> list[AudioFile]:  # pragma: no cover - overridden
        raise NotImplementedError

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
        (``rec07__2.wav`` belongs to group ``rec07``).
    classes : list of str, optional
        Class order; default: sub-folder names sorted. Listed classes without a folder raise an error.
    """

    root: Path = Path(".")
    group_pattern: str | None = None

    @classmethod
    def from_folder(cls, root, *, group_pattern=None, classes=None, id=None, name=None, kind="folder"):
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
                   root=root, group_pattern=group_pattern)

    def _load_files(self) -> list[AudioFile]:
        pattern = re.compile(self.group_pattern) if self.group_pattern else None
        files, skipped = [], []
        for label in self.classes:
            class_dir = self.root / label
            class_files = []
            for path in sorted(class_dir.rglob("*")):
                if not path.is_file() or path.name.startswith("."):
                    continue
                if not is_audio_file(path):
                    skipped.append(path)
                    continue
                group = path.stem
                if pattern is not None and (match := pattern.search(path.stem)):
                    group = match.group(1)
                class_files.append(AudioFile(path=path, label=label, group=f"{label}/{group}"))
            if not class_files:
                raise ParameterError(f"task {self.id}: class folder {class_dir} contains no audio files")
            files.extend(class_files)
        if skipped:
            shown = ", ".join(str(p) for p in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            warnings.warn(f"task {self.id}: ignored {len(skipped)} non-audio file(s): {shown}", stacklevel=2)
        return files


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
    files_per_class: int = 80
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
