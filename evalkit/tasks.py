"""Classification tasks: a name, ordered class names, and labelled audio files with recording groups.

A *group* is the recording a file was cut from (or the session, unit, speaker...). Splits keep all files
of a group on one side so that no recording leaks from training into test data.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .audio import is_audio_file
from .config import UnknownNameError, data_dir


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

    def prepare(self, progress: bool = True) -> None:
        """Make sure the audio is present (generated demo data; nothing to do for a folder)."""


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
            raise FileNotFoundError(f"task folder {root} does not exist")
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if classes is None:
            classes = found
        missing = [c for c in classes if c not in found]
        if missing:
            raise ValueError(f"task folder {root}: class folder(s) missing: {', '.join(missing)} (found: {', '.join(found) or 'none'})")
        if len(classes) < 2:
            raise ValueError(f"task folder {root}: needs at least two class sub-folders, found {found or 'none'}")
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
                raise ValueError(f"task {self.id}: class folder {class_dir} contains no audio files")
            files.extend(class_files)
        if skipped:
            shown = ", ".join(str(p) for p in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            warnings.warn(f"task {self.id}: ignored {len(skipped)} non-audio file(s): {shown}", stacklevel=2)
        return files


@dataclass
class DemoTask(FolderTask):
    """A synthetic demo task (D1–D6), generated deterministically on first use under ``<data>/demo``."""

    seed: int = 20
    files_per_class: int = 40
    duration: float = 4.0

    def prepare(self, progress: bool = True) -> None:
        from .synth import generate_demo_task

        generate_demo_task(self.id, self.root.parent, seed=self.seed, files_per_class=self.files_per_class,
                           duration=self.duration, progress=progress)

    def _load_files(self) -> list[AudioFile]:
        self.prepare()
        return super()._load_files()


DEMO_TASK_NAMES = {
    "D1": "Ensemble size (1–5 plucked-string instruments), demo of T1",
    "D2": "Musical instrument family, demo of T2",
    "D3": "Speech / choir / solo singing / instrumental, demo of T3",
    "D4": "Operational states of electric engines, demo of T4",
    "D5": "Metal surface roughness, demo of T5",
    "D6": "Plastic material of impacting pucks, demo of T6",
}


def demo_task(task_id: str, *, root=None, seed: int = 20, files_per_class: int = 40, duration: float = 4.0) -> DemoTask:
    """The demo task ``task_id`` (``"D1"`` … ``"D6"``) with its generation parameters.

    Different parameters are generated into different folders, so a reduced test profile never
    overwrites the full demo data.
    """
    from .synth import DEMO_CLASSES

    if task_id not in DEMO_CLASSES:
        raise UnknownNameError("task", task_id, list(DEMO_CLASSES))
    default = (seed, files_per_class, duration) == (20, 40, 4.0)
    folder = "demo" if default else f"demo-s{seed}-n{files_per_class}-d{duration:g}"
    root = Path(root) if root is not None else data_dir() / folder
    return DemoTask(id=task_id, name=DEMO_TASK_NAMES[task_id], classes=list(DEMO_CLASSES[task_id]), kind="demo",
                    root=root / task_id, group_pattern="^(.*)__", seed=seed, files_per_class=files_per_class,
                    duration=duration)


def list_tasks() -> dict[str, str]:
    """Registered task ids and their names (demo tasks and, when available, the paper's tasks)."""
    tasks = dict(DEMO_TASK_NAMES)
    try:
        from .paper import PAPER_TASK_NAMES
        tasks.update(PAPER_TASK_NAMES)
    except ImportError:
        pass
    return tasks


def get_task(spec: str | os.PathLike | Task, **params) -> Task:
    """Resolve a task by id (``"D3"``, ``"T1"``), or a folder path (a folder task).

    Parameters
    ----------
    spec : str, path-like or Task
        A registered id, or a folder with one sub-folder per class.
    **params
        Passed to the task's constructor (e.g. ``files_per_class`` for demo tasks, ``group_pattern``
        for folder tasks).
    """
    if isinstance(spec, Task):
        return spec
    text = str(spec)
    if text in DEMO_TASK_NAMES:
        return demo_task(text, **params)
    registered = list_tasks()
    if text in registered:
        from .paper import paper_task
        return paper_task(text, **params)
    if os.sep in text or Path(text).is_dir():
        return FolderTask.from_folder(text, **params)
    raise UnknownNameError("task", text, list(registered) + ["<path to a folder with one sub-folder per class>"])
