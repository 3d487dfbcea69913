"""The tasks evalkit knows by id: the demo tasks D1–D6, the paper's tasks T1–T6, and any folder of class sub-folders."""
from __future__ import annotations

import os
from pathlib import Path

from ..config import UnknownNameError, data_dir
from .datasets import PAPER_TASK_IDS, paper_task, paper_task_names
from .synth import DEMO_CLASSES
from .tasks import DemoTask, FolderTask, Task

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

    Different parameters are generated into different folders, so a reduced test profile never overwrites the full
    demo data. Nothing is generated here: :meth:`DemoTask.prepare` does that.
    """
    if task_id not in DEMO_CLASSES:
        raise UnknownNameError("task", task_id, list(DEMO_CLASSES))
    default = (seed, files_per_class, duration) == (20, 40, 4.0)
    folder = "demo" if default else f"demo-s{seed}-n{files_per_class}-d{duration:g}"
    root = Path(root) if root is not None else data_dir() / folder
    return DemoTask(id=task_id, name=DEMO_TASK_NAMES[task_id], classes=list(DEMO_CLASSES[task_id]), kind="demo",
                    root=root / task_id, group_pattern="^(.*)__", seed=seed, files_per_class=files_per_class,
                    duration=duration)


def list_tasks() -> dict[str, str]:
    """Registered task ids and their names: the demo tasks and the paper's tasks."""
    return {**DEMO_TASK_NAMES, **paper_task_names()}


def get_task(spec: str | os.PathLike | Task, **params) -> Task:
    """Resolve a task by id (``"D3"``, ``"T1"``) or a folder path (a folder task).

    Parameters
    ----------
    spec : str, path-like or Task
        A registered id, or a folder with one sub-folder per class.
    **params
        Passed to the task's constructor (e.g. ``files_per_class`` for demo tasks, ``group_pattern`` for folder
        tasks).
    """
    if isinstance(spec, Task):
        return spec
    text = str(spec)
    if text in DEMO_TASK_NAMES:
        return demo_task(text, **params)
    if text in PAPER_TASK_IDS:
        return paper_task(text, **params)
    if os.sep in text or Path(text).is_dir():
        return FolderTask.from_folder(text, **params)
    raise UnknownNameError("task", text, list(list_tasks()) + ["<path to a folder with one sub-folder per class>"])
